"""POST /sms/replies/<token>: the SMS provider's push of replies to our text messages (Aliyun SmsUp).

The token in the path (SMS_REPLY_TOKEN) is what authenticates the push, as Aliyun's console takes
only a URL; without it set the URL does not exist (404), and a wrong token gets the same 404.
A push that is not the provider's shape is refused (400) with what is wrong; a stored push is
answered {"code": 0, "msg": "接收成功"}, the answer that stops the provider's retries. A database
failure answers 500: the provider pushes again after 1, 5 and 10 minutes.

Phone numbers, what people wrote and the token are never logged (config/logging.py redacts the path).
"""

from __future__ import annotations

import hmac
import json
import logging

from flask import Blueprint, abort, jsonify, request

from bot.deps import db_session, services
from services import sms_replies

logger = logging.getLogger(__name__)

bp = Blueprint("sms_replies", __name__)

REPLIES_PATH = "/sms/replies/<token>"
# A push carries a few replies; far more than any real one is not the provider's.
MAX_BODY_BYTES = 256 * 1024
ACCEPTED = {"code": 0, "msg": "接收成功"}


@bp.post(REPLIES_PATH)
def receive(token: str):
    """Record the opt-outs of one push and answer as the provider requires."""
    svc = services()
    expected = svc.settings.sms_reply_token
    # Constant-time, and the same 404 whether the URL is off or the token wrong.
    if not expected or not hmac.compare_digest(token.encode(), expected.encode()):
        logger.warning("sms_reply=refused reason=%s remote=%s", "off" if not expected else "bad_token",
                       request.remote_addr)
        abort(404)
    request.max_content_length = MAX_BODY_BYTES
    try:
        body = json.loads(request.get_data(cache=False).decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        logger.warning("sms_reply=refused reason=not_json remote=%s", request.remote_addr)
        abort(400, description="推送内容不是 JSON")
    try:
        replies = sms_replies.parse_push(body)
    except sms_replies.BadPush as exc:
        logger.warning("sms_reply=refused reason=bad_shape remote=%s", request.remote_addr)
        abort(400, description=str(exc))
    session = db_session()
    outcome = sms_replies.record_replies(session, replies, svc.clock())
    session.commit()
    logger.info("sms_reply=stored replies=%s opted_out=%s opted_in=%s other=%s", len(replies), outcome.opted_out,
                outcome.opted_in, outcome.other)
    return jsonify(ACCEPTED)
