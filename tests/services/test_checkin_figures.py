"""报平安 figures on a small hand-built week in two towns: the check-in rate, silences, time to resolve,
the scope, the town digest's line and the figures page's section, each against numbers worked out by hand.

The week is Monday 2 to Sunday 8 November 2026; "today" is Monday 9 November, so the rate counts the
seven days 2-8. Town A (柳河镇): a1 daily in 东湾村 checks in 2-6 (twice on the 3rd); a2 daily in 东湾村,
registered on the 5th, checks in the 5th and the 8th; a3 weekly in 南岭村 checks in Saturday the 7th
(after Friday's check: no); a4 weekly in 南岭村 checks in Wednesday the 4th (yes). Town B (青湖镇): b1
daily checks in every day, b2 daily never. Not counted: a plan "off" with check-ins, an inactive person.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest
from sqlalchemy import select

from models import Beneficiary, Checkin, OutboxMessage, ServiceRequest, Silence, Staff
from models.enums import CheckinPlan, CheckinSource, ContactKind, RegionLevel, RequestSource, StaffRole
from services import checkin_figures, daily_checkin_figures, figures, reminders
from services.scope import scope_for
from tests.support.factories import Town, make_beneficiary, make_region, make_staff, make_town
from tests.support.figures_history import TZ, local

WEEK = (date(2026, 11, 2), date(2026, 11, 8))
TODAY = date(2026, 11, 9)


@dataclass
class World:
    """Town A (the factory's), town B and its staff."""

    a: Town
    assistant_b: Staff
    officer_b: Staff


def _person(session, village, plan: str, assistant=None, registered=None, days=(), active=True) -> Beneficiary:
    """Someone on `plan` who checked in at 09:00 on each of `days` (of November)."""
    person = make_beneficiary(session, village, registered or local(10, 1, 9), assistant=assistant)
    person.checkin_plan, person.checkin_plan_by_staff, person.active = plan, True, active
    for day in days:
        session.add(Checkin(beneficiary_id=person.id, village_id=village.id, source=CheckinSource.MENU.value,
                            checked_at=local(11, day, 9)))
    session.flush()
    return person


def _silence(session, person, period: date, *, plan="daily", reminded=None, raised=None, resolved=None,
             ended=None) -> None:
    """A silence of `person`, with its 联系 case when raised."""
    request_id = None
    if raised is not None:
        case = ServiceRequest(
            beneficiary_id=person.id, village_id=person.village_id, town_id=person.village.parent_id, category="联系",
            urgency="normal", status="resolved" if resolved else "open", summary="未报平安",
            source=RequestSource.SILENCE.value, created_at=raised, updated_at=raised, resolved_at=resolved,
            assignee_staff_id=person.assignments[-1].staff_id)
        session.add(case)
        session.flush()
        request_id = case.id
    session.add(Silence(
        beneficiary_id=person.id, village_id=person.village_id, town_id=person.village.parent_id, plan=plan,
        period_start=period, reminded_at=reminded, raised_at=raised, request_id=request_id, ended_at=ended,
        ended_by=ContactKind.MESSAGE.value if ended else None, created_at=local(period.month, period.day, 10)))
    session.flush()


def build(session) -> World:
    """The week described above, with its silences; committed."""
    registered = local(10, 1, 9)
    a = make_town(session, registered)
    town_b = make_region(session, RegionLevel.TOWN, a.city, registered, name="青湖镇")
    village_b = make_region(session, RegionLevel.VILLAGE, town_b, registered, name="北塘村")
    assistant_b = make_staff(session, StaffRole.ASSISTANT, village_b, registered, name="赵六", openid="o-b-assistant")
    officer_b = make_staff(session, StaffRole.TOWN_OFFICER, town_b, registered, openid="o-b-officer")
    daily, weekly = CheckinPlan.DAILY.value, CheckinPlan.WEEKLY.value
    a1 = _person(session, a.village, daily, a.assistant, days=(1, 2, 3, 3, 4, 5, 6, 9))
    a2 = _person(session, a.village, daily, a.assistant, registered=local(11, 5, 10), days=(5, 8))
    a3 = _person(session, a.other_village, weekly, a.other_assistant, days=(7,))
    _person(session, a.other_village, weekly, a.other_assistant, days=(4,))
    _person(session, a.village, CheckinPlan.OFF.value, a.assistant, days=range(1, 10))
    _person(session, a.village, daily, a.assistant, days=(2,), active=False)
    _person(session, village_b, daily, assistant_b, days=range(2, 9))
    b2 = _person(session, village_b, daily, assistant_b)
    # Town A: a1 raised on the 7th (resolved in 1.5 h) and the 8th (resolved next morning, 17 h); a2
    # reminded on the 6th and heard from at 11:00; a3 raised on Friday the 6th, still open; a1's
    # silence of 31 October is outside the week; a2's unreminded silence of the 8th is not counted.
    _silence(session, a1, date(2026, 11, 7), reminded=local(11, 7, 10), raised=local(11, 7, 16),
             resolved=local(11, 7, 17, 30))
    _silence(session, a1, date(2026, 11, 8), reminded=local(11, 8, 10), raised=local(11, 8, 16),
             resolved=local(11, 9, 9))
    _silence(session, a2, date(2026, 11, 6), reminded=local(11, 6, 10), ended=local(11, 6, 11))
    _silence(session, a2, date(2026, 11, 8), ended=local(11, 8, 12))
    _silence(session, a3, date(2026, 11, 2), plan=weekly, reminded=local(11, 6, 10), raised=local(11, 6, 16))
    _silence(session, a1, date(2026, 10, 31), reminded=local(10, 31, 10), raised=local(10, 31, 16),
             resolved=local(10, 31, 16, 30))
    # Town B: b2 raised on the 3rd, resolved in half an hour.
    _silence(session, b2, date(2026, 11, 3), reminded=local(11, 3, 10), raised=local(11, 3, 16),
             resolved=local(11, 3, 16, 30))
    session.commit()
    return World(a, assistant_b, officer_b)


@pytest.fixture
def world(session, clock):
    """The hand-built week, and the daily figures the scheduler keeps; the clock on Monday 9 November, 08:30."""
    clock.now = local(11, 9, 8, 30)
    built = build(session)
    daily_checkin_figures.rebuild_recent(session, clock(), TZ)
    session.commit()
    return built


def run(session, staff, level="town"):
    """The week's figures as `staff` sees them on the 9th: the total and the rows by name."""
    result = figures.service_figures(session, scope_for(staff), *WEEK, TZ, level=level, today=TODAY)
    return result.total.checkins, {row.name: row.checkins for row in result.rows}


def test_city_rate_silences_and_resolve_times(session, world):
    """Per town and for the city: expected, received, rate, reminders, silences raised and resolved."""
    total, rows = run(session, world.a.supervisor)
    assert set(rows) == {"柳河镇", "青湖镇"}
    town_a, town_b = rows["柳河镇"], rows["青湖镇"]
    # A: a1 7 days, a2 4 (from the 5th), a3 and a4 one Friday each; received 5 + 2 + 0 + 1.
    assert (town_a.on_plan, town_a.expected, town_a.received) == (4, 13, 8)
    assert town_a.rate == pytest.approx(8 / 13)
    # B: two daily plans, 7 days each; b1 every day.
    assert (town_b.on_plan, town_b.expected, town_b.received, town_b.rate) == (2, 14, 7, 0.5)
    assert (total.on_plan, total.expected, total.received) == (6, 27, 15)
    # Silences in A: raised 3 (one open), reminded 4, one ended after the reminder; resolved in 1.5 h and 17 h.
    assert (town_a.raised, town_a.resolved, town_a.unresolved, town_a.resolved_fast) == (3, 2, 1, 1)
    assert (town_a.reminded, town_a.ended_by_reminder) == (4, 1)
    assert town_a.median_hours == pytest.approx(9.25)
    assert town_a.fast_share == pytest.approx(1 / 3)
    # The city adds B's half hour: 0.5, 1.5, 17.
    assert (total.raised, total.resolved, total.resolved_fast, total.reminded) == (4, 3, 2, 5)
    assert total.median_hours == pytest.approx(1.5)


def test_today_is_not_counted_and_without_today_every_day_is(session, world):
    """A period ending today counts up to yesterday; with no `today` every day of the period counts."""
    scope = scope_for(world.a.supervisor)
    numbers = checkin_figures.period_numbers(session, scope, date(2026, 11, 2), TODAY, TZ, "town", today=TODAY)
    assert (numbers["total"].expected, numbers["total"].received) == (27, 15)
    numbers = checkin_figures.period_numbers(session, scope, date(2026, 11, 9), TODAY, TZ, "town", today=TODAY)
    assert numbers["total"].expected == 0 and numbers["total"].rate is None
    numbers = checkin_figures.period_numbers(session, scope, date(2026, 11, 2), TODAY, TZ, "town")
    # The 9th too: four daily plans owe one more each; a1 checked in.
    assert (numbers["total"].expected, numbers["total"].received) == (31, 16)


def test_town_officer_sees_only_the_town_by_village(session, world):
    """Per village within town A; nothing of town B, in the rows or the total."""
    total, rows = run(session, world.a.officer, level="village")
    assert set(rows) == {"东湾村", "南岭村"}
    east, south = rows["东湾村"], rows["南岭村"]
    assert (east.on_plan, east.expected, east.received, east.raised, east.reminded) == (2, 11, 7, 2, 3)
    assert (south.on_plan, south.expected, south.received, south.raised, south.reminded) == (2, 2, 1, 1, 1)
    assert (total.expected, total.received, total.raised) == (13, 8, 3)
    total_b, rows_b = run(session, world.officer_b, level="village")
    assert set(rows_b) == {"北塘村"} and (total_b.expected, total_b.raised) == (14, 1)


def test_assistant_sees_only_their_people(session, world):
    """王芳 has a1 and a2: 11 expected, 7 received, a1's two raised silences."""
    total, rows = run(session, world.a.assistant, level="assistant")
    assert set(rows) == {"王芳（%s）" % world.a.assistant.staff_no}
    assert (total.on_plan, total.expected, total.received, total.raised, total.reminded) == (2, 11, 7, 2, 3)


def test_town_digest_has_yesterdays_checkin_line(app, session, world, clock):
    """Sunday the 8th: in A a1 and a2 owed a check-in and a2 sent one, a1's silence was raised; in B
    b1 checked in, b2 did not (no silence raised that day)."""
    env = app.extensions["sanzhida"].request_env
    reminders.town_digests(session, env, clock())
    texts = {row.idempotency_key.split(":")[1]: row.payload["text"] for row in session.scalars(
        select(OutboxMessage).where(OutboxMessage.idempotency_key.like("digest-town:%")))}
    assert "\n昨天报平安：应报2人，已报1人（50%）；未报转协理员1件。\n" in texts[str(world.a.officer.id)]
    assert "\n昨天报平安：应报2人，已报1人（50%）；未报转协理员0件。\n" in texts[str(world.officer_b.id)]


def test_town_digest_leaves_the_line_out_without_plans(app, session, clock):
    """A town where nobody is on a plan gets no 报平安 line."""
    town = make_town(session, local(10, 1, 9))
    clock.now = local(11, 9, 8, 30)
    reminders.town_digests(session, app.extensions["sanzhida"].request_env, clock())
    text = session.scalars(select(OutboxMessage.payload).where(
        OutboxMessage.idempotency_key == f"digest-town:{town.officer.id}:2026-11-09")).one()["text"]
    assert "报平安" not in text


def test_figures_page_shows_the_checkin_section(client, session, world):
    """The town officer's page: the section, A's villages with their rates, the total, nothing of B."""
    from services import accounts
    from tests.bot.office.test_pages import sign_in
    from tests.support.office import PASSWORD

    accounts.set_password(session.get(Staff, world.a.officer.id), PASSWORD, local(11, 9, 8))
    session.commit()
    sign_in(client, world.a.officer.staff_no)
    response = client.get("/office/figures?from=2026-11-02&to=2026-11-09&level=village")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    section = html[html.index('id="checkins"'):html.index('id="checkins-note"')]
    assert "<h2>报平安</h2>" in html and "周五" in html
    assert "<td>东湾村</td>\n    <td>2</td><td>11</td><td>7</td><td>64%</td>" in section
    assert "<td>合计</td>\n    <td>4</td><td>13</td><td>8</td><td>62%</td>" in section
    assert "<td>9.2</td>" in section  # median hours, 9.25
    assert "北塘村" not in section
