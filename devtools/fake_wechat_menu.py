"""What the WeChat API stand-in's `menu/create` (创建自定义菜单) refuses, as WeChat does.

- `button`: 1 to 3 buttons, else 40016 "invalid button size".
- A button's `name`: 1 to 16 bytes (UTF-8), else 40018; a sub-button's: 1 to 60 bytes, else 40025.
- `sub_button`: 1 to 5 sub-buttons, else 40023; a sub-button holding sub-buttons of its own is 40022.
- A button without sub-buttons, and every sub-button, has a `type` WeChat knows (else 40017 for a
  button, 40024 for a sub-button) and what its type needs: `key` (1 to 128 bytes) for the types that
  push an event to the service (click, the scan and photo pickers, location_select), else 40019 /
  40026; `url` (1 to 1024 bytes) for view and miniprogram, else 40020 / 40027; `appid` and
  `pagepath` for miniprogram, `media_id` for media_id and view_limited, `article_id` for article_id
  and article_view_limited, else the type's own error (40017 / 40024).
"""

from __future__ import annotations

MENU_ERRMSG = {
    40016: "invalid button size",
    40017: "invalid button type",
    40018: "invalid button name size",
    40019: "invalid button key size",
    40020: "invalid button url size",
    40022: "invalid sub button level",
    40023: "invalid sub button size",
    40024: "invalid sub button type",
    40025: "invalid sub button name size",
    40026: "invalid sub button key size",
    40027: "invalid sub button url size",
}

BUTTONS_MAX = 3
SUB_BUTTONS_MAX = 5
NAME_BYTES = 16
SUB_NAME_BYTES = 60
KEY_BYTES = 128
URL_BYTES = 1024
# Types whose tap WeChat pushes to the service as an event carrying the button's key.
KEY_TYPES = frozenset({"click", "scancode_push", "scancode_waitmsg", "pic_sysphoto", "pic_photo_or_album",
                       "pic_weixin", "location_select"})
URL_TYPES = frozenset({"view", "miniprogram"})
# Other fields a type needs.
NEEDS = {"miniprogram": ("appid", "pagepath"), "media_id": ("media_id",), "view_limited": ("media_id",),
         "article_id": ("article_id",), "article_view_limited": ("article_id",)}
TYPES = KEY_TYPES | URL_TYPES | frozenset(NEEDS)
# (type, name, key, url) error codes for a button and for a sub-button.
_TOP = (40017, 40018, 40019, 40020)
_SUB = (40024, 40025, 40026, 40027)


def menu_errcode(body) -> int | None:
    """WeChat's error code for a `menu/create` body it would refuse, or None when it takes it."""
    buttons = body.get("button") if isinstance(body, dict) else None
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= BUTTONS_MAX:
        return 40016
    for button in buttons:
        if not isinstance(button, dict):
            return 40016
        if not _fits(button.get("name"), NAME_BYTES):
            return 40018
        subs = button.get("sub_button")
        if subs in (None, []):
            code = _action_errcode(button, _TOP)
        elif not isinstance(subs, list) or len(subs) > SUB_BUTTONS_MAX:
            code = 40023
        else:
            code = next(filter(None, map(_sub_errcode, subs)), None)
        if code is not None:
            return code
    return None


def _sub_errcode(sub) -> int | None:
    """The error code for one sub-button, or None."""
    if not isinstance(sub, dict):
        return 40024
    if sub.get("sub_button"):
        return 40022
    if not _fits(sub.get("name"), SUB_NAME_BYTES):
        return 40025
    return _action_errcode(sub, _SUB)


def _action_errcode(button: dict, codes: tuple[int, int, int, int]) -> int | None:
    """What a tappable button's type needs: a known type, then its key, url and other fields."""
    type_code, _, key_code, url_code = codes
    kind = button.get("type")
    if kind not in TYPES:
        return type_code
    if kind in KEY_TYPES and not _fits(button.get("key"), KEY_BYTES):
        return key_code
    if kind in URL_TYPES and not _fits(button.get("url"), URL_BYTES):
        return url_code
    if any(not isinstance(button.get(name), str) or not button[name] for name in NEEDS.get(kind, ())):
        return type_code
    return None


def _fits(value, most: int) -> bool:
    """A non-empty string of at most `most` bytes in UTF-8."""
    return isinstance(value, str) and 1 <= len(value.encode("utf-8")) <= most
