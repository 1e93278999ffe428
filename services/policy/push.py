"""Rules for pushes: template field types and limits, WeChat's customer-service window, retry backoff."""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from config import policy

# errcodes after which sending the same push again cannot succeed.
PERMANENT_ERRORS = frozenset(
    {
        40003,  # invalid openid
        40037,  # invalid template id
        43004,  # the user does not follow the account
        43101,  # the user refused this kind of message
        45015,  # outside the customer-service window
        45047,  # too many customer-service messages in the window
        47003,  # template data invalid
    }
)
# Customer-service errors after which the push should go as a template message instead.
CUSTOM_FALLBACK_ERRORS = frozenset({45015, 45047, 43101})

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")

# --- WeChat's value rules per keyword type (类目模板消息参数值内容限制) --------------------------
# Every keyword's name starts with its type (thing2, character_string1, time5 …). No value may hold
# a line break or another control character, nor emoji; "symbols" are the common symbols that
# are neither Chinese, letters nor digits.
_HAN = "\u3400-\u4dbf\u4e00-\u9fff"
_EMOJI = re.compile("[\U0001f000-\U0001faff\u2600-\u27bf\ufe0f\u200d]")
_ASCII_SYMBOL = r"!-/:-@\[-`{-~ "
_MONTH = r"(?:0?[1-9]|1[0-2])"
_DAY = r"(?:0?[1-9]|[12]\d|3[01])"
_DATE = (
    rf"(?:\d{{4}}年{_MONTH}月{_DAY}日|\d{{4}}年{_MONTH}月|{_MONTH}月{_DAY}日"
    rf"|\d{{4}}[-/.]{_MONTH}[-/.]{_DAY}|\d{{4}}-{_MONTH}|{_MONTH}-{_DAY})"
)
_CLOCK = r"(?:[01]?\d|2[0-3]):[0-5]\d(?::[0-5]\d)?"
_TIME_POINT = rf"(?:{_DATE} ?)?{_CLOCK}"
_DATE_POINT = rf"{_DATE}(?: ?{_CLOCK})?"
# (pattern the whole value must match, longest value in characters, what WeChat allows)
_TYPE_RULES: dict[str, tuple[re.Pattern, int, str]] = {
    "thing": (re.compile(r".+", re.DOTALL), 20, "any text"),
    "character_string": (re.compile(r"[0-9A-Za-z" + _ASCII_SYMBOL + r"]+"), 32, "digits, letters and symbols only"),
    "number": (re.compile(r"\d+(?:\.\d+)?"), 32, "digits only, with decimals"),
    "letter": (re.compile(r"[A-Za-z]+"), 32, "letters only"),
    "symbol": (re.compile(r"[" + _ASCII_SYMBOL + r"\u3000-\u303f\uff01-\uff0f\uff1a-\uff20]+"), 5, "symbols only"),
    "phrase": (re.compile(rf"[{_HAN}]+"), 5, "Chinese characters only"),
    "name": (re.compile(rf"[{_HAN}]{{1,10}}|[A-Za-z{_ASCII_SYMBOL}]{{1,20}}|[{_HAN}A-Za-z·. ]{{1,10}}"), 20,
             "10 Chinese characters or 20 letters"),
    "phone_number": (re.compile(r"[0-9" + _ASCII_SYMBOL + r"]+"), 17, "digits and symbols only"),
    "car_number": (re.compile(rf"[{_HAN}A-Za-z0-9][A-Za-z0-9]{{0,6}}[{_HAN}A-Za-z0-9]?"), 8, "a plate number"),
    "amount": (re.compile(r"[¥￥$€£]?\d{1,10}(?:\.\d+)?元?"), 14, "a currency symbol, up to 10 digits, 元"),
    "time": (re.compile(rf"{_TIME_POINT}(?:~{_TIME_POINT})?"), 40, "a 24-hour time such as 2026-12-01 08:00"),
    "date": (re.compile(rf"{_DATE_POINT}(?:~{_DATE_POINT})?"), 40, "a date such as 2026年12月1日"),
}
VALUE_TYPES = frozenset(_TYPE_RULES)
_TYPE_OF_KEY = re.compile(r"([a-z_]+?)\d*")


def field_type(key: str) -> str | None:
    """The value type a template keyword's name declares (character_string1 -> character_string), if known."""
    match = _TYPE_OF_KEY.fullmatch(key)
    return match.group(1) if match and match.group(1) in _TYPE_RULES else None


def value_errors(value_type: str, value: object) -> list[str]:
    """What is wrong with one template value under WeChat's rules for its type; empty when it may be sent."""
    rule = _TYPE_RULES.get(value_type)
    if rule is None:
        return [f"unknown value type {value_type!r}"]
    pattern, longest, allowed = rule
    text = "" if value is None else str(value)
    if not text:
        return ["empty"]
    errors = []
    if _CONTROL.search(text):
        errors.append("holds a line break or control character")
    if _EMOJI.search(text):
        errors.append("holds an emoji")
    if len(text) > longest:
        errors.append(f"{len(text)} characters, at most {longest} allowed")
    # The kind of characters, unless line breaks or emoji already say what is wrong.
    if not _CONTROL.search(text) and not _EMOJI.search(text) and not pattern.fullmatch(text):
        errors.append(f"not {value_type}: {allowed}")
    return errors


def template_field_errors(kind: str, fields: Mapping[str, object]) -> list[str]:
    """Every way these fields break the template `kind` (policy.TEMPLATES): missing, unknown or invalid.

    `fields` is a push's {key: value} or a template's `data` ({key: {"value": …}}). Empty when
    WeChat would accept them.
    """
    spec = policy.TEMPLATES.get(kind)
    if spec is None:
        return [f"unknown template kind {kind!r}"]
    given = {key: value.get("value") if isinstance(value, Mapping) else value for key, value in fields.items()}
    errors = []
    for field in spec.fields:
        if field.key not in given:
            errors.append(f"{field.key} ({field.label}): missing")
            continue
        errors += [f"{field.key} ({field.label}): {error}" for error in value_errors(field.type, given[field.key])]
    known = {field.key for field in spec.fields}
    errors += [f"{key}: not a field of {spec.title}" for key in sorted(set(given) - known)]
    return errors


def fit_field(value, limit: int = policy.TEMPLATE_FIELD_MAX) -> str:
    """One template field: no line breaks or control characters, at most `limit` characters."""
    text = _CONTROL.sub(" ", str(value if value is not None else ""))
    text = re.sub(r"\s+", " ", text).strip()
    if len(text) <= limit:
        return text or "-"
    return text[: limit - 1] + "…"


def fit_value(key: str, value) -> str:
    """A value made to fit its keyword's type: text cut with an ellipsis, codes and phrases cut plain.

    Cutting cannot make a wrong value right (Chinese in a character_string stays wrong): writers
    choose values of the right kind, and `template_field_errors` finds those that are not.
    """
    value_type = field_type(key)
    if value_type in (None, "thing"):
        return fit_field(value)
    longest = _TYPE_RULES[value_type][1]
    text = re.sub(r"\s+", " ", _CONTROL.sub(" ", str(value if value is not None else ""))).strip()
    return text[:longest] or "-"


def template_data(fields: dict[str, object]) -> dict[str, dict[str, str]]:
    """Template `data` with every value made to fit WeChat's limits for its keyword's type."""
    return {key: {"value": fit_value(key, value)} for key, value in fields.items()}


class UnfitValue(ValueError):
    """A value that cannot be made to fit its keyword's type without changing what it says."""


def notice_data(data: Mapping[str, object]) -> dict[str, dict[str, str]]:
    """Subscription-notice `data` (订阅通知): a thing cut to 20 characters with an ellipsis; any other
    value must already keep its type's rules, else UnfitValue: cutting a time, a number, a code or a
    name would change what it says.

    `data` is {key: value} or {key: {"value": …}}. The rules are WeChat's (subscription templates
    use the same value types as template keywords).
    """
    fitted = {}
    for key, given in data.items():
        value = given.get("value") if isinstance(given, Mapping) else given
        value_type = field_type(key)
        if value_type is None:
            raise UnfitValue(f"{key}: the keyword's name declares no known value type")
        text = fit_field(value) if value_type == "thing" else _clean(value)
        errors = value_errors(value_type, text)
        if errors:
            # Which rule broke, never the value itself: values hold names and what people wrote.
            raise UnfitValue(f"{key}: {'; '.join(errors)}")
        fitted[key] = {"value": text}
    return fitted


def _clean(value) -> str:
    """A value with control characters and runs of white space made single spaces."""
    return re.sub(r"\s+", " ", _CONTROL.sub(" ", str(value if value is not None else ""))).strip()


@dataclass(frozen=True)
class NoticeRoute:
    """Pushes of one template sent as subscription notices instead: the notice template's id, and
    which of its keywords each of our template's keywords goes to (absent: the same name)."""

    template_id: str
    keys: Mapping[str, str] = field(default_factory=dict)

    def data(self, template_data: Mapping[str, object]) -> dict[str, object]:
        """A push's template data under the notice template's keywords."""
        return {self.keys.get(key, key): value for key, value in template_data.items()}


# How a call whose answer never came is described ("request failed: ReadTimeoutError"), and the
# failures among those that happen before the request leaves: WeChat cannot have received it.
REQUEST_FAILED = "request failed"
NEVER_SENT_FAILURES = ("NewConnectionError", "ConnectTimeoutError", "ConnectTimeout")
CUSTOM_COUNT_FULL = 45047


def may_have_arrived(last_error: str | None, attempts: int) -> bool:
    """Whether an earlier attempt at this push may have reached WeChat without our knowing.

    `attempts` counts this one. An earlier attempt whose answer was lost (a read timeout, a dropped
    connection) may have been delivered; so may one whose claim lapsed with no error recorded (its
    sender died between WeChat's answer and the record).
    """
    if attempts <= 1:
        return False
    if last_error is None:
        return True
    return REQUEST_FAILED in last_error and not any(name in last_error for name in NEVER_SENT_FAILURES)


def custom_window_open(last_message_at: datetime | None, sent_in_window: int, now: datetime) -> bool:
    """True when a customer-service message may still go to this user."""
    if last_message_at is None:
        return False
    if now - last_message_at >= timedelta(hours=policy.CUSTOM_WINDOW_HOURS):
        return False
    return sent_in_window < policy.CUSTOM_WINDOW_MAX_MESSAGES


def backoff_seconds(attempts: int, rng: random.Random, *, base: float = policy.OUTBOX_BACKOFF_BASE_SECONDS,
                    cap: float = policy.OUTBOX_BACKOFF_CAP_SECONDS) -> float:
    """Exponential backoff with full jitter after `attempts` failed tries."""
    ceiling = min(cap, base * 2 ** max(attempts - 1, 0))
    return rng.uniform(0, ceiling)


def client_msg_id(idempotency_key: str) -> str:
    """A short stable id for WeChat's own 10-minute dedupe of template messages."""
    return hashlib.sha1(idempotency_key.encode("utf-8"), usedforsecurity=False).hexdigest()[:32]
