"""What the WeChat API stand-in refuses in a call's body, as WeChat does: template data, the shape
of a customer-service message, and parametric QR codes.

Template data: a keyword's value must keep the rules of its type (thing at most 20 characters,
character_string no Chinese, phrase at most 5 Chinese characters, time a 24-hour time, no line
breaks …), else errcode 47003 "argument invalid! data.thing2.value invalid rid: …"; the type is
the keyword's name without its number, as the WeChat console names them.

QR codes (生成带参数的二维码): `action_name` is QR_SCENE, QR_STR_SCENE (temporary), QR_LIMIT_SCENE
or QR_LIMIT_STR_SCENE (permanent), else 40052; the scene is a `scene_str` of 1 to 64 characters
for the STR kinds, a `scene_id` of 1 to 100000 for a permanent one and a non-zero 32-bit integer
for a temporary one, else 40053. A temporary code lives `expire_seconds` (60 when absent, at most
2592000 = 30 days); a permanent one's answer has no `expire_seconds` at all.
"""

from __future__ import annotations

from services.policy.push import field_type, value_errors

RULES_ERRMSG = {
    40003: "invalid openid",
    40007: "invalid media_id",
    40008: "invalid message type",
    40052: "invalid action name",
    40053: "invalid action info, please check document",
    44004: "empty content",
    47001: "data format error",
    47003: "argument invalid!",
}

# Customer-service message types WeChat knows, and those that carry a temporary media file.
CUSTOM_MSGTYPES = frozenset({"text", "image", "voice", "video", "music", "news", "mpnews", "mpnewsarticle",
                             "msgmenu", "wxcard", "miniprogrampage"})
MEDIA_MSGTYPES = ("voice", "image", "video")

TEMPORARY_QR = ("QR_SCENE", "QR_STR_SCENE")
PERMANENT_QR = ("QR_LIMIT_SCENE", "QR_LIMIT_STR_SCENE")
QR_DEFAULT_SECONDS = 60
QR_MAX_SECONDS = 30 * 24 * 3600
SCENE_STR_MAX = 64
PERMANENT_SCENE_ID_MAX = 100_000
TEMPORARY_SCENE_ID_MAX = 2**32 - 1


def invalid_template_key(data) -> str | None:
    """The first keyword whose value WeChat would refuse (47003), by the type its name declares.

    Keywords of no known type (old templates' first, keyword1, remark) are not checked.
    """
    if not isinstance(data, dict):
        return None
    for key, field in data.items():
        value_type = field_type(key)
        if value_type is None:
            continue
        value = field.get("value") if isinstance(field, dict) else None
        if not isinstance(value, (str, int, float)) or value_errors(value_type, value):
            return key
    return None


def custom_message_errcode(body, media_is_live) -> int | None:
    """The errcode WeChat gives a customer-service message of this shape, or None when it may go.

    `media_is_live(media_id)` says whether WeChat still has a temporary media file.
    """
    if not isinstance(body, dict) or not isinstance(body.get("touser"), str) or not body["touser"]:
        return 40003
    msgtype = body.get("msgtype")
    if msgtype not in CUSTOM_MSGTYPES:
        return 40008
    content = body.get(msgtype)
    if msgtype == "text" and not (isinstance(content, dict) and isinstance(content.get("content"), str)
                                  and content["content"]):
        return 44004
    if msgtype in MEDIA_MSGTYPES:
        media_id = content.get("media_id") if isinstance(content, dict) else None
        if not media_is_live(media_id):
            return 40007
    return None


def _int(value) -> int | None:
    """The value as an integer, if it is one (a JSON number or its digits)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def qrcode_answer(body) -> tuple[int | None, dict]:
    """(errcode, {}) when WeChat would refuse this `qrcode/create`, else (None, its answer)."""
    if not isinstance(body, dict) or body.get("action_name") not in TEMPORARY_QR + PERMANENT_QR:
        return 40052, {}
    action = body["action_name"]
    info = body.get("action_info")
    scene = info.get("scene") if isinstance(info, dict) else None
    if not isinstance(scene, dict):
        return 40053, {}
    if action.endswith("STR_SCENE"):
        key = scene.get("scene_str")
        if not isinstance(key, str) or not 1 <= len(key) <= SCENE_STR_MAX:
            return 40053, {}
    else:
        key = _int(scene.get("scene_id"))
        highest = PERMANENT_SCENE_ID_MAX if action in PERMANENT_QR else TEMPORARY_SCENE_ID_MAX
        if key is None or not 1 <= key <= highest:
            return 40053, {}
    # Ticket and url name the scene, so that tests can tell codes apart.
    answer = {"ticket": f"ticket-{key}", "url": f"http://weixin.qq.com/q/fake-{key}"}
    if action in PERMANENT_QR:
        return None, answer
    seconds = _int(body.get("expire_seconds", QR_DEFAULT_SECONDS))
    if seconds is None or seconds <= 0:
        return 47001, {}
    return None, {**answer, "expire_seconds": min(seconds, QR_MAX_SECONDS)}
