"""How the demos' 报平安 behaves: who lives alone, who is on which check-in plan, when people check
in, and the silences noticed when they do not. The small town (`demo_small`, played through the
real services) and the generated city (`demo_city_people`, written in bulk) both draw from here.

The shares are invented but kept plausible. 特困 (extreme-poverty support) is given to people with
nobody able or obliged to support them, so most of those cared for at home live by themselves;
留守老人 are by definition without their children nearby, though many still live with a spouse;
other adults (低保, 残疾) mostly live with family. Children never live alone. Staff now and then set
a plan by hand: daily for someone outside the listed categories who lives alone, weekly for a few
others living alone, and weekly for a few on daily plans whose family lives close by.

Most people on a plan check in every morning; a few forget now and then, a few often. Someone not
heard from by 10:00 is a silence; the family's reminder (or the person remembering) brings most
late check-ins before 16:00; the rest become a 联系 case, which the assistant takes up within the
hour by calling or visiting.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import NamedTuple
from datetime import date, datetime, timedelta

from config import policy
from models.enums import BeneficiaryCategory, CheckinPlan, CheckinSource
from services.policy.checkin import default_plan

# Share of adults who live alone, by category (the highest of a person's categories counts).
LIVES_ALONE = {BeneficiaryCategory.TEKUN.value: 0.6, BeneficiaryCategory.LIUSHOU_ELDERLY.value: 0.5}
OTHER_ADULTS_ALONE = 0.15
# Of the people living alone whose categories give no plan: staff put a few on a daily plan, a few
# more on a weekly one. Of those on a daily plan by default, staff ease a few to weekly.
STAFF_DAILY = 0.1
STAFF_WEEKLY = 0.15
EASED_TO_WEEKLY = 0.02
# How reliably people check in before 10:00 (a share of days): most nearly always, some now and
# then forget, a few often do. (low, high, weight)
RELIABILITY = ((0.95, 0.995, 78), (0.8, 0.95, 18), (0.5, 0.8, 4))
# Of the silences at 10:00, the share ended by a check-in before 16:00 (after the family's call).
LATE_SHARE = 0.95
# How a check-in arrives, one entry per 5 %: the menu button 70 %, the words typed 25 %, said 5 %.
SOURCES = (CheckinSource.MENU.value,) * 14 + (CheckinSource.TEXT.value,) * 5 + (CheckinSource.VOICE.value,)
# Minutes after local midnight of a morning check-in (06:30 to 09:55) and of a late one (10:05 to 15:55).
MORNING_MINUTES = tuple(range(390, 596))
LATE_MINUTES = tuple(range(605, 956))

ON_TIME, LATE, RAISED = "on_time", "late", "raised"


def lives_alone(rng: random.Random, categories: Iterable[str], child: bool) -> bool:
    """Whether a person lives alone, as LIVES_ALONE's shares go; one draw whatever the answer."""
    share = 0.0 if child else max((LIVES_ALONE.get(str(c), OTHER_ADULTS_ALONE) for c in categories),
                                  default=OTHER_ADULTS_ALONE)
    return rng.random() < share


def plan_for(rng: random.Random, categories: Iterable[str], alone: bool) -> tuple[str, bool]:
    """(plan, set by staff): the default plan, now and then changed by staff as the module says."""
    plan = default_plan(categories, alone)
    roll = rng.random()
    if plan == CheckinPlan.DAILY.value:
        return (CheckinPlan.WEEKLY.value, True) if roll < EASED_TO_WEEKLY else (plan, False)
    if alone and roll < STAFF_DAILY:
        return CheckinPlan.DAILY.value, True
    if alone and roll < STAFF_DAILY + STAFF_WEEKLY:
        return CheckinPlan.WEEKLY.value, True
    return plan, False


def reliability(rng: random.Random) -> float:
    """A person's share of periods checked in before 10:00."""
    low, high, _ = rng.choices(RELIABILITY, [w for _, _, w in RELIABILITY])[0]
    return rng.uniform(low, high)


def source(rng: random.Random) -> str:
    """How one check-in arrived (a CheckinSource value)."""
    return SOURCES[int(rng.random() * len(SOURCES))]


class Period(NamedTuple):
    """One plan period of a person: when the scans looked, and how it went.

    `check` is the day index the scans look at it (the day itself, or the week's Friday);
    `outcome` ON_TIME (checked in before 10:00), LATE (silent at 10:00, checked in before 16:00)
    or RAISED (silent at 16:00: a 联系 case); `checkin_at` None when there was no check-in (or it
    has not happened by now).
    """

    start: date
    check: int
    outcome: str
    checkin_at: datetime | None


def periods(rng: random.Random, plan: str, mornings: list[datetime], days: list[date], first: int,
            steady: float, now: datetime) -> list[Period]:
    """A person's periods from day index `first` to today (the last of `days`), as far as `now`.

    `mornings[i]` is local 08:00 of `days[i]` as UTC; a period whose 10:00 is still to come is
    kept only with a morning check-in already made.
    """
    out = []
    remind_offset = _offset(policy.CHECKIN_REMIND_AT)
    if plan == CheckinPlan.DAILY.value:
        checks = [(day, day, day) for day in range(max(first, 0), len(days))]
    elif plan == CheckinPlan.WEEKLY.value:
        checks = []
        for day in range(max(first, 0), len(days) + 7):
            monday = day - (days[0].weekday() + day) % 7
            if (days[0].weekday() + day) % 7 == policy.CHECKIN_WEEKLY_DAY and first <= monday < len(days):
                checks.append((day, monday, min(day, len(days) - 1)))
    else:
        return out
    for check, opens, last in checks:
        roll = rng.random()
        start = days[0] + timedelta(days=opens)
        if roll < steady:
            day = opens + int(rng.random() * (last - opens + 1))
            at = mornings[day] + timedelta(minutes=MORNING_MINUTES[int(rng.random() * len(MORNING_MINUTES))] - 480)
            if at <= now:
                out.append(Period(start, check, ON_TIME, at))
            continue
        if check >= len(days) or mornings[check] + remind_offset > now:
            continue  # the scan has not looked yet
        if roll < steady + (1 - steady) * LATE_SHARE:
            at = mornings[check] + timedelta(minutes=LATE_MINUTES[int(rng.random() * len(LATE_MINUTES))] - 480)
            out.append(Period(start, check, LATE, at if at <= now else None))
        else:
            out.append(Period(start, check, RAISED, None))
    return out


def _offset(at) -> timedelta:
    """How long after 08:00 (the window's mornings) a local time of day is."""
    return timedelta(hours=at.hour - 8, minutes=at.minute)


REMIND_AFTER_MORNING = _offset(policy.CHECKIN_REMIND_AT)
RAISE_AFTER_MORNING = _offset(policy.CHECKIN_RAISE_AT)
