"""The inbox worker: handles the messages the webhook stored (queued mode) and queues the replies.

While an outbox dispatcher listens on the database (PostgreSQL), the group's commit wakes it and it
sends the replies; otherwise (SQLite, no dispatcher running) the worker sends them itself.

Run with `sanzhida inbox run`. Several workers may run against one database: each message is
taken under a row lock, in order per sender (see `handlers.inbox.take_group`). On PostgreSQL an idle
worker is woken by the notification the webhook's insert sends (runtime/wakeups.py) and otherwise
looks every few seconds; on SQLite, or while its listening connection is down, it looks a few times
a second (one indexed query on a partial index).
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from sqlalchemy.exc import InterfaceError, OperationalError

from config.logging import log_ids, new_id
from config.settings import Settings
from handlers import inbox
from models import InboundMessage
from runtime import metrics
from runtime.container import AppServices, build_services
from runtime.dispatch import dispatch_outbox
from runtime.wakeups import DISPATCHER, ListenerWatch, Wakeups, make_wakeups
from services import texts
from services.wakeups import INBOX_CHANNEL

logger = logging.getLogger(__name__)

# Seconds an idle worker waits before it looks for waiting messages again, when no notification
# can wake it (SQLite, or its listening connection is down) and when one can (a fallback).
IDLE_POLL_SECONDS = 0.2
LISTENING_POLL_SECONDS = 3.0
# Seconds to back off after the database failed, before trying the same messages again.
FAILURE_BACKOFF_SECONDS = 1.0
# Messages handled in one transaction: one statement takes them and one loads their senders, one
# commit (one WAL flush) for the group, and the replies sent together (one claim, one window
# lookup, one record). A handler bug still affects only its own message: the group is rolled back
# and handled again with a savepoint per message; a database failure retries the group.
GROUP = 32
REPLY_SEND_THREADS = 4
# Groups one worker process handles at once (`run_forever`): measured on the city demo, two handled
# 1.4x what one did, a third added 10 % more (docs/bench-webhook.md).
HANDLER_THREADS = 2
# Reply groups a long-running worker lets go out in the background while it handles the next
# groups: handling never waits on WeChat's answers, yet a slow WeChat soon slows the handling
# rather than letting unsent replies pile up in memory.
REPLIES_IN_FLIGHT = 4
# Database failures on one message, handled alone, before it is kept as failed with an apology.
MAX_ATTEMPTS = 3


@dataclass
class InboxWorker:
    """One worker: take, handle, commit, send the reply; again until nothing waits."""

    services: AppServices
    stopping: bool = False
    handled: int = field(default=0)
    # A long-running worker keeps one pool for every reply group, so its threads keep their
    # HTTP connections to WeChat; without one, each group uses a pool of its own.
    senders: ThreadPoolExecutor | None = None
    # One thread that sends reply groups in order while the worker goes on (see REPLIES_IN_FLIGHT);
    # None: each group's replies are sent before the next group is taken.
    replier: ThreadPoolExecutor | None = None
    in_flight: deque = field(default_factory=deque)
    # The message being handled, and database failures per message since the last success:
    # what lets one message that always fails stop holding up the queue.
    current: int | None = None
    failures: dict[int, int] = field(default_factory=dict)
    # What wakes the idle worker (runtime/wakeups.py); None: it sleeps IDLE_POLL_SECONDS.
    wakeups: Wakeups | None = None
    # Whether an outbox dispatcher listens: while one does, it sends the replies (see _handle_group).
    dispatcher: ListenerWatch | None = None

    def handle_group(self, size: int = GROUP) -> tuple[int, list[int]]:
        """Handle up to `size` waiting messages in one transaction; (how many, the ids of the replies
        this worker sends itself).

        Without savepoints first (two round trips a message saved); after a handler bug, nothing of
        that try is kept and the group is handled again with a savepoint each, so the bug is kept
        with its own message. What the first try did outside the database (a wrong bind code
        counted in Redis) may then count twice, as after a database failure.
        """
        try:
            return self._handle_group(size, isolate=False)
        except inbox.HandlerFailed:
            logger.warning("inbox=handler_failed; handling the group again, each message isolated")
            return self._handle_group(size, isolate=True)

    def _handle_group(self, size: int, *, isolate: bool) -> tuple[int, list[int]]:
        """One try at a group: take, handle each (in a savepoint when `isolate`), queue the replies, commit;
        (how many, the ids of the replies this worker sends itself)."""
        svc = self.services
        done, replies = [], []
        if self.failures:
            # After a database failure, one message per transaction until the culprit is found.
            size = 1
        self.current = None
        # While an outbox dispatcher listens, the group's replies wake it and it sends them: sending them
        # here too would only race it for the same rows, and the sending threads would take the
        # interpreter from the handling (1.2x the messages handled a second, docs/bench-webhook.md).
        leave = self.dispatcher is not None and self.dispatcher.present()
        with svc.session_factory() as session:
            # At most one message per sender: a sender's next one waits for a later group, in order.
            taken = inbox.take_group(session, size)
            known = inbox.senders_of(session, taken)
            # Isolated, each message writes its own rows, so a bug in one stays with it.
            group = None if isolate else inbox.GroupWrites.held_by(session, svc.inbox_env, known, svc.clock(),
                                                                   replies_wake=leave)
            for stored in taken:
                if self.stopping:
                    break
                self.current = stored.id
                now = svc.clock()
                text = inbox.handle(session, svc.inbox_env, stored, inbox.message_of(stored), now,
                                    known=known, isolate=isolate, group=group)
                if group is None:
                    replies.append(inbox.queue_reply(session, stored, text, now, wake=leave))
                elif text:
                    row = inbox.reply_row(stored, text, now)
                    group.outbox.append(row)
                    replies.append(row["idempotency_key"])
                done.append((stored.openid, stored.dedupe_key, now - stored.received_at, stored.handling_error))
            # The group's writes and its commit are no one message's: a failure there says nothing
            # about which message is at fault, so the group is simply tried again.
            self.current = None
            if group is not None:
                created = inbox.write_group(session, group)
                replies = [created.get(key) for key in replies]
            session.commit()
        self.current = None
        self.failures.clear()
        for openid, key, waited, _ in done:
            logger.info("inbox=handled openid=%s key=%s waited_ms=%d", openid, key,
                        max(0, waited.total_seconds() * 1000))
        failed = sum(1 for *_, error in done if error)
        metrics.inbox_finished(handled=len(done) - failed, failed=failed)
        self.handled += len(done)
        return len(done), [] if leave else [reply for reply in replies if reply is not None]

    def give_up_on(self, message_id: int) -> None:
        """Keep a message the database keeps failing on as failed, and apologise to its sender.

        Without this, one such message would be retried forever ahead of everyone else's.
        """
        svc = self.services
        with svc.session_factory() as session:
            stored = session.get(InboundMessage, message_id)
            if stored is None or stored.handled_at is not None:
                return
            now = svc.clock()
            stored.handling_error = "DatabaseError"
            stored.handled_at = now
            reply = None if stored.msg_type == "event" else inbox.queue_reply(session, stored, texts.SORRY_ERROR, now)
            session.commit()
        logger.error("inbox=gave_up openid=%s key=%s attempts=%d", stored.openid, stored.dedupe_key, MAX_ATTEMPTS)
        metrics.inbox_finished(failed=1)
        self.send_replies([reply] if reply else [])

    def failed(self) -> None:
        """Count a database failure against the message being handled when it happened.

        The next tries go one message per transaction (a group's failure does not say which
        message caused it); a success clears the counts.
        """
        message_id, self.current = self.current, None
        if message_id is None:
            return
        count = self.failures.get(message_id, 0) + 1
        if count >= MAX_ATTEMPTS:
            self.failures.pop(message_id, None)
            self.give_up_on(message_id)
        else:
            self.failures[message_id] = count

    def send_replies(self, reply_ids: list[int]) -> None:
        """Send queued replies at once rather than at the outbox's next run: in the background when
        the worker has a replier thread, else before returning.

        If sending fails, the rows stay in the outbox and the outbox dispatch retries them.
        """
        if not reply_ids:
            return
        if self.replier is None:
            self._send(reply_ids)
            return
        while len(self.in_flight) >= REPLIES_IN_FLIGHT:
            self._settle_one()
        self.in_flight.append(self.replier.submit(self._send, reply_ids))

    def _send(self, reply_ids: list[int]) -> None:
        """Claim and send these replies (each recipient's in order), recording what WeChat answered."""
        svc = self.services
        dispatch_outbox(svc.session_factory, svc.wechat, svc.clock, batch=len(reply_ids),
                        senders=self.senders, only_ids=reply_ids)

    def settle(self) -> None:
        """Wait until every reply group sent in the background has gone (or failed and stays queued)."""
        while self.in_flight:
            self._settle_one()

    def _settle_one(self) -> None:
        """Wait for the oldest background reply group; a failure is logged, its rows stay in the outbox."""
        try:
            self.in_flight.popleft().result()
        except Exception:  # noqa: BLE001 - the rows stay queued: the outbox dispatch sends them later
            logger.warning("inbox=reply_send_failed; left to the outbox dispatch", exc_info=True)

    def drain(self, limit: int | None = None) -> int:
        """Handle waiting messages until none is left (or `limit` were handled); how many."""
        done = 0
        while not self.stopping and (limit is None or done < limit):
            # One id per batch: its messages' lines and their replies' sending go together.
            with log_ids(run_id=new_id()):
                handled, replies = self.handle_group(GROUP if limit is None else min(GROUP, limit - done))
                self.send_replies(replies)
            done += handled
            if handled == 0:
                break
        return done

    def close(self) -> None:
        """Stop the sending threads and close the database connections."""
        self.settle()
        if self.replier is not None:
            self.replier.shutdown(wait=True)
        if self.senders is not None:
            self.senders.shutdown(wait=True)
        if self.wakeups is not None:
            self.wakeups.close()
        self.services.engine.dispose()

    def stop(self) -> None:
        """Stop after the current group (safe in a signal handler): an idle worker stops at once."""
        self.stopping = True
        if self.wakeups is not None:
            self.wakeups.interrupt()

    def step(self) -> int:
        """One pass: drain what waits; how many were handled, or -1 after a database or Redis failure."""
        try:
            return self.drain()
        except inbox.REDIS_OUTAGE:
            # Nothing of the group was kept. Not counted against the message: Redis being away is not
            # its fault, and giving up would lose a binding. It is tried again when Redis is back.
            self.current = None
            logger.warning("inbox=redis_unavailable; retrying")
            return -1
        except (OperationalError, InterfaceError):
            # The database is unreachable or the transaction died: nothing of the group was kept.
            logger.warning("inbox=database_failed; retrying", exc_info=True)
            try:
                self.failed()
            except (OperationalError, InterfaceError):
                pass
            return -1

    def run(self) -> None:
        """Drain, then wait for a notification or the next look, until stopped."""
        if self.wakeups is not None:
            # Listening before the first look: a message stored meanwhile still wakes the worker.
            self.wakeups.connect()
        ready = False
        while not self.stopping:
            outcome = self.step()
            if not ready:
                # Once per start: from here on an idle worker waits to be woken.
                ready = True
                logger.info("inbox=ready listening=%s", self.wakeups is not None and self.wakeups.listening)
            if self.stopping:
                break
            if outcome == 0:
                # Idle: the last replies go out before the worker waits.
                self.settle()
            if outcome < 0:
                time.sleep(FAILURE_BACKOFF_SECONDS)
            elif self.wakeups is not None:
                self.wakeups.wait()
            else:
                time.sleep(IDLE_POLL_SECONDS)


def run_forever(settings: Settings, *, fallback_seconds: float = LISTENING_POLL_SECONDS,
                threads: int = HANDLER_THREADS) -> None:
    """Run one inbox worker process in the foreground until SIGTERM or Ctrl-C.

    `fallback_seconds`: how often it looks for waiting messages while notifications can wake it.
    `threads`: groups handled at once, each on its own connection: while one waits for PostgreSQL
    another runs (each takes its group as a separate worker would, so one sender's messages stay in
    order). Their replies go out through one sending thread, in the order the groups committed.
    """
    svc = build_services(settings)
    senders = ThreadPoolExecutor(REPLY_SEND_THREADS, thread_name_prefix="inbox-send")
    replier = ThreadPoolExecutor(1, thread_name_prefix="inbox-replies")
    dispatcher = ListenerWatch(svc.engine, DISPATCHER)
    workers = [
        InboxWorker(svc, senders=senders, replier=replier, dispatcher=dispatcher,
                    wakeups=make_wakeups(svc.engine, (INBOX_CHANNEL,), "inbox", poll_seconds=IDLE_POLL_SECONDS,
                                         fallback_seconds=fallback_seconds))
        for _ in range(threads)
    ]

    def stop(signum, _frame):
        logger.info("inbox=stopping signal=%s", signum)
        for worker in workers:
            worker.stop()

    signal.signal(signal.SIGTERM, stop)
    metrics.inbox_finished()  # the counters exist, at zero, from the first scrape
    metrics.serve(settings.metrics_port, settings.metrics_bind)
    logger.info("inbox=starting mode=%s threads=%d", settings.wechat_reply_mode, threads)
    running = [threading.Thread(target=worker.run, name=f"inbox-{n}") for n, worker in enumerate(workers)]
    for thread in running:
        thread.start()
    try:
        # Joined with a timeout so that the main thread keeps receiving signals.
        while any(thread.is_alive() for thread in running):
            for thread in running:
                thread.join(timeout=0.5)
    except KeyboardInterrupt:
        stop("SIGINT", None)
        for thread in running:
            thread.join()
    finally:
        woken = sum(worker.wakeups.counts.get("notify", 0) for worker in workers)
        reconnects = sum(worker.wakeups.reconnects for worker in workers)
        for worker in workers:
            worker.settle()
            worker.wakeups.close()
        replier.shutdown(wait=True)
        senders.shutdown(wait=True)
        svc.engine.dispose()
        logger.info("inbox=stopped handled=%d woken_by_notify=%d reconnects=%d",
                    sum(worker.handled for worker in workers), woken, reconnects)
