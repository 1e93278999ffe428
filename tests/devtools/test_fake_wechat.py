"""The WeChat stand-in as an HTTP server: connections kept open like WeChat's, bodies never
mistaken for the next request."""

from __future__ import annotations

import re
import socket

import pytest
import requests


def exchange(sock: socket.socket, request: bytes) -> bytes:
    """Send one request on an open connection and read one whole answer (by its Content-Length)."""
    sock.sendall(request)
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(4096)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
    while len(body) < length:
        body += sock.recv(4096)
    return head + b"\r\n\r\n" + body


def test_one_connection_serves_request_after_request(fake_wechat):
    """Three calls on one connection, the first with a body the endpoint never reads."""
    requests.post(f"{fake_wechat.root_url}/_interactions", json={"openid": "o-1"}, timeout=5).raise_for_status()
    app = f"appid={fake_wechat.state.app_id}&secret={fake_wechat.state.app_secret}".encode()
    with socket.create_connection((fake_wechat.host, fake_wechat.port), timeout=5) as sock:
        token_with_stray_body = (b"GET /cgi-bin/token?grant_type=client_credential&" + app + b" HTTP/1.1\r\n"
                                 b"Host: x\r\nContent-Length: 11\r\n\r\nGET / oops\n")
        first = exchange(sock, token_with_stray_body)
        assert first.startswith(b"HTTP/1.1 200") and b"access_token" in first
        body = b'{"touser": "o-1", "msgtype": "text", "text": {"content": "hi"}}'
        send = (b"POST /cgi-bin/message/custom/send?access_token=fake-token-1 HTTP/1.1\r\nHost: x\r\n"
                b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        assert b'"errcode":0' in exchange(sock, send).replace(b" ", b"")
        assert b'"errcode":0' in exchange(sock, send).replace(b" ", b"")
    outcomes = [(c["path"], c["outcome"]) for c in fake_wechat.state.calls]
    assert outcomes == [("token", "delivered"), ("message/custom/send", "delivered"),
                        ("message/custom/send", "delivered")]


def test_a_client_asking_to_close_gets_the_connection_closed(fake_wechat):
    """`Connection: close` is honoured: the answer comes, then the end of the stream."""
    with socket.create_connection((fake_wechat.host, fake_wechat.port), timeout=5) as sock:
        answer = exchange(sock, b"GET /_calls HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 200")
        assert sock.recv(4096) == b""


def _template_send(server, data: dict) -> dict:
    """One template message posted as our client does, with a fresh token."""
    base = f"{server.root_url}/cgi-bin"
    token = requests.get(f"{base}/token", timeout=5, params={
        "grant_type": "client_credential", "appid": server.state.app_id, "secret": server.state.app_secret,
    }).json()["access_token"]
    body = {"touser": "o-1", "template_id": "tpl", "data": {k: {"value": v} for k, v in data.items()},
            "client_msg_id": "m-1"}
    return requests.post(f"{base}/message/template/send", params={"access_token": token}, json=body, timeout=5).json()


GOOD = {"character_string1": "12", "thing2": "张秀英 东湾村", "thing3": "未接单 已等2小时", "phrase4": "紧急",
        "time5": "2026-12-01 08:00"}


def test_template_data_that_wechat_accepts_is_delivered(fake_wechat):
    """Valid values of every type go through; keywords of no known type (old templates) are not checked."""
    assert _template_send(fake_wechat, {**GOOD, "keyword1": "旧模板的字段\n可以换行"})["errcode"] == 0
    assert [c["outcome"] for c in fake_wechat.state.calls if c["path"] == "message/template/send"] == ["delivered"]


@pytest.mark.parametrize(
    "key, value",
    [
        ("thing2", "一二三四五六七八九十一二三四五六七八九十多"),
        ("thing3", "第一行\n第二行"),
        ("character_string1", "3户"),
        ("phrase4", "提醒您尽快处理"),
        ("phrase4", "urgent"),
        ("time5", "明天上午"),
        ("time5", ""),
    ],
)
def test_template_data_that_breaks_wechat_rules_is_refused_with_47003(fake_wechat, key, value):
    """As WeChat answers: errcode 47003 naming the field; nothing is delivered."""
    answer = _template_send(fake_wechat, {**GOOD, key: value})
    assert answer["errcode"] == 47003
    assert re.fullmatch(rf"argument invalid! data\.{key}\.value invalid rid: [0-9a-f-]+", answer["errmsg"])
    assert [c["outcome"] for c in fake_wechat.state.calls if c["path"] == "message/template/send"] == ["errcode 47003"]
