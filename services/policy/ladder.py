"""The escalation ladder, evaluated as pure functions of a request's facts and `now`.

A request climbs one level per rung and never comes down. A rung with `repeat_every` (the last
one for an urgent case nobody accepts) is then taken again at each period while its condition
holds; the request counts its repeats, so `next_check_at` keeps returning a time until the
condition stops holding.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timezone
from zoneinfo import ZoneInfo

from config.policy import LadderStep
from models.enums import RequestCategory, Urgency
from services.policy.hours import add_service_time

OPEN = "open"
ACKNOWLEDGED = "acknowledged"


# The ladder row (config.policy.ESCALATION_LADDER) of a 联系 case the check-in scan raised.
CHECK_ON = "check_on"


def ladder_key(category: str, urgency: str) -> str:
    """Which ladder a request climbs: a normal 联系 case (someone went silent) its own, else its urgency's."""
    if category == RequestCategory.CHECK_ON.value and urgency == Urgency.NORMAL.value:
        return CHECK_ON
    return urgency


@dataclass(frozen=True)
class RequestFacts:
    """What the ladder needs to know about a request."""

    status: str
    created_at: datetime
    escalation_level: int
    # How many times the rung at `escalation_level` has been repeated.
    escalation_repeats: int = 0


@dataclass(frozen=True)
class Rung:
    """One taking of a step: the first (repeat 0), or its `repeat`-th repeat."""

    step: LadderStep
    repeat: int = 0


def step_due_at(step: LadderStep, created_at: datetime, tz: ZoneInfo, service_hours: tuple[time, time]) -> datetime:
    """When a step falls due, counting wall time or service hours from when the request was raised."""
    if step.clock == "service":
        return add_service_time(created_at, step.after, tz, service_hours)
    return created_at + step.after


def condition_holds(step: LadderStep, status: str) -> bool:
    """Whether the step's condition still holds for a request in `status`."""
    if step.condition == "not_accepted":
        return status == OPEN
    if step.condition == "not_resolved":
        return status in (OPEN, ACKNOWLEDGED)
    if step.condition == "accepted_not_resolved":
        return status == ACKNOWLEDGED
    raise ValueError(f"unknown ladder condition {step.condition!r}")


def step_at(level: int, ladder: Sequence[LadderStep]) -> LadderStep | None:
    """The step of the ladder at `level` (None at level 0 or a level the ladder lacks)."""
    return next((step for step in ladder if step.level == level), None)


# Repeats fall on a shared grid (every `repeat_every` from this instant), not on each case's own
# phase: the cases hanging with one person on duty then repeat in the same scan, and reach them as
# one push per repeat instead of one every few minutes for each case.
REPEAT_GRID_EPOCH = datetime(2000, 1, 1, tzinfo=timezone.utc)


def first_repeat_at(step: LadderStep, created_at: datetime, tz: ZoneInfo, service_hours: tuple[time, time]) -> datetime:
    """When the step's first repeat is due: the first grid instant at least one interval after the
    step itself fell due (so the rung and its first repeat are never minutes apart)."""
    every = step.repeat_every
    earliest = step_due_at(step, created_at, tz, service_hours) + every
    return REPEAT_GRID_EPOCH + -((REPEAT_GRID_EPOCH - earliest) // every) * every


def repeats_due(step: LadderStep, created_at: datetime, now: datetime, tz: ZoneInfo,
                service_hours: tuple[time, time]) -> int:
    """How many repeats of the step have fallen due by `now` (0 for a step that does not repeat)."""
    if step.repeat_every is None:
        return 0
    first_repeat = first_repeat_at(step, created_at, tz, service_hours)
    if now < first_repeat:
        return 0
    return (now - first_repeat) // step.repeat_every + 1


def due_steps(
    facts: RequestFacts, ladder: Sequence[LadderStep], now: datetime, tz: ZoneInfo, service_hours: tuple[time, time]
) -> list[LadderStep]:
    """The steps above the current level whose condition holds and whose time has come, in order."""
    return [
        step
        for step in ladder
        if step.level > facts.escalation_level
        and condition_holds(step, facts.status)
        and step_due_at(step, facts.created_at, tz, service_hours) <= now
    ]


def due_rungs(
    facts: RequestFacts, ladder: Sequence[LadderStep], now: datetime, tz: ZoneInfo, service_hours: tuple[time, time]
) -> list[Rung]:
    """What to take at `now`, lowest first: each due step above the level, then the top step's due repeat.

    The top step (the highest new one, or else the current one) is taken at its latest due repeat:
    repeats missed while the scheduler was down are not made up, the next one simply counts on.
    """
    steps = due_steps(facts, ladder, now, tz, service_hours)
    if steps:
        *below, top = steps
        return [Rung(step) for step in below] + [Rung(top, repeats_due(top, facts.created_at, now, tz, service_hours))]
    current = step_at(facts.escalation_level, ladder)
    if current is None or current.repeat_every is None or not condition_holds(current, facts.status):
        return []
    repeat = repeats_due(current, facts.created_at, now, tz, service_hours)
    return [Rung(current, repeat)] if repeat > facts.escalation_repeats else []


def next_check_at(
    facts: RequestFacts, ladder: Sequence[LadderStep], tz: ZoneInfo, service_hours: tuple[time, time]
) -> datetime | None:
    """When the next step above the current level, or the current step's next repeat, could fall due
    (None: nothing left to do)."""
    times = [
        step_due_at(step, facts.created_at, tz, service_hours)
        for step in ladder
        if step.level > facts.escalation_level and condition_holds(step, facts.status)
    ]
    current = step_at(facts.escalation_level, ladder)
    if current is not None and current.repeat_every is not None and condition_holds(current, facts.status):
        first_repeat = first_repeat_at(current, facts.created_at, tz, service_hours)
        times.append(first_repeat + facts.escalation_repeats * current.repeat_every)
    return min(times) if times else None


def city_level(ladder: Sequence[LadderStep]) -> int | None:
    """The first level whose rung alerts someone at the city (a liaison or the person on duty)."""
    city_roles = {"liaison", "deputy_liaison", "on_duty"}
    return min((step.level for step in ladder if city_roles & set(step.notify)), default=None)
