"""One leader among scheduler processes, handed over within the lock's TTL when the leader dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import threading

import pytest

from devtools.devstack import stop_processes
from scheduler.leader import Leadership


@pytest.fixture
def redis_url(redis_client):
    """A URL other processes reach the test's own Redis at: TEST_REDIS_URL, or the in-process
    stand-in served on a local port (never a real Redis the run was not given)."""
    url = os.environ.get("TEST_REDIS_URL")
    if url:
        yield url
        return
    from fakeredis import TcpFakeServer

    server = TcpFakeServer(("127.0.0.1", 0))
    # Serve the very data the fixture's client sees.
    connection = redis_client.connection_pool.get_connection()
    server.fake_server = connection._server
    redis_client.connection_pool.release(connection)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"redis://127.0.0.1:{server.server_address[1]}/0"
    server.shutdown()
    server.server_close()


def test_one_leader_and_handover_after_the_ttl(redis_client, redis_prefix):
    """Two contenders: exactly one leads; when it stops renewing, the other takes over within the TTL."""
    key = f"{redis_prefix}:scheduler:leader"
    first, second = Leadership(redis_client, key, 1), Leadership(redis_client, key, 1)
    assert first.heartbeat() == "acquired"
    assert second.heartbeat() == "follower"
    assert first.heartbeat() == "renewed"
    assert [first.is_leader, second.is_leader] == [True, False]
    # The leader "dies": it stops renewing. Within the TTL its lock lapses.
    deadline = time.monotonic() + 3
    while second.heartbeat() != "acquired":
        assert time.monotonic() < deadline, "no handover within the TTL"
        time.sleep(0.1)
    assert first.heartbeat() == "follower", "the old leader learns it lost the lock"
    assert second.is_leader and not first.is_leader


def test_a_clean_shutdown_hands_over_at_once(redis_client, redis_prefix):
    """Releasing on shutdown lets the next process lead without waiting for the TTL."""
    key = f"{redis_prefix}:scheduler:leader"
    first, second = Leadership(redis_client, key, 30), Leadership(redis_client, key, 30)
    first.heartbeat()
    first.release()
    assert second.heartbeat() == "acquired"


def test_two_scheduler_processes_one_leads_and_a_killed_leader_is_replaced(database_url, tmp_path, fake_wechat,
                                                                           redis_client, redis_url, redis_prefix):
    """Two real `sanzhida scheduler run` processes on one database and the test's Redis."""
    client = redis_client
    prefix = redis_prefix
    key = f"{prefix}:scheduler:leader"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "REDIS_KEY_PREFIX": prefix,
        "SCHEDULER_LEADER_TTL": "2",
        "WECHAT_API_BASE_URL": fake_wechat.base_url,
        "SANZHIDA_ENV": "test",
    }
    procs = [
        subprocess.Popen([sys.executable, "-m", "cli", "scheduler", "run"], env=env,
                         stdout=open(tmp_path / f"s{i}.log", "w"), stderr=subprocess.STDOUT)
        for i in range(2)
    ]

    def leader_pid(timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            owner = client.get(key)
            if owner:
                return int(owner.decode().split(":")[1])
            time.sleep(0.1)
        raise AssertionError("no leader: " + (tmp_path / "s0.log").read_text()[-2000:])

    try:
        first = leader_pid(20)
        assert first in {p.pid for p in procs}
        time.sleep(2.5)  # longer than the TTL: the leader keeps renewing, nobody else takes over
        assert leader_pid(1) == first
        logs = [(tmp_path / f"s{i}.log").read_text() for i in range(2)]
        assert sum("scheduler=leader_acquired" in log for log in logs) == 1
        os.kill(first, signal.SIGKILL)
        # The lock lapses after the 2 s TTL and the survivor's next heartbeat (every TTL/3) takes
        # it; the 10 s bound only keeps a broken handover from hanging the suite.
        deadline = time.monotonic() + 10
        while True:
            owner = client.get(key)
            if owner and int(owner.decode().split(":")[1]) != first:
                break
            assert time.monotonic() < deadline, "the survivor did not take over"
            time.sleep(0.1)
        survivor = next(p for p in procs if p.pid != first)
        assert survivor.poll() is None
    finally:
        stop_processes(procs)
