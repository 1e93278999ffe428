"""The stand-in's menu/create takes the product's menu and refuses what WeChat refuses, with WeChat's
codes: button counts, name, key and url lengths in bytes, types and what each type needs."""

from __future__ import annotations

import copy

import pytest

from handlers.menu import MENU
from tests.devtools.test_fake_wechat_strict import call, outcomes


def click(name: str = "帮助", key: str = "HELP") -> dict:
    """A click button."""
    return {"type": "click", "name": name, "key": key}


def group(*subs, name: str = "菜单") -> dict:
    """A button with sub-buttons."""
    return {"name": name, "sub_button": list(subs)}


def test_the_products_menu_is_taken_and_keeps_every_name_whole_on_a_phone(fake_wechat):
    """Three buttons with the location picker; every name at most 16 bytes, every key known to the router."""
    assert call(fake_wechat, "menu/create", MENU).json() == {"errcode": 0, "errmsg": "ok"}
    subs = [sub for button in MENU["button"] for sub in button.get("sub_button", [button])]
    assert all(len(b["name"].encode()) <= 16 for b in [*MENU["button"], *subs])
    assert {"type": "location_select", "name": "发送位置", "key": "SOS_LOCATION"} in subs
    assert {"CHECKIN", "SOS", "MY_ASSISTANT", "PROGRESS", "HELP", "TASKS"} <= {s.get("key") for s in subs}


@pytest.mark.parametrize("body, errcode", [
    ({"button": []}, 40016),
    ({"button": [click(), click(), click(), click()]}, 40016),
    ({"menu": [click()]}, 40016),
    ({"button": [click(name="")]}, 40018),
    # Six Chinese characters are 18 bytes.
    ({"button": [click(name="紧急求助按钮")]}, 40018),
    ({"button": [{"type": "tap", "name": "帮助", "key": "HELP"}]}, 40017),
    ({"button": [{"type": "click", "name": "帮助"}]}, 40019),
    ({"button": [click(key="K" * 129)]}, 40019),
    ({"button": [{"type": "view", "name": "网页"}]}, 40020),
    ({"button": [{"type": "view", "name": "网页", "url": "https://x/" + "a" * 1020}]}, 40020),
    ({"button": [{"type": "location_select", "name": "位置"}]}, 40019),
    ({"button": [group(*[click(key=f"K{i}") for i in range(6)])]}, 40023),
    ({"button": [group(click(), name="一二三四五六")]}, 40018),
    ({"button": [group({"type": "location_select", "name": "发送位置"})]}, 40026),
    ({"button": [group({"type": "location_select", "name": "发送位置", "key": "L" * 129})]}, 40026),
    ({"button": [group({"type": "location", "name": "发送位置", "key": "L"})]}, 40024),
    ({"button": [group(click(name="长" * 21))]}, 40025),
    ({"button": [group({"type": "view", "name": "网页"})]}, 40027),
    ({"button": [group({"type": "miniprogram", "name": "小程序", "url": "https://x/"})]}, 40024),
    ({"button": [group(group(click()))]}, 40022),
])
def test_a_menu_wechat_refuses_is_refused_with_its_code_and_not_installed(fake_wechat, body, errcode):
    """Each limit as WeChat documents it; a refused menu leaves none installed."""
    answer = call(fake_wechat, "menu/create", body).json()
    assert answer["errcode"] == errcode and answer["errmsg"]
    assert outcomes(fake_wechat, "menu/create") == [f"errcode {errcode}"]
    assert call(fake_wechat, "menu/get", method="GET").json()["errcode"] == 46003


def test_the_limits_themselves_are_taken(fake_wechat):
    """Three buttons, five sub-buttons, a 60-byte sub-button name (20 Chinese characters), a 128-byte key."""
    menu = {"button": [
        group(*[click(key=f"K{i}") for i in range(4)], click(name="长" * 20, key="K" * 128)),
        click(name="五个汉字呀"),
        {"type": "view", "name": "网页", "url": "https://example.com/"},
    ]}
    assert call(fake_wechat, "menu/create", copy.deepcopy(menu)).json()["errcode"] == 0
