"""The stand-in's account set-up: templates as get_all_private_template lists them, the installed menu in
both query APIs' shapes (46003 before one exists), and the IP whitelist's 40164 naming the caller."""

from __future__ import annotations

import requests

from config import policy
from devtools.fake_wechat_setup import template_content
from handlers.menu import MENU
from tests.devtools.test_fake_wechat_strict import call, outcomes, token_answer


def test_the_development_templates_hold_the_products_keywords(fake_wechat):
    """By default: the two development ids, their titles, `label:{{key.DATA}}` per keyword; GET only."""
    listed = call(fake_wechat, "template/get_all_private_template", method="GET").json()["template_list"]
    assert {t["template_id"]: t["title"] for t in listed} == {
        "dev-template-task": "待办任务提醒", "dev-template-progress": "办理进度通知"}
    task = next(t for t in listed if t["template_id"] == "dev-template-task")
    assert task["content"] == template_content(policy.TEMPLATES["task"])
    assert "事项:{{thing3.DATA}}" in task["content"]
    assert call(fake_wechat, "template/get_all_private_template", {}).status_code == 404


def test_templates_are_replaced_and_removed_through_the_test_control(fake_wechat):
    """`POST /_templates` adds or replaces, `DELETE` removes; a template without content is refused."""
    root = fake_wechat.root_url
    assert requests.post(f"{root}/_templates", json={"template_id": "t1", "title": "x"}, timeout=5).status_code == 400
    requests.post(f"{root}/_templates", json=[{"template_id": "t1", "title": "通知", "content": "{{thing1.DATA}}"}],
                  timeout=5).raise_for_status()
    assert requests.delete(f"{root}/_templates/dev-template-task", timeout=5).status_code == 204
    assert requests.delete(f"{root}/_templates/dev-template-task", timeout=5).status_code == 404
    ids = [t["template_id"] for t in requests.get(f"{root}/_templates", timeout=5).json()]
    assert sorted(ids) == ["dev-template-progress", "t1"]


def test_the_menu_reads_back_as_wechat_answers_it(fake_wechat):
    """46003 until created; then menu/get echoes it with sub_button lists, and get_current_selfmenu_info
    nests sub-buttons under `list`."""
    assert call(fake_wechat, "menu/get", method="GET").json()["errcode"] == 46003
    assert call(fake_wechat, "get_current_selfmenu_info", method="GET").json()["is_menu_open"] == 0
    assert call(fake_wechat, "menu/create", MENU).json()["errcode"] == 0
    echoed = call(fake_wechat, "menu/get", method="GET").json()["menu"]["button"]
    assert [b["name"] for b in echoed] == [b["name"] for b in MENU["button"]]
    assert echoed[0]["sub_button"][0] == {**MENU["button"][0]["sub_button"][0], "sub_button": []}
    assert echoed[0]["sub_button"][2] == {"type": "location_select", "name": "发送位置", "key": "SOS_LOCATION",
                                          "sub_button": []}
    shown = call(fake_wechat, "get_current_selfmenu_info", method="GET").json()
    assert shown["is_menu_open"] == 1
    assert shown["selfmenu_info"]["button"][0]["sub_button"]["list"] == MENU["button"][0]["sub_button"]


def test_a_whitelist_refuses_tokens_to_other_addresses_naming_the_caller(fake_wechat):
    """40164 with the address WeChat saw; the whitelist's own addresses get tokens; null turns it off."""
    root = fake_wechat.root_url
    assert requests.post(f"{root}/_ip_whitelist", json={"ips": "1.2.3.4"}, timeout=5).status_code == 400
    requests.post(f"{root}/_ip_whitelist", json={"ips": ["203.0.113.7"]}, timeout=5).raise_for_status()
    refused = token_answer(fake_wechat)
    assert refused["errcode"] == 40164
    assert refused["errmsg"].startswith("invalid ip 127.0.0.1 ipv6 ::ffff:127.0.0.1, not in whitelist rid: ")
    assert outcomes(fake_wechat, "token") == ["errcode 40164"]
    requests.post(f"{root}/_ip_whitelist", json={"ips": ["127.0.0.1"]}, timeout=5).raise_for_status()
    assert "access_token" in token_answer(fake_wechat)
    requests.post(f"{root}/_ip_whitelist", json={"ips": None}, timeout=5).raise_for_status()
    assert "access_token" in token_answer(fake_wechat)
