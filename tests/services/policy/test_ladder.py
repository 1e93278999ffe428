"""The escalation ladder, service hours and quiet hours as pure functions."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from config import policy
from services.policy import hours, ladder

TZ = ZoneInfo("Asia/Shanghai")


def local(day: int, hour: int, minute: int = 0) -> datetime:
    """A Shanghai time in December 2026."""
    return datetime(2026, 12, day, hour, minute, tzinfo=TZ)


@pytest.mark.parametrize(
    "start, duration, expected",
    [
        (local(1, 9), timedelta(hours=2), local(1, 11)),
        (local(1, 19, 30), timedelta(hours=2), local(2, 9, 30)),
        (local(1, 21), timedelta(hours=2), local(2, 10)),
        (local(1, 6), timedelta(hours=2), local(1, 10)),
        (local(1, 8), timedelta(hours=12), local(1, 20)),
        (local(1, 8), timedelta(hours=13), local(2, 9)),
    ],
)
def test_service_hours_only_count_from_8_to_20(start, duration, expected):
    """Time outside 08:00-20:00 does not count towards a service-hours deadline."""
    assert hours.add_service_time(start, duration, TZ, policy.SERVICE_HOURS) == expected


@pytest.mark.parametrize(
    "moment, expected",
    [
        (local(1, 21, 59), local(1, 21, 59)),
        (local(1, 22), local(2, 7)),
        (local(1, 23, 30), local(2, 7)),
        (local(2, 3), local(2, 7)),
        (local(2, 7), local(2, 7)),
        (local(2, 12), local(2, 12)),
    ],
)
def test_quiet_hours_hold_until_seven(moment, expected):
    """22:00-07:00 holds a non-urgent push until 07:00; other times send at once."""
    assert hours.release_time(moment, TZ, policy.QUIET_HOURS) == expected


def facts(status: str, created: datetime, level: int = 0) -> ladder.RequestFacts:
    """Request facts for the ladder."""
    return ladder.RequestFacts(status, created, level)


URGENT = policy.ESCALATION_LADDER["urgent"]
NORMAL = policy.ESCALATION_LADDER["normal"]


@pytest.mark.parametrize(
    "steps, request_facts, now, expected_levels",
    [
        (URGENT, facts("open", local(1, 23)), local(1, 23, 14), []),
        (URGENT, facts("open", local(1, 23)), local(1, 23, 15), [1]),
        (URGENT, facts("open", local(1, 23), 1), local(1, 23, 44), []),
        (URGENT, facts("open", local(1, 23), 1), local(1, 23, 45), [2]),
        (URGENT, facts("open", local(1, 23)), local(2, 0), [1, 2]),
        (URGENT, facts("acknowledged", local(1, 23)), local(2, 1), []),
        (NORMAL, facts("open", local(1, 19, 30)), local(1, 21, 30), []),
        (NORMAL, facts("open", local(1, 19, 30)), local(2, 9, 29), []),
        (NORMAL, facts("open", local(1, 19, 30)), local(2, 9, 30), [1]),
        (NORMAL, facts("acknowledged", local(1, 10)), local(3, 9, 59), []),
        (NORMAL, facts("acknowledged", local(1, 10)), local(3, 10), [2]),
        (NORMAL, facts("acknowledged", local(1, 10), 2), local(5, 10), [3]),
        (NORMAL, facts("resolved", local(1, 10)), local(9, 10), []),
    ],
)
def test_due_steps(steps, request_facts, now, expected_levels):
    """Which rungs are due: by level, condition and time (wall or service hours)."""
    due = ladder.due_steps(request_facts, steps, now, TZ, policy.SERVICE_HOURS)
    assert [s.level for s in due] == expected_levels


def test_next_check_skips_rungs_whose_condition_no_longer_holds():
    """An accepted normal request is next looked at when the 48-hour rung falls due."""
    created = local(1, 10)
    assert ladder.next_check_at(facts("open", created), NORMAL, TZ, policy.SERVICE_HOURS) == local(1, 12)
    assert ladder.next_check_at(facts("acknowledged", created), NORMAL, TZ, policy.SERVICE_HOURS) == local(3, 10)
    assert ladder.next_check_at(facts("acknowledged", created, 3), NORMAL, TZ, policy.SERVICE_HOURS) is None
    assert ladder.next_check_at(facts("closed", created), NORMAL, TZ, policy.SERVICE_HOURS) is None
