"""One leader among scheduler processes: a Redis lock with a TTL that the leader keeps renewing."""

from __future__ import annotations

import logging
import os
import socket
import uuid

from redis.exceptions import LockError, RedisError

logger = logging.getLogger(__name__)


class Leadership:
    """Holds (or tries to take) the leader lock; a killed leader's lock expires within the TTL."""

    def __init__(self, redis, key: str, ttl_seconds: float):
        self.identity = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.key = key
        self._lock = redis.lock(key, timeout=ttl_seconds, blocking=False, thread_local=False)
        self._leading = False

    @property
    def is_leader(self) -> bool:
        """True while this process holds the lock (as of the last heartbeat)."""
        return self._leading

    def heartbeat(self) -> str:
        """Renew the lock if we hold it, else try to take it: "acquired", "renewed" or "follower"."""
        try:
            if self._leading:
                self._lock.reacquire()
                return "renewed"
            if self._lock.acquire(blocking=False, token=self.identity.encode()):
                self._leading = True
                logger.info("scheduler=leader_acquired identity=%s", self.identity)
                return "acquired"
        except (LockError, RedisError) as exc:
            if self._leading:
                logger.warning("scheduler=leader_lost identity=%s reason=%s", self.identity, type(exc).__name__)
            self._leading = False
        return "follower"

    def release(self) -> None:
        """Give the lock up on a clean shutdown so another process takes over at once."""
        if self._leading:
            try:
                self._lock.release()
            except (LockError, RedisError):
                pass
            self._leading = False
            logger.info("scheduler=leader_released identity=%s", self.identity)
