"""The escalation ladder, evaluated as pure functions of a request's facts and `now`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo

from config.policy import LadderStep
from services.policy.hours import add_service_time

OPEN = "open"
ACKNOWLEDGED = "acknowledged"


@dataclass(frozen=True)
class RequestFacts:
    """What the ladder needs to know about a request."""

    status: str
    created_at: datetime
    escalation_level: int


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
    raise ValueError(f"unknown ladder condition {step.condition!r}")


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


def next_check_at(
    facts: RequestFacts, ladder: Sequence[LadderStep], tz: ZoneInfo, service_hours: tuple[time, time]
) -> datetime | None:
    """When the next step above the current level could fall due (None: nothing left to do)."""
    times = [
        step_due_at(step, facts.created_at, tz, service_hours)
        for step in ladder
        if step.level > facts.escalation_level and condition_holds(step, facts.status)
    ]
    return min(times) if times else None
