"""Followers for the WeChat API stand-in: who follows, what they last did, and the customer-service window.

WeChat lets an account send customer-service messages only after the user did something there
(客服消息下发规则): a message the user sends allows 5 within 48 hours; following, scanning a QR
code or a menu click (CLICK, scancode_push, scancode_waitmsg) allow 3 within one minute. A new
action renews its own allowance; allowances never add up. Outside them `message/custom/send`
answers 45015, past the count 45047. After an unfollow a customer-service message gets 45015 and a
template message 43004, until the user follows again.

The stand-in cannot see the webhook, so the WeChat side of tests and the simulator tell it what
each user did as they deliver it: `POST /_interactions {"openid": …, "msg_type": "text",
"event": …, "event_key": …, "at": epoch, "app_id": …}` (msg_type defaults to text; `event` with msg_type
event; `at` defaults to now; `app_id`, the account the openid follows, to the default one). Times are on the stand-in's own clock (`FakeWeChatState.now`, moved
by `POST /_clock`), so a test that moves that clock 48 hours closes every message window.
A JSON list registers many at once. `GET /_interactions` lists the followers it knows.

WeChat's routes here: `GET /cgi-bin/user/info` (41009 without an openid, 40003 for one that never
did anything) and `GET /cgi-bin/getcallbackip`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from flask import Flask, jsonify, request

MESSAGE_TYPES = frozenset({"text", "image", "voice", "video", "shortvideo", "location", "link"})
# Events after which WeChat allows a few customer-service messages for one minute.
WINDOW_EVENTS = frozenset({"subscribe", "scan", "click", "scancode_push", "scancode_waitmsg"})
# (how long, how many) each kind of action allows.
MESSAGE_ALLOWANCE = (48 * 3600, 5)
EVENT_ALLOWANCE = (60, 3)
QR_SCENE_PREFIX = "qrscene_"
# Where WeChat's callbacks would come from: here, this machine.
CALLBACK_IPS = ["127.0.0.1"]

USER_ERRMSG = {
    40003: "invalid openid",
    41009: "missing openid",
    43004: "require subscribe",
    45015: "response out of time limit or subscription is canceled",
    45047: "out of response count limit",
}


@dataclass
class Allowance:
    """Customer-service messages an action allows: from when, until when, how many are left."""

    since: float
    until: float
    left: int


@dataclass
class Follower:
    """What the stand-in knows of one user of the account."""

    openid: str
    subscribed: bool = True
    subscribe_time: int = 0
    subscribe_scene: str = "ADD_SCENE_OTHERS"
    qr_scene_str: str = ""
    allowances: dict[str, Allowance] = field(default_factory=dict)

    def info(self) -> dict:
        """`user/info` as WeChat answers it (nickname and avatar are no longer given since 2021)."""
        if not self.subscribed:
            return {"subscribe": 0, "openid": self.openid}
        return {
            "subscribe": 1, "openid": self.openid, "language": "zh_CN", "subscribe_time": self.subscribe_time,
            "remark": "", "groupid": 0, "tagid_list": [], "subscribe_scene": self.subscribe_scene,
            "qr_scene": 0, "qr_scene_str": self.qr_scene_str,
        }

    def summary(self, now: float) -> dict:
        """What `GET /_interactions` shows."""
        return {"openid": self.openid, "subscribed": self.subscribed, "allowances": {
            kind: {"until": int(a.until), "left": a.left, "open": a.until > now} for kind, a in self.allowances.items()
        }}


class Followers:
    """Followers by openid, safe for the stand-in's request threads."""

    def __init__(self):
        self._lock = threading.Lock()
        self._by_openid: dict[str, Follower] = {}

    def note(self, openid: str, msg_type: str, event: str | None, event_key: str | None, at: float) -> Follower:
        """Record what the user did at `at` (the stand-in's clock)."""
        event_name = (event or "").lower()
        with self._lock:
            follower = self._by_openid.setdefault(openid, Follower(openid, subscribe_time=int(at)))
            if msg_type == "event" and event_name == "unsubscribe":
                follower.subscribed = False
                follower.allowances.clear()
                return follower
            if msg_type == "event" and event_name == "subscribe":
                follower.subscribed, follower.subscribe_time = True, int(at)
                scene = event_key[len(QR_SCENE_PREFIX):] if (event_key or "").startswith(QR_SCENE_PREFIX) else ""
                follower.subscribe_scene = "ADD_SCENE_QR_CODE" if scene else "ADD_SCENE_OTHERS"
                follower.qr_scene_str = scene
            elif msg_type in MESSAGE_TYPES:
                # Only a follower can write to the account.
                follower.subscribed = True
            if msg_type in MESSAGE_TYPES:
                self._allow(follower, "message", at, MESSAGE_ALLOWANCE)
            elif msg_type == "event" and event_name in WINDOW_EVENTS:
                self._allow(follower, "event", at, EVENT_ALLOWANCE)
            return follower

    @staticmethod
    def _allow(follower: Follower, kind: str, at: float, allowance: tuple[int, int]) -> None:
        """Renew one kind of allowance, unless a later action of that kind already did."""
        current = follower.allowances.get(kind)
        if current is None or at >= current.since:
            seconds, count = allowance
            follower.allowances[kind] = Allowance(at, at + seconds, count)

    def take_custom(self, openid: str, now: float) -> int | None:
        """Use up one customer-service message to this user: None when WeChat allows it, else its errcode."""
        with self._lock:
            follower = self._by_openid.get(openid)
            if follower is None or not follower.subscribed:
                return 45015
            live = sorted((a for a in follower.allowances.values() if a.since <= now < a.until), key=lambda a: a.until)
            if not live:
                return 45015
            for allowance in live:
                if allowance.left > 0:
                    allowance.left -= 1
                    return None
            return 45047

    def template_errcode(self, openid: str) -> int | None:
        """43004 for a user known to have unfollowed; templates to anyone else go."""
        with self._lock:
            follower = self._by_openid.get(openid)
            return 43004 if follower is not None and not follower.subscribed else None

    def get(self, openid: str) -> Follower | None:
        """The follower, if the stand-in has heard of them."""
        with self._lock:
            return self._by_openid.get(openid)

    def listing(self, now: float) -> list[dict]:
        """Every known follower's summary."""
        with self._lock:
            return [f.summary(now) for f in self._by_openid.values()]


def register_user_routes(app: Flask, state, record, refused) -> None:
    """Add the follower routes to the stand-in's app; `record` and `refused` are the app's own."""

    @app.get("/cgi-bin/user/info")
    def user_info():
        """获取用户基本信息: 41009 without an openid, 40003 for one the account never saw."""
        refusal = refused("user/info", None)
        if refusal is not None:
            return refusal
        openid = request.args.get("openid")
        follower = state.followers.get(openid) if openid else None
        code = 41009 if not openid else 40003 if follower is None else None
        if code is not None:
            record("user/info", None, f"errcode {code}")
            return jsonify(errcode=code, errmsg=USER_ERRMSG[code])
        record("user/info", None, "delivered")
        return jsonify(follower.info())

    @app.get("/cgi-bin/getcallbackip")
    def callback_ips():
        """获取微信服务器IP地址: where WeChat's callbacks come from."""
        refusal = refused("getcallbackip", None)
        if refusal is not None:
            return refusal
        record("getcallbackip", None, "delivered")
        return jsonify(ip_list=CALLBACK_IPS)

    @app.post("/_interactions")
    def add_interaction():
        """Test control: a user did something in WeChat (wrote, followed, scanned, clicked); a list for many."""
        body = request.get_json(silent=True)
        actions = body if isinstance(body, list) else [body]
        problems = [_problem(action) for action in actions]
        # An openid belongs to one account: `app_id` names it (devtools/fake_wechat_accounts.py).
        problems += [state.accounts.follow(a["openid"], a.get("app_id")) for a in actions if not any(problems)]
        if any(problems):
            return jsonify(error=next(p for p in problems if p)), 400
        now = state.now()
        followers = [state.followers.note(a["openid"], a.get("msg_type") or "text", a.get("event"),
                                          a.get("event_key"), now if a.get("at") is None else float(a["at"]))
                     for a in actions]
        if isinstance(body, list):
            return jsonify(registered=len(followers)), 201
        return jsonify(followers[0].summary(now)), 201

    @app.get("/_interactions")
    def list_interactions():
        """Test control: every follower the stand-in knows, with their open allowances."""
        return jsonify(state.followers.listing(state.now()))


def _problem(action) -> str | None:
    """Why `POST /_interactions` cannot take this action, or None."""
    if not isinstance(action, dict) or not isinstance(action.get("openid"), str) or not action["openid"]:
        return "send {\"openid\": …, \"msg_type\": \"text\"} (optional: event, event_key, at), or a list of them"
    at = action.get("at")
    if at is not None and (isinstance(at, bool) or not isinstance(at, (int, float))):
        return "'at' is an epoch on the stand-in's clock (GET /_clock)"
    msg_type = action.get("msg_type") or "text"
    if not isinstance(msg_type, str):
        return "'msg_type' is WeChat's MsgType: text, voice, event …"
    if msg_type == "event" and not action.get("event"):
        return "an event needs its 'event' (subscribe, SCAN, CLICK …)"
    return None
