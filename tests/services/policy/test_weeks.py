"""Calendar weeks for the trends, on plain dates."""

from __future__ import annotations

from datetime import date

import pytest

from services.policy.weeks import Week, last_weeks, monday, split_by_week, week_index


@pytest.mark.parametrize(("day", "expected"), [
    (date(2026, 11, 30), date(2026, 11, 30)),  # a Monday is its own
    (date(2026, 12, 6), date(2026, 11, 30)),  # Sunday ends the week
    (date(2027, 1, 1), date(2026, 12, 28)),  # across the new year
])
def test_monday(day, expected):
    """The week starts on Monday."""
    assert monday(day) == expected


def test_last_weeks_end_with_the_current_one_in_progress():
    """26 weeks, oldest first, consecutive, the last one this week's and in progress."""
    weeks = last_weeks(date(2026, 12, 1), 26)
    assert len(weeks) == 26
    assert weeks[0] == Week(date(2026, 6, 8), date(2026, 6, 14))
    assert weeks[-1] == Week(date(2026, 11, 30), date(2026, 12, 6), in_progress=True)
    assert all((b.start - a.start).days == 7 for a, b in zip(weeks, weeks[1:]))
    assert weeks[-1].last_day(date(2026, 12, 1)) == date(2026, 12, 1)
    assert weeks[-2].last_day(date(2026, 12, 1)) == date(2026, 11, 29)


def test_week_index_and_split():
    """Days fall in their week; days before the first week or after the last are left out."""
    first = date(2026, 11, 2)
    assert [week_index(d, first) for d in (date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 8),
                                           date(2026, 11, 9))] == [-1, 0, 0, 1]
    rows = [(date(2026, 11, 1), "before"), (date(2026, 11, 3), "a"), (date(2026, 11, 15), "b"),
            (date(2026, 11, 10), "c"), (date(2026, 11, 16), "after")]
    assert split_by_week(rows, lambda row: row[0], first, 2) == [[rows[1]], [rows[2], rows[3]]]
