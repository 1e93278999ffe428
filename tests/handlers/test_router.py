"""The router's table: events, then command prefixes, then message types, then the fallback."""

from __future__ import annotations

import pytest
from wechatpy import parse_message

from handlers.router import Router
from handlers.routes import build_router
from tests.support.wechat import WeChatSender


@pytest.fixture
def wx(clock):
    """Builds message XML as WeChat does."""
    return WeChatSender(token="t", app_id="a", aes_key=None, clock=clock)


def tagging_router() -> Router:
    """A router whose handlers just name themselves."""
    router = Router()
    router.on_event("subscribe", "subscribe_scan", "scan")(lambda m, c: "event:follow")
    router.on_command("取消")(lambda m, c: "cmd:取消")
    router.on_command("取消通知")(lambda m, c: "cmd:取消通知")
    router.on_type("voice")(lambda m, c: "type:voice")
    router.fallback = lambda m, c: "fallback"
    router.unknown = lambda m, c: "unknown"
    return router


@pytest.mark.parametrize(
    "build, expected",
    [
        (lambda wx: wx.event("o", "subscribe"), "event:follow"),
        (lambda wx: wx.event("o", "subscribe", key="qrscene_bind:K7P3QX"), "event:follow"),
        (lambda wx: wx.event("o", "SCAN", key="bind:K7P3QX"), "event:follow"),
        (lambda wx: wx.event("o", "VIEW", key="https://example"), None),
        (lambda wx: wx.event("o", "somethingnew"), None),
        (lambda wx: wx.text("o", "取消 12"), "cmd:取消"),
        (lambda wx: wx.text("o", "取消通知"), "cmd:取消通知"),
        (lambda wx: wx.text("o", "  取消 3"), "cmd:取消"),
        (lambda wx: wx.text("o", "我想取消"), "fallback"),
        (lambda wx: wx.voice("o", "m1"), "type:voice"),
        (lambda wx: wx.raw("o", "hologram"), "unknown"),
    ],
)
def test_dispatch_order(wx, build, expected):
    """Each message reaches the handler the table names; unhandled events get no answer."""
    assert tagging_router().dispatch(parse_message(build(wx)), ctx=None) == expected


def test_the_real_table_answers_every_message_kind(wx):
    """The product's table has a handler for follows, every message type and unknown types."""
    router = build_router()
    for xml in (wx.event("o", "subscribe"), wx.text("o", "你好"), wx.voice("o", "m"), wx.raw("o", "location"),
                wx.raw("o", "image"), wx.raw("o", "hologram")):
        assert router.resolve(parse_message(xml)) is not None
