"""The city's 报平安: each person's check-ins and silences over the last weeks, as rows.

Part of the people phase (`demo_city_people`): a person's check-ins are made with them, after their
visits, so their `last_checkin_at` and `last_contact_at` are written with them and a visit on a
silent day ends the silence as it would in the app. `demo_checkins` says how people behave. The
silences raised at 16:00 are kept on the run: their 联系 cases are made with the other cases
(`demo_city_cases`), which then write them with their case's id.

Only the last CHECKIN_DAYS are kept: a year of daily check-ins for twenty thousand people is seven
million rows, minutes of loading for a demo whose pages and figures look at the last weeks.
"""

from __future__ import annotations

import bisect
import random
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from devtools import demo_checkins as checkins
from devtools.demo_city_run import CityRun, Person
from models import Checkin, Silence
from models.enums import CheckinPlan, ContactKind

CHECKIN_DAYS = 35
CHECKIN_COLUMNS = ("id", "beneficiary_id", "village_id", "source", "wechat_user_id", "checked_at")


def with_ids(run: CityRun, rows: list[tuple]) -> list[tuple]:
    """Check-in rows (without their id, as `person_checkins` makes them) with fresh ids in front."""
    return [(checkin_id, *row) for checkin_id, row in zip(run.ids(Checkin, len(rows)), rows, strict=True)]
SILENCE_COLUMNS = ("id", "beneficiary_id", "village_id", "town_id", "plan", "period_start", "reminded_at",
                   "raised_at", "request_id", "ended_at", "ended_by", "created_at")
REQUEST_AT = SILENCE_COLUMNS.index("request_id")
OFF = CheckinPlan.OFF.value


@dataclass
class Signs:
    """A person's last check-in and last sign of life of any kind, for their beneficiary row."""

    last_checkin_at: datetime | None = None
    last_contact_at: datetime | None = None
    last_contact_kind: str | None = None

    def saw(self, at: datetime, kind: ContactKind) -> None:
        """A sign of life at `at`: kept when it is the latest."""
        if self.last_contact_at is None or at > self.last_contact_at:
            self.last_contact_at, self.last_contact_kind = at, kind.value


def days_of(run: CityRun) -> list:
    """The window's local dates, by day index."""
    return [run.window.day(i) for i in range(run.window.days + 1)]


def person_checkins(run: CityRun, rng: random.Random, person: Person, name: str, plan: str, notify: bool,
                    visits: list[datetime], days: list, checkin_rows: list[tuple],
                    silence_rows: list[tuple]) -> Signs:
    """Add the person's check-in rows (without ids: `with_ids`) and silence rows (raised silences go to
    the run); returns their last signs."""
    signs = Signs()
    if visits:
        signs.saw(visits[-1], ContactKind.VISIT)
    if plan == OFF or person.family_user_id is None:
        return signs
    window, now = run.window, run.now
    first = max(window.days - CHECKIN_DAYS + 1, window.index(person.since) + 1)
    village = run.villages[person.village]
    town_id = run.town_ids[village.town_index]
    steady = checkins.reliability(rng)
    for period in checkins.periods(rng, plan, window.mornings, days, first, steady, now):
        if period.checkin_at is not None:
            checkin_rows.append((person.id, village.id, checkins.source(rng), person.family_user_id,
                                 period.checkin_at))
            signs.last_checkin_at = period.checkin_at
        if period.outcome == checkins.ON_TIME:
            continue
        morning = window.mornings[period.check]
        remind, raise_at = morning + checkins.REMIND_AFTER_MORNING, morning + checkins.RAISE_AFTER_MORNING
        opened = datetime.combine(period.start, time.min, run.tz)
        if _first_between(visits, opened, remind) is not None:
            continue  # visited this period before 10:00: nobody was silent
        row = [run.ids(Silence, 1)[0], person.id, village.id, town_id, plan, period.start,
               remind if notify else None, None, None, None, None, remind]
        ends = period.checkin_at or (raise_at if raise_at <= now else now)
        visited = _first_between(visits, remind, ends)
        if visited is not None:
            row[9], row[10] = visited, ContactKind.VISIT.value
        elif period.outcome == checkins.LATE:
            if period.checkin_at is not None:
                row[9], row[10] = period.checkin_at, ContactKind.CHECKIN.value
        elif raise_at <= now:
            row[7] = raise_at
            accepted = raise_at + timedelta(minutes=rng.uniform(10, 80))
            if accepted <= now:
                row[9], row[10] = accepted, ContactKind.STAFF.value
                signs.saw(accepted, ContactKind.STAFF)
            run.silence_cases.append((person, name, tuple(row), accepted))
            continue
        silence_rows.append(tuple(row))
    if signs.last_checkin_at is not None:
        signs.saw(signs.last_checkin_at, ContactKind.CHECKIN)
    return signs


def _first_between(times: list[datetime], lo: datetime, hi: datetime) -> datetime | None:
    """The first of sorted `times` in [lo, hi), or None."""
    i = bisect.bisect_left(times, lo)
    return times[i] if i < len(times) and times[i] < hi else None
