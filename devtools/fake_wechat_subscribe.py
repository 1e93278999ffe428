"""Subscription notices (订阅通知) on the WeChat API stand-in: `POST /cgi-bin/message/subscribe/bizsend`.

As WeChat documents it (https://developers.weixin.qq.com/doc/service/api/notify/notify/api_sendnewsubscribemsg.html,
the account's side in https://developers.weixin.qq.com/doc/service/Subscription_Messages/intro.html):
touser, template_id and data are required; `page` is a web page to open and `miniprogram`
({"appid", "pagepath"}) a mini program. It refuses:

- a missing touser: 40003;
- a template_id that is empty or not a subscription template of the account: 40037;
- data that is not an object, a keyword of the template left out, or a value that breaks its
  type's rules (thing at most 20 characters, character_string 32 letters, digits or symbols, time a
  24-hour time, phrase at most 5 Chinese characters …, the rules services/policy/push.py holds):
  47003 "argument invalid! data.thing2.value invalid rid: …"; a `page` that is not an http(s)
  address or a `miniprogram` without its appid, 47003 as well;
- a user who has not accepted the template, or whose one-time acceptance (一次性订阅: one
  acceptance, one notice) is used up, or who rejected it: 43101 "user refuse to accept the msg".
  A long-term acceptance (长期订阅) allows any number until the user rejects it. Following the
  account is not needed: WeChat delivers a non-follower's notice in 服务通知.

Delivered notices are recorded in `/_calls` as template messages are. Test controls:
`POST /_subscribe/templates {"template_id", "keys": {"thing2": "thing", …} or ["thing2", …], "long_term": false}`
registers a template (a key's type defaults to its name's, as the console names keywords),
`GET /_subscribe/templates` lists them, `DELETE /_subscribe/templates` removes all;
`POST /_subscribe/users {"openid", "template_id", "status": "accept" | "reject"}` records what the
user chose in the subscription pop-up (the subscribe_msg_popup_event WeChat sends).
"""

from __future__ import annotations

import threading
import time
from urllib.parse import urlsplit

from flask import Flask, jsonify, request

from services.policy.push import VALUE_TYPES, field_type, value_errors

PATH = "message/subscribe/bizsend"
SUBSCRIBE_ERRMSG = {43101: "user refuse to accept the msg"}


class SubscriptionNotices:
    """The account's subscription templates and what each user accepted."""

    def __init__(self):
        self.lock = threading.Lock()
        # template_id -> {"keys": {key: type}, "long_term": bool}
        self.templates: dict[str, dict] = {}
        # (openid, template_id) -> notices still allowed; None: any number (long-term).
        self.accepted: dict[tuple[str, str], int | None] = {}

    def choose(self, openid: str, template_id: str, accept: bool) -> None:
        """The user's choice in the pop-up: each one-time acceptance allows one more notice."""
        with self.lock:
            key = (openid, template_id)
            if not accept:
                self.accepted.pop(key, None)
            elif self.templates[template_id]["long_term"]:
                self.accepted[key] = None
            else:
                self.accepted[key] = (self.accepted.get(key) or 0) + 1

    def take(self, openid: str, template_id: str) -> bool:
        """Use up one acceptance for a notice; False (43101) when there is none."""
        with self.lock:
            key = (openid, template_id)
            if key not in self.accepted:
                return False
            left = self.accepted[key]
            if left is not None:
                if left <= 1:
                    del self.accepted[key]
                else:
                    self.accepted[key] = left - 1
            return True


def invalid_argument(template: dict, body: dict) -> str | None:
    """What WeChat's 47003 names for this body (`data.thing2.value`, `page` …), or None when it may go."""
    data = body.get("data")
    if not isinstance(data, dict):
        return "data"
    for key, value_type in template["keys"].items():
        field = data.get(key)
        value = field.get("value") if isinstance(field, dict) else None
        if not isinstance(value, (str, int, float)) or isinstance(value, bool) or value_errors(value_type, value):
            return f"data.{key}.value"
    page = body.get("page")
    if page not in (None, ""):
        parts = urlsplit(page) if isinstance(page, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            return "page"
    mini = body.get("miniprogram")
    if mini is not None and not (isinstance(mini, dict) and isinstance(mini.get("appid"), str) and mini["appid"]):
        return "miniprogram.appid"
    return None


def _template_problem(body) -> str | None:
    """Why `POST /_subscribe/templates` cannot take this template, or None."""
    if not isinstance(body, dict) or not isinstance(body.get("template_id"), str) or not body["template_id"]:
        return "send {\"template_id\": …, \"keys\": {key: type} or [key, …], \"long_term\": false}"
    keys = body.get("keys")
    if isinstance(keys, list):
        keys = {key: field_type(key) for key in keys if isinstance(key, str)}
    if not isinstance(keys, dict) or not keys or any(t not in VALUE_TYPES for t in keys.values()):
        return f"keys must name each keyword with one of the types {', '.join(sorted(VALUE_TYPES))}"
    return None


def register_subscribe_routes(app: Flask, state, record, refused) -> None:
    """Add bizsend and its test controls to the stand-in app."""
    notices: SubscriptionNotices = state.notices

    @app.post(f"/cgi-bin/{PATH}")
    def bizsend():
        body = request.get_json(force=True, silent=True)
        refusal = refused(PATH, body)
        if refusal is not None:
            return refusal
        body = body if isinstance(body, dict) else {}

        def error(code: int, errmsg: str):
            record(PATH, body, f"errcode {code}")
            rid = f"{next(state.msg_ids):08x}-{time.time_ns() & 0xffffffff:08x}"
            return jsonify(errcode=code, errmsg=f"{errmsg} rid: {rid}")

        if not isinstance(body.get("touser"), str) or not body["touser"]:
            return error(40003, "invalid openid")
        with notices.lock:
            template = notices.templates.get(body.get("template_id") or "")
        if template is None:
            return error(40037, "invalid template_id")
        invalid = invalid_argument(template, body)
        if invalid is not None:
            return error(47003, f"argument invalid! {invalid} invalid")
        if not notices.take(body["touser"], body["template_id"]):
            return error(43101, SUBSCRIBE_ERRMSG[43101])
        record(PATH, body, "delivered")
        return jsonify(errcode=0, errmsg="ok", msgid=next(state.msg_ids))

    @app.post("/_subscribe/templates")
    def add_subscribe_template():
        body = request.get_json(silent=True)
        problem = _template_problem(body)
        if problem:
            return jsonify(error=problem), 400
        keys = body["keys"]
        if isinstance(keys, list):
            keys = {key: field_type(key) for key in keys}
        template = {"keys": dict(keys), "long_term": bool(body.get("long_term"))}
        with notices.lock:
            notices.templates[body["template_id"]] = template
        return jsonify({"template_id": body["template_id"], **template}), 201

    @app.get("/_subscribe/templates")
    def list_subscribe_templates():
        with notices.lock:
            return jsonify([{"template_id": tid, **t} for tid, t in notices.templates.items()])

    @app.delete("/_subscribe/templates")
    def clear_subscribe_templates():
        with notices.lock:
            notices.templates.clear()
            notices.accepted.clear()
        return "", 204

    @app.post("/_subscribe/users")
    def choose_subscription():
        body = request.get_json(silent=True) or {}
        status = body.get("status") if isinstance(body, dict) else None
        with notices.lock:
            known = isinstance(body, dict) and body.get("template_id") in notices.templates
        if not known or not isinstance(body.get("openid"), str) or not body["openid"] or status not in ("accept",
                                                                                                       "reject"):
            return jsonify(error="send {\"openid\", \"template_id\" of a registered template,"
                                 " \"status\": \"accept\" | \"reject\"}"), 400
        notices.choose(body["openid"], body["template_id"], status == "accept")
        return jsonify(openid=body["openid"], template_id=body["template_id"], status=status), 201
