"""The soak's own stack: a PostgreSQL cluster and a Redis server in a temporary folder, the WeChat
API stand-in, and the product's processes, each of which can be killed and started again.

Nothing here touches the machine's shared PostgreSQL (5432) or Redis (6379): the cluster is
initdb'd into the run's folder and listens on its own port (5433 by default), Redis on 6380.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.webhook import ROOT, children_of, free_port, gunicorn_bin, server_env, wait_http

PG_BIN = Path(os.environ.get("SOAK_PG_BIN", "/usr/lib/postgresql/15/bin"))


def pg_available() -> bool:
    """Whether PostgreSQL's server binaries and redis-server are on this machine."""
    return (PG_BIN / "initdb").exists() and (PG_BIN / "pg_ctl").exists() and shutil.which("redis-server") is not None


def _as_postgres(cmd: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root: run its tools as the `postgres` user then.
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@dataclass
class Postgres:
    """A throwaway cluster in `folder`, listening on 127.0.0.1:`port`."""

    folder: Path
    port: int

    @property
    def data(self) -> Path:
        return self.folder / "pg"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/sanzhida"

    def _ctl(self, *args: str) -> None:
        subprocess.run(_as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.folder / "pg.log"),
                                     "-w", "-t", "60", *args]), check=True, stdout=subprocess.DEVNULL)

    def start(self) -> None:
        """initdb, start and create the database."""
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres")
        subprocess.run(_as_postgres([str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
                                     "-E", "UTF8", "--no-sync"]), check=True, stdout=subprocess.DEVNULL)
        with open(self.data / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write(f"port = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                       f"unix_socket_directories = '{self.folder}'\nmax_connections = 300\n")
        self._ctl("start")
        subprocess.run(_as_postgres([str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U",
                                     "postgres", "sanzhida"]), check=True)

    def restart(self) -> None:
        """`pg_ctl restart -m fast`: every connection is cut, as in a failover or an upgrade."""
        self._ctl("restart", "-m", "fast")

    def stop(self) -> None:
        """Stop the cluster (its files go with the run's folder)."""
        try:
            self._ctl("stop", "-m", "immediate")
        except subprocess.CalledProcessError:
            pass


@dataclass
class Redis:
    """A redis-server that keeps nothing on disk, as the machine's own."""

    folder: Path
    port: int
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start it and wait until it answers."""
        self.proc = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no",
             "--dir", str(self.folder)], stdout=open(self.folder / "redis.log", "a"), stderr=subprocess.STDOUT,
            start_new_session=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if subprocess.run(["redis-cli", "-p", str(self.port), "ping"], capture_output=True,
                              text=True).stdout.strip() == "PONG":
                return
            time.sleep(0.1)
        raise RuntimeError("redis-server did not start")

    def restart(self) -> None:
        """`SHUTDOWN NOSAVE`, then start again: every key (nonces, the leader lock, tokens) is gone."""
        subprocess.run(["redis-cli", "-p", str(self.port), "shutdown", "nosave"], capture_output=True)
        if self.proc is not None:
            self.proc.wait(timeout=20)
        self.start()

    def stop(self) -> None:
        """Stop it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)


@dataclass
class Proc:
    """One product process by role; `kill` sends SIGKILL, `start` starts it again."""

    name: str
    role: str
    argv: list[str]
    env: dict
    log: Path
    proc: subprocess.Popen | None = None

    def start(self) -> None:
        """Start (or start again) the process, appending to its log."""
        self.proc = subprocess.Popen(self.argv, cwd=ROOT, env=self.env, stdout=open(self.log, "a"),
                                     stderr=subprocess.STDOUT, start_new_session=True)

    def kill(self) -> None:
        """SIGKILL: no clean-up, no lock given back, nothing flushed."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 15 s."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()


def dispatcher_argv() -> list[str]:
    """The standalone outbox dispatcher: `outbox run` where it exists, else `outbox dispatch --loop`."""
    helptext = subprocess.run([sys.executable, "-m", "cli", "outbox", "--help"], cwd=ROOT, capture_output=True,
                              text=True).stdout
    if any(line.strip().startswith("run ") for line in helptext.splitlines()):
        return [sys.executable, "-m", "cli", "outbox", "run"]
    return [sys.executable, "-m", "cli", "outbox", "dispatch", "--loop", "--interval", "1"]


@dataclass
class Stack:
    """Everything the soak started, and what it killed."""

    folder: Path
    pg: Postgres
    redis: Redis
    wechat: Proc | None = None
    wechat_port: int = 0
    web: Proc | None = None
    web_port: int = 0
    procs: list[Proc] = field(default_factory=list)

    def env(self, leader_ttl: int) -> dict:
        """The processes' environment: this stack's database, Redis and stand-in."""
        env = server_env(self.pg.url, self.redis.url, f"http://127.0.0.1:{self.wechat_port}/cgi-bin/")
        env.update(SCHEDULER_LEADER_TTL=str(leader_ttl), LOG_LEVEL="INFO", REDIS_KEY_PREFIX="soak")
        return env

    def start_wechat(self, latency_ms: float, error_rate: float, seed: int) -> None:
        """The stand-in with its latency and failures."""
        self.wechat_port = free_port()
        self.wechat = Proc("fake-wechat", "wechat", [sys.executable, "-m", "cli", "fake-wechat", "--port",
                                                     str(self.wechat_port), "--latency-ms", str(latency_ms),
                                                     "--error-rate", str(error_rate), "--seed", str(seed)],
                           server_env(self.pg.url, self.redis.url, ""), self.folder / "fake-wechat.log")
        self.wechat.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.wechat_port}/_clock", timeout=2).read()
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"the WeChat stand-in did not start; see {self.wechat.log}")

    def start_processes(self, env: dict, web: int, inbox: int, dispatchers: int, schedulers: int) -> None:
        """gunicorn with `web` workers, and the inbox workers, dispatchers and schedulers."""
        self.web_port = free_port()
        self.web = Proc("web", "web-master", [gunicorn_bin(), "-c", "python:config.gunicorn", "-w", str(web), "-b",
                                              f"127.0.0.1:{self.web_port}", "--log-level", "warning",
                                              "--graceful-timeout", "5", "bot.app:create_app()"],
                        env, self.folder / "web.log")
        self.web.start()
        wait_http(f"http://127.0.0.1:{self.web_port}/healthz", self.web.proc)
        cli = [sys.executable, "-m", "cli"]
        for i in range(inbox):
            self.procs.append(Proc(f"inbox-{i}", "inbox", [*cli, "inbox", "run"], env, self.folder / f"inbox-{i}.log"))
        for i in range(dispatchers):
            self.procs.append(Proc(f"dispatcher-{i}", "dispatcher", dispatcher_argv(), env,
                                   self.folder / f"dispatcher-{i}.log"))
        for i in range(schedulers):
            self.procs.append(Proc(f"scheduler-{i}", "scheduler", [*cli, "scheduler", "run"], env,
                                   self.folder / f"scheduler-{i}.log"))
        for proc in self.procs:
            proc.start()

    def victims(self, roles: set[str]) -> list[tuple[str, str, int | None]]:
        """(name, role, pid) of every process that may be killed now: web workers by pid, the rest."""
        found = []
        if "web" in roles and self.web is not None and self.web.proc.poll() is None:
            found += [(f"web-worker-{pid}", "web", pid) for pid in children_of(self.web.proc.pid)]
        found += [(p.name, p.role, None) for p in self.procs if p.role in roles]
        return found

    def kill(self, name: str, pid: int | None) -> None:
        """SIGKILL one process; a web worker is started again by gunicorn, the others by us."""
        if pid is not None:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            return
        proc = next(p for p in self.procs if p.name == name)
        proc.kill()
        time.sleep(0.5)
        proc.start()

    def revive(self) -> list[str]:
        """Start again any process that died by itself; their names."""
        dead = [p for p in self.procs if p.proc is not None and p.proc.poll() is not None]
        for proc in dead:
            proc.start()
        return [p.name for p in dead]

    def stop_processes(self) -> None:
        """SIGTERM every product process at once, then wait for each (SIGKILL after 15 s)."""
        running = [p for p in [*self.procs, self.web] if p is not None and p.proc is not None and p.proc.poll() is None]
        for proc in running:
            proc.proc.send_signal(signal.SIGTERM)
        for proc in running:
            proc.stop()

    def stop(self) -> None:
        """Stop every process, the stand-in, Redis and PostgreSQL."""
        self.stop_processes()
        if self.wechat is not None:
            self.wechat.stop()
        self.redis.stop()
        self.pg.stop()


def seed(env: dict) -> None:
    """Migrate and seed the small demo (one town, 60 beneficiaries)."""
    cli = [sys.executable, "-m", "cli"]
    for argv in ([*cli, "db", "upgrade"], [*cli, "seed", "demo", "--scale", "small"]):
        done = subprocess.run(argv, cwd=ROOT, env={**env, "LOG_LEVEL": "WARNING"}, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv[2:])} failed:\n{done.stderr[-3000:]}")


def bind_staff(engine) -> int:
    """Give every member of staff a WeChat account, so their pushes go out; how many."""
    from sqlalchemy import text

    now = datetime.now(UTC)
    with engine.begin() as connection:
        staff = connection.execute(
            text("SELECT id FROM staff WHERE wechat_user_id IS NULL ORDER BY id")).scalars().all()
        for staff_id in staff:
            user_id = connection.execute(text(
                "INSERT INTO wechat_users (openid, subscribed, subscribed_at, created_at) "
                "VALUES (:openid, true, :now, :now) RETURNING id"), {"openid": f"o-soak-staff-{staff_id}", "now": now},
            ).scalar_one()
            connection.execute(text("UPDATE staff SET wechat_user_id = :u WHERE id = :s"),
                               {"u": user_id, "s": staff_id})
    return len(staff)


def bind_family(engine, total: int) -> int:
    """Bind more family members, round the beneficiaries, until `total` are bound; how many were added.

    The small demo binds about 45: at 30 messages a second each would write every second and a half,
    far faster than a person does, and faster than WeChat's five customer-service messages per
    user message allow answers to catch up with. Ten or so per beneficiary keeps each writer at a
    person's pace. They are not notified of case progress (`notify` off), so pushes stay as the demo's.
    """
    from sqlalchemy import text

    now = datetime.now(UTC)
    with engine.begin() as connection:
        bound = connection.execute(text("SELECT count(*) FROM family_links WHERE active")).scalar_one()
        people = connection.execute(text("SELECT id FROM beneficiaries ORDER BY id")).scalars().all()
        for i in range(max(0, total - bound)):
            user_id = connection.execute(text(
                "INSERT INTO wechat_users (openid, subscribed, subscribed_at, created_at) "
                "VALUES (:openid, true, :now, :now) RETURNING id"), {"openid": f"o-soak-family-{i}", "now": now},
            ).scalar_one()
            connection.execute(text(
                "INSERT INTO family_links (beneficiary_id, wechat_user_id, relation, notify, active, created_at) "
                "VALUES (:b, :u, '其他亲属', false, true, :now)"), {"b": people[i % len(people)], "u": user_id, "now": now})
    return max(0, total - bound)


# How long ago each reopened case was raised, in turn: its first due rung is then the urgent
# ladder's level 1, 2, 3 or 4 (15, 30, 45, 55 minutes), several rungs falling due at once.
RAISED_MINUTES_AGO = (15, 30, 45, 55)


def age_cases(engine, count: int, first_due: datetime, last_due: datetime, seed_value: int) -> list[int]:
    """Reopen `count` closed cases as urgent ones nobody accepted, whose rungs fall due during the run.

    Each case's first rung falls due between `first_due` and `last_due`; the escalation scan must
    then push each rung exactly once, whatever is killed meanwhile. Returns the case ids.
    """
    from sqlalchemy import text

    rng = random.Random(seed_value)
    with engine.begin() as connection:
        ids = connection.execute(text(
            "SELECT id FROM service_requests WHERE status IN ('closed', 'resolved') "
            "ORDER BY raised_by_wechat_user_id IS NULL, id LIMIT :n"), {"n": count}).scalars().all()
        span = max((last_due - first_due).total_seconds(), 1.0)
        for i, request_id in enumerate(ids):
            due = first_due + timedelta(seconds=span * (i + rng.random()) / max(len(ids), 1))
            created = due - timedelta(minutes=RAISED_MINUTES_AGO[i % len(RAISED_MINUTES_AGO)])
            connection.execute(text(
                "UPDATE service_requests SET status = 'open', urgency = 'urgent', escalation_level = 0, "
                "escalation_repeats = 0, created_at = :created, updated_at = :created, next_escalation_at = :due, "
                "acknowledged_at = NULL, resolved_at = NULL, closed_at = NULL, rating = NULL, "
                "assignee_staff_id = NULL WHERE id = :id"), {"created": created, "due": due, "id": request_id})
    return list(ids)


def family_openids(engine) -> list[str]:
    """Openids of family members bound to a beneficiary (not staff)."""
    from bench.webhook import load_bound_openids

    return load_bound_openids(engine, limit=100_000, seed=1)
