"""The WeChat API client against the local stand-in: base URL, shared token, timeouts, bounded retry."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from wechatpy.exceptions import WeChatClientException

from runtime.wechat import SanzhidaWeChatClient, make_wechat_client
from services.kv import Keys

TEMPLATE = {"touser": "o-staff", "template_id": "tpl-1", "data": {"thing1": {"value": "测试"}}}
MENU = {"button": [{"type": "click", "name": "使用帮助", "key": "HELP"}]}


def calls(server, path=None):
    """Calls the stand-in recorded, optionally for one path."""
    recorded = requests.get(f"http://{server.host}:{server.port}/_calls", timeout=5).json()
    return [c for c in recorded if path is None or c["path"] == path]


def fault(server, **spec):
    """Queue a failure on the stand-in."""
    requests.post(f"http://{server.host}:{server.port}/_faults", json=spec, timeout=5).raise_for_status()


def wrote(server, *openids: str) -> None:
    """These users wrote to the account, so WeChat lets customer-service messages go to them."""
    for openid in openids:
        requests.post(f"{server.root_url}/_interactions", json={"openid": openid}, timeout=5).raise_for_status()


def client_for(settings, redis_client, **overrides) -> SanzhidaWeChatClient:
    """A client as the app builds it."""
    return make_wechat_client(settings.with_overrides(**overrides), redis_client)


def test_every_call_including_the_token_fetch_goes_to_the_base_url(settings, redis_client, fake_wechat):
    """The token fetch and the API call both reach the stand-in, with the fetched token."""
    client = client_for(settings, redis_client)
    result = client.post("message/template/send", data=TEMPLATE)
    assert result["errcode"] == 0
    assert [c["path"] for c in calls(fake_wechat)] == ["token", "message/template/send"]
    send = calls(fake_wechat, "message/template/send")[0]
    assert send["params"]["access_token"].startswith("fake-token-")
    assert send["body"]["data"]["thing1"]["value"] == "测试"


def test_token_is_shared_through_redis_by_every_process(settings, redis_client, fake_wechat):
    """Two clients (as two processes) share one token: it is fetched once."""
    first, second = client_for(settings, redis_client), client_for(settings, redis_client)
    wrote(fake_wechat, "o1", "o2")
    first.post("message/custom/send", data={"touser": "o1", "msgtype": "text", "text": {"content": "a"}})
    second.post("message/custom/send", data={"touser": "o2", "msgtype": "text", "text": {"content": "b"}})
    assert len(calls(fake_wechat, "token")) == 1
    keys = Keys(settings.redis_prefix)
    assert redis_client.get(f"{keys.token_storage_prefix()}:{settings.wechat_app_id}_access_token")


def test_a_revoked_token_is_refetched_once_and_the_call_succeeds(settings, redis_client, fake_wechat):
    """After WeChat retires the token (40001), one refetch and one retry succeed."""
    client = client_for(settings, redis_client)
    client.post("menu/create", data=MENU)
    requests.post(f"http://{fake_wechat.host}:{fake_wechat.port}/_tokens/revoke", timeout=5)
    assert client.post("menu/create", data=MENU)["errcode"] == 0
    assert len(calls(fake_wechat, "token")) == 2
    assert len(calls(fake_wechat, "menu/create")) == 3


def test_refetch_and_retry_is_bounded_when_wechat_keeps_refusing(settings, redis_client, fake_wechat):
    """A server answering 40001 forever costs one refetch and one retry, then a clear error."""
    fault(fake_wechat, path="message/template/send", errcode=40001, times=50)
    client = client_for(settings, redis_client)
    with pytest.raises(WeChatClientException) as raised:
        client.post("message/template/send", data=TEMPLATE)
    assert raised.value.errcode == 40001
    assert len(calls(fake_wechat, "message/template/send")) == 2
    assert len(calls(fake_wechat, "token")) == 2


@pytest.mark.parametrize("code", [40014, 42001])
def test_other_token_errors_refresh_too(settings, redis_client, fake_wechat, code):
    """Invalid and expired token errors are refreshed like 40001."""
    fault(fake_wechat, path="message/template/send", errcode=code, times=1)
    client = client_for(settings, redis_client)
    assert client.post("message/template/send", data=TEMPLATE)["errcode"] == 0
    assert len(calls(fake_wechat, "token")) == 2


def test_other_errors_are_raised_without_refetching(settings, redis_client, fake_wechat):
    """A permanent error such as 43004 is raised at once."""
    fault(fake_wechat, path="message/custom/send", errcode=43004, times=1)
    client = client_for(settings, redis_client)
    with pytest.raises(WeChatClientException) as raised:
        client.post("message/custom/send", data={"touser": "o"})
    assert raised.value.errcode == 43004
    assert len(calls(fake_wechat, "token")) == 1


def test_every_call_has_a_timeout(settings, redis_client, fake_wechat):
    """A stand-in that answers too slowly makes the call fail instead of hanging."""
    client = client_for(settings, redis_client, wechat_http_timeout=0.3)
    client.access_token  # fetch the token first, so the slow answer hits the API call
    fault(fake_wechat, path="message/template/send", delay=1.5, times=1)
    with pytest.raises(WeChatClientException, match="Timeout"):
        client.post("message/template/send", data=TEMPLATE)


def test_the_token_fetch_has_a_timeout_too(settings, redis_client, fake_wechat):
    """A slow token endpoint fails the call rather than hanging it."""
    fault(fake_wechat, path="token", delay=1.5, times=1)
    client = client_for(settings, redis_client, wechat_http_timeout=0.3)
    with pytest.raises(WeChatClientException, match="Timeout"):
        client.post("message/template/send", data=TEMPLATE)


def test_http_errors_become_client_errors(settings, redis_client, fake_wechat):
    """An HTTP 500 from WeChat surfaces as WeChatClientException, which callers handle."""
    client = client_for(settings, redis_client)
    client.access_token
    fault(fake_wechat, path="message/template/send", http_status=500, times=1)
    with pytest.raises(WeChatClientException):
        client.post("message/template/send", data=TEMPLATE)
    assert client.post("message/template/send", data=TEMPLATE)["errcode"] == 0


def test_processes_racing_for_a_token_fetch_it_once(settings, redis_client, fake_wechat):
    """Five processes needing a token at the same moment: one fetch, the others wait and share it."""
    import threading

    fault(fake_wechat, path="token", delay=0.5, times=1)  # a slow fetch widens the race
    clients = [client_for(settings, redis_client) for _ in range(5)]
    barrier = threading.Barrier(5)
    tokens = []

    def need_token(client):
        barrier.wait()
        tokens.append(client.access_token)

    threads = [threading.Thread(target=need_token, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls(fake_wechat, "token")) == 1
    assert len(set(tokens)) == 1 and len(tokens) == 5


def test_a_non_json_answer_is_a_failure_not_a_success(settings, redis_client, fake_wechat):
    """An answer that is not a JSON object (a wrong base URL, a proxy's page) raises instead of passing."""
    client_for(settings, redis_client).access_token  # the shared token, fetched from the right place
    client = client_for(settings, redis_client, wechat_api_base_url=f"http://{fake_wechat.host}:{fake_wechat.port}/")
    with pytest.raises(WeChatClientException, match="not JSON"):
        client.get("_calls")
    # A JSON POST (every push) takes the shared pool's way: the same answer to a proxy's page.
    with html_page() as url:
        client = client_for(settings, redis_client, wechat_api_base_url=url)
        with pytest.raises(WeChatClientException, match="not JSON"):
            client.post("message/custom/send", data={"touser": "o"})


@contextmanager
def html_page():
    """A local server answering every POST with 200 and an HTML page, as a captive proxy does; its URL."""

    class Page(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            page = "<html><body>请先登录</body></html>".encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/cgi-bin/"
    finally:
        server.shutdown()
        server.server_close()


def test_redis_down_is_reported_as_a_client_error(settings, fake_wechat):
    """With the token store unreachable, callers get the one exception type they handle."""
    from runtime.redis_client import make_redis

    dead = make_redis("redis://127.0.0.1:1/0", allow_embedded=False)
    client = client_for(settings, dead)
    with pytest.raises(WeChatClientException, match="token store unavailable"):
        client.post("message/template/send", data=TEMPLATE)


class SteppedClock:
    """A monotonic clock that moves only when told."""

    def __init__(self):
        self.value = 1000.0

    def __call__(self) -> float:
        return self.value


def token_key(settings) -> str:
    """Where the shared token lives in Redis."""
    return f"{Keys(settings.redis_prefix).token_storage_prefix()}:{settings.wechat_app_id}_access_token"


def test_the_token_is_kept_in_memory_until_it_expires(settings, redis_client, fake_wechat):
    """Calls use the remembered token without asking Redis; once its time is up, Redis is asked
    again (and here, with nothing there, a new token is fetched)."""
    clock = SteppedClock()
    client = SanzhidaWeChatClient(settings.wechat_app_id, settings.wechat_app_secret, base_url=fake_wechat.base_url,
                                  redis=redis_client, keys=Keys(settings.redis_prefix), timeout=2.0, monotonic=clock)
    client.post("message/template/send", data=TEMPLATE)
    ttl = redis_client.ttl(token_key(settings))
    redis_client.delete(token_key(settings))

    clock.value += ttl - 1
    assert client.post("message/template/send", data=TEMPLATE)["errcode"] == 0
    assert len(calls(fake_wechat, "token")) == 1

    clock.value += 2
    assert client.post("message/template/send", data=TEMPLATE)["errcode"] == 0
    assert len(calls(fake_wechat, "token")) == 2


def test_a_remembered_token_retired_elsewhere_is_replaced_from_redis(settings, redis_client, fake_wechat):
    """Another process fetched a new token and WeChat retired ours: the call gets 40001, takes the
    new token from Redis without fetching again, and succeeds."""
    ours, theirs = client_for(settings, redis_client), client_for(settings, redis_client)
    old = ours.access_token
    requests.post(f"http://{fake_wechat.host}:{fake_wechat.port}/_tokens/revoke", timeout=5)
    new = theirs.refresh_token(stale=old)

    assert ours.post("message/template/send", data=TEMPLATE)["errcode"] == 0
    assert new != old and len(calls(fake_wechat, "token")) == 2
    sends = calls(fake_wechat, "message/template/send")
    assert [c["outcome"] for c in sends] == ["errcode 40001", "delivered"]
    assert sends[-1]["params"]["access_token"] == new == ours.access_token


def test_one_client_serves_several_threads(settings, redis_client, fake_wechat):
    """Six threads sending through one client at once: every call succeeds, one token fetch."""
    import threading

    client = client_for(settings, redis_client)
    barrier = threading.Barrier(6)
    results = []

    def send_many(n):
        barrier.wait()
        for i in range(15):
            results.append(client.post("message/template/send", data={**TEMPLATE, "touser": f"o-{n}-{i}"})["errcode"])

    threads = [threading.Thread(target=send_many, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [0] * 90
    assert len(calls(fake_wechat, "token")) == 1
    assert len(calls(fake_wechat, "message/template/send")) == 90
