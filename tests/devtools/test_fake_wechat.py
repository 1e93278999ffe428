"""The WeChat stand-in as an HTTP server: connections kept open like WeChat's, bodies never
mistaken for the next request."""

from __future__ import annotations

import socket


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
    with socket.create_connection((fake_wechat.host, fake_wechat.port), timeout=5) as sock:
        token_with_stray_body = (b"GET /cgi-bin/token?grant_type=client_credential&appid=a&secret=s HTTP/1.1\r\n"
                                 b"Host: x\r\nContent-Length: 11\r\n\r\nGET / oops\n")
        first = exchange(sock, token_with_stray_body)
        assert first.startswith(b"HTTP/1.1 200") and b"access_token" in first
        body = b'{"touser": "o-1"}'
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
