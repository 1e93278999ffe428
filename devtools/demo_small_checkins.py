"""The small town's 报平安, played through the real services: who lives alone and is on which plan,
then five weeks of check-ins, the 10:00 and 16:00 scans of every day, and the assistant taking up
each 联系 case the 16:00 scan opens.

Check-ins are recorded with `checkins.record_checkin` by the relative bound for them, the scans are
`silences.remind_families` and `silences.raise_silences` at their own times, and the cases are
accepted and resolved with `casework`, so silences, reminders, cases and each person's last
check-in and last contact are what the running system would have left. How people behave comes from
`demo_checkins`, as the city's does. The relatives are the demo's (notices off, not on WeChat), so
the scans remind nobody and nothing is queued.

The first person (the simulator's first family persona) lives alone, is on a daily plan and never
misses a morning; the other personas live with family and have no plan, so the README's other walks
see no reminders.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select

from devtools import demo_checkins as checkins
from devtools import demo_history as history
from models import Beneficiary, FamilyLink, ServiceRequest
from models.enums import OPEN_STATUSES, BeneficiaryCategory, CheckinPlan, CheckinSource, RequestCategory, RequestSource
from services import casework, silences
from services import checkins as checkin_service

# The small town began 报平安 five weeks ago: enough for a month's figures, and every check-in and
# scan played through the services costs the seed (and each browser test that loads it) time.
CHECKIN_DAYS = 35
CHILDREN = {BeneficiaryCategory.LIUSHOU_CHILD.value, BeneficiaryCategory.ORPHAN.value}
# When the assistant takes up and closes the day's 联系 cases: they call round after the 16:00 push.
FOLLOW_AFTER = timedelta(minutes=45)
RESOLVE_AFTER = timedelta(minutes=100)


def settle_plans(rng: random.Random, people: list[Beneficiary], walk_people: int) -> None:
    """Living alone and the check-in plan of each person; the personas' as the module says."""
    for n, person in enumerate(people):
        cats = person.category_names
        alone = checkins.lives_alone(rng, cats, bool(CHILDREN.intersection(cats)))
        plan, by_staff = checkins.plan_for(rng, cats, alone)
        if n == 0:
            alone = True
            if plan != CheckinPlan.DAILY.value:
                plan, by_staff = CheckinPlan.DAILY.value, True
        elif n < walk_people:
            alone, plan, by_staff = False, CheckinPlan.OFF.value, False
        person.lives_alone, person.checkin_plan, person.checkin_plan_by_staff = alone, plan, by_staff
    # Sixty people are few for the shares: make sure the town shows a weekly plan staff set.
    if not any(p.checkin_plan == CheckinPlan.WEEKLY.value for p in people):
        alone = [p for p in people[walk_people:] if p.lives_alone]
        if alone:
            alone[-1].checkin_plan, alone[-1].checkin_plan_by_staff = CheckinPlan.WEEKLY.value, True


def add_checkins(story, people: list, walkers: set[int]) -> None:
    """The check-ins of everyone on a plan and the scans of each day, as steps of `story` (demo_small._Story)."""
    rng = random.Random(f"sanzhida-demo-checkins:{story.rng.random()}")  # nosec B311  # demo data
    window, now = story.window, story.now
    first = window.days - CHECKIN_DAYS + 1
    days = [window.day(i) for i in range(window.days + 1)]
    # One person forgets on a recent Sunday (a day without visits) and nobody calls them by 16:00,
    # so the town shows a silence raised, whatever the seed.
    sunday = max(day for day in range(first, window.days - 2) if days[day].weekday() == 6)
    forgets = next((p.id for p, _, _ in people
                    if p.checkin_plan == CheckinPlan.DAILY.value and p.id not in walkers), None)
    for person, _, since in people:
        if person.checkin_plan == CheckinPlan.OFF.value:
            continue
        user = story.relative(person, since, window.mornings[first])
        _bound_by(story.session, person, user, max(since, window.mornings[first] - timedelta(days=rng.randint(1, 30))))
        start = max(first, window.index(user.created_at) + 1)
        steady = 1.0 if person.id in walkers else checkins.reliability(rng)
        for period in checkins.periods(rng, person.checkin_plan, window.mornings, days, start, steady, now):
            if period.checkin_at is not None and not (person.id == forgets and period.check == sunday):
                source = CheckinSource(checkins.source(rng))
                story.add(period.checkin_at, _checkin_step(story, person, user, source))
    for day in range(first, window.days + 1):
        morning = window.mornings[day]
        raise_at = morning + checkins.RAISE_AFTER_MORNING
        story.add(morning + checkins.REMIND_AFTER_MORNING, lambda at: silences.remind_families(story.session,
                                                                                               story.env, at))
        story.add(raise_at, lambda at: silences.raise_silences(story.session, story.env, at))
        story.add(raise_at + FOLLOW_AFTER, _follow_step(story, raise_at, resolve=False))
        story.add(raise_at + RESOLVE_AFTER, _follow_step(story, raise_at, resolve=True))


def _bound_by(session, person: Beneficiary, user, at: datetime) -> None:
    """Whoever checks in for the person was bound by `at` (the assistant saw to it when the plan began)."""
    if user.created_at <= at:
        return
    link = session.scalars(select(FamilyLink).where(FamilyLink.beneficiary_id == person.id,
                                                    FamilyLink.wechat_user_id == user.id)).one()
    user.created_at = user.subscribed_at = link.created_at = at


def _checkin_step(story, person: Beneficiary, user, source: CheckinSource) -> Callable[[datetime], None]:
    """The relative taps 报平安 (or writes or says it) for the person."""

    def run(at: datetime) -> None:
        checkin_service.record_checkin(story.session, person, at, source=source, env=story.env, wechat_user=user)

    return run


def _follow_step(story, raised_at: datetime, resolve: bool) -> Callable[[datetime], None]:
    """The assistant accepts (then resolves) the 联系 cases the 16:00 scan opened at `raised_at`."""
    notes = history.RESOLUTION_NOTES[RequestCategory.CHECK_ON]

    def run(at: datetime) -> None:
        session, env = story.session, story.env
        cases = session.scalars(select(ServiceRequest).where(
            ServiceRequest.source == RequestSource.SILENCE.value, ServiceRequest.created_at == raised_at,
            ServiceRequest.status.in_([s.value for s in OPEN_STATUSES])).order_by(ServiceRequest.id)).all()
        for request in cases:
            if request.assignee is None:
                continue
            if resolve:
                casework.resolve(session, env, request, request.assignee, notes[request.id % len(notes)], at)
            elif request.acknowledged_at is None:
                casework.acknowledge(session, env, request, request.assignee, at)

    return run
