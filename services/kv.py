"""Redis key names, all under one prefix so several deployments can share one Redis."""

from __future__ import annotations


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

    def scheduler_leader(self) -> str:
        """Held by the one scheduler process that runs jobs."""
        return f"{self.prefix}:scheduler:leader"

    def upload(self, token: str) -> str:
        """An uploaded import file kept for its follow-up steps (encrypted: it holds ID numbers)."""
        return f"{self.prefix}:upload:{token}"
