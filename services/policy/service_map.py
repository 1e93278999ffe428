"""The gaps the service map is coloured by: which one is worst for a village, a town or the city."""

from __future__ import annotations

from collections.abc import Iterable

# Worst first. A person nobody answers for outweighs an assistant with too many people, which
# outweighs visits falling behind plan.
UNASSIGNED = "unassigned"
OVERLOADED = "overloaded"
LOW_COVERAGE = "coverage"
OK = "ok"
GAPS = (UNASSIGNED, OVERLOADED, LOW_COVERAGE, OK)


def behind(coverage: float | None, target: float) -> bool:
    """Visits fall short of the target; coverage None (nobody to visit) is never behind."""
    return coverage is not None and coverage < target


def gap_of(unassigned: int, overloaded: int, coverage: float | None, target: float) -> str:
    """A place's worst gap from its own counts."""
    if unassigned > 0:
        return UNASSIGNED
    if overloaded > 0:
        return OVERLOADED
    if behind(coverage, target):
        return LOW_COVERAGE
    return OK


def worst(gaps: Iterable[str]) -> str:
    """The worst of several gaps (OK when there are none)."""
    return min(gaps, key=GAPS.index, default=OK)
