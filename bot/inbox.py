"""The inbox worker: handles the messages the webhook stored (queued mode) and sends the replies.

Run with `sanzhida inbox run`. Several workers may run against one database: each message is
taken under a row lock, in order per sender (see `handlers.inbox.take_next`). An idle worker
sleeps on a Redis list the webhook pushes to, and looks at the database every few seconds anyway,
so a lost wake-up only delays a reply.
"""

from __future__ import annotations

import logging
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from redis.exceptions import RedisError
from sqlalchemy.exc import InterfaceError, OperationalError

from bot.app import AppServices, build_services
from config.settings import Settings
from handlers import inbox
from scheduler.jobs import dispatch_outbox

logger = logging.getLogger(__name__)

# Seconds an idle worker waits for a wake-up before it looks at the database again.
IDLE_WAIT_SECONDS = 2
# Seconds to back off after the database failed, before trying the same message again.
FAILURE_BACKOFF_SECONDS = 1.0
# Replies are sent together once this many messages were handled (or nothing else waits):
# one claim, one window lookup and one record per group instead of per reply.
REPLY_GROUP = 20
REPLY_SEND_THREADS = 4


@dataclass
class InboxWorker:
    """One worker: take, handle, commit, send the reply; again until nothing waits."""

    services: AppServices
    stopping: bool = False
    handled: int = field(default=0)
    # A long-running worker keeps one pool for every reply group, so its threads keep their
    # HTTP connections to WeChat; without one, each group uses a pool of its own.
    senders: ThreadPoolExecutor | None = None

    def handle_one(self) -> int | None:
        """Handle the next waiting message in its own transaction.

        Returns the outbox id of its reply (0 when it needs none), or None when nothing waits.
        """
        svc = self.services
        with svc.session_factory() as session:
            stored = inbox.take_next(session)
            if stored is None:
                session.rollback()
                return None
            now = svc.clock()
            text = inbox.handle(session, svc.inbox_env, stored, inbox.message_of(stored), now)
            reply_id = inbox.queue_reply(session, stored, text, now) if text else None
            session.commit()
            logger.info("inbox=handled openid=%s key=%s waited_ms=%d", stored.openid, stored.dedupe_key,
                        max(0, (now - stored.received_at).total_seconds() * 1000))
        self.handled += 1
        return reply_id or 0

    def send_replies(self, reply_ids: list[int]) -> None:
        """Send queued replies at once rather than at the scheduler's next outbox run.

        If sending fails, the rows stay in the outbox and the scheduler retries them.
        """
        if reply_ids:
            svc = self.services
            dispatch_outbox(svc.session_factory, svc.wechat, svc.clock, batch=len(reply_ids),
                            senders=self.senders, only_ids=reply_ids)

    def drain(self, limit: int | None = None) -> int:
        """Handle waiting messages until none is left (or `limit` were handled); how many."""
        done = 0
        replies: list[int] = []
        try:
            while not self.stopping and (limit is None or done < limit):
                reply_id = self.handle_one()
                if reply_id is None:
                    break
                done += 1
                if reply_id:
                    replies.append(reply_id)
                if len(replies) >= REPLY_GROUP:
                    self.send_replies(replies)
                    replies = []
        finally:
            self.send_replies(replies)
        return done

    def close(self) -> None:
        """Stop the sending threads and close the database connections."""
        if self.senders is not None:
            self.senders.shutdown(wait=True)
        self.services.engine.dispose()

    def run(self) -> None:
        """Drain, then wait for a wake-up, until stopped."""
        svc = self.services
        wake_key = svc.keys.inbox_wake()
        while not self.stopping:
            self._clear(wake_key)
            try:
                self.drain()
            except (OperationalError, InterfaceError):
                # The database is unreachable or the transaction died: nothing was kept.
                logger.warning("inbox=database_unavailable; retrying", exc_info=True)
                time.sleep(FAILURE_BACKOFF_SECONDS)
                continue
            if not self.stopping:
                self._wait(wake_key)

    def _clear(self, wake_key: str) -> None:
        # Cleared before draining: a message stored after this pushes again and wakes us.
        try:
            self.services.redis.delete(wake_key)
        except RedisError:
            pass

    def _wait(self, wake_key: str) -> None:
        svc = self.services
        if svc.settings.uses_embedded_redis:
            # The in-process Redis is not shared with the web process: look at the database.
            time.sleep(IDLE_WAIT_SECONDS / 4)
            return
        try:
            svc.redis.blpop([wake_key], timeout=IDLE_WAIT_SECONDS)
        except RedisError:
            time.sleep(IDLE_WAIT_SECONDS)


def run_forever(settings: Settings) -> None:
    """Run one inbox worker in the foreground until SIGTERM or Ctrl-C."""
    # A blocking wait needs a socket timeout longer than the wait itself.
    worker = InboxWorker(build_services(settings, redis=_worker_redis(settings)),
                         senders=ThreadPoolExecutor(REPLY_SEND_THREADS, thread_name_prefix="inbox-send"))

    def stop(signum, _frame):
        logger.info("inbox=stopping signal=%s", signum)
        worker.stopping = True

    signal.signal(signal.SIGTERM, stop)
    logger.info("inbox=starting mode=%s", settings.wechat_reply_mode)
    try:
        worker.run()
    except KeyboardInterrupt:
        pass
    finally:
        worker.close()
        logger.info("inbox=stopped handled=%d", worker.handled)


def _worker_redis(settings: Settings):
    """Redis with a socket timeout that outlasts BLPOP's wait (None: the embedded stand-in)."""
    if settings.uses_embedded_redis:
        return None
    import redis

    return redis.Redis.from_url(settings.redis_url, socket_timeout=IDLE_WAIT_SECONDS + 3,
                                socket_connect_timeout=1, health_check_interval=30)
