"""The monthly report job on 2026-12-01 09:00: November's city report made once, and one notice per
active city supervisor on WeChat, however often it runs; with two cities, one report for each city,
each with its own figures, and each city's supervisors told of their own city's only."""

from __future__ import annotations

from datetime import timedelta
from io import BytesIO

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from models import MonthlyReport, OutboxMessage
from models.enums import RequestCategory, StaffRole, Urgency
from runtime import reports
from scheduler import calendar, jobs
from services import requests as service
from services.policy.classify import Classification
from services.policy.push import template_field_errors
from tests.conftest import START
from tests.support import figures_history
from tests.support.factories import fresh, make_staff
from tests.support.figures_history import TZ
from tests.support.province import make_province

GRACE = timedelta(minutes=180)


@pytest.fixture
def history(session, clock):
    """The hand-built November, with a second supervisor on WeChat, one who left and one not on WeChat."""
    built = figures_history.build(session, clock())
    city = built.a.supervisor.region
    built.second = make_staff(session, StaffRole.CITY_SUPERVISOR, city, clock(), openid="o-supervisor-2", name="吴静")
    make_staff(session, StaffRole.CITY_SUPERVISOR, city, clock(), openid="o-supervisor-gone").active = False
    make_staff(session, StaffRole.CITY_SUPERVISOR, city, clock())
    session.commit()
    return built


def monthly_job() -> calendar.CalendarJob:
    """The calendar's monthly report job."""
    return next(job for job in calendar.calendar_jobs(TZ) if job.id == "monthly_report")


def notices(session) -> list[OutboxMessage]:
    """The report notices in the outbox."""
    fresh(session)
    return session.scalars(select(OutboxMessage).where(OutboxMessage.idempotency_key.startswith("report-monthly:"))
                           .order_by(OutboxMessage.idempotency_key)).all()


def test_due_on_the_first_at_nine(jobs_ctx):
    """Due at 09:00 on the 1st of each month, local time."""
    trigger = monthly_job().trigger
    assert calendar.last_due(trigger, START) == START
    assert calendar.last_due(trigger, START - timedelta(minutes=1)) is None  # November's was 30 days before


def test_twice_on_the_first_makes_one_report_and_one_notice_each(session, history, jobs_ctx, app):
    """The ledger runs it once; even run again by hand, the kept complete report and the keys hold."""
    assert calendar.run_calendar_job(jobs_ctx, monthly_job(), START, GRACE) == "ran"
    assert calendar.run_calendar_job(jobs_ctx, monthly_job(), START + timedelta(minutes=5), GRACE) == "already"
    fresh(session)
    (report,) = session.scalars(select(MonthlyReport)).all()
    assert (report.month.isoformat(), report.town_id, report.complete, report.made_by_label) == \
        ("2026-11-01", None, True, "scheduler")
    made_at = report.made_at
    # Run outside the ledger too (two schedulers, a catch-up): nothing new is made or queued.
    assert jobs.monthly_report_job(jobs_ctx, START + timedelta(minutes=10)) == 0
    fresh(session)
    assert [r.made_at for r in session.scalars(select(MonthlyReport))] == [made_at]
    sent = notices(session)
    a, b = history.a.supervisor, history.second
    assert sorted(row.idempotency_key for row in sent) == sorted([f"report-monthly:{a.id}:2026-11",
                                                                  f"report-monthly:{b.id}:2026-11"])
    assert {row.recipient_openid for row in sent} == {"o-supervisor", "o-supervisor-2"}
    payload = sent[0].payload
    assert "示范市民政服务月报（2026年11月）已生成：求助5件" in payload["text"]
    assert payload["template"]["url"].endswith("/office/reports")
    assert payload["template"]["url"] in payload["text"]
    assert template_field_errors("task", payload["template"]["data"]) == []
    assert payload["template"]["data"]["character_string1"]["value"] == "YB202611"


def test_a_report_made_by_hand_after_the_month_is_kept_and_announced(session, history, jobs_ctx, clock):
    """Made from the dashboard after the month ended: complete, so the job keeps it and only tells."""
    early = START - timedelta(minutes=30)
    kept = reports.make_report(session, month=START.astimezone(TZ).date().replace(month=11), town=None, tz=TZ,
                               now=early, actor=history.a.supervisor)
    session.commit()
    assert calendar.run_calendar_job(jobs_ctx, monthly_job(), START, GRACE) == "ran"
    fresh(session)
    (report,) = session.scalars(select(MonthlyReport)).all()
    assert (report.id, report.made_at, report.made_by_staff_id) == (kept.report.id, early, history.a.supervisor.id)
    assert len(notices(session)) == 2


def test_a_partial_report_from_during_the_month_is_made_again(session, history, jobs_ctx):
    """A report made while November ran is not final: the job makes it again, complete."""
    during = START - timedelta(days=5)
    reports.make_report(session, month=during.astimezone(TZ).date().replace(day=1), town=None, tz=TZ, now=during,
                        actor="cli")
    session.commit()
    assert calendar.run_calendar_job(jobs_ctx, monthly_job(), START, GRACE) == "ran"
    fresh(session)
    (report,) = session.scalars(select(MonthlyReport)).all()
    assert (report.complete, report.made_at, report.made_by_label) == (True, START, "scheduler")


def _sheet_text(report: MonthlyReport) -> str:
    """Every cell of a kept report's spreadsheet, as one text."""
    book = load_workbook(BytesIO(report.xlsx))
    return " ".join(str(v) for sheet in book for row in sheet.iter_rows(values_only=True) for v in row if v)


def test_two_cities_get_one_report_each_and_only_their_own_supervisors_are_told(session, app, jobs_ctx):
    """东城市 with two November requests, 西城市 with one: a report per city with its own towns and
    figures, each city's supervisor told once of their own city's report; a second run adds nothing."""
    env = jobs_ctx.env
    november = START - timedelta(days=10)
    world = make_province(session, env, november)
    service.open_request(session, env, beneficiary=world.a.person, summary="想问低保", now=november,
                         classification=Classification(RequestCategory.POLICY, Urgency.NORMAL))
    session.commit()
    assert calendar.run_calendar_job(jobs_ctx, monthly_job(), START, GRACE) == "ran"
    assert jobs.monthly_report_job(jobs_ctx, START + timedelta(minutes=10)) == 0
    fresh(session)
    kept = {r.city_id: r for r in session.scalars(select(MonthlyReport))}
    assert set(kept) == {world.a.city.id, world.b.city.id}
    assert {(r.town_id, r.complete, r.made_by_label) for r in kept.values()} == {(None, True, "scheduler")}
    a_sheet, b_sheet = _sheet_text(kept[world.a.city.id]), _sheet_text(kept[world.b.city.id])
    assert "东河镇" in a_sheet and "西山镇" not in a_sheet and "东湾村" in a_sheet and "西岭村" not in a_sheet
    assert "西山镇" in b_sheet and "东河镇" not in b_sheet
    sent = {row.recipient_staff_id: row for row in notices(session)}
    assert set(sent) == {world.a.supervisor.id, world.b.supervisor.id}
    assert "东城市民政服务月报（2026年11月）已生成：求助2件" in sent[world.a.supervisor.id].payload["text"]
    assert "西城市民政服务月报（2026年11月）已生成：求助1件" in sent[world.b.supervisor.id].payload["text"]
    assert sent[world.a.supervisor.id].recipient_openid == "o-a-supervisor"
