"""An assistant's load against the limits, on plain numbers."""

from __future__ import annotations

import pytest

from services.policy.workload import REASONS, Limits, load_share, over_limits

LIMITS = Limits(people=150, open_cases=5, overdue=30)


@pytest.mark.parametrize(("people", "open_cases", "overdue", "expected"), [
    (150, 5, 30, ()),  # at every limit: still within
    (151, 0, 0, ("people",)),
    (10, 6, 31, ("open_cases", "overdue")),
    (200, 9, 40, ("people", "open_cases", "overdue")),
])
def test_over_limits(people, open_cases, overdue, expected):
    """Above a limit, never at it; named in the page's order."""
    assert over_limits(people, open_cases, overdue, LIMITS) == expected
    assert all(name in REASONS for name in expected)


def test_load_share_is_the_largest_share_of_any_limit():
    """The order of the workload table: the fullest limit counts."""
    assert load_share(75, 1, 3, LIMITS) == 0.5
    assert load_share(75, 10, 3, LIMITS) == 2
    assert load_share(0, 0, 45, LIMITS) == 1.5

