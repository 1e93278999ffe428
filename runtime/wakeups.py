"""Wake-ups for idle workers: PostgreSQL's LISTEN/NOTIFY, with polling as the fallback.

The webhook's insert of a message notifies `services.wakeups.INBOX_CHANNEL`, and every transaction
that queues pushes notifies `OUTBOX_CHANNEL` (both in the inserting statement itself, delivered by
PostgreSQL at commit). An inbox worker or outbox dispatcher waits on its own connection for them,
so it starts at once instead of at its next look. It still looks every `fallback_seconds` (work
that becomes due later, a notification lost with a connection), and every `poll_seconds` while no
listening connection is up: on SQLite, which has no notifications, or while PostgreSQL is away.
"""

from __future__ import annotations

import logging
import os
import select
import time
from dataclasses import dataclass, field

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from models.db import CONNECT_TIMEOUT, TCP_KEEPALIVES
from runtime import metrics

logger = logging.getLogger(__name__)

# Why `Wakeups.wait` returned: a notification came, the time for a look came, the listening
# connection was (re)made (notifications may have been missed meanwhile), or `interrupt` was called.
NOTIFY, POLL, CONNECTED, INTERRUPTED = "notify", "poll", "connected", "interrupted"
# Seconds between attempts to make the listening connection again, doubling up to the longest.
RECONNECT_FIRST_SECONDS = 0.5
RECONNECT_LONGEST_SECONDS = 10.0
# The process name the outbox dispatchers listen under (workers/outbox.py), which an inbox worker watches for.
DISPATCHER = "outbox"
# Seconds a `ListenerWatch` answer is kept before PostgreSQL is asked again.
WATCH_SECONDS = 2.0


def listener_name(process: str) -> str:
    """The application_name of a process's listening connection, by which others see that it listens."""
    return f"sanzhida-{process}-listener"


@dataclass
class Wakeups:
    """What an idle worker waits on: notifications on `channels` over one dedicated connection, or time.

    `url` is a libpq connection URL; None (SQLite) means polling only. Not thread-safe: one waiter.
    """

    url: str | None
    channels: tuple[str, ...]
    process: str
    poll_seconds: float
    fallback_seconds: float
    connection: object = None
    # Counts by cause, and how many times a lost connection was made again: read by tests and logs.
    counts: dict[str, int] = field(default_factory=dict)
    reconnects: int = 0
    _next_attempt: float = 0.0
    _delay: float = RECONNECT_FIRST_SECONDS
    _lost: bool = False
    _pipe: tuple[int, int] = field(default_factory=os.pipe)

    def __post_init__(self) -> None:
        """Make the interrupt pipe non-blocking: a signal handler writes to it and must never wait."""
        for fd in self._pipe:
            os.set_blocking(fd, False)

    @property
    def listening(self) -> bool:
        """Whether a listening connection is up."""
        return self.connection is not None

    @property
    def backend_pid(self) -> int | None:
        """The PostgreSQL backend of the listening connection, if any."""
        return self.connection.info.backend_pid if self.connection is not None else None

    def connect(self) -> bool:
        """Make the listening connection if it is down and an attempt is due; whether it was made now."""
        if self.url is None or self.connection is not None or time.monotonic() < self._next_attempt:
            return False
        import psycopg

        try:
            connection = psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT,
                                         application_name=listener_name(self.process), **TCP_KEEPALIVES)
            for channel in self.channels:
                connection.execute(f"LISTEN {channel}")
        except psycopg.Error as exc:
            self._next_attempt = time.monotonic() + self._delay
            self._delay = min(self._delay * 2, RECONNECT_LONGEST_SECONDS)
            logger.warning("wakeups=connect_failed process=%s error=%s retry_in_s=%.1f", self.process,
                           type(exc).__name__, self._next_attempt - time.monotonic())
            return False
        self.connection, self._delay = connection, RECONNECT_FIRST_SECONDS
        if self._lost:
            self.reconnects += 1
            metrics.listener_reconnected(self.process)
        self._lost = False
        logger.info("wakeups=listening process=%s channels=%s", self.process, ",".join(self.channels))
        return True

    def wait(self) -> str:
        """Block until a notification, the next look, or an interrupt; why it returned (counted)."""
        cause = self._wait()
        self.counts[cause] = self.counts.get(cause, 0) + 1
        metrics.worker_woken(self.process, cause)
        return cause

    def _wait(self) -> str:
        """`wait` without the counting."""
        if self.connect():
            # Anything notified while no connection listened is found by looking now.
            return CONNECTED
        timeout = self.fallback_seconds if self.connection is not None else self.poll_seconds
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return POLL
            watched = [self._pipe[0]] + ([self.connection.fileno()] if self.connection is not None else [])
            if self.connection is None and self.url is not None:
                # Listening is down: wake for the next attempt to make it again, or the next look.
                remaining = min(remaining, max(0.0, self._next_attempt - time.monotonic()))
            ready, _, _ = select.select(watched, [], [], remaining)
            if self._pipe[0] in ready:
                self._drain_pipe()
                return INTERRUPTED
            if ready and self._received():
                return NOTIFY
            if self.connection is None and self.connect():
                return CONNECTED

    def _received(self) -> bool:
        """Read what arrived on the listening connection; whether a notification was among it.

        A lost connection (PostgreSQL restarted, the backend terminated) is closed here, to be made
        again by the next wait; the worker meanwhile looks every `poll_seconds`.
        """
        import psycopg

        try:
            # Everything that arrived, so that none of it wakes the next wait again.
            return bool(list(self.connection.notifies(timeout=0)))
        except psycopg.Error as exc:
            logger.warning("wakeups=connection_lost process=%s error=%s", self.process, type(exc).__name__)
            self._drop()
            return False

    def _drop(self) -> None:
        """Close a lost listening connection; the next attempt to make it again is due at once."""
        try:
            self.connection.close()
        except Exception:  # nosec B110  # noqa: BLE001 - the connection is gone either way
            pass
        self.connection, self._lost, self._next_attempt = None, True, 0.0

    def _drain_pipe(self) -> None:
        """Empty the interrupt pipe."""
        try:
            while os.read(self._pipe[0], 512):
                pass
        except BlockingIOError:
            pass

    def interrupt(self) -> None:
        """Make the current or next `wait` return at once (safe in a signal handler)."""
        try:
            os.write(self._pipe[1], b"x")
        except BlockingIOError:
            pass

    def close(self) -> None:
        """Close the listening connection and the interrupt pipe."""
        if self.connection is not None:
            self.connection.close()
            self.connection = None
        for fd in self._pipe:
            os.close(fd)


def make_wakeups(engine: Engine, channels: tuple[str, ...], process: str, *, poll_seconds: float,
                 fallback_seconds: float) -> Wakeups:
    """Wake-ups on `channels` for a process on `engine`'s database (polling only on SQLite)."""
    url = None
    if engine.dialect.name == "postgresql":
        url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    return Wakeups(url, channels, process, poll_seconds=poll_seconds, fallback_seconds=fallback_seconds)


@dataclass
class ListenerWatch:
    """Whether some process of kind `process` listens on this database now (PostgreSQL only).

    A listening connection names itself (`listener_name`), and PostgreSQL drops it from
    pg_stat_activity as soon as its process is gone, killed ones included. The answer is kept for
    `seconds`; on SQLite, or when PostgreSQL cannot answer, it is False, so that whoever asks does
    the work itself rather than leave it to no one.
    """

    engine: Engine
    process: str
    seconds: float = WATCH_SECONDS
    _answer: tuple[float, bool] | None = None

    def present(self) -> bool:
        """True while a listener of `process` is connected to this database (as of `seconds` ago)."""
        if self.engine.dialect.name != "postgresql":
            return False
        answer, now = self._answer, time.monotonic()
        if answer is not None and now < answer[0]:
            return answer[1]
        try:
            with self.engine.connect() as connection:
                found = connection.execute(text(
                    "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND application_name = :name "
                    "LIMIT 1"), {"name": listener_name(self.process)}).first() is not None
        except SQLAlchemyError:
            found = False
        if answer is None or answer[1] != found:
            logger.info("wakeups=listener process=%s present=%s", self.process, found)
        # One tuple, set at once: the worker's threads share a watch.
        self._answer = (now + self.seconds, found)
        return found
