"""build_router(): the one table that says which handler answers which message."""

from __future__ import annotations

from handlers import welcome
from handlers.router import Router


def build_router() -> Router:
    """Build the conversation's routing table."""
    router = Router()
    # wechatpy turns a subscribe with `qrscene_…` into `subscribe_scan`; SCAN is a follower scanning.
    router.on_event("subscribe", "subscribe_scan", "scan")(welcome.on_subscribe)
    router.on_event("unsubscribe")(welcome.on_unsubscribe)
    router.on_type("text", "voice", "image", "location", "link", "video", "shortvideo")(welcome.on_message)
    router.fallback = welcome.on_message
    router.unknown = welcome.on_unknown
    return router
