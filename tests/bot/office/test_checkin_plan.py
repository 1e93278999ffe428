"""报平安 on the office dashboard: the beneficiary page shows living alone, the plan and whether staff set
it, the last check-in and the last sign of life; its form sets the plan (staff-set, audited, scoped,
CSRF, bad input a 400 in Chinese); the village list filters by plan and marks who is silent today;
a 联系 case raised by a silence says why on the board and on its page."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from models import AuditEntry, Beneficiary, Silence, Staff
from models.enums import (
    ContactKind,
    RegionLevel,
    RequestCategory,
    RequestChannel,
    RequestSource,
    StaffRole,
    Urgency,
)
from services import accounts
from services import requests as service
from services.policy.classify import Classification
from tests.support.factories import fresh, make_beneficiary, make_region, make_staff, make_town
from tests.support.office import PASSWORD, csrf, signed_in

# The test clock is 2026-12-01 09:00 in Shanghai; these are UTC.
TODAY_0812 = datetime(2026, 12, 1, 0, 12, tzinfo=timezone.utc)
THREE_DAYS_AGO = datetime(2026, 11, 28, 0, 30, tzinfo=timezone.utc)
YESTERDAY_EVENING = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)  # 20:00 local, before today's midnight


@pytest.fixture
def town(session, clock):
    """The factory's town: 陈桂兰 lives alone on the default daily plan, heard from this morning;
    刘大爷 on a daily plan set by staff, last heard from yesterday evening; 吴奶奶 on no plan."""
    world = make_town(session, clock())
    far_town = make_region(session, RegionLevel.TOWN, world.city, clock(), name="青湖镇")
    world.far_officer = make_staff(session, StaffRole.TOWN_OFFICER, far_town, clock(), name="钱多")
    for staff in (world.assistant, world.officer, world.far_officer):
        accounts.set_password(session.get(Staff, staff.id), PASSWORD, clock())
    world.person = make_beneficiary(session, world.village, clock(), assistant=world.assistant, name="陈桂兰")
    world.person.lives_alone, world.person.checkin_plan = True, "daily"
    world.person.last_checkin_at = THREE_DAYS_AGO
    world.person.last_contact_at, world.person.last_contact_kind = TODAY_0812, ContactKind.MESSAGE.value
    world.quiet = make_beneficiary(session, world.village, clock(), assistant=world.assistant, name="刘大爷")
    world.quiet.checkin_plan, world.quiet.checkin_plan_by_staff = "daily", True
    world.quiet.last_checkin_at = world.quiet.last_contact_at = YESTERDAY_EVENING
    world.quiet.last_contact_kind = ContactKind.CHECKIN.value
    world.off = make_beneficiary(session, world.village, clock(), assistant=world.assistant, name="吴奶奶")
    session.commit()
    return world


def text_of(response) -> str:
    """The page's visible text, tags removed and spaces collapsed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


def post_plan(client, person_id: int, **form):
    """Submit the beneficiary page's 报平安 form with the page's own CSRF token."""
    path = f"/office/beneficiaries/{person_id}"
    return client.post(f"{path}/checkin-plan", data={"csrf_token": csrf(client, path), **form})


def plan_audits(session) -> list[AuditEntry]:
    """The audited plan changes, oldest first."""
    fresh(session)
    return list(session.scalars(select(AuditEntry).where(AuditEntry.action == "beneficiary.checkin_plan")
                                .order_by(AuditEntry.id)))


def test_the_beneficiary_page_shows_living_alone_the_plan_and_the_last_signs_of_life(app, town):
    """独居, the plan with where it comes from, the last check-in and the last contact with its kind, in local time."""
    client = signed_in(app, town.officer.staff_no)
    page = text_of(client.get(f"/office/beneficiaries/{town.person.id}"))
    assert "独居 是" in page
    assert "报平安计划 每天 按类别默认" in page
    assert "最近报平安 3天前" in page
    assert "最近音讯 今天 08:12 （留言）" in page
    assert "今天未报平安" not in page, "a message this morning is a sign of life"
    quiet = text_of(client.get(f"/office/beneficiaries/{town.quiet.id}"))
    assert "报平安计划 每天 工作人员设定 今天未报平安" in quiet
    assert "最近报平安 昨天 20:00" in quiet and "（报平安）" in quiet
    off = text_of(client.get(f"/office/beneficiaries/{town.off.id}"))
    assert "独居 否" in off and "报平安计划 关闭" in off and "还没有报过平安" in off


def test_the_form_sets_a_staff_plan_and_back_to_the_default_each_audited(app, town, session):
    """每周 by the town officer sticks as staff-set; 按类别默认 hands it back to the categories. Both audited."""
    client = signed_in(app, town.officer.staff_no)
    answer = post_plan(client, town.person.id, plan="weekly", lives_alone="1")
    assert answer.status_code == 302
    page = text_of(client.get(answer.headers["Location"]))
    assert "已保存：陈桂兰报平安计划为每周（工作人员设定）" in page
    assert "报平安计划 每周 工作人员设定" in page
    fresh(session)
    person = session.get(Beneficiary, town.person.id)
    assert (person.checkin_plan, person.checkin_plan_by_staff, person.lives_alone) == ("weekly", True, True)
    [entry] = plan_audits(session)
    assert entry.actor_staff_id == town.officer.id and entry.target_id == town.person.id
    assert entry.detail == {"lives_alone": True, "plan": "weekly", "plan_by_staff": True}

    assert post_plan(client, town.person.id, plan="default", lives_alone="1").status_code == 302
    fresh(session)
    person = session.get(Beneficiary, town.person.id)
    assert (person.checkin_plan, person.checkin_plan_by_staff) == ("daily", False)
    assert [e.detail["plan"] for e in plan_audits(session)] == ["weekly", "daily"]


def test_living_alone_moves_a_default_plan_and_an_unchanged_form_records_nothing(app, town, session):
    """No longer living alone: the default plan of a 留守老人 turns off; the same form again changes nothing."""
    client = signed_in(app, town.officer.staff_no)
    assert post_plan(client, town.person.id, plan="default", lives_alone="0").status_code == 302
    fresh(session)
    person = session.get(Beneficiary, town.person.id)
    assert (person.lives_alone, person.checkin_plan, person.checkin_plan_by_staff) == (False, "off", False)
    again = post_plan(client, town.person.id, plan="default", lives_alone="0")
    assert "没有改动" in text_of(client.get(again.headers["Location"]))
    assert len(plan_audits(session)) == 1


def test_bad_input_is_a_400_in_chinese_and_changes_nothing(app, town, session):
    """A plan or a living-alone value the form does not offer is refused with a sentence, not a 500."""
    client = signed_in(app, town.officer.staff_no)
    bad_plan = post_plan(client, town.person.id, plan="hourly", lives_alone="1")
    assert bad_plan.status_code == 400 and "报平安计划只能选" in bad_plan.get_data(as_text=True)
    bad_alone = post_plan(client, town.person.id, plan="daily", lives_alone="maybe")
    assert bad_alone.status_code == 400 and "请选择是否独居" in bad_alone.get_data(as_text=True)
    assert post_plan(client, town.person.id, plan="daily").status_code == 400
    fresh(session)
    person = session.get(Beneficiary, town.person.id)
    assert (person.checkin_plan, person.checkin_plan_by_staff) == ("daily", False)
    assert plan_audits(session) == []


def test_out_of_scope_is_404_assistants_403_and_the_form_needs_its_token(app, town, session):
    """Another town's officer finds no such person; an assistant only reads; no token, no change."""
    far = signed_in(app, town.far_officer.staff_no)
    token = csrf(far, "/office/cases")
    answer = far.post(f"/office/beneficiaries/{town.person.id}/checkin-plan",
                      data={"plan": "off", "lives_alone": "0", "csrf_token": token})
    assert answer.status_code == 404 and "不在您的范围内" in answer.get_data(as_text=True)
    assistant = signed_in(app, town.assistant.staff_no)
    assert "checkin-form" not in assistant.get(f"/office/beneficiaries/{town.person.id}").get_data(as_text=True)
    assert post_plan(assistant, town.person.id, plan="off", lives_alone="0").status_code == 403
    officer = signed_in(app, town.officer.staff_no)
    forged = officer.post(f"/office/beneficiaries/{town.person.id}/checkin-plan",
                          data={"plan": "off", "lives_alone": "0"})
    assert forged.status_code == 400 and "页面已过期" in forged.get_data(as_text=True)
    fresh(session)
    assert session.get(Beneficiary, town.person.id).checkin_plan == "daily"
    assert plan_audits(session) == []


def test_the_village_list_filters_by_plan_and_marks_who_is_silent_today(app, town):
    """每天 lists both daily people, 只看今天未报平安 only the one not heard from since midnight; bad plan 400."""
    client = signed_in(app, town.officer.staff_no)
    path = f"/office/villages/{town.village.id}"
    everyone = text_of(client.get(path))
    assert "陈桂兰" in everyone and "吴奶奶" in everyone
    assert "刘大爷 留守老人 每天报平安 今天未报平安" in everyone
    assert "陈桂兰 留守老人 每天报平安 " in everyone and "吴奶奶 留守老人 报平安" not in everyone
    daily = text_of(client.get(f"{path}?plan=daily"))
    assert "陈桂兰" in daily and "刘大爷" in daily and "吴奶奶" not in daily
    silent = text_of(client.get(f"{path}?silent=1"))
    assert "刘大爷" in silent and "陈桂兰" not in silent and "吴奶奶" not in silent
    assert "吴奶奶" in text_of(client.get(f"{path}?plan=off"))
    bad = client.get(f"{path}?plan=hourly")
    assert bad.status_code == 400 and "报平安计划只能选" in bad.get_data(as_text=True)


def test_a_silence_case_says_why_it_exists_on_the_board_and_its_page(app, town, session, clock):
    """The 16:00 scan's 联系 case: the board marks it, its page says 今天没有报平安 and the last check-in."""
    env = app.extensions["sanzhida"].request_env
    now = clock.advance(hours=7)  # 16:00
    silence = Silence(beneficiary_id=town.quiet.id, village_id=town.village.id, town_id=town.town.id, plan="daily",
                      period_start=now.astimezone(env.tz).date(), raised_at=now, created_at=now - timedelta(hours=6))
    session.add(silence)
    session.flush()
    case = service.open_request(
        session, env, beneficiary=session.get(Beneficiary, town.quiet.id),
        classification=Classification(RequestCategory.CHECK_ON, Urgency.NORMAL), summary="刘大爷今天没有报平安",
        now=now, source=RequestSource.SILENCE, channel=RequestChannel.OTHER,
        data={"silence_id": silence.id, "plan": "daily", "period_start": silence.period_start.isoformat()})
    silence.request_id = case.id
    session.commit()
    client = signed_in(app, town.officer.staff_no)
    board = text_of(client.get("/office/cases?category=联系"))
    assert "联系 没有报平安 · 最近报平安 昨天 20:00" in board
    page = text_of(client.get(f"/office/cases/{case.id}"))
    assert "为什么有这件：刘大爷今天没有报平安" in page
    assert "最近报平安 昨天 20:00" in page and "最近音讯 昨天 20:00（报平安）" in page
    clock.advance(days=1)
    later = signed_in(app, town.officer.staff_no)
    assert "为什么有这件：刘大爷昨天没有报平安" in text_of(later.get(f"/office/cases/{case.id}"))
