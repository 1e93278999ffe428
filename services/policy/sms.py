"""Rules for text messages: which WeChat refusals send a push by SMS instead, which pushes never go
by SMS, and per-phone pacing."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from models.enums import PushKind

# WeChat errcodes after which a push to staff goes by SMS instead: the person cannot be reached
# on WeChat (40003 unknown openid, 43004 not following, 43101 refused) or the message cannot go
# (45015 / 45047 outside the customer-service window with no template to fall back on).
SMS_FALLBACK_ERRORS = frozenset({40003, 43004, 43101, 45015, 45047})

# Pushes to staff that never go by SMS, and why. Every other push to staff carries an SMS form, so
# a member of staff without WeChat still hears of it (tests/services/test_sms_forms.py holds every
# kind of push to one or the other).
NEVER_BY_SMS = frozenset({
    # The voice or photo itself: a text message cannot carry it, and the task's own SMS told of the case.
    PushKind.MEDIA,
    # What a voice said is what someone said: message contents never pass through the SMS provider.
    # A voice that shows danger sends URGENT_TASK, whose SMS says so without the words.
    PushKind.TRANSCRIPT,
})


def next_allowed(sent: Iterable[datetime], now: datetime, limits: Sequence[tuple[int, int]]) -> datetime | None:
    """When one more SMS may go to a phone that got `sent`; None when it may go now.

    `limits` are (window in seconds, messages) pairs, as the provider's per-number flow control.
    """
    sent = sorted(sent, reverse=True)
    wait_until = None
    for seconds, permits in limits:
        window = timedelta(seconds=seconds)
        recent = [t for t in sent if t > now - window]
        if len(recent) >= permits:
            # The oldest message that still counts must leave the window first.
            free_at = recent[permits - 1] + window
            wait_until = free_at if wait_until is None else max(wait_until, free_at)
    return wait_until


# The number a text to a beneficiary gives when its member of staff and town office have none:
# 12345, the citizens' service hotline every city answers.
FALLBACK_PHONE = "12345"
