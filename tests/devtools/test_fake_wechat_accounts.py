"""The WeChat stand-in plays several official accounts: each AppID gets tokens with its own secret
only, and an openid of one account is invalid (40003) with another account's token."""

from __future__ import annotations

import pytest
import requests

from devtools.fake_wechat import FakeWeChatServer

OTHER = ("wx-other-city", "other-secret")


@pytest.fixture
def server():
    """The stand-in with its default account and one more, given when it starts."""
    server = FakeWeChatServer(app_id="wx-default", app_secret="default-secret", accounts=dict([OTHER])).start()
    yield server
    server.stop()


def token(server, app_id: str, secret: str) -> dict:
    """The `token` answer for this AppID and secret."""
    return requests.get(f"{server.base_url}token", timeout=5, params={
        "grant_type": "client_credential", "appid": app_id, "secret": secret}).json()


def follow(server, openid: str, app_id: str | None = None) -> requests.Response:
    """A user wrote to an account (the default one without `app_id`)."""
    body = {"openid": openid, "msg_type": "text", **({"app_id": app_id} if app_id else {})}
    return requests.post(f"{server.root_url}/_interactions", json=body, timeout=5)


def send_text(server, access_token: str, openid: str) -> dict:
    """A customer-service text with this token."""
    return requests.post(f"{server.base_url}message/custom/send", params={"access_token": access_token}, timeout=5,
                         json={"touser": openid, "msgtype": "text", "text": {"content": "你好"}}).json()


def test_each_account_gets_tokens_with_its_own_secret_only(server):
    assert "access_token" in token(server, *OTHER)
    assert token(server, OTHER[0], "default-secret")["errcode"] == 40125
    assert token(server, "wx-nobody", "x")["errcode"] == 40013


def test_an_openid_belongs_to_one_account(server):
    assert follow(server, "o-default").status_code == 201
    assert follow(server, "o-other", OTHER[0]).status_code == 201
    default_token = token(server, "wx-default", "default-secret")["access_token"]
    other_token = token(server, *OTHER)["access_token"]

    assert send_text(server, other_token, "o-other")["errcode"] == 0
    assert send_text(server, default_token, "o-default")["errcode"] == 0
    assert send_text(server, default_token, "o-other")["errcode"] == 40003
    assert send_text(server, other_token, "o-default")["errcode"] == 40003
    info = requests.get(f"{server.base_url}user/info", timeout=5,
                        params={"access_token": default_token, "openid": "o-other"}).json()
    assert info["errcode"] == 40003

    recorded = requests.get(f"{server.root_url}/_calls", timeout=5).json()
    sends = [(c["body"]["touser"], c["app_id"], c["outcome"]) for c in recorded if c["path"] == "message/custom/send"]
    assert sends == [("o-other", OTHER[0], "delivered"), ("o-default", "wx-default", "delivered"),
                     ("o-other", "wx-default", "errcode 40003"), ("o-default", OTHER[0], "errcode 40003")]


def test_an_openid_cannot_move_to_another_account(server):
    assert follow(server, "o-other", OTHER[0]).status_code == 201
    # Without an AppID the user stays with the account they follow.
    assert follow(server, "o-other").status_code == 201
    assert follow(server, "o-other", "wx-default").status_code == 400
    assert follow(server, "o-x", "wx-nobody").status_code == 400


def test_accounts_are_added_at_the_test_control_and_listed_without_secrets(server):
    answer = requests.post(f"{server.root_url}/_accounts", json={"app_id": "wx-third", "app_secret": "s3"}, timeout=5)
    assert answer.status_code == 201
    listed = requests.get(f"{server.root_url}/_accounts", timeout=5)
    assert listed.json() == {"app_ids": sorted(["wx-default", OTHER[0], "wx-third"]), "default": "wx-default"}
    assert "secret" not in listed.text and "s3" not in listed.text
    assert "access_token" in token(server, "wx-third", "s3")
    assert requests.post(f"{server.root_url}/_accounts", json={"app_id": "wx-4"}, timeout=5).status_code == 400
