"""四查四帮 visit schedule: how often each beneficiary is visited and when the next visit is due."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

from config import policy
from models.enums import BeneficiaryCategory


def frequency_days(categories: Iterable[str]) -> int:
    """Days between visits: the strictest (shortest) of the beneficiary's categories."""
    table = policy.VISIT_FREQUENCY_DAYS
    days = [table[BeneficiaryCategory(c)] for c in categories if BeneficiaryCategory(c) in table]
    return min(days) if days else table[BeneficiaryCategory.OTHER]


def next_due(categories: Iterable[str], last_visit: date | None, registered: date) -> date:
    """The date the next visit is due: one period after the last visit, or after registration."""
    return (last_visit or registered) + timedelta(days=frequency_days(categories))
