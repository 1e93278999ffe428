"""The figures of the town digest and the weekly summary, and the overdue-visit alert's text."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from models import OutboxMessage, ServiceRequest
from models.enums import BeneficiaryCategory, RegionLevel, StaffRole
from services import reminders
from tests.scheduler.conftest import at
from tests.support.factories import make_beneficiary, make_region, make_staff, make_visit

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 7, 9, 0, tzinfo=TZ)  # a Monday


def _request(session, town, person, *, status: str, hours_ago: float, level: int = 0, accepted_after=None,
             resolved_after=None, rating=None) -> None:
    """A case on `person`, raised `hours_ago` before NOW."""
    created = NOW - timedelta(hours=hours_ago)
    session.add(ServiceRequest(
        beneficiary_id=person.id, village_id=person.village_id, town_id=town.town.id, category="医",
        urgency="normal", status=status, summary="求助", escalation_level=level, created_at=created,
        updated_at=created, rating=rating,
        acknowledged_at=created + accepted_after if accepted_after else None,
        resolved_at=created + resolved_after if resolved_after else None,
    ))


def _world(session, town):
    """Two towns: visits due and overdue, inactive people, cases of every state in and out of the week."""
    tekun, dibao = [BeneficiaryCategory.TEKUN], [BeneficiaryCategory.DIBAO]
    never_visited = make_beneficiary(session, town.village, NOW - timedelta(days=20), assistant=town.assistant,
                                     categories=tekun)
    visited = make_beneficiary(session, town.village, NOW - timedelta(days=60), assistant=town.assistant,
                               categories=dibao)
    make_visit(session, visited, town.assistant, NOW - timedelta(days=2))
    due_yesterday = make_beneficiary(session, town.other_village, NOW - timedelta(days=40),
                                     assistant=town.other_assistant, categories=tekun)
    make_visit(session, due_yesterday, town.other_assistant, NOW - timedelta(days=8))
    gone = make_beneficiary(session, town.village, NOW - timedelta(days=20), categories=tekun)
    gone.active = False
    other_town = make_region(session, RegionLevel.TOWN, town.city, NOW, name="青山镇")
    make_beneficiary(session, make_region(session, RegionLevel.VILLAGE, other_town, NOW, name="石门村"),
                     NOW - timedelta(days=20), categories=tekun)
    half_hour = timedelta(minutes=30)
    _request(session, town, visited, status="open", hours_ago=72, level=1)
    _request(session, town, visited, status="open", hours_ago=1)
    _request(session, town, visited, status="acknowledged", hours_ago=47, accepted_after=half_hour)
    _request(session, town, visited, status="resolved", hours_ago=120, accepted_after=half_hour,
             resolved_after=timedelta(hours=3), rating=4)
    _request(session, town, visited, status="closed", hours_ago=240, rating=2)
    session.commit()
    return never_visited


def _texts(session, prefix: str) -> dict[str, str]:
    """The texts queued under `prefix`, without the link to the whole list each summary ends with."""
    rows = session.scalars(select(OutboxMessage).where(OutboxMessage.idempotency_key.like(prefix + "%")))
    texts = {}
    for row in rows:
        body, _, link = row.payload["text"].rpartition("\n")
        url = row.payload["template"]["url"]
        # Every summary links to the list it summarises, in the text and in the template alike.
        assert link == f"查看全部：{url}" and "/m/list/" in url
        texts[row.idempotency_key] = body
    return texts


def test_town_digest_counts_cases_and_overdue_visits(app, session, clock, town):
    """Open 3 (escalated 1, over 48 h 1), 2 visits overdue by yesterday; the inactive and the other
    town's people are not counted."""
    _world(session, town)
    env = app.extensions["sanzhida"].request_env
    assert reminders.town_digests(session, env, at(clock, NOW)) == 1
    assert _texts(session, "digest-town:") == {
        f"digest-town:{town.officer.id}:2026-12-07":
            "柳河镇民政日报（12月07日）\n在办求助 3 件，其中督办中 1 件、超过48小时 1 件；\n超期未走访 2 户。",
    }


def test_weekly_summary_figures_per_town(app, session, clock, town):
    """Four cases in the week: accepted in 30 minutes, resolved in 3 hours, rated 4; coverage 1 of 3."""
    _world(session, town)
    env = app.extensions["sanzhida"].request_env
    make_staff(session, StaffRole.CITY_SUPERVISOR, town.city, NOW, openid="o-supervisor-2")
    assert reminders.city_summaries(session, env, at(clock, NOW)) == 2
    texts = set(_texts(session, "digest-city:").values())
    assert len(texts) == 1
    lines = texts.pop().split("\n")
    assert lines[0] == "全市民政周报（11月30日—12月06日）"
    assert sorted(lines[1:]) == sorted([
        "柳河镇：求助4件，接单中位30分钟，办结中位3.0小时，走访覆盖33%，评分4.0",
        "青山镇：求助0件，接单中位—，办结中位—，走访覆盖0%，评分—",
    ])


def test_overdue_alert_names_each_late_person_once(app, session, clock, town):
    """At 08:00 the town officers hear of the one visit more than 7 days late; the next morning, nothing."""
    late = _world(session, town)
    env = app.extensions["sanzhida"].request_env
    morning = at(clock, NOW.replace(hour=8))
    reminders.morning_visits(session, env, morning)
    alerts = _texts(session, "visit-overdue:")
    assert alerts == {
        f"visit-overdue:{town.officer.id}:2026-12-07": f"走访超期提醒：1 户超期7天以上未走访：\n{late.name}（东湾村）超期13天",
    }
    reminders.morning_visits(session, env, at(clock, morning + timedelta(days=1)))
    assert _texts(session, "visit-overdue:") == alerts
