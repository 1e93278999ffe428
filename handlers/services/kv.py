"""Redis: the client every process shares, and the key names it uses under one prefix."""

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


class Keys:
    """Key names under one prefix, so several cities can share one Redis."""

    def __init__(self, prefix: str):
        self.prefix = prefix

    def token_storage_prefix(self) -> str:
        """Prefix for wechatpy's RedisStorage (it appends `:{appid}_access_token`)."""
        return f"{self.prefix}:wechatpy"

    def token_lock(self, appid: str) -> str:
        """Held while one process fetches a new access token."""
        return f"{self.prefix}:wechat:token-lock:{appid}"
