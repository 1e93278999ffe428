"""Calendar months for the monthly report: reading `2026-11`, a month's days, the month before, the change."""

from __future__ import annotations

import re
from datetime import date, timedelta

# ASCII digits only: `\\d` would also take full-width ones (２０２６), which a form should not slip through.
_MONTH = re.compile(r"([0-9]{4})-([0-9]{1,2})")
EARLIEST_YEAR = 2000


def parse_month(text: str) -> date | None:
    """The first day of the month `YYYY-MM` names (2000 onwards), or None when it names none."""
    found = _MONTH.fullmatch((text or "").strip())
    if not found:
        return None
    year, month = int(found.group(1)), int(found.group(2))
    if not 1 <= month <= 12 or year < EARLIEST_YEAR:
        return None
    return date(year, month, 1)


def month_start(day: date) -> date:
    """The first day of the month `day` falls in."""
    return day.replace(day=1)


def month_end(first: date) -> date:
    """The last day of the month that starts on `first`."""
    return next_month(first) - timedelta(days=1)


def next_month(first: date) -> date:
    """The first day of the following month."""
    return date(first.year + first.month // 12, first.month % 12 + 1, 1)


def previous_month(first: date) -> date:
    """The first day of the month before."""
    return month_start(month_start(first) - timedelta(days=1))


def covered_days(first: date, today: date) -> tuple[date, date, bool]:
    """The days a report made `today` covers: the whole month once it has ended (complete), else
    the month so far, today included, as the figures page counts it."""
    last = month_end(first)
    if today > last:
        return first, last, True
    return first, today, False


def change(now: float | None, before: float | None) -> float | None:
    """How much a figure moved since the month before (None when either side has no value)."""
    if now is None or before is None:
        return None
    return now - before
