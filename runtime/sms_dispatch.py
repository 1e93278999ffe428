"""Sending one outbox row of kind `sms`: its template and parameters through the SMS provider, paced
per phone on our side as the provider paces it, so a rate limit delays a message instead of
spending its retries.

Phone numbers and parameters are people's data: they go to the provider, never into logs or errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from config import policy
from runtime.sms import SmsError, SmsSender
from services.outbox import Claimed
from services.policy.sms import next_allowed

# What Aliyun's isv.BUSINESS_LIMIT_CONTROL message names (触发分钟级流控Permits:1 …), and how long to wait.
_FLOW_LEVELS = (("天级", 86400), ("小时级", 3600), ("分钟级", 60))


class SmsDeferred(Exception):
    """The phone had its share of messages for now: send at `until`, without spending an attempt."""

    def __init__(self, until: datetime, reason: str):
        """Keep when and why."""
        super().__init__(reason)
        self.until, self.reason = until, reason


class SmsFailed(Exception):
    """The message did not go: the provider's code (no phone, no parameters), and whether retrying can help."""

    def __init__(self, error: str, *, permanent: bool):
        """Keep the error and its kind."""
        super().__init__(error)
        self.permanent = permanent


@dataclass
class SmsPace:
    """The messages one phone was sent lately; the lane sending to it owns it."""

    sent: list[datetime] = field(default_factory=list)


def out_id(row: Claimed) -> str:
    """The provider's OutId: the outbox row, so a message sent twice after a crash is traced to it."""
    return f"outbox-{row.id}"


def send_sms(sender: SmsSender | None, row: Claimed, pace: SmsPace, now: datetime) -> str:
    """Send one SMS row; the provider's id for it, or SmsDeferred / SmsFailed."""
    if sender is None:
        raise SmsFailed("sms: SMS_PROVIDER is not set", permanent=True)
    form = row.payload.get("sms") or {}
    code = sender.template_code(form.get("template", ""))
    if code is None:
        raise SmsFailed(f"sms: no template registered for {form.get('template')!r} (SMS_TEMPLATES)", permanent=True)
    wait_until = next_allowed(pace.sent, now, policy.SMS_PHONE_LIMITS)
    if wait_until is not None:
        raise SmsDeferred(wait_until, "sms: this phone's rate limit")
    try:
        biz_id = sender.send(row.phone, code, form.get("params", {}), out_id=out_id(row))
    except SmsError as exc:
        if exc.code == "isv.BUSINESS_LIMIT_CONTROL":
            # The provider counts messages we did not (another system on the same sign): wait its window out.
            seconds = next((s for level, s in _FLOW_LEVELS if level in exc.message), 60)
            raise SmsDeferred(now + timedelta(seconds=seconds), f"sms {exc.code}: {exc.message}") from None
        raise SmsFailed(f"sms {exc.code}: {exc.message}"[:300], permanent=exc.permanent) from None
    pace.sent.append(now)
    return biz_id
