"""An assistant's load against the limits: which limits it passes, and an order that puts the most
loaded first (the largest share of any limit), so an overloaded assistant stands out."""

from __future__ import annotations

from dataclasses import dataclass

# What each limit is about, in the order the page names them.
REASONS = {"people": "服务对象过多", "open_cases": "在办求助过多", "overdue": "超期未走访过多"}


@dataclass(frozen=True)
class Limits:
    """The most an assistant should carry: people served, cases open at once, people overdue for a visit."""

    people: int
    open_cases: int
    overdue: int


def over_limits(people: int, open_cases: int, overdue: int, limits: Limits) -> tuple[str, ...]:
    """The limits passed (keys of REASONS); none when the load is within all of them."""
    passed = {"people": people > limits.people, "open_cases": open_cases > limits.open_cases,
              "overdue": overdue > limits.overdue}
    return tuple(name for name in REASONS if passed[name])


def load_share(people: int, open_cases: int, overdue: int, limits: Limits) -> float:
    """The largest share of any limit the load reaches (above 1: over that limit)."""
    return max(people / max(limits.people, 1), open_cases / max(limits.open_cases, 1),
               overdue / max(limits.overdue, 1))
