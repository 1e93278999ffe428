"""A local stand-in for Aliyun SMS (Dysmsapi 2017-05-25 `SendSms`): answers as the real API does,
as strictly, records every message it is sent and fails on demand.

Point SMS_ENDPOINT at `http://HOST:PORT/`. It takes SendSms by GET (parameters in the query) or
POST (parameters in a form body), and refuses, with Aliyun's codes and messages
(https://help.aliyun.com/document_detail/101346.html and the RPC gateway's own):
- a missing parameter: `Missing<Name>`, "<Name> is mandatory for this action." (HTTP 400);
- another Action or Version: `InvalidAction.NotFound` (404), `InvalidVersion` (400); a signature
  method other than HMAC-SHA1 1.0: `IncompleteSignature` (400);
- a Timestamp not yyyy-MM-ddTHH:mm:ssZ: `InvalidTimeStamp.Format`; more than 15 minutes from the
  real time: `InvalidTimeStamp.Expired` (400);
- an AccessKeyId other than the one given at start: `InvalidAccessKeyId.NotFound` (404); a signature
  that is not Base64(HMAC-SHA1(secret + "&", StringToSign)): `SignatureDoesNotMatch` (400); a
  SignatureNonce seen in the last 15 minutes: `SignatureNonceUsed` (400);
- then, answered with HTTP 200 as SendSms answers: more than 1000 numbers
  `isv.MOBILE_COUNT_OVER_LIMIT`; a number that is not an 11-digit mainland mobile
  `isv.MOBILE_NUMBER_ILLEGAL`; a sign name or template code not registered at start
  `isv.SMS_SIGNATURE_ILLEGAL` / `isv.SMS_TEMPLATE_ILLEGAL`; TemplateParam not a JSON object of
  strings `isv.INVALID_JSON_PARAM`; a variable of the template left out
  `isv.TEMPLATE_MISSING_PARAMETERS`; a value that is a link `isv.PARAM_NOT_SUPPORT_URL`; a value
  over 35 characters `isv.PARAM_LENGTH_LIMIT`;
- the default per-number flow control for one sign name (短信发送频率限制): 1 a minute, 5 an hour,
  10 a day, `isv.BUSINESS_LIMIT_CONTROL` with "触发分钟级流控Permits:1" (小时级 5, 天级 10), counted
  on the stand-in's own clock (`POST /_clock {"advance": seconds}`), which starts at the real time.

Success: `{"Code": "OK", "Message": "OK", "BizId": "…", "RequestId": "…"}`.

Controls: `GET /_calls` (every SendSms: phones, sign name, template, params, out_id, code, biz_id),
`DELETE /_calls`; `POST /_faults {"code": "isp.SYSTEM_ERROR" | "http_status": 503 | "hang": true,
"times": N}` fails the next N calls (a code answers HTTP 200 with that code, as isv/isp errors come;
"status" sets another), `DELETE /_faults`; `GET /_clock`, `POST /_clock {"advance": s}`; `POST /_reply`
(a person replies, pushed to our reply URL as Aliyun's SmsUp push: devtools/fake_sms_replies.py), `GET /_replies`.
"""

from __future__ import annotations

import hmac
import itertools
import json
import re
import threading
import time
import uuid
from collections.abc import Mapping
from datetime import datetime, timezone

from flask import Flask, jsonify, request
from werkzeug.serving import WSGIRequestHandler, make_server

from devtools.fake_sms_replies import SmsReplies, register_replies
from devtools.serving import BackgroundServer, serve_call_log
from runtime.sms import rpc_signature

# Aliyun accepts a request whose Timestamp (and keeps nonces) within 15 minutes of its own time.
TIMESTAMP_WINDOW_SECONDS = 15 * 60
# The console's default per-number flow control for one sign name: (seconds, permits, level).
DEFAULT_FLOW_LIMITS = ((60, 1, "分钟级"), (3600, 5, "小时级"), (86400, 10, "天级"))
MAX_PHONES = 1000
# Each variable's value: at most 35 characters (短信模板规范, variables in notices).
MAX_PARAM_CHARS = 35
MAINLAND_MOBILE = re.compile(r"^1[3-9][0-9]{9}$")
LINK = re.compile(r"(https?://|www\.)", re.IGNORECASE)
REQUIRED_COMMON = ("Action", "Version", "AccessKeyId", "Signature", "SignatureMethod", "SignatureVersion",
                   "SignatureNonce", "Timestamp")
REQUIRED_SEND = ("PhoneNumbers", "SignName", "TemplateCode")
# The documented messages of the codes a fault may name without its own message.
MESSAGES = {
    "isp.SYSTEM_ERROR": "系统错误",
    "isv.BUSINESS_LIMIT_CONTROL": "触发分钟级流控Permits:1",
    "isv.AMOUNT_NOT_ENOUGH": "账户余额不足",
    "isv.OUT_OF_SERVICE": "业务停机",
    "isv.DAY_LIMIT_CONTROL": "触发日发送限额",
    "isv.MOBILE_NUMBER_ILLEGAL": "非法手机号",
    "isv.SMS_TEMPLATE_ILLEGAL": "该账号下找不到对应模板",
    "isv.SMS_SIGNATURE_ILLEGAL": "该账号下找不到对应签名",
    "isv.TEMPLATE_MISSING_PARAMETERS": "模板缺少变量",
    "isv.INVALID_JSON_PARAM": "JSON参数不合法，只接受字符串值",
    "isv.PARAM_LENGTH_LIMIT": "参数超出长度限制",
    "isv.PARAM_NOT_SUPPORT_URL": "不支持URL",
    "isv.MOBILE_COUNT_OVER_LIMIT": "手机号码数量超过限制",
    "Throttling.User": "Request was denied due to user flow control.",
    "SignatureDoesNotMatch": "Specified signature is not matched with our calculation.",
    "SignatureNonceUsed": "Specified signature nonce was used already.",
    "InvalidTimeStamp.Expired": "Specified time stamp or date value is expired.",
    "InvalidTimeStamp.Format": "Specified time stamp or date value is not well formatted.",
    "InvalidAccessKeyId.NotFound": "Specified access key is not found.",
    "IncompleteSignature": "The request signature does not conform to Aliyun standards.",
    "InvalidVersion": "Specified parameter Version is not valid.",
    "InvalidAction.NotFound": "Specified api is not found, please check your url and method.",
}


class Refusal(Exception):
    """What the API answers instead of sending: a code, its message and the HTTP status."""

    def __init__(self, code: str, message: str | None = None, status: int = 200):
        """An answer with Aliyun's code and (by default) its documented message."""
        super().__init__(code)
        self.code, self.message, self.status = code, message or MESSAGES.get(code, code), status


class FakeSmsState:
    """Keys, registered sign names and templates, nonces, sends, calls and faults, shared by threads."""

    def __init__(self, *, access_key_id: str, access_key_secret: str, sign_names, templates: Mapping[str, list | None],
                 flow_limits=DEFAULT_FLOW_LIMITS, reply_url: str | None = None):
        """templates: code -> the variable names it needs (None: any parameters); reply_url: where replies go."""
        self.lock = threading.Lock()
        self.access_key_id, self.access_key_secret = access_key_id, access_key_secret
        self.sign_names = set(sign_names)
        self.templates = dict(templates)
        self.flow_limits = tuple(flow_limits)
        self.nonces: dict[str, float] = {}
        # (phone, sign name) -> times (stand-in clock) of the messages it took.
        self.sent: dict[tuple[str, str], list[float]] = {}
        self.calls: list[dict] = []
        self.faults: list[dict] = []
        self.clock_offset = 0.0
        self.biz_ids = itertools.count(1)
        self.stopping = threading.Event()
        self.replies = SmsReplies(reply_url, sorted(self.sign_names)[0] if self.sign_names else "")

    def now(self) -> float:
        """The stand-in's clock for flow control: real time plus what tests advanced it by."""
        return time.time() + self.clock_offset

    def take_fault(self) -> dict | None:
        """The next queued fault, used up one call at a time."""
        with self.lock:
            if not self.faults:
                return None
            fault = self.faults[0]
            fault["times"] -= 1
            if fault["times"] <= 0:
                self.faults.pop(0)
            return dict(fault)


def check_common(state: FakeSmsState, method: str, params: Mapping[str, str]) -> None:
    """The RPC gateway's checks: parameters, action, version, timestamp, key, signature, nonce."""
    for name in REQUIRED_COMMON:
        if not params.get(name):
            raise Refusal(f"Missing{name}", f"{name} is mandatory for this action.", 400)
    if params["Action"] != "SendSms":
        raise Refusal("InvalidAction.NotFound", status=404)
    if params["Version"] != "2017-05-25":
        raise Refusal("InvalidVersion", status=400)
    if params["SignatureMethod"] != "HMAC-SHA1" or params["SignatureVersion"] != "1.0":
        raise Refusal("IncompleteSignature", status=400)
    try:
        stamp = datetime.strptime(params["Timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        raise Refusal("InvalidTimeStamp.Format", status=400) from None
    # Against the real time, as Aliyun's servers do: /_clock moves flow control, not this.
    if abs(stamp.timestamp() - time.time()) > TIMESTAMP_WINDOW_SECONDS:
        raise Refusal("InvalidTimeStamp.Expired", status=400)
    if params["AccessKeyId"] != state.access_key_id:
        raise Refusal("InvalidAccessKeyId.NotFound", status=404)
    expected = rpc_signature(method, params, state.access_key_secret)
    if not hmac.compare_digest(expected, params["Signature"]):
        raise Refusal("SignatureDoesNotMatch", status=400)
    with state.lock:
        now = time.time()
        for nonce, seen in list(state.nonces.items()):
            if now - seen > TIMESTAMP_WINDOW_SECONDS:
                del state.nonces[nonce]
        if params["SignatureNonce"] in state.nonces:
            raise Refusal("SignatureNonceUsed", status=400)
        state.nonces[params["SignatureNonce"]] = now


def check_message(state: FakeSmsState, params: Mapping[str, str]) -> tuple[list[str], dict]:
    """SendSms's own checks, answered with HTTP 200: numbers, sign name, template, its parameters."""
    for name in REQUIRED_SEND:
        if not params.get(name):
            raise Refusal(f"Missing{name}", f"{name} is mandatory for this action.", 400)
    phones = params["PhoneNumbers"].split(",")
    if len(phones) > MAX_PHONES:
        raise Refusal("isv.MOBILE_COUNT_OVER_LIMIT")
    if not all(MAINLAND_MOBILE.match(p) for p in phones):
        raise Refusal("isv.MOBILE_NUMBER_ILLEGAL")
    if params["SignName"] not in state.sign_names:
        raise Refusal("isv.SMS_SIGNATURE_ILLEGAL")
    if params["TemplateCode"] not in state.templates:
        raise Refusal("isv.SMS_TEMPLATE_ILLEGAL")
    values: dict = {}
    if params.get("TemplateParam"):
        try:
            values = json.loads(params["TemplateParam"])
        except ValueError:
            raise Refusal("isv.INVALID_JSON_PARAM") from None
        if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
            raise Refusal("isv.INVALID_JSON_PARAM")
    needed = state.templates[params["TemplateCode"]]
    if needed is not None and any(not values.get(name) for name in needed):
        raise Refusal("isv.TEMPLATE_MISSING_PARAMETERS")
    if any(LINK.search(v) for v in values.values()):
        raise Refusal("isv.PARAM_NOT_SUPPORT_URL")
    if any(len(v) > MAX_PARAM_CHARS for v in values.values()):
        raise Refusal("isv.PARAM_LENGTH_LIMIT")
    return phones, values


def take_flow(state: FakeSmsState, phones: list[str], sign_name: str) -> None:
    """Count the message against each number's flow control, or refuse it without counting."""
    with state.lock:
        now = state.now()
        for phone in phones:
            times = state.sent.get((phone, sign_name), [])
            for seconds, permits, level in state.flow_limits:
                if sum(1 for t in times if now - t < seconds) >= permits:
                    raise Refusal("isv.BUSINESS_LIMIT_CONTROL", f"触发{level}流控Permits:{permits}")
        for phone in phones:
            times = state.sent.setdefault((phone, sign_name), [])
            times.append(now)
            # A day is the longest window: older sends no longer count.
            times[:] = [t for t in times if now - t < 86400]


def _answer(code: str, message: str, status: int, request_id: str, **extra):
    """Aliyun's JSON answer; gateway errors (4xx) also name the host and recommend, as Aliyun's do."""
    body = {"RequestId": request_id, "Message": message, "Code": code, **extra}
    if status >= 400:
        body.update(HostId="dysmsapi.aliyuncs.com",
                    Recommend=f"https://api.aliyun.com/troubleshoot?q={code}&product=Dysmsapi")
    return jsonify(body), status


def create_fake_sms_app(state: FakeSmsState) -> Flask:
    """The stand-in as a Flask app: SendSms at `/`, controls under `/_`."""
    app = Flask("fake_sms")
    app.extensions["fake_sms"] = state

    @app.route("/", methods=["GET", "POST"])
    def rpc():
        """One RPC call: SendSms, or the error Aliyun would give."""
        request_id = str(uuid.uuid4()).upper()
        # Query parameters, and for POST the form body too: Aliyun signs them all alike.
        params = {**request.args.to_dict(), **request.form.to_dict()}
        if request.method == "GET" and not params:
            return jsonify(service="Aliyun SMS (Dysmsapi SendSms) stand-in",
                           controls=["/_calls", "/_faults", "/_clock"])
        call = {"phones": params.get("PhoneNumbers", "").split(",") if params.get("PhoneNumbers") else [],
                "sign_name": params.get("SignName"), "template": params.get("TemplateCode"),
                "params": None, "out_id": params.get("OutId"), "code": None, "biz_id": None,
                "at": time.time(), "method": request.method}
        try:
            fault = state.take_fault()
            if fault:
                _apply_fault(state, fault)
            check_common(state, request.method, params)
            phones, values = check_message(state, params)
            call["params"] = values
            take_flow(state, phones, params["SignName"])
        except Refusal as refusal:
            call["code"] = refusal.code
            with state.lock:
                state.calls.append(call)
            if refusal.status >= 500:
                return f"{refusal.status} {refusal.message}\n", refusal.status, {"Content-Type": "text/plain"}
            return _answer(refusal.code, refusal.message, refusal.status, request_id)
        biz_id = f"{next(state.biz_ids):06d}{int(time.time() * 1000) % 10**12:012d}^0"
        call.update(code="OK", biz_id=biz_id)
        with state.lock:
            state.calls.append(call)
        return _answer("OK", "OK", 200, request_id, BizId=biz_id)

    serve_call_log(app, state, "SendSms")
    register_replies(app, state.replies, state.now)

    @app.post("/_faults")
    def add_fault():
        """Queue a failure for the next calls."""
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or not any(k in body for k in ("code", "http_status", "hang")):
            return jsonify(error="send a JSON object with 'code', 'http_status' (5xx) or 'hang': true"), 400
        times = body.get("times", 1)
        if isinstance(times, bool) or not isinstance(times, int) or times < 1:
            return jsonify(error="'times' must be a whole number, 1 or more"), 400
        status = body.get("http_status")
        if status is not None and (not isinstance(status, int) or not 500 <= status <= 599):
            return jsonify(error="'http_status' must be 500-599"), 400
        fault = {k: body[k] for k in ("code", "message", "status", "http_status", "hang") if k in body}
        fault["times"] = times
        with state.lock:
            state.faults.append(fault)
        return jsonify(fault), 201

    @app.delete("/_faults")
    def clear_faults():
        """Drop every queued failure."""
        with state.lock:
            state.faults.clear()
        return "", 204

    @app.get("/_clock")
    def show_clock():
        """The stand-in's flow-control clock."""
        return jsonify(now=state.now(), offset=state.clock_offset)

    @app.post("/_clock")
    def move_clock():
        """Move the flow-control clock forward: {"advance": seconds}."""
        body = request.get_json(silent=True) or {}
        advance = body.get("advance")
        if isinstance(advance, bool) or not isinstance(advance, (int, float)) or advance < 0:
            return jsonify(error="send {\"advance\": seconds} (0 or more)"), 400
        with state.lock:
            state.clock_offset += advance
        return jsonify(now=state.now(), offset=state.clock_offset)

    return app


def _apply_fault(state: FakeSmsState, fault: dict) -> None:
    """Fail this call as the fault says: hang, an HTTP 5xx, or an answer with the given code."""
    if fault.get("hang"):
        # Never answer in time; the client's timeout ends it (or the stand-in stopping).
        state.stopping.wait(timeout=60)
        raise Refusal("hung", "the stand-in hung on purpose", 504)
    if fault.get("http_status"):
        raise Refusal(f"HTTP{fault['http_status']}", "Service Unavailable", fault["http_status"])
    raise Refusal(fault["code"], fault.get("message"), fault.get("status", 200))


class _QuietHandler(WSGIRequestHandler):
    """Werkzeug's handler without the access log, which would show phone numbers in the URL of a GET."""

    def log_request(self, code="-", size="-") -> None:
        """Write nothing per request."""


class FakeSmsServer(BackgroundServer):
    """The stand-in on a real port, in a background thread or the foreground."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, access_key_id: str, access_key_secret: str,
                 sign_names=("三直达",), templates: Mapping[str, list | None] | None = None,
                 flow_limits=DEFAULT_FLOW_LIMITS, reply_url: str | None = None):
        """templates: registered code -> the variable names it needs (None: any); reply_url: our reply push URL."""
        self.state = FakeSmsState(access_key_id=access_key_id, access_key_secret=access_key_secret,
                                  sign_names=sign_names, templates=templates or {}, flow_limits=flow_limits,
                                  reply_url=reply_url)
        super().__init__(make_server(host, port, create_fake_sms_app(self.state), threaded=True,
                                     request_handler=_QuietHandler), host)

    @property
    def url(self) -> str:
        """What SMS_ENDPOINT should be set to."""
        return f"http://{self.host}:{self.port}/"

    def stopping(self) -> None:
        """End calls left hanging (a `hang` fault) so the server can stop."""
        self.state.stopping.set()


def parse_template_option(value: str) -> tuple[str, list[str] | None]:
    """`SMS_123:name,phone` -> ("SMS_123", ["name", "phone"]); `SMS_123` -> any parameters."""
    code, colon, names = value.partition(":")
    if not re.match(r"^SMS_[0-9]+$", code.strip()):
        raise ValueError(f"{value!r}: a template is SMS_<digits>[:var,var…]")
    return code.strip(), ([n.strip() for n in names.split(",") if n.strip()] if colon else None)
