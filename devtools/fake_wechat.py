"""A local stand-in for the WeChat API: real HTTP, records every call, fails on demand.

Tests and development point WECHAT_API_BASE_URL at `http://HOST:PORT/cgi-bin/`.
`GET /_calls` lists recorded calls with their outcome (`delivered`, `deduplicated`, `http 500`,
`errcode 40001` …), `DELETE /_calls` clears them; `POST /_faults` queues
failures ({"path": "message/template/send", "http_status": 500 | "errcode": 40001 |
"delay": 3.0 | "revoke_tokens": true, "times": 2, "after": 10}); `DELETE /_faults` clears them.
`fake-wechat --latency-ms 50 --error-rate 0.01` delays every API call and fails that share as WeChat
does (devtools/fake_wechat_chaos.py: errcode -1, HTTP 5xx, timeouts, late answers); a template
send's record has its `msgid`. `revoke_tokens` retires every live token, as WeChat does some minutes after another fetch, so
that call and every later one with an old token get 40001. `after` lets that many matching calls
through before the fault starts.

It refuses what WeChat refuses, with WeChat's errcodes, per account (devtools/fake_wechat_accounts.py):

- `GET /cgi-bin/token`: a wrong appid (40013) or AppSecret (40125), or one left out (41002, 41004),
  against `FakeWeChatState(app_id=…, app_secret=…)`, by default the development settings'; None
  accepts any.
- `message/custom/send` to a user outside WeChat's customer-service window (45015) or past its
  count (45047), with the rules and the user's actions as devtools/fake_wechat_users.py describes
  (tests and the simulator register every message and event at `POST /_interactions`); a missing
  touser (40003), an unknown msgtype (40008), empty text (44004).
- `message/template/send` whose data breaks a keyword type's value rules (47003, "argument
  invalid! data.thing2.value invalid rid: …"), without a template_id (40037) or to a user who
  unfollowed (43004);
  `qrcode/create` with a wrong action_name (40052) or scene (40053); both as
  devtools/fake_wechat_rules.py describes.
- A path WeChat's API does not have (or the stand-in does not play) answers HTTP 404, as a URL
  that does not exist does; the stand-in never pretends an unknown call went through.

Besides token, it answers POST `message/custom/send`, `message/template/send`, `qrcode/create`,
`menu/create` and GET `user/info`, `getcallbackip`; subscription notices, POST
`message/subscribe/bizsend`, as devtools/fake_wechat_subscribe.py describes.

The account's set-up (devtools/fake_wechat_setup.py): GET `template/get_all_private_template`,
`menu/get` and `get_current_selfmenu_info` answer the templates on the account (by default the
development ids with the product's keywords; `POST /_templates` changes them) and the menu
`menu/create` installed; `POST /_ip_whitelist` makes `token` refuse other addresses with 40164.
`menu/create` refuses what WeChat refuses (button counts, name and key lengths, types), with its
codes, as devtools/fake_wechat_menu.py describes.

Media and web authorisation answer as WeChat documents them (devtools/fake_wechat_media.py,
devtools/fake_wechat_oauth.py): `GET /cgi-bin/media/get`, `POST /cgi-bin/media/upload`,
`GET /connect/oauth2/authorize` and `GET /sns/oauth2/access_token`; a custom message of msgtype
voice, image or video is refused with 40007 when its media_id is unknown or expired. Their test
controls:

- `GET /_clock` shows the stand-in's clock (`{"now": epoch}`); `POST /_clock {"advance_seconds": N}`
  moves it forward. Temporary media expire 3 days after their `created_at` on this clock, OAuth
  codes 5 minutes after they are issued.
- `POST /_media`: a file a follower "sent", as multipart field `media` (optional form field `type`:
  voice, image, video, shortvideo or thumb; guessed from the content when absent) or as the raw
  body with its Content-Type; answers `{"media_id", "type", "created_at"}` for an incoming message.
  `GET /_media` lists every file (media_id, type, content_type, size, created_at, expired);
  `GET /_media/<id>` returns a file's bytes (an uploaded one too, even expired);
  `GET /_media/<id>/download` is where a video's `video_url` points.
- `GET /_oauth/login?openid=X&next=URL` signs this browser in to "WeChat" as X (a cookie), then
  redirects to `next`; `GET /_oauth/logout` signs it out.
- `POST /_interactions {"openid": …, "msg_type": "text" | "event", "event": …, "at": epoch}`: a user
  wrote, followed, scanned or clicked (at `at` on the stand-in's clock, by default now), which opens
  their customer-service window; `GET /_interactions` lists the followers known.

The authorisation routes accept the same app id and secret as the token route.

The server keeps connections open between calls (HTTP/1.1, a thread per connection), as WeChat's
API does, so a client's connection pooling is measured as it will behave in production.
"""

from __future__ import annotations

import io
import itertools
import threading
import time
from socketserver import ThreadingMixIn
from wsgiref.simple_server import ServerHandler, WSGIRequestHandler, WSGIServer, make_server

from flask import Flask, jsonify, request

from config.settings import DEV_DEFAULTS
from devtools.fake_wechat_chaos import LATE, SYSTEM_ERRMSG, Chaos, register_chaos
from devtools.fake_wechat_accounts import Accounts, register_account_routes
from devtools.fake_wechat_media import MediaStore, register_media_routes
from devtools.fake_wechat_menu import MENU_ERRMSG, menu_errcode
from devtools.fake_wechat_oauth import register_oauth_routes
from devtools.fake_wechat_rules import RULES_ERRMSG, custom_message_errcode, invalid_template_key, qrcode_answer
from devtools.fake_wechat_setup import SETUP_ERRMSG, AccountSetup, register_setup_routes
from devtools.fake_wechat_subscribe import SUBSCRIBE_ERRMSG, SubscriptionNotices, register_subscribe_routes
from devtools.fake_wechat_users import USER_ERRMSG, Followers, register_user_routes
from devtools.serving import BackgroundServer, serve_call_log

ERRMSG = {
    **RULES_ERRMSG,
    **USER_ERRMSG,
    **SETUP_ERRMSG,
    **MENU_ERRMSG,
    **SUBSCRIBE_ERRMSG,
    40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type",
    40013: "invalid appid",
    40014: "invalid access_token",
    40037: "invalid template_id",
    40125: "invalid appsecret",
    41002: "appid missing",
    41004: "appsecret missing",
    42001: "access_token expired",
    45009: "reach max api daily quota limit",
    45011: "api minute-quota reach limit",
    -1: SYSTEM_ERRMSG,
}


class FakeWeChatState:
    """Calls, live tokens, queued faults, media, followers and OAuth codes, shared by the stand-in's request threads."""

    def __init__(
        self,
        app_id: str | None = DEV_DEFAULTS["WECHAT_APP_ID"],
        app_secret: str | None = DEV_DEFAULTS["WECHAT_APP_SECRET"],
        chaos: Chaos | None = None,
    ):
        # What the token route and web authorisation accept; None accepts any.
        self.app_id = app_id
        self.app_secret = app_secret
        self.lock = threading.Lock()
        self.calls: list[dict] = []
        self.faults: list[dict] = []
        # Live token -> the AppID it was issued to.
        self.tokens: dict[str, str] = {}
        # The official accounts and whose each openid is (devtools/fake_wechat_accounts.py).
        self.accounts = Accounts(app_id, app_secret)
        self.token_counter = itertools.count(1)
        self.msg_ids = itertools.count(1000)
        # (openid, client_msg_id) -> when delivered: WeChat drops repeats within 10 minutes.
        self.template_ids: dict[tuple[str, str], float] = {}
        # Seconds the stand-in's clock is ahead of the real one (POST /_clock).
        self.clock_offset = 0.0
        self.media = MediaStore()
        self.followers = Followers()
        # One-time web-authorisation codes: code -> openid, scope, appid, expires_at, used.
        self.oauth_codes: dict[str, dict] = {}
        # Templates, menu and IP whitelist of the account.
        self.setup = AccountSetup()
        # Subscription templates and what each user accepted (devtools/fake_wechat_subscribe.py).
        self.notices = SubscriptionNotices()
        # Latency and random failures on every API call (devtools/fake_wechat_chaos.py).
        self.chaos = chaos or Chaos()

    def now(self) -> float:
        """The stand-in's clock: real time plus what tests advanced it by."""
        return time.time() + self.clock_offset

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


def token_errcode(state: FakeWeChatState, args) -> int | None:
    """The errcode WeChat gives this `token` request, or None when the app may have a token."""
    if args.get("grant_type") != "client_credential":
        return 40002
    if not args.get("appid"):
        return 41002
    code = state.accounts.token_errcode(args["appid"], args.get("secret") or "")
    if code == 40013:
        return code
    if not args.get("secret"):
        return 41004
    return code


def create_fake_wechat_app(state: FakeWeChatState | None = None) -> Flask:
    """The stand-in as a Flask app."""
    app = Flask("fake_wechat")
    state = state or FakeWeChatState()
    app.extensions["fake_wechat"] = state

    def record(path: str, body, outcome: str, **extra) -> None:
        if request.environ.get(LATE) and outcome == "delivered":
            outcome = "delivered late"
        with state.lock:
            state.calls.append(
                {
                    "path": path,
                    "method": request.method,
                    # The app secret is not recorded: /_calls is readable by anyone on the machine.
                    "params": {k: v for k, v in request.args.items() if k != "secret"},
                    "body": body,
                    "outcome": outcome,
                    "app_id": state.tokens.get(request.args.get("access_token", "")) or request.args.get("appid"),
                    "at": time.time(),
                    **extra,
                }
            )

    def error(code: int):
        """WeChat's error answer: JSON with HTTP 200."""
        return jsonify(errcode=code, errmsg=ERRMSG.get(code, "error"))

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
            return error(code), f"errcode {code}"
        return None, None

    chaos_refusal = register_chaos(app, state.chaos, record, error)

    @app.get("/cgi-bin/token")
    def token():
        failed, outcome = apply_fault("token")
        if failed is not None:
            record("token", None, outcome)
            return failed
        failed = chaos_refusal("token", None)
        if failed is not None:
            return failed
        code = token_errcode(state, request.args)
        if code is not None:
            record("token", None, f"errcode {code}")
            return error(code)
        not_whitelisted = state.setup.ip_refusal(request.remote_addr)
        if not_whitelisted:
            record("token", None, "errcode 40164")
            return jsonify(errcode=40164, errmsg=not_whitelisted)
        value = f"fake-token-{next(state.token_counter)}"
        with state.lock:
            state.tokens[value] = request.args["appid"]
        record("token", None, "delivered")
        return jsonify(access_token=value, expires_in=7200)

    def refused(path: str, body):
        """The answer to a call a queued fault or a dead token stops, recorded; None to go on."""
        failed, outcome = apply_fault(path)
        if failed is not None:
            record(path, body, outcome)
            return failed
        failed = chaos_refusal(path, body)
        if failed is not None:
            return failed
        token_app_id = state.tokens.get(request.args.get("access_token", ""))
        code = 40001 if token_app_id is None else state.accounts.openid_errcode(token_app_id, body, request.args)
        if code is not None:
            record(path, body, f"errcode {code}")
            return error(code)
        return None

    def custom_send(path: str, body):
        """客服消息: the message's shape and media, then the user's window, as WeChat checks them."""
        owner = state.tokens.get(request.args.get("access_token", ""))
        code = custom_message_errcode(body, lambda media_id: state.media.live(media_id, state.now(), owner) is not None)
        if code is None:
            code = state.followers.take_custom(body["touser"], state.now())
        if code is not None:
            record(path, body, f"errcode {code}")
            return error(code)
        record(path, body, "delivered")
        return jsonify(errcode=0, errmsg="ok")

    def template_send(path: str, body):
        """模板消息: every value keeps its type's rules; a repeat client_msg_id within 10 minutes is dropped."""
        body = body if isinstance(body, dict) else {}
        invalid = invalid_template_key(body.get("data"))
        if invalid is not None:
            record(path, body, "errcode 47003")
            rid = f"{next(state.msg_ids):08x}-{time.time_ns() & 0xffffffff:08x}"
            return jsonify(errcode=47003, errmsg=f"argument invalid! data.{invalid}.value invalid rid: {rid}")
        code = (40003 if not body.get("touser") else 40037 if not body.get("template_id")
                else state.followers.template_errcode(body["touser"]))
        if code is not None:
            record(path, body, f"errcode {code}")
            return error(code)
        key = (body["touser"], body.get("client_msg_id") or "")
        with state.lock:
            seen = state.template_ids.get(key)
            repeat = bool(key[1]) and seen is not None and time.time() - seen < 600
            if not repeat:
                state.template_ids[key] = time.time()
        msgid = next(state.msg_ids)
        record(path, body, "deduplicated" if repeat else "delivered", msgid=msgid)
        return jsonify(errcode=0, errmsg="ok", msgid=msgid)

    def qrcode_create(path: str, body):
        """生成带参数的二维码: WeChat's action names and scene limits; a permanent code never expires."""
        code, answer = qrcode_answer(body)
        if code is not None:
            record(path, body, f"errcode {code}")
            return error(code)
        record(path, body, "delivered")
        return jsonify(answer)

    def menu_create(path: str, body):
        """自定义菜单: WeChat's limits on buttons, names, keys and types (devtools.fake_wechat_menu)."""
        code = menu_errcode(body)
        if code is not None:
            record(path, body, f"errcode {code}")
            return error(code)
        state.setup.keep_menu(state.tokens.get(request.args.get("access_token", "")), body)
        record(path, body, "delivered")
        return jsonify(errcode=0, errmsg="ok")

    posts = {"message/custom/send": custom_send, "message/template/send": template_send,
             "qrcode/create": qrcode_create, "menu/create": menu_create}

    @app.post("/cgi-bin/<path:path>")
    def api(path: str):
        # wechatpy posts JSON without a JSON content type, as WeChat accepts.
        body = request.get_json(force=True, silent=True)
        if path not in posts:
            return unknown_api(path, body)
        refusal = refused(path, body)
        if refusal is not None:
            return refusal
        return posts[path](path, body)

    @app.get("/cgi-bin/<path:path>")
    def unknown_get(path: str):
        return unknown_api(path, None)

    def unknown_api(path: str, body):
        """A path WeChat's API does not have, or the stand-in does not play: HTTP 404, never a success."""
        record(path, body, "http 404")
        return "404 Not Found: the WeChat API stand-in has no such API\n", 404, {"Content-Type": "text/plain"}

    serve_call_log(app, state, "API call")

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

    @app.get("/_clock")
    def show_clock():
        """The stand-in's clock."""
        return jsonify(now=int(state.now()))

    @app.post("/_clock")
    def advance_clock():
        """Move the stand-in's clock forward."""
        body = request.get_json(silent=True)
        seconds = body.get("advance_seconds") if isinstance(body, dict) else None
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
            return jsonify(error="send {\"advance_seconds\": N} with N a number of seconds, 0 or more"), 400
        with state.lock:
            state.clock_offset += seconds
        return jsonify(now=int(state.now()))

    register_media_routes(app, state, record, apply_fault)
    register_account_routes(app, state.accounts)
    register_oauth_routes(app, state, record, apply_fault)
    register_user_routes(app, state, record, refused)
    register_setup_routes(app, state, record, refused)
    register_subscribe_routes(app, state, record, refused)

    @app.post("/_tokens/revoke")
    def revoke_tokens():
        # Simulates WeChat retiring every token (another party fetched a new one).
        with state.lock:
            state.tokens.clear()
        return "", 204

    return app


class _Response(ServerHandler):
    """wsgiref's response writer, answering in HTTP/1.1 so that clients keep the connection."""

    http_version = "1.1"
    # Whether the answer carried its length: `close` forgets the headers, so note it here.
    length_known = False

    def cleanup_headers(self) -> None:
        """wsgiref's header completion, noting whether the length is known."""
        super().cleanup_headers()
        self.length_known = "Content-Length" in self.headers


class _KeepAliveHandler(WSGIRequestHandler):
    """Serves one connection request after request, as WeChat's API servers do, and writes no
    access log: token URLs carry the app secret, which must not reach a console or file."""

    protocol_version = "HTTP/1.1"
    # wsgiref writes the head and the body separately; with Nagle's algorithm on a kept
    # connection the body would wait for the client's delayed ACK (about 40 ms a call).
    disable_nagle_algorithm = True

    def handle(self) -> None:
        """Serve requests on this connection until the client closes it or asks to."""
        self.close_connection = True
        self._serve_one()
        while not self.close_connection:
            self._serve_one()

    def _serve_one(self) -> None:
        """Read one request and answer it with the app."""
        self.raw_requestline = self.rfile.readline(65537)
        if not self.raw_requestline or len(self.raw_requestline) > 65536:
            self.close_connection = True
            return
        if not self.parse_request():  # also decides keep-alive from the version and headers
            return
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            # wsgiref reads bodies by Content-Length only: end the connection after this one.
            self.close_connection = True
        response = _Response(self.rfile, self.wfile, self.get_stderr(), self.get_environ(), multithread=True)
        response.request_handler = self
        response.run(self.server.get_app())
        if not response.length_known:
            # Without a length the client can only find the end of the answer by the close.
            self.close_connection = True

    def log_message(self, format, *args) -> None:  # noqa: A002 - http.server's signature
        pass


class _ThreadedServer(ThreadingMixIn, WSGIServer):
    """One thread per connection; they never keep the process alive."""

    daemon_threads = True
    # socketserver's default backlog of 5 drops connections from a busy caller (a soak, many threads).
    request_queue_size = 256


def _read_whole_body(app):
    """WSGI middleware: read each request body fully before the app runs, so that a body the app
    leaves unread is never taken for the next request on a kept connection."""

    def wrapped(environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        environ["wsgi.input"] = io.BytesIO(environ["wsgi.input"].read(length) if length > 0 else b"")
        return app(environ, start_response)

    return wrapped


class FakeWeChatServer(BackgroundServer):
    """The stand-in on a real port, in a background thread or the foreground."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        app_id: str | None = DEV_DEFAULTS["WECHAT_APP_ID"],
        app_secret: str | None = DEV_DEFAULTS["WECHAT_APP_SECRET"],
        chaos: Chaos | None = None,
        accounts: dict[str, str] | None = None,
    ):
        self.state = FakeWeChatState(app_id, app_secret, chaos)
        self.state.accounts.add_all(accounts or {})
        super().__init__(make_server(
            host, port, _read_whole_body(create_fake_wechat_app(self.state)),
            server_class=_ThreadedServer, handler_class=_KeepAliveHandler,
        ), host)

    @property
    def root_url(self) -> str:
        """The stand-in's root, where its test controls (/_calls, /_interactions …) are."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """What WECHAT_API_BASE_URL should be set to."""
        return f"http://{self.host}:{self.port}/cgi-bin/"

    @property
    def oauth_url(self) -> str:
        """What WECHAT_OAUTH_URL should be set to (the authorise page)."""
        return f"http://{self.host}:{self.port}/connect/oauth2/authorize"
