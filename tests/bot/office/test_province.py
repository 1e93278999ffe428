"""Two cities under one province: the province administrator sees both, each city's staff only their own."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from models import AuditEntry, MonthlyReport, OutboxMessage, RequestEvent, Staff
from models.enums import EventKind, StaffRole
from services import casework, escalation, imports, reminders
from services.errors import DomainError
from services.imports.read import Table
from services.policy.validate import ROLE_LABELS
from services.scope import scope_for
from tests.support.factories import fresh
from tests.support.office import csrf, signed_in
from tests.support.province import make_province

AUTH = {"Authorization": "Bearer test-admin-token"}


@pytest.fixture
def world(session, clock, app):
    """Province 示范省 with cities 东城市 (A) and 西城市 (B)."""
    return make_province(session, app.extensions["sanzhida"].request_env, clock())


def page(client, path: str) -> str:
    """A page's text, which must load."""
    answer = client.get(path)
    assert answer.status_code == 200, (path, answer.status_code)
    return answer.get_data(as_text=True)


def test_the_province_admin_sees_both_cities_on_every_page(app, world):
    """Case board, map (a city per box), beneficiaries' village pages, figures, trends and the API."""
    client = signed_in(app, world.admin.staff_no)
    board = page(client, "/office/cases")
    assert "甲大爷" in board and "乙奶奶" in board
    site_map = page(client, "/office/map")
    assert all(name in site_map for name in ("东城市", "西城市", "东河镇", "西山镇"))
    # The whole province stops at the towns; a chosen city shows its villages.
    assert world.a.village.name not in site_map and "选择城市后" in site_map
    assert world.a.village.name in page(client, f"/office/map?city={world.a.city.id}")
    page(client, "/office/map?city=0")  # the whole province again
    for city in (world.a, world.b):
        assert city.person.name in page(client, f"/office/beneficiaries/{city.person.id}")
        assert city.person.name in page(client, f"/office/villages/{city.village.id}")
        page(client, f"/office/cases/{city.case.id}")
    figures = page(client, "/office/figures")
    assert "东河镇" in figures and "西山镇" in figures
    # Per village the whole province would be thousands of rows: its towns, until a city is chosen.
    by_village = page(client, "/office/figures?level=village")
    assert 'id="pick-city"' in by_village and world.a.village.name not in by_village and "东河镇" in by_village
    trends = page(client, "/office/trends")
    assert "东河镇" in trends and "西山镇" in trends
    api = app.test_client().get("/api/v1/requests", headers=AUTH).get_json()
    assert {item["beneficiary"]["name"] for item in api["items"]} == {"甲大爷", "乙奶奶"}


def test_a_city_admin_sees_only_their_city(app, world):
    """City A's administrator: A's cases, map, figures and trends; B's pages are not found."""
    client = signed_in(app, world.a.admin.staff_no)
    board = page(client, "/office/cases")
    assert "甲大爷" in board and "乙奶奶" not in board
    site_map = page(client, "/office/map")
    assert "东河镇" in site_map and "西山镇" not in site_map
    for path in (f"/office/cases/{world.b.case.id}", f"/office/beneficiaries/{world.b.person.id}",
                 f"/office/villages/{world.b.village.id}"):
        assert client.get(path).status_code == 404, path
    assert client.get(f"/office/cases/{world.a.case.id}").status_code == 200
    for path in ("/office/figures", "/office/trends", f"/office/trends?town={world.b.town.id}",
                 f"/office/figures?town={world.b.town.id}&level=village"):
        text = page(client, path)
        assert "西山镇" not in text and "西岭村" not in text, path


def _export_names(client) -> set[str]:
    book = load_workbook(io.BytesIO(client.get("/office/export/cases.xlsx").data))
    return {cell for row in book.active.iter_rows(values_only=True) for cell in row if cell in ("甲大爷", "乙奶奶")}


def test_exports_are_scoped_and_audited(app, world, session):
    """The province's export holds both cities' cases, city A's only A's; each export is audited."""
    assert _export_names(signed_in(app, world.admin.staff_no)) == {"甲大爷", "乙奶奶"}
    assert _export_names(signed_in(app, world.a.admin.staff_no)) == {"甲大爷"}
    fresh(session)
    exporters = session.scalars(select(AuditEntry.actor_staff_id).where(AuditEntry.action == "export.cases")).all()
    assert sorted(exporters) == sorted([world.admin.id, world.a.admin.id])


def test_the_audit_page_shows_a_city_admin_only_their_city_s_staff(app, world):
    """City B's exports are not city A's administrator's to read; the province's administrator reads all."""
    _export_names(signed_in(app, world.b.admin.staff_no))
    _export_names(signed_in(app, world.a.admin.staff_no))
    mine = page(signed_in(app, world.a.admin.staff_no), "/office/audit?action=export")
    assert world.a.admin.staff_no in mine and world.b.admin.staff_no not in mine
    everyone = page(signed_in(app, world.admin.staff_no), "/office/audit?action=export")
    assert world.a.admin.staff_no in everyone and world.b.admin.staff_no in everyone
    assert signed_in(app, world.a.supervisor.staff_no).get("/office/audit").status_code == 403


def test_city_staff_act_only_on_their_own_city_s_cases(app, world, session, clock):
    """督办 and 转派 of another city's case are refused; the province administrator may."""
    env = app.extensions["sanzhida"].request_env
    b_case, a_supervisor = world.b.case, session.get(Staff, world.a.supervisor.id)
    with pytest.raises(DomainError):
        casework.supervise(session, env, b_case, a_supervisor, clock())
    with pytest.raises(DomainError):
        casework.reassign(session, env, b_case, session.get(Staff, world.a.admin.id), world.b.officer.staff_no, clock())
    assert casework.supervise(session, env, b_case, session.get(Staff, world.admin.id), clock())


def _staff_table(rows: list[list[str]]) -> Table:
    headers = ["工号", "姓名", "联系电话", "角色", "所属区域代码"]
    return imports.read_table(("\n".join(",".join(r) for r in [headers, *rows]) + "\n").encode(), "staff.csv")


def test_a_city_admin_imports_staff_only_into_their_city(world, session, clock):
    """A's administrator cannot place anyone in B or at the province; the province's can."""
    rows = [["A9001", "张三", "13800009001", ROLE_LABELS[StaffRole.TOWN_OFFICER], world.b.town.code],
            ["A9002", "李四", "13800009002", ROLE_LABELS[StaffRole.PROVINCE_ADMIN], world.province.code],
            ["A9003", "王五", "13800009003", ROLE_LABELS[StaffRole.TOWN_OFFICER], world.a.town.code]]
    report = imports.import_staff(session, _staff_table(rows), now=clock(), actor=session.get(Staff, world.a.admin.id),
                                  accept_good_rows=True)
    assert [r.status for r in report.rows] == ["error", "error", "ok"]
    assert "不在您管理的范围内" in report.rows[0].messages[-1]
    # Moving B's officer is refused as well: the stored member is outside A.
    move = [[world.b.officer.staff_no, world.b.officer.name, world.b.officer.phone,
             ROLE_LABELS[StaffRole.TOWN_OFFICER], world.a.town.code]]
    assert imports.check_staff(session, _staff_table(move), scope=scope_for(world.a.admin)).errors == 1
    report = imports.import_staff(session, _staff_table(rows[:2]), now=clock(), actor=session.get(Staff, world.admin.id))
    assert report.applied and report.errors == 0
    made = session.scalars(select(Staff).where(Staff.staff_no == "A9002")).one()
    assert made.role == StaffRole.PROVINCE_ADMIN.value and made.region_id == world.province.id


def test_the_city_rung_reaches_only_the_case_s_own_city_supervisors(app, world, session, clock):
    """Both urgent cases climb the whole ladder; A's supervisor is alerted for A's case only, B's for B's."""
    env = app.extensions["sanzhida"].request_env
    for hours in range(1, 60):
        escalation.scan(session, env, clock() + timedelta(hours=hours))
    session.commit()
    fresh(session)
    alerted = {}
    for city in (world.a, world.b):
        events = session.scalars(select(RequestEvent).where(RequestEvent.request_id == city.case.id,
                                                            RequestEvent.kind == EventKind.PUSH.value)).all()
        alerted[city.case.id] = {i for e in events for i in (e.data or {}).get("to_staff_ids", [])}
    assert world.a.supervisor.id in alerted[world.a.case.id] and world.b.supervisor.id in alerted[world.b.case.id]
    assert world.b.supervisor.id not in alerted[world.a.case.id]
    assert world.a.supervisor.id not in alerted[world.b.case.id]


def test_a_city_supervisor_s_weekly_digest_covers_their_city(app, world, session, clock):
    """Each city's supervisors get their own towns' lines."""
    env = app.extensions["sanzhida"].request_env
    assert reminders.city_summaries(session, env, clock()) == 2
    session.flush()
    texts = {row.recipient_staff_id: row.payload["text"] for row in session.scalars(
        select(OutboxMessage).where(OutboxMessage.idempotency_key.like("digest-city%")))}
    assert "东河镇" in texts[world.a.supervisor.id] and "西山镇" not in texts[world.a.supervisor.id]
    assert "西山镇" in texts[world.b.supervisor.id] and "东河镇" not in texts[world.b.supervisor.id]



def test_the_province_admin_chooses_a_city_and_back(app, world):
    """The chooser narrows every page to one city until the whole province is chosen again."""
    client = signed_in(app, world.admin.staff_no)
    assert "西城市" in page(client, "/office/cases")  # the chooser lists both cities
    board = page(client, f"/office/cases?city={world.a.city.id}")
    assert "甲大爷" in board and "乙奶奶" not in board
    assert "西山镇" not in page(client, "/office/figures"), "the choice is kept"
    board = page(client, "/office/cases?city=0")
    assert "甲大爷" in board and "乙奶奶" in board
    assert signed_in(app, world.a.admin.staff_no).get(f"/office/visits?town={world.b.town.id}").status_code == 404


def _kept_report(session, clock, city, town=None) -> int:
    """A November report already kept for a city (or its town); its files stand in for real ones."""
    report = MonthlyReport(month=date(2026, 11, 1), city_id=city.city.id, town_id=town.id if town else None,
                           period_end=date(2026, 11, 30), complete=True, made_at=clock(), made_by_label="scheduler",
                           xlsx=b"PK\x03\x04 sheet", pdf=b"%PDF-1.7 page", xlsx_size=13, pdf_size=13)
    session.add(report)
    session.commit()
    return report.id


def _make_report(client, **form):
    """Press 生成月报 on the 月报 page with these fields."""
    return client.post("/office/reports", data={"csrf_token": csrf(client, "/office/reports"), "month": "2026-11",
                                                **form})


def test_monthly_reports_are_each_city_s_own(app, world, session, clock):
    """City A's administrator lists and downloads A's reports only; B's are 404 and making B's (the
    city or its town) is 403; A's town officer has A's town's only; nothing is made by a refusal."""
    a_city, a_town = _kept_report(session, clock, world.a), _kept_report(session, clock, world.a, world.a.town)
    b_city, b_town = _kept_report(session, clock, world.b), _kept_report(session, clock, world.b, world.b.town)
    client = signed_in(app, world.a.admin.staff_no)
    listed = page(client, "/office/reports")
    assert f'id="report-{a_city}"' in listed and f'id="report-{a_town}"' in listed
    assert f'id="report-{b_city}"' not in listed and f'id="report-{b_town}"' not in listed and "西城市" not in listed
    assert "东城市（全市各乡镇）" in listed and 'name="city"' not in listed
    assert client.get(f"/office/reports/{a_city}.pdf").status_code == 200
    for report in (b_city, b_town):
        assert client.get(f"/office/reports/{report}.pdf").status_code == 404
        assert client.get(f"/office/reports/{report}.xlsx").status_code == 404
    assert _make_report(client, city=str(world.b.city.id)).status_code == 403
    assert _make_report(client, town=str(world.b.town.id)).status_code == 403
    officer = signed_in(app, world.a.officer.staff_no)
    mine = page(officer, "/office/reports")
    assert f'id="report-{a_town}"' in mine and f'id="report-{a_city}"' not in mine
    assert officer.get(f"/office/reports/{a_city}.pdf").status_code == 404
    fresh(session)
    assert session.scalar(select(func.count()).select_from(MonthlyReport)) == 4
    downloads = session.scalars(select(AuditEntry).where(AuditEntry.action == "report.download")).all()
    assert [(e.actor_staff_id, e.target_id, e.detail["city"]) for e in downloads] == [(world.a.admin.id, a_city, "东城市")]


def test_the_province_admin_sees_every_city_s_reports_and_makes_one_for_a_chosen_city(app, world, session, clock):
    """Both cities' reports listed and downloadable (audited); making one needs a city, chosen in the
    form or with the chooser at the top; each is that city's alone."""
    a_city, b_town = _kept_report(session, clock, world.a), _kept_report(session, clock, world.b, world.b.town)
    client = signed_in(app, world.admin.staff_no)
    listed = page(client, "/office/reports")
    assert f'id="report-{a_city}"' in listed and f'id="report-{b_town}"' in listed and "西城市·西山镇" in listed
    assert 'name="city"' in listed and "西城市（全市各乡镇）" in listed
    for report in (a_city, b_town):
        assert client.get(f"/office/reports/{report}.xlsx").status_code == 200
    refused = _make_report(client)
    assert refused.status_code == 400 and "请选择要生成月报的市" in refused.get_data(as_text=True)
    assert _make_report(client, city=str(world.b.town.id)).status_code == 400
    # December so far: the month the cities' open requests were raised in.
    assert _make_report(client, month="2026-12", city=str(world.b.city.id)).status_code == 303
    # The chooser narrows the page to 东城市: its reports only, and the button makes 东城市's.
    chosen = page(client, f"/office/reports?city={world.a.city.id}")
    assert f'id="report-{a_city}"' in chosen and f'id="report-{b_town}"' not in chosen
    assert _make_report(client, month="2026-12").status_code == 303
    fresh(session)
    made = session.scalars(select(MonthlyReport).where(MonthlyReport.made_by_staff_id == world.admin.id)).all()
    assert sorted((r.city_id, r.town_id) for r in made) == sorted([(world.a.city.id, None), (world.b.city.id, None)])
    b_made = next(r for r in made if r.city_id == world.b.city.id)
    b_sheet = load_workbook(io.BytesIO(b_made.xlsx))
    text = " ".join(str(v) for sheet in b_sheet for row in sheet.iter_rows(values_only=True) for v in row if v)
    assert "西城市" in text and "西山镇" in text and "乙奶奶" not in text
    assert "东城市" not in text and "东河镇" not in text and "东湾村" not in text
    assert client.get(f"/office/reports/{b_made.id}.pdf").status_code == 404, "东城市 is still chosen"
    assert f'id="report-{b_made.id}"' in page(client, "/office/reports?city=0")
    answer = client.get(f"/office/reports/{b_made.id}.pdf")
    assert answer.status_code == 200 and "monthly-report-2026-12-" + world.b.city.code in answer.headers[
        "Content-Disposition"]
    fresh(session)
    audited = session.scalars(select(AuditEntry).where(AuditEntry.action.in_(("report.download", "report.make")))
                              .where(AuditEntry.actor_staff_id == world.admin.id)).all()
    assert sorted(e.action for e in audited) == ["report.download"] * 3 + ["report.make"] * 2
