"""Wake-ups on PostgreSQL: the webhook's insert wakes an idle inbox worker, a queued push wakes an idle
outbox dispatcher, and a listening connection that was cut is made again. On SQLite the workers poll
(the rest of tests/workers covers that), and the polling-only wake-ups are checked here too."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests as http
from sqlalchemy import create_engine, select, text

from models import OutboxMessage
from runtime.wakeups import (CONNECTED, DISPATCHER, INTERRUPTED, NOTIFY, POLL, ListenerWatch, Wakeups,
                             make_wakeups)
from services.wakeups import INBOX_CHANNEL, OUTBOX_CHANNEL
from tests.support.factories import fresh, make_town
from tests.workers.test_inbox import bind_son, delivered_texts
from workers.inbox import HANDLER_THREADS, InboxWorker

# Bounds only so that a broken worker cannot hang the suite; nothing here asserts a speed.
GIVE_UP_SECONDS = 30
# Longer than any test: an idle process that is not woken by a notification never looks again.
NEVER = "3600"

postgres_only = pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"),
                                   reason="LISTEN/NOTIFY needs PostgreSQL; on SQLite the workers poll")


def process_env(database_url: str, redis_prefix: str, fake_wechat, sender) -> dict:
    """The environment of a worker process on the test database, Redis and WeChat stand-in."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_KEY_PREFIX": redis_prefix,
        "WECHAT_API_BASE_URL": fake_wechat.base_url,
        "WECHAT_TOKEN": sender.token,
        "WECHAT_APP_ID": sender.app_id,
        "WECHAT_APP_SECRET": fake_wechat.state.app_secret,
        "SANZHIDA_ENV": "test",
    }
    env.pop("REDIS_URL", None)
    if os.environ.get("TEST_REDIS_URL"):
        env["REDIS_URL"] = os.environ["TEST_REDIS_URL"]
    return env


def start(args: list[str], env: dict, log: Path, *, listening: bool = True) -> subprocess.Popen:
    """Start `python -m cli ARGS` and wait until it is idle (listening for notifications, or polling)."""
    proc = subprocess.Popen([sys.executable, "-m", "cli", *args], env=env, stdout=open(log, "w"),
                            stderr=subprocess.STDOUT)
    wait_for(lambda: f"ready listening={listening}" in log.read_text(), proc, log)
    return proc


def wait_for(condition, proc: subprocess.Popen, log: Path) -> None:
    """Wait until `condition()` holds, failing with the log if the process dies or it never does."""
    deadline = time.monotonic() + GIVE_UP_SECONDS
    while not condition():
        assert proc.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, "gave up waiting: " + log.read_text()[-3000:]
        time.sleep(0.05)


def stop(proc: subprocess.Popen, log: Path) -> str:
    """SIGTERM, a clean exit, and the log."""
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=15) == 0, log.read_text()[-3000:]
    return log.read_text()


def listener_pids(session, channel: str) -> list[int]:
    """Backends of this database listening on `channel` (their last statement was the LISTEN)."""
    fresh(session)
    return list(session.scalars(text(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query = :listen"
    ), {"listen": f"LISTEN {channel}"}))


def calls(fake_wechat, path: str) -> list[dict]:
    """Calls to one API path the stand-in accepted."""
    recorded = http.get(f"{fake_wechat.root_url}/_calls", timeout=5).json()
    return [c for c in recorded if c["path"] == path and c["outcome"] == "delivered"]


@postgres_only
def test_a_message_posted_to_the_webhook_wakes_an_idle_inbox_worker_process(
        database_url, redis_prefix, fake_wechat, sender, make_app, session, tmp_path):
    """The worker never looks by itself during the test: only the webhook's notification can wake it."""
    log = tmp_path / "inbox.log"
    proc = start(["inbox", "run", "--fallback-seconds", NEVER], process_env(database_url, redis_prefix, fake_wechat,
                                                                             sender), log)
    try:
        client = make_app(wechat_reply_mode="queued").test_client()
        response, _ = sender.post(client, sender.text("o-woken", "帮助"))
        assert response.data == b"success"
        wait_for(lambda: delivered_texts(fake_wechat, "o-woken"), proc, log)

        # Cut the listening connections (one per handling thread), as a PostgreSQL restart would:
        # the worker makes them again, looks at once, and answers the next message.
        pids = listener_pids(session, INBOX_CHANNEL)
        assert len(pids) == HANDLER_THREADS
        for pid in pids:
            session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        session.commit()
        wait_for(lambda: len(set(listener_pids(session, INBOX_CHANNEL)) - set(pids)) == len(pids), proc, log)
        sender.post(client, sender.text("o-woken-2", "帮助"))
        wait_for(lambda: delivered_texts(fake_wechat, "o-woken-2"), proc, log)
        finished = stop(proc, log)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "inbox=stopped handled=2 woken_by_notify=" in finished
    assert f"reconnects={HANDLER_THREADS}" in finished
    woken = int(finished.split("woken_by_notify=")[1].split()[0])
    assert woken >= 1


def test_a_queued_push_wakes_an_idle_outbox_dispatcher_process(
        database_url, redis_prefix, fake_wechat, sender, make_app, session, clock, tmp_path):
    """A request's task push, queued by the inbox worker's transaction, goes out through the
    dispatcher, which on PostgreSQL only its notification can wake (on SQLite it polls); the reply
    went with the worker itself."""
    postgres = bool(os.environ.get("TEST_DATABASE_URL"))
    town = make_town(session, clock())
    _, son = bind_son(session, town, clock)
    log = tmp_path / "outbox.log"
    env = process_env(database_url, redis_prefix, fake_wechat, sender)
    # The dispatcher's clock just past the tests' fixed one: the push is due for it, and the reply the
    # worker claimed is not yet a lapsed claim (OUTBOX_CLAIM_SECONDS) for it to take over.
    shift = tmp_path / "clock-offset"
    shift.write_text(f"{(clock() - datetime.now(UTC)).total_seconds() + 1:.0f}", encoding="ascii")
    env["SANZHIDA_DEV_CLOCK_FILE"] = str(shift)
    proc = start(["outbox", "run", "--fallback-seconds", NEVER], env, log, listening=postgres)
    try:
        app = make_app(wechat_reply_mode="queued")
        sender.post(app.test_client(), sender.text(son, "家里没米了，能帮忙买点吗"))
        assert InboxWorker(app.extensions["sanzhida"]).drain() == 1

        def assistant_told() -> bool:
            fresh(session)
            pushes = session.scalars(select(OutboxMessage.status).where(
                OutboxMessage.recipient_openid == "o-assistant")).all()
            return "sent" in pushes

        wait_for(assistant_told, proc, log)
        finished = stop(proc, log)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "outbox=stopped sent=" in finished
    assert f"woken_by_notify={1 if postgres else 0}" in finished
    assert len(delivered_texts(fake_wechat, son)) == 1


@postgres_only
def test_the_listener_makes_its_connection_again_after_it_is_terminated(engine, session):
    wakeups = make_wakeups(engine, (OUTBOX_CHANNEL,), "test", poll_seconds=60, fallback_seconds=60)
    try:
        assert wakeups.connect() and wakeups.listening
        session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": wakeups.backend_pid})
        session.commit()
        # The loss is noticed, the connection made again, and the worker told to look at once.
        assert wakeups.wait() == CONNECTED
        assert wakeups.reconnects == 1 and wakeups.listening
        session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": OUTBOX_CHANNEL})
        session.commit()
        assert wakeups.wait() == NOTIFY
    finally:
        wakeups.close()


@postgres_only
def test_only_a_new_message_notifies_and_a_queued_reply_wakes_no_dispatcher(engine, session, make_app, sender, clock):
    """A retried delivery (already stored) and a reply the worker sends itself notify nobody; a
    sentinel notification after them shows what came before it."""
    wakeups = make_wakeups(engine, (INBOX_CHANNEL, OUTBOX_CHANNEL), "test", poll_seconds=60, fallback_seconds=60)
    try:
        assert wakeups.connect()
        app = make_app(wechat_reply_mode="queued")
        client = app.test_client()
        xml = sender.text("o-visitor", "帮助", msg_id=777)
        sender.post(client, xml)
        sender.post(client, xml)  # WeChat's retry: stored once, and notified once
        InboxWorker(app.extensions["sanzhida"]).drain()  # replies to a visitor: no push to staff
        session.execute(text("SELECT pg_notify(:channel, 'sentinel')"), {"channel": INBOX_CHANNEL})
        session.commit()
        seen = []
        deadline = time.monotonic() + GIVE_UP_SECONDS
        while not any(n.payload == "sentinel" for n in seen) and time.monotonic() < deadline:
            seen += list(wakeups.connection.notifies(timeout=1))
        assert [(n.channel, n.payload) for n in seen] == [(INBOX_CHANNEL, ""), (INBOX_CHANNEL, "sentinel")]
    finally:
        wakeups.close()


def test_without_postgresql_the_workers_poll_and_an_interrupt_wakes_them_at_once():
    """SQLite (no URL): every wait is a look after `poll_seconds`, and stopping does not wait for it."""
    wakeups = Wakeups(None, (INBOX_CHANNEL,), "test", poll_seconds=0.01, fallback_seconds=60)
    try:
        assert not wakeups.connect() and not wakeups.listening
        assert wakeups.wait() == POLL
        polling = Wakeups(None, (INBOX_CHANNEL,), "test", poll_seconds=3600, fallback_seconds=3600)
        polling.interrupt()
        assert polling.wait() == INTERRUPTED
        polling.close()
    finally:
        wakeups.close()


def test_the_engine_decides_whether_to_listen(engine):
    """The processes listen on PostgreSQL and only poll on SQLite."""
    wakeups = make_wakeups(engine, (INBOX_CHANNEL,), "test", poll_seconds=1, fallback_seconds=3)
    try:
        assert (wakeups.url is not None) == (engine.dialect.name == "postgresql")
        if wakeups.url:
            assert wakeups.url.startswith("postgresql://")
    finally:
        wakeups.close()


@postgres_only
def test_while_a_dispatcher_listens_the_inbox_worker_leaves_the_reply_to_it(engine, session, make_app, sender,
                                                                          fake_wechat):
    """A listening dispatcher is seen by its connection's name; the worker then queues the reply
    without sending it and the commit wakes the dispatcher (a visitor's message: no task push, only
    the reply). Once that dispatcher is gone, the worker sends its replies itself again."""
    app = make_app(wechat_reply_mode="queued")
    client, svc = app.test_client(), app.extensions["sanzhida"]
    watch = ListenerWatch(engine, DISPATCHER, seconds=0)
    assert not watch.present()
    dispatcher = make_wakeups(engine, (OUTBOX_CHANNEL,), DISPATCHER, poll_seconds=60, fallback_seconds=GIVE_UP_SECONDS)
    try:
        assert dispatcher.connect()
        assert watch.present()
        sender.post(client, sender.text("o-left", "帮助", msg_id=9101))
        assert InboxWorker(svc, dispatcher=watch).drain() == 1
        fresh(session)
        reply = session.scalars(select(OutboxMessage).where(OutboxMessage.recipient_openid == "o-left")).one()
        assert reply.status == "pending" and delivered_texts(fake_wechat, "o-left") == []
        assert dispatcher.wait() == NOTIFY
    finally:
        dispatcher.close()
    assert not watch.present()
    sender.post(client, sender.text("o-sent", "帮助", msg_id=9102))
    assert InboxWorker(svc, dispatcher=watch).drain() == 1
    assert len(delivered_texts(fake_wechat, "o-sent")) == 1


def test_without_an_answer_from_postgresql_the_worker_sends_its_replies_itself(engine):
    """No dispatcher is assumed on SQLite, nor when PostgreSQL cannot say: nobody would send the reply."""
    if engine.dialect.name != "postgresql":
        assert ListenerWatch(engine, DISPATCHER).present() is False
    unreachable = create_engine("postgresql+psycopg://postgres@127.0.0.1:1/none", connect_args={"connect_timeout": 2})
    try:
        assert ListenerWatch(unreachable, DISPATCHER).present() is False
    finally:
        unreachable.dispose()
