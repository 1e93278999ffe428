"""Every dashboard query is narrowed by the signed-in staff member's scope, in the query itself."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from models import ServiceRequest
from models.enums import RegionLevel, RequestCategory, StaffRole, Urgency
from services import audit, dashboard
from services import requests as service
from services.policy.classify import Classification
from services.scope import scope_for
from tests.support.factories import make_beneficiary, make_region, make_staff, make_town, make_visit

TZ = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def two_towns(session, clock, app):
    """Town A (the factory's town, two villages) and town B, each with people and one request each."""
    a = make_town(session, clock())
    town_b = make_region(session, RegionLevel.TOWN, a.city, clock(), name="青湖镇")
    village_b = make_region(session, RegionLevel.VILLAGE, town_b, clock(), name="北塘村")
    assistant_b = make_staff(session, StaffRole.ASSISTANT, village_b, clock(), openid="o-b-assistant")
    officer_b = make_staff(session, StaffRole.TOWN_OFFICER, town_b, clock(), openid="o-b-officer")
    env = app.extensions["sanzhida"].request_env
    people = {
        "mine": make_beneficiary(session, a.village, clock(), assistant=a.assistant, name="甲"),
        "colleague": make_beneficiary(session, a.other_village, clock(), assistant=a.other_assistant, name="乙"),
        "other_town": make_beneficiary(session, village_b, clock(), assistant=assistant_b, name="丙"),
        "nobody": make_beneficiary(session, a.village, clock(), name="丁"),
    }
    for person in people.values():
        service.open_request(session, env, beneficiary=person, summary="求助", now=clock(),
                             classification=Classification(RequestCategory.OTHER, Urgency.NORMAL))
        make_visit(session, person, a.assistant, clock() - timedelta(days=40), food="problem", food_note="缺粮")
    session.commit()
    return a, officer_b, people


def names_of(rows) -> set[str]:
    """Beneficiary names of request rows."""
    return {r.beneficiary.name for r in rows}


def test_case_board_scope(session, clock, two_towns):
    """City sees all four; the town officer their town's three; the assistant only their own."""
    a, officer_b, _ = two_towns
    board = lambda staff: names_of(dashboard.case_board(session, scope_for(staff), dashboard.BoardFilters(), clock())[0])
    assert board(a.supervisor) == {"甲", "乙", "丙", "丁"}
    assert board(a.officer) == {"甲", "乙", "丁"}
    assert board(officer_b) == {"丙"}
    assert board(a.assistant) == {"甲"}


def test_case_and_beneficiary_pages_refuse_out_of_scope(session, two_towns):
    """An id from outside the scope is simply not found."""
    a, officer_b, people = two_towns
    other = session.scalars(select(ServiceRequest).where(ServiceRequest.beneficiary_id == people["other_town"].id)).one()
    assert dashboard.case_detail(session, scope_for(a.officer), other.id) is None
    assert dashboard.case_detail(session, scope_for(officer_b), other.id) is not None
    assert dashboard.beneficiary_detail(session, scope_for(a.assistant), people["colleague"].id) is None
    assert dashboard.beneficiary_detail(session, scope_for(a.assistant), people["mine"].id) is not None
    assert dashboard.village_detail(session, scope_for(officer_b), a.village.id) is None
    assert dashboard.village_detail(session, scope_for(a.assistant), a.other_village.id) is None


def test_service_map_scope_and_gaps(session, clock, two_towns):
    """Counts per village within the scope; unassigned people and thin villages are flagged."""
    a, officer_b, _ = two_towns
    city = dashboard.service_map(session, scope_for(a.supervisor), clock(), TZ)
    assert {t.region.name for t in city.towns} == {"柳河镇", "青湖镇"}
    assert city.total("beneficiaries") == 4 and city.total("unassigned") == 1
    town = dashboard.service_map(session, scope_for(a.officer), clock(), TZ)
    assert [t.region.name for t in town.towns] == ["柳河镇"]
    assert town.total("beneficiaries") == 3
    assert all(v.short_of_assistants for t in town.towns for v in t.villages)
    own = dashboard.service_map(session, scope_for(a.assistant), clock(), TZ)
    assert own.total("beneficiaries") == 1 and own.overloaded == []
    overloaded = dashboard.service_map(session, scope_for(a.supervisor), clock(), TZ, load_threshold=0)
    assert {s.name for s, _ in overloaded.overloaded} >= {a.assistant.name}


def test_village_detail_groups_people_by_assistant(session, two_towns):
    """The village page lists each assistant's people and the ones with nobody."""
    a, _, _ = two_towns
    detail = dashboard.village_detail(session, scope_for(a.officer), a.village.id)
    assert [(s.name, [p.name for p in people]) for s, people in detail.assistants] == [(a.assistant.name, ["甲"])]
    assert [p.name for p in detail.unassigned] == ["丁"]


def test_visit_coverage_and_problems_scope(session, clock, two_towns):
    """Coverage counts only what the scope may see; every visit here is 40 days old (overdue)."""
    a, officer_b, _ = two_towns
    city = {r.region.name: (r.beneficiaries, r.overdue) for r in
            dashboard.visit_coverage(session, scope_for(a.supervisor), clock(), TZ)}
    assert city == {"柳河镇": (3, 3), "青湖镇": (1, 1)}
    tz = TZ
    town_rows = dashboard.visit_coverage(session, scope_for(a.officer), clock(), tz, town_id=a.town.id)
    assert {r.region.name: r.beneficiaries for r in town_rows} == {"东湾村": 2, "南岭村": 1}
    assert dashboard.visit_coverage(session, scope_for(officer_b), clock(), tz)[0].region.name == "青湖镇"
    # The visits were 40 days ago, last month: nothing found this month.
    assert dashboard.problems_this_month(session, scope_for(a.supervisor), clock(), tz) == {"吃": 0, "穿": 0, "住": 0, "医": 0}
    make_visit(session, two_towns[2]["other_town"], a.assistant, clock(), housing="problem", housing_note="漏雨")
    session.commit()
    assert dashboard.problems_this_month(session, scope_for(a.supervisor), clock(), tz)["住"] == 1
    assert dashboard.problems_this_month(session, scope_for(a.officer), clock(), tz)["住"] == 0


def test_audit_search(session, clock, two_towns):
    """Audit entries can be found by action prefix and by the acting staff number."""
    a, _, _ = two_towns
    audit.record(session, clock(), "beneficiary.reassign", staff=a.officer, target=("beneficiary", 1))
    audit.record(session, clock(), "export.cases", staff=a.supervisor)
    session.commit()
    assert [e.action for e, _ in audit.search(session, action="beneficiary")] == ["beneficiary.reassign"]
    assert [e.action for e, _ in audit.search(session, staff_no=a.supervisor.staff_no)] == ["export.cases"]


def test_exports_follow_the_scope(session, clock, two_towns):
    """An export narrowed by a town officer's scope holds only that town's cases and visits."""
    import io
    from functools import partial

    from openpyxl import load_workbook

    from services import exports
    from services import scope as scoping

    a, officer_b, _ = two_towns

    def rows(kind, staff):
        scope = scope_for(staff)
        narrow = partial(scoping.requests if kind == "cases" else scoping.visits, scope)
        export = exports.export_cases if kind == "cases" else exports.export_visits
        result = export(session, now=clock(), tz=TZ, actor=staff, narrow=narrow)
        sheet = load_workbook(io.BytesIO(result.content), read_only=True).active
        return [row for row in sheet.iter_rows(min_row=2, values_only=True) if any(row)]

    assert len(rows("cases", officer_b)) == 1
    assert len(rows("cases", a.officer)) == 3
    assert len(rows("cases", a.supervisor)) == 4
    assert len(rows("visits", officer_b)) == 1
    assert len(rows("visits", a.assistant)) == 1
