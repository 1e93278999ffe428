"""The 包联 chain's pure rules: the default spread, the deputies, office hours and the rota."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from config import policy
from services.policy import chain

TZ = ZoneInfo("Asia/Shanghai")


def local(day: int, hour: int, minute: int = 0) -> datetime:
    """A Shanghai time in December 2026 (the 1st is a Tuesday)."""
    return datetime(2026, 12, day, hour, minute, tzinfo=TZ)


@pytest.mark.parametrize(
    "units, people, expected",
    [
        ("ABC", [], {}),
        ("", ["p"], {}),
        ("ABC", ["p"], {"A": "p", "B": "p", "C": "p"}),
        ("ABCD", ["p", "q"], {"A": "p", "B": "p", "C": "q", "D": "q"}),
        ("ABCDE", ["p", "q"], {"A": "p", "B": "p", "C": "p", "D": "q", "E": "q"}),
        # A third person takes one unit from each of the two holding most.
        ("ABCDEF", ["p", "q", "r"], {"A": "p", "B": "p", "C": "r", "D": "q", "E": "q", "F": "r"}),
        # More people than units: the later ones hold none.
        ("AB", ["p", "q", "r"], {"A": "p", "B": "q"}),
    ],
)
def test_deal_is_a_fixed_table(units, people, expected):
    """The spread of a few small cases, written out: a change to the rule shows here."""
    assert chain.deal(list(units), people) == expected


@pytest.mark.parametrize("villages", [1, 3, 7, 14, 15, 23, 40])
@pytest.mark.parametrize("officers", [1, 2, 4, 5, 6])
def test_deal_is_even_and_an_added_officer_only_takes(villages, officers):
    """Loads differ by one at most; a fifth officer (appended by 工号) takes ⌊V/(n+1)⌋ villages and
    nobody else's villages move."""
    units = [f"V{i:03d}" for i in range(villages)]
    people = [f"T{i:04d}" for i in range(officers)]
    before = chain.deal(units, people)
    loads = Counter(before.values())
    assert set(before) == set(units)
    assert max(loads.values()) - min(loads.get(p, 0) for p in people) <= 1
    assert chain.deal(units, people) == before, "deterministic"
    newcomer = "T9999"
    after = chain.deal(units, [*people, newcomer])
    moved = {u for u in units if after[u] != before[u]}
    assert all(after[u] == newcomer for u in moved)
    assert len(moved) == villages // (officers + 1)
    loads = Counter(after.values())
    assert max(loads.values()) - min(loads.get(p, 0) for p in [*people, newcomer]) <= 1


@pytest.mark.parametrize(
    "responsible, people, expected",
    [
        (None, ["a", "b"], None),
        ("a", ["a"], None),
        ("x", ["a", "b"], None),
        ("a", ["a", "b"], "b"),
        ("b", ["a", "b"], "a"),
        ("c", ["a", "b", "c"], "a"),
        ("a", ["a", "b", "c", "d"], "c"),
        ("d", ["a", "b", "c", "d", "e"], "a"),
    ],
)
def test_deputy_is_half_way_round(responsible, people, expected):
    """The next one with two or three people; half-way round with more."""
    assert chain.deputy_for(responsible, people) == expected


def test_eighteen_departments_and_thirty_six_liaisons_give_each_liaison_one_role():
    """The source's figures: 18 departments, 2 liaisons each, 36 people, nobody twice."""
    departments = [(code, None, None) for code, _ in sorted(policy.DEPARTMENTS)]
    liaisons = [f"C{i:04d}" for i in range(1, 37)]
    filled = chain.fill(departments, liaisons)
    roles = [p for pair in filled.values() for p in (pair.responsible, pair.deputy)]
    assert len(roles) == len(set(roles)) == 36
    assert all(pair.responsible != pair.deputy for pair in filled.values())


@pytest.mark.parametrize(
    "named, people, expected",
    [
        # Nothing named: the spread, with the deputy half-way round.
        ([("v1", None, None), ("v2", None, None)], ["a", "b"], {"v1": ("a", "b"), "v2": ("b", "a")}),
        # Named: as named; the others keep their default.
        ([("v1", "b", "a"), ("v2", None, None)], ["a", "b"], {"v1": ("b", "a"), "v2": ("b", "a")}),
        # A named responsible without a deputy gets the default deputy of that person.
        ([("v1", "b", None)], ["a", "b", "c"], {"v1": ("b", "c")}),
        # A name no longer eligible (inactive, moved) counts as not named.
        ([("v1", "gone", "gone")], ["a", "b"], {"v1": ("a", "b")}),
        # A deputy equal to the responsible is replaced.
        ([("v1", "a", "a")], ["a", "b"], {"v1": ("a", "b")}),
        # One officer: no deputy. None at all: nobody.
        ([("v1", None, None)], ["a"], {"v1": ("a", None)}),
        ([("v1", "a", None)], [], {"v1": (None, None)}),
    ],
)
def test_fill_names_first_then_spreads(named, people, expected):
    """Who answers for each unit, as named or by default."""
    filled = chain.fill(named, people)
    assert {unit: (pair.responsible, pair.deputy) for unit, pair in filled.items()} == expected


@pytest.mark.parametrize(
    "moment, expected",
    [
        (local(1, 8, 29), False),  # Tuesday, before opening
        (local(1, 8, 30), True),
        (local(1, 17, 29), True),
        (local(1, 17, 30), False),
        (local(1, 23), False),
        (local(5, 10), False),  # Saturday
        (local(6, 10), False),  # Sunday
        (local(7, 9), True),  # Monday
    ],
)
def test_office_hours(moment, expected):
    """08:30-17:30, Monday to Friday."""
    assert chain.in_office_hours(moment, TZ, policy.OFFICE_HOURS, policy.OFFICE_DAYS) is expected


def test_on_duty_is_the_shift_covering_now_and_at_a_handover_the_newcomer():
    """A night shift across midnight covers both sides; at an overlap, the one that began last."""
    night = chain.Shift(1, 10, local(1, 17, 30), local(2, 8, 30))
    early = chain.Shift(2, 11, local(2, 8), local(2, 17, 30))
    assert chain.on_duty([night, early], local(1, 23, 59)) == 10
    assert chain.on_duty([night, early], local(2, 0, 1)) == 10
    assert chain.on_duty([night, early], local(2, 8, 15)) == 11
    assert chain.on_duty([night, early], local(2, 17, 30)) is None, "the end is not covered"
    assert chain.on_duty([], local(2, 1)) is None


def test_a_week_of_duty_covers_every_hour_outside_office_hours():
    """From the evening before the start to the morning after the seventh day, outside office hours
    there is always a shift and inside them never; weekends are covered by day and by night."""
    start = date(2026, 12, 1)
    shifts = chain.off_hours_week(start, TZ, policy.OFFICE_HOURS, policy.OFFICE_DAYS)
    assert shifts[0][0] == datetime.combine(start - timedelta(days=1), time(17, 30), TZ)
    assert shifts[-1][1] == datetime.combine(start + timedelta(days=7), time(8, 30), TZ)
    moment = shifts[0][0]
    while moment < shifts[-1][1]:
        covered = sum(s <= moment < e for s, e in shifts)
        office = chain.in_office_hours(moment, TZ, policy.OFFICE_HOURS, policy.OFFICE_DAYS)
        assert covered == (0 if office else 1), moment
        moment += timedelta(minutes=15)
    # Saturday 5 December: a day shift and a night shift.
    saturday = [s for s in shifts if s[0].date() == date(2026, 12, 5)]
    assert [(s.time(), e.time()) for s, e in saturday] == [(time(8, 30), time(17, 30)), (time(17, 30), time(8, 30))]
