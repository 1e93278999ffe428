"""The Redis client every process shares (the composition root builds it once per process)."""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)


def make_redis(url: str | None, *, allow_embedded: bool):
    """A Redis client for `url`; without one, the in-process stand-in (development only)."""
    if url:
        import redis

        # Short timeouts: Redis sits on the webhook's path, and WeChat gives up after 5 s.
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        return redis.Redis.from_url(
            url,
            socket_timeout=0.5,
            socket_connect_timeout=0.5,
            health_check_interval=30,
            # One quick retry rides out a dropped connection; more would stall the webhook.
            retry=Retry(NoBackoff(), 1),
        )
    if not allow_embedded:
        raise RuntimeError("REDIS_URL is required")
    import fakeredis

    logger.info("redis=embedded note=in-process stand-in, single process only")
    return fakeredis.FakeRedis()
