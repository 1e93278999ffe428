"""The 包联 responsibility chain as pure functions: the default spread of villages among a town's
officers and of departments among the city's liaisons, office hours, and the on-duty rota.

Nothing here reads the clock or a database: `services.responsibility` loads the rows and asks.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

Unit = TypeVar("Unit", bound=Hashable)
Person = TypeVar("Person", bound=Hashable)


def deal(units: Sequence[Unit], people: Sequence[Person]) -> dict[Unit, Person]:
    """Deal `units` out to `people` evenly and deterministically: loads differ by one at most.

    Built person by person, in the order given: the k-th person takes ⌊units/k⌋ units, one at a
    time, each from whoever holds most at that moment (the earlier person on a tie), taking that
    person's last unit. So a person appended at the end of `people` only takes units from the
    others, ⌊units/(n+1)⌋ of them; nobody else's units move.
    """
    if not people:
        return {}
    holdings: list[list[int]] = [list(range(len(units)))]
    for k in range(2, len(people) + 1):
        taken = []
        for _ in range(len(units) // k):
            donor = max(range(len(holdings)), key=lambda i: (len(holdings[i]), -i))
            taken.append(holdings[donor].pop())
        holdings.append(sorted(taken))
    return {units[u]: people[p] for p, held in enumerate(holdings) for u in held}


def deputy_for(responsible: Person | None, people: Sequence[Person]) -> Person | None:
    """The default deputy of `responsible`: the person half-way round `people` from them.

    With two or three people that is simply the next one; with 36 liaisons for 18 departments,
    each department's deputy is one who is responsible for none, so each liaison has one role.
    None when there is nobody else (or `responsible` is not among `people`).
    """
    if responsible is None or len(people) < 2 or responsible not in people:
        return None
    return people[(people.index(responsible) + max(1, len(people) // 2)) % len(people)]


@dataclass(frozen=True)
class Pair:
    """Who answers for a unit (a village, a department), and their deputy."""

    responsible: Hashable | None
    deputy: Hashable | None


def fill(named: Sequence[tuple[Hashable, Hashable | None, Hashable | None]], people: Sequence[Hashable]) -> dict:
    """Each unit's responsible and deputy: as named, else by the default spread.

    `named` holds (unit, responsible or None, deputy or None) for every unit, in a stable order
    (villages by code, departments by code); `people` the ones eligible, in a stable order (by
    工号). A name not among `people` (inactive, moved elsewhere) counts as not named. The default
    responsible is `deal`'s, computed over all units whether named or not, so naming one unit never
    moves another; the default deputy is `deputy_for` the unit's responsible.
    """
    spread = deal([unit for unit, _, _ in named], people)
    eligible = set(people)
    result = {}
    for unit, responsible, deputy in named:
        if responsible not in eligible:
            responsible = spread.get(unit)
        if deputy not in eligible or deputy == responsible:
            deputy = deputy_for(responsible, people)
        result[unit] = Pair(responsible, deputy)
    return result


def in_office_hours(moment: datetime, tz: ZoneInfo, hours: tuple[time, time], days: frozenset[int]) -> bool:
    """Whether `moment` falls in office hours: on an office day (Monday = 0), between the two times."""
    local = moment.astimezone(tz)
    return local.weekday() in days and hours[0] <= local.time() < hours[1]


@dataclass(frozen=True)
class Shift:
    """One duty shift of the rota: [starts_at, ends_at)."""

    id: int
    staff_id: int
    starts_at: datetime
    ends_at: datetime


def on_duty(shifts: Sequence[Shift], now: datetime) -> int | None:
    """Who is on duty at `now`: of the shifts covering it, the one that began last (at a handover,
    the one coming on), the lower id on a tie; None when the rota has a gap."""
    covering = [s for s in shifts if s.starts_at <= now < s.ends_at]
    if not covering:
        return None
    return max(covering, key=lambda s: (s.starts_at, -s.id)).staff_id


def off_hours_week(
    start: date, tz: ZoneInfo, hours: tuple[time, time], days: frozenset[int], length: int = 7
) -> list[tuple[datetime, datetime]]:
    """The stretches outside office hours over `length` days from `start`, as shifts to staff.

    Every night from the close of one day to the opening of the next (so a shift crosses midnight),
    and on days off the office day as well; the first one begins the evening before `start`, the
    last ends on the morning after the last day. Local times, returned aware.
    """
    opening, closing = hours
    shifts = []
    for offset in range(-1, length):
        day = start + timedelta(days=offset)
        if offset >= 0 and day.weekday() not in days:
            shifts.append((datetime.combine(day, opening, tz), datetime.combine(day, closing, tz)))
        shifts.append((datetime.combine(day, closing, tz), datetime.combine(day + timedelta(days=1), opening, tz)))
    return shifts
