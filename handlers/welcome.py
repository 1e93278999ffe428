"""First contact and the edges: unfollowing, message kinds with no handler of their own."""

from __future__ import annotations

from wechatpy.messages import BaseMessage

from handlers.context import Context
from services import identity, texts


def on_unsubscribe(msg: BaseMessage, ctx: Context) -> None:
    """An unfollow: remember it; WeChat shows no reply to it anyway."""
    identity.note_unsubscribe(ctx.user, ctx.now)
    return None


def on_message(msg: BaseMessage, ctx: Context) -> str:
    """A known type with no handler of its own: unbound visitors learn how to bind; others that it arrived."""
    return texts.RECEIVED if ctx.is_bound else texts.HOW_TO_BIND


def on_unknown(msg: BaseMessage, ctx: Context) -> str:
    """A message type we do not handle: a polite answer, never an error."""
    return texts.UNSUPPORTED_TYPE
