"""Which gap colours a place on the service map: the worst one, by a fixed order."""

from __future__ import annotations

import pytest

from services.policy import service_map as gaps


@pytest.mark.parametrize(("unassigned", "overloaded", "coverage", "expected"), [
    (0, 0, 1.0, gaps.OK),
    (0, 0, 0.9, gaps.OK),  # on the target is not behind it
    (0, 0, 0.899, gaps.LOW_COVERAGE),
    (0, 0, None, gaps.OK),  # nobody to visit
    (0, 2, 1.0, gaps.OVERLOADED),
    (0, 1, 0.2, gaps.OVERLOADED),  # an overloaded assistant outweighs visits behind plan
    (1, 0, 1.0, gaps.UNASSIGNED),
    (3, 4, 0.0, gaps.UNASSIGNED),  # a person nobody answers for outweighs everything
])
def test_gap_of(unassigned, overloaded, coverage, expected):
    """A place's own counts give its worst gap."""
    assert gaps.gap_of(unassigned, overloaded, coverage, target=0.9) == expected


@pytest.mark.parametrize(("found", "expected"), [
    ([], gaps.OK),
    ([gaps.OK, gaps.OK], gaps.OK),
    ([gaps.OK, gaps.LOW_COVERAGE, gaps.OK], gaps.LOW_COVERAGE),
    ([gaps.LOW_COVERAGE, gaps.OVERLOADED], gaps.OVERLOADED),
    ([gaps.OVERLOADED, gaps.UNASSIGNED, gaps.OK], gaps.UNASSIGNED),
])
def test_worst(found, expected):
    """A town or the city shows the worst gap among its villages."""
    assert gaps.worst(found) == expected
