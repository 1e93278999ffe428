"""The outbox dispatcher process: sends queued pushes (tasks, escalations, reminders) as they are queued.

Run with `sanzhida outbox run`. On PostgreSQL it is woken by the notification every transaction
that queues pushes sends at commit (runtime/wakeups.py), and otherwise looks every few seconds for
pushes that became due (quiet hours over, a retry's backoff passed); on SQLite it looks every
second. Several dispatchers, and the scheduler's outbox job beside them, may run against one
database: rows are claimed with FOR UPDATE SKIP LOCKED (services.outbox.claim_due), and only the
claimant records an outcome.
"""

from __future__ import annotations

import logging
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from sqlalchemy.exc import InterfaceError, OperationalError

from config.logging import log_ids, new_id
from config.settings import Settings
from runtime import metrics
from runtime.container import AppServices, build_services
from runtime.dispatch import SEND_THREADS, drain_outbox
from runtime.wakeups import DISPATCHER, Wakeups, make_wakeups
from services.wakeups import OUTBOX_CHANNEL

logger = logging.getLogger(__name__)

# Seconds between looks for due pushes without notifications (SQLite: each look takes the write
# lock, so not as often as the inbox worker's), and with them (a fallback).
IDLE_POLL_SECONDS = 1.0
LISTENING_POLL_SECONDS = 3.0
FAILURE_BACKOFF_SECONDS = 1.0
BATCH = 50


@dataclass
class OutboxDispatcher:
    """One dispatcher: drain what is due, then wait to be woken or for the next look."""

    services: AppServices
    wakeups: Wakeups
    senders: ThreadPoolExecutor
    stopping: bool = False
    sent: int = 0

    def step(self) -> int:
        """Send everything due now; how many were claimed, or -1 after a database failure."""
        svc = self.services
        try:
            with log_ids(run_id=new_id()):
                report = drain_outbox(svc.session_factory, svc.wechat, svc.clock, batch=BATCH,
                                      store=svc.media_store, senders=self.senders)
        except (OperationalError, InterfaceError):
            # Nothing claimed is lost: a claim lapses (OUTBOX_CLAIM_SECONDS) and is taken again.
            logger.warning("outbox=database_failed; retrying", exc_info=True)
            return -1
        self.sent += report.sent
        return report.claimed

    def run(self) -> None:
        """Drain, then wait, until stopped."""
        self.wakeups.connect()
        ready = False
        while not self.stopping:
            outcome = self.step()
            if not ready:
                # Once per start: from here on an idle dispatcher waits to be woken.
                ready = True
                logger.info("outbox=ready listening=%s", self.wakeups.listening)
            if self.stopping:
                break
            if outcome < 0:
                time.sleep(FAILURE_BACKOFF_SECONDS)
            else:
                self.wakeups.wait()

    def stop(self) -> None:
        """Stop after the current drain (safe in a signal handler): an idle dispatcher stops at once."""
        self.stopping = True
        self.wakeups.interrupt()

    def close(self) -> None:
        """Stop the sending threads and close the connections."""
        self.senders.shutdown(wait=True)
        self.wakeups.close()
        self.services.engine.dispose()


def build_dispatcher(svc: AppServices, *, fallback_seconds: float = LISTENING_POLL_SECONDS) -> OutboxDispatcher:
    """A dispatcher on a process's services, listening on PostgreSQL (polling on SQLite)."""
    wakeups = make_wakeups(svc.engine, (OUTBOX_CHANNEL,), DISPATCHER, poll_seconds=IDLE_POLL_SECONDS,
                           fallback_seconds=fallback_seconds)
    return OutboxDispatcher(svc, wakeups, ThreadPoolExecutor(SEND_THREADS, thread_name_prefix="outbox-send"))


def run_forever(settings: Settings, *, fallback_seconds: float = LISTENING_POLL_SECONDS) -> None:
    """Run one dispatcher in the foreground until SIGTERM or Ctrl-C."""
    dispatcher = build_dispatcher(build_services(settings), fallback_seconds=fallback_seconds)

    def stop(signum, _frame):
        logger.info("outbox=stopping signal=%s", signum)
        dispatcher.stop()

    signal.signal(signal.SIGTERM, stop)
    metrics.serve(settings.metrics_port, settings.metrics_bind)
    logger.info("outbox=starting")
    try:
        dispatcher.run()
    except KeyboardInterrupt:
        pass
    finally:
        woken = dict(dispatcher.wakeups.counts)
        dispatcher.close()
        logger.info("outbox=stopped sent=%d woken_by_notify=%d reconnects=%d", dispatcher.sent,
                    woken.get("notify", 0), dispatcher.wakeups.reconnects)
