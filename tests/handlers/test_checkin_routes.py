"""The routing table for 报平安: the menu key, the words as the whole message (text or recognised voice),
`平安计划` for staff; everything longer stays a request."""

from __future__ import annotations

import pytest
from wechatpy import parse_message

from handlers import checkins, requests, staff
from handlers.routes import build_router
from tests.support.wechat import WeChatSender


@pytest.fixture
def wx(clock):
    """Builds message XML as WeChat does."""
    return WeChatSender(token="t", app_id="a", aes_key=None, clock=clock)


@pytest.mark.parametrize(
    "build, dialog, expected",
    [
        (lambda wx: wx.event("o", "CLICK", key="CHECKIN"), None, checkins.on_checkin),
        (lambda wx: wx.text("o", "平安"), None, checkins.on_checkin),
        (lambda wx: wx.text("o", " 我很好！"), None, checkins.on_checkin),
        (lambda wx: wx.voice("o", "m1", "我很好。"), None, checkins.on_checkin),
        (lambda wx: wx.text("o", "平安计划 15 每天"), None, checkins.on_plan),
        (lambda wx: wx.text("o", "我很好，就是药吃完了"), None, requests.on_message),
        (lambda wx: wx.voice("o", "m2"), None, requests.on_message),
        (lambda wx: wx.voice("o", "m3", "我摔倒了"), None, requests.on_message),
        # A pending question is answered first: "平安" there is not taken for a check-in.
        (lambda wx: wx.text("o", "平安"), "on_behalf", staff.on_log_content),
        (lambda wx: wx.text("o", "平安"), "which_beneficiary", requests.on_which_beneficiary),
    ],
)
def test_checkin_routes(wx, build, dialog, expected):
    """Each message reaches the handler the table names."""
    assert build_router().resolve(parse_message(build(wx)), dialog) is expected
