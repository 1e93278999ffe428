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
        (URGENT, facts("open", local(1, 23), 1), local(1, 23, 29), []),
        (URGENT, facts("open", local(1, 23), 1), local(1, 23, 30), [2]),
        (URGENT, facts("open", local(1, 23), 2), local(1, 23, 45), [3]),
        (URGENT, facts("open", local(1, 23), 3), local(1, 23, 55), [4]),
        (URGENT, facts("open", local(1, 23)), local(2, 0), [1, 2, 3, 4]),
        # Accepted: the not-accepted rungs are off; its own rungs at 4 h and 12 h.
        (URGENT, facts("acknowledged", local(1, 23)), local(2, 1), []),
        (URGENT, facts("acknowledged", local(1, 23), 1), local(2, 3), [5]),
        (URGENT, facts("acknowledged", local(1, 23), 5), local(2, 10, 59), []),
        (URGENT, facts("acknowledged", local(1, 23), 5), local(2, 11), [6]),
        # Open long after: still only the not-accepted rungs, never the accepted ones.
        (URGENT, facts("open", local(1, 23), 4), local(3, 23), []),
        (URGENT, facts("resolved", local(1, 23)), local(3, 23), []),
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


def repeat_facts(status: str, created: datetime, level: int, repeats: int) -> ladder.RequestFacts:
    """Request facts with a repeat count."""
    return ladder.RequestFacts(status, created, level, repeats)


@pytest.mark.parametrize(
    "request_facts, now, expected",
    [
        # The urgent ladder's fourth rung (55 min) repeats every 10 minutes while nobody accepts, on
        # the shared 10-minute grid, starting at least 10 minutes after the rung: 00:10, 00:20 …
        (repeat_facts("open", local(1, 23), 3, 0), local(1, 23, 55), [(4, 0)]),
        (repeat_facts("open", local(1, 23), 4, 0), local(2, 0, 9), []),
        (repeat_facts("open", local(1, 23), 4, 0), local(2, 0, 10), [(4, 1)]),
        (repeat_facts("open", local(1, 23), 4, 1), local(2, 0, 19), []),
        (repeat_facts("open", local(1, 23), 4, 1), local(2, 0, 20), [(4, 2)]),
        # The scheduler was down for an hour: one repeat, counted on, not six.
        (repeat_facts("open", local(1, 23), 4, 1), local(2, 1, 16), [(4, 7)]),
        # Climbing late straight onto the repeating rung takes it at its latest repeat.
        (repeat_facts("open", local(1, 23), 0, 0), local(2, 0, 20), [(1, 0), (2, 0), (3, 0), (4, 2)]),
        # Accepted: no more repeats.
        (repeat_facts("acknowledged", local(1, 23), 4, 3), local(2, 1), []),
        # A rung that does not repeat is never taken again.
        (repeat_facts("open", local(1, 23), 3, 0), local(1, 23, 50), []),
    ],
)
def test_due_rungs_repeat_the_last_rung_until_accepted(request_facts, now, expected):
    """(level, repeat) of each rung due: the repeating rung once per period, missed ones not made up."""
    due = ladder.due_rungs(request_facts, URGENT, now, TZ, policy.SERVICE_HOURS)
    assert [(r.step.level, r.repeat) for r in due] == expected


def test_next_check_keeps_coming_while_the_repeating_rung_holds():
    """After the last rung the next check is the next repeat; once accepted, the 4-hour rung."""
    created = local(1, 23)
    check = ladder.next_check_at(repeat_facts("open", created, 4, 0), URGENT, TZ, policy.SERVICE_HOURS)
    assert check == local(2, 0, 10)
    assert ladder.next_check_at(repeat_facts("open", created, 4, 7), URGENT, TZ, policy.SERVICE_HOURS) == local(2, 1, 20)
    assert ladder.next_check_at(repeat_facts("acknowledged", created, 4, 7), URGENT, TZ,
                                policy.SERVICE_HOURS) == local(2, 3)
    assert ladder.next_check_at(repeat_facts("acknowledged", created, 6, 0), URGENT, TZ, policy.SERVICE_HOURS) is None
    assert ladder.next_check_at(repeat_facts("cancelled", created, 4, 7), URGENT, TZ, policy.SERVICE_HOURS) is None


def test_cases_hanging_with_one_person_repeat_together():
    """Repeats fall on a shared grid: cases that reached the last rung minutes apart repeat in the
    same scan, so the person on duty gets one push per repeat, not one every few minutes per case."""
    times = []
    for minute in (1, 4, 8):
        facts = repeat_facts("open", local(1, 23, minute), 4, 0)
        times.append(ladder.next_check_at(facts, URGENT, TZ, policy.SERVICE_HOURS))
    assert times == [local(2, 0, 10), local(2, 0, 10), local(2, 0, 20)]
    later = [ladder.next_check_at(repeat_facts("open", local(1, 23, minute), 4, 3), URGENT, TZ, policy.SERVICE_HOURS)
             for minute in (1, 4)]
    assert later == [local(2, 0, 40), local(2, 0, 40)]


def test_levels_only_climb_and_the_city_rung_is_the_third():
    """Each ladder's levels rise in table order; the city is reached at level 3 in both."""
    for steps in (URGENT, NORMAL):
        assert [s.level for s in steps] == sorted({s.level for s in steps})
        assert ladder.city_level(steps) == 3
    assert [s.level for s in URGENT if s.repeat_every] == [4]


def test_no_rung_alerts_a_whole_level():
    """Every rung names single people of the chain, never "all town officers" or "all supervisors"."""
    roles = {"assignee", "responsible_officer", "deputy_officer", "liaison", "deputy_liaison", "on_duty"}
    for steps in policy.ESCALATION_LADDER.values():
        for step in steps:
            assert step.notify and set(step.notify) <= roles
