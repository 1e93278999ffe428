"""The demos' 报平安: who lives alone and is on which plan, a history of check-ins and silences
consistent with each beneficiary's last check-in and last contact, and the daily figures built from it.

Both demos are seeded once per module into databases of their own (read-only afterwards): the small
town played through the services (seed 7) and the generated city in a tiny shape (seed 11). The
reference city's 110,000 are not loaded here: its plans are drawn as the city draws them.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from config import policy
from devtools import demo, demo_checkins, demo_city, demo_city_checkins, demo_history, demo_small_checkins
from models import (Beneficiary, BeneficiaryCategoryLink, Checkin, DailyCheckinFigures, ServiceRequest, Silence,
                    Visit)
from models.enums import BeneficiaryCategory, CheckinPlan, ContactKind, RequestCategory, RequestSource, RequestStatus
from services.pii import PiiCipher
from services.policy import checkin_rate
from tests.devtools.test_demo_history import ENV, NOW, TINY, TZ, _seeded

PII = PiiCipher("k" * 40)
ALONE_CATEGORIES = {BeneficiaryCategory.TEKUN.value, BeneficiaryCategory.LIUSHOU_ELDERLY.value}
CHILDREN = {BeneficiaryCategory.LIUSHOU_CHILD.value, BeneficiaryCategory.ORPHAN.value}


@pytest.fixture(scope="module")
def small(databases):
    """The small demo with its history."""
    yield from _seeded(databases, lambda s: demo.seed_small(s, PII, NOW, seed=7, env=ENV))


@pytest.fixture(scope="module")
def city(databases):
    """The generated city, in a tiny shape."""
    yield from _seeded(databases, lambda s: demo_city.seed_city(s, PII, NOW, tz=TZ, seed=11, shape=TINY))


@pytest.fixture(params=["small", "city"])
def seeded(request):
    """Each demo in turn."""
    return request.getfixturevalue(request.param)


def _categories(session) -> dict[int, set[str]]:
    """Each beneficiary's categories."""
    found = defaultdict(set)
    for beneficiary_id, category in session.execute(select(BeneficiaryCategoryLink.beneficiary_id,
                                                           BeneficiaryCategoryLink.category)):
        found[beneficiary_id].add(category)
    return found


def _local_remind(day) -> datetime:
    """The 10:00 of a local day, as an aware datetime."""
    return datetime.combine(day, policy.CHECKIN_REMIND_AT, TZ)


def test_the_reference_city_has_20000_on_daily_plans():
    """Drawn as the city draws them (categories, living alone, plans), 110,000 people give at least
    the 20,000 daily plans the morning scan's benchmark needs, and some weekly ones set by staff."""
    people, plans = random.Random(19), random.Random(20)
    daily = weekly = 0
    for _ in range(demo_city.CITY.beneficiaries):
        cats = [c.value for c in demo._categories(people)]
        alone = demo_checkins.lives_alone(plans, cats, bool(CHILDREN.intersection(cats)))
        plan, _ = demo_checkins.plan_for(plans, cats, alone)
        daily += plan == CheckinPlan.DAILY.value
        weekly += plan == CheckinPlan.WEEKLY.value
    assert daily >= 20_000
    assert 500 <= weekly < daily / 5


def test_a_plausible_share_lives_alone(city):
    """About half of 特困 and 留守老人 live alone, few others, no child; their plans follow, with a few set by staff."""
    session = city
    cats = _categories(session)
    people = session.execute(select(Beneficiary.id, Beneficiary.lives_alone, Beneficiary.checkin_plan,
                                    Beneficiary.checkin_plan_by_staff)).all()
    listed = [p for p in people if cats[p.id] & ALONE_CATEGORIES and not cats[p.id] & CHILDREN]
    others = [p for p in people if not cats[p.id] & ALONE_CATEGORIES and not cats[p.id] & CHILDREN]
    assert 0.4 <= sum(p.lives_alone for p in listed) / len(listed) <= 0.7
    assert sum(p.lives_alone for p in others) / len(others) <= 0.25
    assert not any(p.lives_alone for p in people if cats[p.id] & CHILDREN)
    # Nobody is on a daily plan by default without living alone in a listed category.
    for p in people:
        if not p.checkin_plan_by_staff:
            assert (p.checkin_plan == CheckinPlan.DAILY.value) == bool(p.lives_alone and cats[p.id] & ALONE_CATEGORIES)
    assert any(p.checkin_plan_by_staff and p.checkin_plan == CheckinPlan.WEEKLY.value for p in people)
    assert sum(p.checkin_plan == CheckinPlan.DAILY.value for p in people) >= 0.15 * len(people)


def test_checkins_agree_with_each_last_checkin_and_contact(seeded):
    """Every beneficiary's last check-in is their latest Checkin row, in their own village, from
    someone on a plan; the last contact is never older than the last check-in or the last visit."""
    session = seeded
    latest = dict(session.execute(select(Checkin.beneficiary_id, func.max(Checkin.checked_at))
                                  .group_by(Checkin.beneficiary_id)).all())
    visited = dict(session.execute(select(Visit.beneficiary_id, func.max(Visit.visited_at))
                                   .group_by(Visit.beneficiary_id)).all())
    people = session.scalars(select(Beneficiary)).all()
    assert latest, "the demo has check-ins"
    for person in people:
        assert person.last_checkin_at == latest.get(person.id)
        if person.id in latest:
            assert person.checkin_plan != CheckinPlan.OFF.value
        for seen in (person.last_checkin_at, visited.get(person.id)):
            if seen is not None:
                assert person.last_contact_at is not None and person.last_contact_at >= seen
        assert (person.last_contact_at is None) == (person.last_contact_kind is None)
        if person.last_contact_at is not None and person.last_contact_at == person.last_checkin_at:
            assert person.last_contact_kind == ContactKind.CHECKIN.value
    village = {p.id: p.village_id for p in people}
    for beneficiary_id, village_id in session.execute(select(Checkin.beneficiary_id, Checkin.village_id)):
        assert village_id == village[beneficiary_id]
    assert all(at <= NOW for at in latest.values())


def test_most_daily_plans_check_in_most_days(seeded):
    """Over the weeks kept, people on a daily plan check in on most days; some miss a few."""
    session = seeded
    days = session.execute(select(Checkin.beneficiary_id, Checkin.checked_at)
                           .join(Beneficiary, Beneficiary.id == Checkin.beneficiary_id)
                           .where(Beneficiary.checkin_plan == CheckinPlan.DAILY.value)).all()
    by_person = defaultdict(set)
    for beneficiary_id, at in days:
        by_person[beneficiary_id].add(at.astimezone(TZ).date())
    today = NOW.astimezone(TZ).date()
    first = min(min(d) for d in by_person.values())
    span = (today - first).days  # whole days before today
    assert span <= max(demo_city_checkins.CHECKIN_DAYS, demo_small_checkins.CHECKIN_DAYS)
    shares = [len({day for day in d if day < today}) / span for d in by_person.values() if min(d) == first]
    assert sum(shares) / len(shares) >= 0.85
    assert any(share < 1 for share in shares)


def test_silences_follow_the_check_ins(seeded):
    """A silence is a period with no check-in by 10:00; most end with a late check-in, a few are
    raised as a 联系 case from the silence, which the assistant took up and closed."""
    session = seeded
    morning = defaultdict(set)  # beneficiary -> local days with a check-in before 10:00
    for beneficiary_id, at in session.execute(select(Checkin.beneficiary_id, Checkin.checked_at)):
        local = at.astimezone(TZ)
        if local.time() < policy.CHECKIN_REMIND_AT:
            morning[beneficiary_id].add(local.date())
    silences = session.scalars(select(Silence)).all()
    assert silences
    for silence in silences:
        if silence.plan == CheckinPlan.DAILY.value:
            assert silence.period_start not in morning[silence.beneficiary_id]
        assert silence.created_at <= NOW
        if silence.ended_at is not None:
            assert silence.ended_by in {k.value for k in ContactKind}
            assert silence.ended_at >= _local_remind(silence.period_start) or silence.plan == CheckinPlan.WEEKLY.value
    raised = [s for s in silences if s.raised_at is not None]
    assert raised and len(raised) < len(silences)
    assert any(s.ended_by == ContactKind.CHECKIN.value for s in silences)
    for silence in raised:
        case = session.get(ServiceRequest, silence.request_id)
        assert case.category == RequestCategory.CHECK_ON.value and case.source == RequestSource.SILENCE.value
        assert case.beneficiary_id == silence.beneficiary_id and case.created_at == silence.raised_at
        assert case.raised_by_wechat_user_id is None
        assert silence.raised_at.astimezone(TZ).time() == policy.CHECKIN_RAISE_AT
        if case.status in (RequestStatus.RESOLVED.value, RequestStatus.CLOSED.value):
            assert silence.ended_by == ContactKind.STAFF.value and silence.ended_at == case.acknowledged_at


def test_the_simulator_s_first_person_checks_in_every_day(small):
    """The first persona's beneficiary lives alone on a daily plan, checks in every morning, has no silence."""
    session = small
    first = session.scalars(select(Beneficiary).order_by(Beneficiary.id).limit(1)).one()
    assert first.lives_alone and first.checkin_plan == CheckinPlan.DAILY.value
    assert session.scalar(select(func.count()).select_from(Checkin).where(Checkin.beneficiary_id == first.id)) >= 30
    assert session.scalar(select(func.count()).select_from(Silence).where(Silence.beneficiary_id == first.id)) == 0
    others = session.scalars(select(Beneficiary).order_by(Beneficiary.id).offset(1).limit(demo.WALK_PEOPLE - 1)).all()
    assert all(p.checkin_plan == CheckinPlan.OFF.value for p in others)


def test_local_times_are_sane():
    """The shared shape's times of day: mornings before 10:00, late check-ins between 10:00 and 16:00."""
    assert max(demo_checkins.MORNING_MINUTES) < policy.CHECKIN_REMIND_AT.hour * 60
    assert min(demo_checkins.LATE_MINUTES) > policy.CHECKIN_REMIND_AT.hour * 60
    assert max(demo_checkins.LATE_MINUTES) < policy.CHECKIN_RAISE_AT.hour * 60
    assert time(policy.CHECKIN_RAISE_AT.hour) == policy.CHECKIN_RAISE_AT


def test_the_daily_checkin_figures_cover_the_history(seeded):
    """The demo's daily 报平安 figures run from the history's first day to today, and over it they
    hold every check met and every family reminded."""
    session = seeded
    first, today = demo_history.Window(NOW, TZ).first, NOW.astimezone(TZ).date()
    assert session.execute(select(func.min(DailyCheckinFigures.day), func.max(DailyCheckinFigures.day))).one() \
        == (first, today)
    days = defaultdict(set)
    for person, at in session.execute(select(Checkin.beneficiary_id, Checkin.checked_at)):
        days[person].add(at.astimezone(TZ).date())
    met = 0
    for person, plan in session.execute(select(Beneficiary.id, Beneficiary.checkin_plan).where(
            Beneficiary.active.is_(True), Beneficiary.checkin_plan.in_(checkin_rate.PLANS))):
        for check in checkin_rate.check_days(plan, first, today):
            start, end = checkin_rate.window(plan, check)
            met += any(start <= day <= end for day in days[person])
    reminded = sum(first <= at.astimezone(TZ).date() <= today for at in session.scalars(
        select(Silence.reminded_at).where(Silence.reminded_at.is_not(None))))
    assert met > 100
    assert session.execute(select(func.sum(DailyCheckinFigures.received),
                                  func.sum(DailyCheckinFigures.reminded))).one() == (met, reminded)
