"""Sessions for the outside APIs: the environment's proxy is honoured, read once when the session is made."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
import requests

from runtime.http import api_session
from runtime.wechat import make_wechat_client

# A host name nothing resolves: only the proxy below knows where it is.
HIDDEN_HOST = "wechat-api.invalid"


class ForwardProxy:
    """A plain HTTP forward proxy on a local port that sends `HIDDEN_HOST` to `target` and records
    every URL it was asked for."""

    def __init__(self, target: str):
        self.seen: list[str] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def _forward(self):
                proxy.seen.append(self.path)
                parts = urlsplit(self.path)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                answer = requests.request(self.command, f"{target}{parts.path}?{parts.query}", data=body,
                                          headers={"Content-Type": self.headers.get("Content-Type", "")}, timeout=5)
                self.send_response(answer.status_code)
                self.send_header("Content-Type", answer.headers.get("Content-Type", "application/json"))
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            do_GET = do_POST = _forward

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def no_proxy_env(monkeypatch):
    """A clean slate: no proxy variables from the machine running the tests."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "all_proxy",
                 "no_proxy", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_the_proxy_for_the_host_and_the_ca_bundle_are_kept(no_proxy_env, tmp_path):
    """The proxy variables and the CA bundle in force when the session is made are its own."""
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-", encoding="ascii")
    no_proxy_env.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    no_proxy_env.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    session = api_session("https://api.weixin.qq.com/cgi-bin/")
    assert session.proxies.get("https") == "http://proxy.example:3128"
    assert session.verify == str(bundle)
    assert session.trust_env is False


def test_no_proxy_naming_the_host_means_a_direct_connection(no_proxy_env):
    """A host `no_proxy` names is reached directly, as a plain session would."""
    no_proxy_env.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    no_proxy_env.setenv("NO_PROXY", "api.weixin.qq.com")
    assert api_session("https://api.weixin.qq.com/cgi-bin/").proxies == {}
    assert api_session("https://sms.example/").proxies.get("https") == "http://proxy.example:3128"


def test_the_wechat_client_goes_through_the_proxy_set_at_start(no_proxy_env, settings, redis_client, fake_wechat):
    """Every thread's calls (the token fetch too) go through the proxy the environment named when the
    client was made, even after the variable is gone: the environment is not read per call."""
    with ForwardProxy(fake_wechat.root_url) as proxy:
        no_proxy_env.setenv("HTTP_PROXY", proxy.url)
        client = make_wechat_client(settings.with_overrides(wechat_api_base_url=f"http://{HIDDEN_HOST}/cgi-bin/"),
                                    redis_client)
        no_proxy_env.delenv("HTTP_PROXY")
        body = {"touser": "o-staff", "template_id": "tpl-1", "data": {"thing1": {"value": "测试"}}}
        assert client.post("message/template/send", data=body)["errcode"] == 0
        answers = []
        other = threading.Thread(target=lambda: answers.append(client.post("message/template/send", data=body)))
        other.start()
        other.join(10)
    assert answers and answers[0]["errcode"] == 0
    paths = [urlsplit(url).path for url in proxy.seen]
    assert paths == ["/cgi-bin/token", "/cgi-bin/message/template/send", "/cgi-bin/message/template/send"]
    assert all(urlsplit(url).hostname == HIDDEN_HOST for url in proxy.seen)
