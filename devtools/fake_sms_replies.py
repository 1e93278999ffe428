"""Replies on the Aliyun SMS stand-in: a person answering one of our messages (上行短信), pushed to our
reply URL exactly as Aliyun's SmsUp HTTP push does (https://help.aliyun.com/document_detail/60127.html).

`POST /_reply {"phone", "content", "url"?, "repeat"?}` makes the stand-in POST, as application/json,
a JSON array holding one reply: {"phone_number", "content", "send_time" (the stand-in's clock in
Beijing time, "2017-09-01 00:00:00"), "dest_code", "sequence_id" (a string), "sign_name"}, to `url`
or the URL given at start (`--reply-url`). Aliyun counts a push as received only on HTTP 200 with a
numeric `code`; the stand-in asks more, the answer the documentation shows: HTTP 200 and
{"code": 0, …}. `repeat` pushes the very same reply that many times, as Aliyun does when it did not
get its answer (it tries again after 1, 5 and 10 minutes; the stand-in does not wait).

`GET /_replies` lists every push with what we answered (status, answer, accepted); `DELETE /_replies`
forgets them. The reply URL carries a secret token: it is never listed.
"""

from __future__ import annotations

import itertools
import re
import threading
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import requests
from flask import Flask, jsonify, request

BEIJING = ZoneInfo("Asia/Shanghai")
MAINLAND_MOBILE = re.compile(r"^1[3-9][0-9]{9}$")
# The extension number Aliyun assigns to the sign name (dest_code); any digits do for the stand-in.
DEST_CODE = "1234"
MAX_CONTENT = 500
MAX_REPEAT = 5
PUSH_TIMEOUT = 5.0


class SmsReplies:
    """The reply URL and every push made to it, shared by the stand-in's threads."""

    def __init__(self, reply_url: str | None, sign_name: str):
        """reply_url: where replies are pushed unless a `/_reply` names another."""
        self.lock = threading.Lock()
        self.reply_url, self.sign_name = reply_url, sign_name
        self.pushes: list[dict] = []
        self.sequence = itertools.count(1)


def push_reply(url: str, reply: dict) -> dict:
    """POST one reply as Aliyun does; what we answered, and whether it is the answer Aliyun requires."""
    try:
        response = requests.post(url, json=[reply], timeout=PUSH_TIMEOUT)
    except requests.RequestException as exc:
        return {"status": None, "answer": None, "accepted": False, "error": type(exc).__name__}
    try:
        answer = response.json()
    except ValueError:
        answer = response.text[:200]
    code = answer.get("code") if isinstance(answer, dict) else None
    accepted = response.status_code == 200 and isinstance(code, int) and not isinstance(code, bool) and code == 0
    return {"status": response.status_code, "answer": answer, "accepted": accepted}


def register_replies(app: Flask, replies: SmsReplies, now) -> None:
    """Add `/_reply` and `/_replies` to the stand-in's app; `now()` is its clock in Unix seconds."""

    @app.post("/_reply")
    def reply():
        """A person replies to one of our messages: push it to the reply URL and record what we answered."""
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return jsonify(error='send a JSON object {"phone", "content", "url"?, "repeat"?}'), 400
        phone, content = body.get("phone"), body.get("content")
        if not isinstance(phone, str) or not MAINLAND_MOBILE.match(phone):
            return jsonify(error="'phone' must be an 11-digit mainland mobile number"), 400
        if not isinstance(content, str) or not content.strip() or len(content) > MAX_CONTENT:
            return jsonify(error=f"'content' must be the words replied (1-{MAX_CONTENT} characters)"), 400
        url = body.get("url") or replies.reply_url
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            return jsonify(error="no reply URL: start the stand-in with --reply-url or send 'url'"), 400
        repeat = body.get("repeat", 1)
        if isinstance(repeat, bool) or not isinstance(repeat, int) or not 1 <= repeat <= MAX_REPEAT:
            return jsonify(error=f"'repeat' must be a whole number, 1-{MAX_REPEAT}"), 400
        sent = datetime.fromtimestamp(now(), timezone.utc).astimezone(BEIJING)
        item = {"phone_number": phone, "content": content, "send_time": sent.strftime("%Y-%m-%d %H:%M:%S"),
                "dest_code": DEST_CODE, "sequence_id": str(next(replies.sequence)), "sign_name": replies.sign_name}
        attempts = []
        for _ in range(repeat):
            outcome = {"reply": item, **push_reply(url, item)}
            attempts.append(outcome)
            with replies.lock:
                replies.pushes.append(outcome)
        return jsonify(pushes=attempts)

    @app.get("/_replies")
    def list_replies():
        """Every reply pushed, with what we answered, in order."""
        with replies.lock:
            return jsonify(list(replies.pushes))

    @app.delete("/_replies")
    def clear_replies():
        """Forget the recorded pushes."""
        with replies.lock:
            replies.pushes.clear()
        return "", 204
