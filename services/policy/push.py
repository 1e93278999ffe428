"""Rules for pushes: template field limits, WeChat's customer-service window, retry backoff."""

from __future__ import annotations

import hashlib
import random
import re
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


def fit_field(value, limit: int = policy.TEMPLATE_FIELD_MAX) -> str:
    """One template field: no line breaks or control characters, at most `limit` characters."""
    text = _CONTROL.sub(" ", str(value if value is not None else ""))
    text = re.sub(r"\s+", " ", text).strip()
    if len(text) <= limit:
        return text or "-"
    return text[: limit - 1] + "…"


def template_data(fields: dict[str, object]) -> dict[str, dict[str, str]]:
    """Template `data` with every value made to fit WeChat's limits."""
    return {key: {"value": fit_field(value)} for key, value in fields.items()}


def custom_window_open(last_message_at: datetime | None, sent_in_window: int, now: datetime) -> bool:
    """True when a customer-service message may still go to this user."""
    if last_message_at is None:
        return False
    if now - last_message_at >= timedelta(hours=policy.CUSTOM_WINDOW_HOURS):
        return False
    return sent_in_window < policy.CUSTOM_WINDOW_MAX_MESSAGES


def backoff_seconds(attempts: int, rng: random.Random) -> float:
    """Exponential backoff with full jitter after `attempts` failed tries."""
    ceiling = min(policy.OUTBOX_BACKOFF_CAP_SECONDS, policy.OUTBOX_BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0))
    return rng.uniform(0, ceiling)


def client_msg_id(idempotency_key: str) -> str:
    """A short stable id for WeChat's own 10-minute dedupe of template messages."""
    return hashlib.sha1(idempotency_key.encode("utf-8")).hexdigest()[:32]
