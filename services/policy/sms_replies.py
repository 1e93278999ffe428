"""Rules for replies to our text messages (上行短信): which words opt a phone out or back in, and which
messages still go to a phone that opted out."""

from __future__ import annotations

import unicodedata

from models.enums import PushKind

# The words every Chinese SMS footer offers (回复TD退订), and the short forms people also send. Matched on
# the whole reply, trimmed and case-folded: "T" opts out, "Thanks" does not.
OPT_OUT_WORDS = frozenset({"td", "t", "n", "退订", "退定", "取消订阅"})
# Words that undo an opt-out. Only an explicit reply turns messages back on.
OPT_IN_WORDS = frozenset({"订阅", "恢复", "恢复订阅", "重新订阅"})
# Punctuation people add to a one-word reply ("TD。", "退订!").
_TRAILING = " \t\r\n.。!！,，;；~～"

# The template kind of an urgent escalation's SMS (services/notify.py SMS_URGENT).
_URGENT_TEMPLATE = "urgent"
# Push kinds whose SMS to staff is urgent whatever its template: a case found urgent after it was opened.
_URGENT_KINDS = frozenset({PushKind.URGENT_TASK.value})


def reply_decision(content: str) -> bool | None:
    """True when a reply opts its phone out, False when it opts back in, None for any other words."""
    word = unicodedata.normalize("NFKC", content or "").strip().strip(_TRAILING).casefold()
    if word in OPT_OUT_WORDS:
        return True
    if word in OPT_IN_WORDS:
        return False
    return None


def goes_despite_opt_out(template: str | None, key: str, to_staff: bool, urgent_case: bool) -> bool:
    """Whether an SMS goes to a phone that opted out: only an urgent one to a member of staff.

    The phone a member of staff gave is their duty phone: an urgent case (an urgent escalation, a case
    found urgent, anything about an urgent request) must reach them. Beneficiaries and family members
    who opted out get nothing more by SMS. `key` is the row's (`sms:urgent-task:…`).
    """
    if not to_staff:
        return False
    parts = key.split(":")
    kind = parts[1] if len(parts) > 1 and parts[0] == PushKind.SMS.value else ""
    return urgent_case or template == _URGENT_TEMPLATE or kind in _URGENT_KINDS
