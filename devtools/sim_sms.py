"""Text messages in the simulator: what the local SMS stand-in delivered to a persona's phone (a member
of staff's, or the beneficiary's a persona stands for), as chat items beside the WeChat messages."""

from __future__ import annotations

import re

import requests

from config.settings import Settings
from services import texts

# The demo's template codes for `make run` (kind -> code), registered with the stand-in with the
# variables of their wording, as a real account registers its templates with Aliyun.
DEV_SMS_TEMPLATES = {"task": "SMS_900001", "urgent": "SMS_900002", "received": "SMS_900003",
                     "visited": "SMS_900004", "resolved": "SMS_900005", "cancelled": "SMS_900006",
                     "digest": "SMS_900007", "checkin": "SMS_900020",
                     "sos": "SMS_900021", "checked_in": "SMS_900022"}
_VARIABLE = re.compile(r"\$\{(\w+)\}")


def template_variables(kind: str) -> list[str]:
    """The ${…} variables of a kind's wording, in order."""
    return _VARIABLE.findall(texts.SMS_TEMPLATES[kind])


def standin_url(settings: Settings) -> str | None:
    """The SMS stand-in's root URL when SMS goes to a local one; None otherwise (nothing to show)."""
    endpoint = settings.sms_endpoint
    if not settings.sms_provider or not endpoint.startswith(("http://127.0.0.1", "http://localhost")):
        return None
    return endpoint


def message_text(settings: Settings, template_code: str, params: dict, sign_name: str) -> str:
    """The message as the phone shows it: 【sign】 and the registered wording with its variables filled in."""
    kinds = {code: kind for kind, code in settings.sms_templates}
    wording = texts.SMS_TEMPLATES.get(kinds.get(template_code, ""))
    if wording is None:
        body = "，".join(f"{name}：{value}" for name, value in params.items())
    else:
        body = _VARIABLE.sub(lambda m: str(params.get(m.group(1), "")), wording)
    return f"【{sign_name}】{body}"


def sms_items(settings: Settings, phones: dict[str, str], after: int) -> tuple[list[dict], int]:
    """Messages the stand-in delivered after call `after` to a persona's phone (phone -> openid), and
    the index of its last call; ([], after) when SMS is not going to a local stand-in."""
    base = standin_url(settings)
    if base is None:
        return [], after
    try:
        calls = requests.get(f"{base}_calls", timeout=5).json()
    except (requests.RequestException, ValueError):
        # The stand-in is down: WeChat messages still show; the SMS show once it is back.
        return [], after
    items = []
    for index, call in enumerate(calls):
        if index <= after or call.get("code") != "OK":
            continue
        text = message_text(settings, call.get("template") or "", call.get("params") or {}, call.get("sign_name") or "")
        items += [{"sms_i": index, "openid": phones[phone], "kind": "sms", "text": text, "at": call.get("at", 0)}
                  for phone in call.get("phones", []) if phone in phones]
    return items, len(calls) - 1
