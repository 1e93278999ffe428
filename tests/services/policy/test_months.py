"""Months for the monthly report: reading `2026-11`, a month's days, the month before, and the change."""

from __future__ import annotations

from datetime import date

import pytest

from services.monthly_report import COUNT, RATING, SHARE, Headline
from services.policy import months


@pytest.mark.parametrize(("text", "first"), [
    ("2026-11", date(2026, 11, 1)), ("2026-1", date(2026, 1, 1)), (" 2027-12 ", date(2027, 12, 1)),
    ("2026-13", None), ("2026-00", None), ("1999-12", None), ("2026/11", None), ("", None), ("November", None),
    ("２０２６-11", None),
])
def test_parse_month(text, first):
    """YYYY-MM (2000 onwards), ASCII digits only; anything else is no month."""
    assert months.parse_month(text) == first


def test_bounds_and_neighbours():
    """February of a leap year, December into January and back."""
    assert months.month_end(date(2028, 2, 1)) == date(2028, 2, 29)
    assert months.month_end(date(2026, 12, 1)) == date(2026, 12, 31)
    assert months.next_month(date(2026, 12, 1)) == date(2027, 1, 1)
    assert months.previous_month(date(2027, 1, 1)) == date(2026, 12, 1)
    assert months.month_start(date(2026, 11, 30)) == date(2026, 11, 1)


def test_covered_days():
    """The whole month once it has ended; until today, not complete, while it runs."""
    november = date(2026, 11, 1)
    assert months.covered_days(november, date(2026, 12, 1)) == (november, date(2026, 11, 30), True)
    assert months.covered_days(november, date(2026, 11, 30)) == (november, date(2026, 11, 30), False)
    assert months.covered_days(november, date(2026, 11, 7)) == (november, date(2026, 11, 7), False)


def test_headline_trend_reads_the_change_as_shown():
    """A move too small to show is 持平; otherwise good or bad by the figure's direction."""
    assert Headline("平均评分", RATING, 4.26, 4.24, "higher").trend == "flat"
    assert Headline("平均评分", RATING, 4.3, 4.1, "higher").trend == "good"
    assert Headline("走访覆盖率", SHARE, 0.88, 0.92, "higher").trend == "bad"
    assert Headline("超期未走访", COUNT, 12, 10, "lower").trend == "bad"
    assert Headline("求助件数", COUNT, 12, 10).trend is None
    assert Headline("求助件数", COUNT, 12, None).trend is None
    assert months.change(3, None) is None and months.change(3, 1) == 2
