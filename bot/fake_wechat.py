"""A local stand-in for the WeChat API: real HTTP, records every call, fails on demand.

Tests and development point WECHAT_API_BASE_URL at `http://HOST:PORT/cgi-bin/`.
`GET /_calls` lists recorded calls with their outcome (`delivered`, `deduplicated`, `http 500`,
`errcode 40001` …), `DELETE /_calls` clears them; `POST /_faults` queues
failures ({"path": "message/template/send", "http_status": 500 | "errcode": 40001 |
"delay": 3.0 | "revoke_tokens": true, "times": 2, "after": 10}); `DELETE /_faults` clears them.
`revoke_tokens` retires every live token, as WeChat does some minutes after another fetch, so
that call and every later one with an old token get 40001. `after` lets that many matching calls
through before the fault starts.
"""

from __future__ import annotations

import itertools
import threading
import time

from flask import Flask, jsonify, request
from werkzeug.serving import WSGIRequestHandler, make_server

ERRMSG = {
    40001: "invalid credential",
    40014: "invalid access_token",
    42001: "access_token expired",
    43004: "require subscribe",
    45009: "reach max api daily quota limit",
    45011: "api minute-quota reach limit",
    45015: "response out of time limit",
    45047: "out of response count limit",
}


class FakeWeChatState:
    """Calls, live tokens and queued faults, shared by the stand-in's request threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.calls: list[dict] = []
        self.faults: list[dict] = []
        self.tokens: set[str] = set()
        self.token_counter = itertools.count(1)
        self.msg_ids = itertools.count(1000)
        # (openid, client_msg_id) -> when delivered: WeChat drops repeats within 10 minutes.
        self.template_ids: dict[tuple[str, str], float] = {}

    def take_fault(self, path: str) -> dict | None:
        """The next queued fault for this path, used up one time at a time."""
        with self.lock:
            for fault in self.faults:
                if fault.get("path") in (path, "*"):
                    if fault.get("after", 0) > 0:
                        fault["after"] -= 1
                        return None
                    fault["times"] = fault.get("times", 1) - 1
                    if fault["times"] <= 0:
                        self.faults.remove(fault)
                    return dict(fault)
        return None


def create_fake_wechat_app(state: FakeWeChatState | None = None) -> Flask:
    """The stand-in as a Flask app."""
    app = Flask("fake_wechat")
    state = state or FakeWeChatState()
    app.extensions["fake_wechat"] = state

    def record(path: str, body, outcome: str) -> None:
        with state.lock:
            state.calls.append(
                {
                    "path": path,
                    "method": request.method,
                    # The app secret is not recorded: /_calls is readable by anyone on the machine.
                    "params": {k: v for k, v in request.args.items() if k != "secret"},
                    "body": body,
                    "outcome": outcome,
                    "at": time.time(),
                }
            )

    def apply_fault(path: str):
        """A queued fault's response, or None to answer normally (after any delay)."""
        fault = state.take_fault(path)
        if not fault:
            return None, None
        if fault.get("delay"):
            time.sleep(float(fault["delay"]))
        if fault.get("revoke_tokens"):
            with state.lock:
                state.tokens.clear()
        if fault.get("http_status"):
            code = int(fault["http_status"])
            return ("stand-in failure", code), f"http {code}"
        if fault.get("errcode"):
            code = int(fault["errcode"])
            return jsonify(errcode=code, errmsg=ERRMSG.get(code, "error")), f"errcode {code}"
        return None, None

    @app.get("/cgi-bin/token")
    def token():
        failed, outcome = apply_fault("token")
        if failed is not None:
            record("token", None, outcome)
            return failed
        if request.args.get("grant_type") != "client_credential" or not request.args.get("secret"):
            record("token", None, "errcode 40002")
            return jsonify(errcode=40002, errmsg="invalid grant_type")
        value = f"fake-token-{next(state.token_counter)}"
        with state.lock:
            state.tokens.add(value)
        record("token", None, "delivered")
        return jsonify(access_token=value, expires_in=7200)

    @app.post("/cgi-bin/<path:path>")
    def api(path: str):
        # wechatpy posts JSON without a JSON content type, as WeChat accepts.
        body = request.get_json(force=True, silent=True)
        failed, outcome = apply_fault(path)
        if failed is not None:
            record(path, body, outcome)
            return failed
        if request.args.get("access_token") not in state.tokens:
            record(path, body, "errcode 40001")
            return jsonify(errcode=40001, errmsg=ERRMSG[40001])
        if path == "message/template/send":
            key = ((body or {}).get("touser", ""), (body or {}).get("client_msg_id") or "")
            with state.lock:
                seen = state.template_ids.get(key)
                repeat = bool(key[1]) and seen is not None and time.time() - seen < 600
                if not repeat:
                    state.template_ids[key] = time.time()
            record(path, body, "deduplicated" if repeat else "delivered")
            return jsonify(errcode=0, errmsg="ok", msgid=next(state.msg_ids))
        record(path, body, "delivered")
        if path == "qrcode/create":
            scene = ((body or {}).get("action_info") or {}).get("scene", {})
            key = scene.get("scene_str") or scene.get("scene_id")
            return jsonify(
                ticket=f"ticket-{key}",
                expire_seconds=(body or {}).get("expire_seconds"),
                url=f"http://weixin.qq.com/q/fake-{key}",
            )
        return jsonify(errcode=0, errmsg="ok")

    @app.get("/_calls")
    def list_calls():
        with state.lock:
            return jsonify(list(state.calls))

    @app.delete("/_calls")
    def clear_calls():
        with state.lock:
            state.calls.clear()
        return "", 204

    @app.post("/_faults")
    def add_fault():
        fault = request.get_json(silent=True)
        if not isinstance(fault, dict) or "path" not in fault:
            return jsonify(error="send a JSON object with at least 'path'"), 400
        with state.lock:
            state.faults.append(fault)
        return jsonify(fault), 201

    @app.delete("/_faults")
    def clear_faults():
        with state.lock:
            state.faults.clear()
        return "", 204

    @app.post("/_tokens/revoke")
    def revoke_tokens():
        # Simulates WeChat retiring every token (another party fetched a new one).
        with state.lock:
            state.tokens.clear()
        return "", 204

    return app


class _QuietHandler(WSGIRequestHandler):
    """No access log: token URLs carry the app secret, which must not reach a console or file."""

    def log_request(self, *args, **kwargs) -> None:
        pass


class FakeWeChatServer:
    """The stand-in on a real port, in a background thread or the foreground."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.state = FakeWeChatState()
        self._server = make_server(
            host, port, create_fake_wechat_app(self.state), threaded=True, request_handler=_QuietHandler
        )
        self.host, self.port = host, self._server.server_port
        # A short poll interval keeps shutdown quick for tests.
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def base_url(self) -> str:
        """What WECHAT_API_BASE_URL should be set to."""
        return f"http://{self.host}:{self.port}/cgi-bin/"

    def start(self) -> "FakeWeChatServer":
        """Start serving in the background."""
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the foreground until interrupted."""
        try:
            self._server.serve_forever()
        except KeyboardInterrupt:
            pass

    def stop(self) -> None:
        """Stop serving and wait for the thread."""
        self._server.shutdown()
        self._thread.join(timeout=5)
