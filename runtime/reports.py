"""Making a monthly report: its figures assembled (`services.monthly_report`), drawn into the
spreadsheet and the PDF, and kept (`services.report_archive`); and the scheduler's monthly run.

The command line, the dashboard and the scheduler all make reports through `make_report`, so a
report reads the same whichever made it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from models import MonthlyReport, Region
from runtime import report_charts, report_pdf, report_xlsx
from services import figures, monthly_report, report_archive
from services.audit import Actor
from services.monthly_report import MonthlyData
from services.policy import months
from services.requests import RequestEnv
from services.scope import city_scope

logger = logging.getLogger(__name__)

# Who made the reports that no member of staff made.
SCHEDULER = "scheduler"


@dataclass(frozen=True)
class Made:
    """A report just made: the stored row and what it shows."""

    report: MonthlyReport
    data: MonthlyData
    xlsx: bytes
    pdf: bytes


def make_report(session: Session, *, month: date, town: Region | None, tz: ZoneInfo, now: datetime, actor: Actor,
                city: Region | None = None, ip: str | None = None, progress: Callable[[str], None] | None = None,
                reads: Session | None = None) -> Made:
    """Assemble, draw and keep the report of `month` for `city` (or the only city) or one town; flushes,
    the caller commits. The figures are read through `reads` (a read replica's session) when given;
    the report and its audit entry always go through `session`."""
    say = progress or (lambda _step: None)
    say("统计本月数字")
    data = monthly_report.assemble(reads or session, month, tz, now, town, city)
    say("写 Excel 表")
    xlsx = report_xlsx.write_xlsx(data)
    say("画图表")
    charts = report_charts.all_charts(data)
    say("排版 PDF")
    pdf = report_pdf.write_pdf(data, charts)
    say("保存")
    report = report_archive.save(session, data, xlsx, pdf, actor=actor, now=now, ip=ip)
    logger.info("report=made month=%s city=%s town=%s xlsx_bytes=%s pdf_bytes=%s complete=%s", f"{month:%Y-%m}",
                data.city_id, town.code if town else "-", len(xlsx), len(pdf), data.complete)
    return Made(report, data, xlsx, pdf)


def previous_month_report(session: Session, env: RequestEnv, now: datetime, *, city_id: int | None = None) -> int:
    """Make last month's report of each city (or only the city `city_id`) unless a complete one is
    kept, then tell each of that city's supervisors it is ready (once per month each); the number of
    notices queued."""
    month = months.previous_month(months.month_start(now.astimezone(env.tz).date()))
    return sum(_city_report(session, env, city, month, now) for city in monthly_report.cities(session)
               if city_id is None or city.id == city_id)


def _city_report(session: Session, env: RequestEnv, city: Region, month: date, now: datetime) -> int:
    """One city's report of `month`, made unless a complete one is kept, and its supervisors told."""
    report = report_archive.find(session, month, city.id, None)
    if report is None or not report.complete:
        made = make_report(session, month=month, town=None, city=city, tz=env.tz, now=now, actor=SCHEDULER)
        report, title, total = made.report, made.data.title, made.data.figures.total
    else:
        # Made by hand after the month ended: its figures are final, so it is kept as it is.
        title = f"{report_archive.area_name(report)}民政服务月报"
        total = figures.service_figures(session, city_scope(city.id), month, months.month_end(month), env.tz).total
    return report_archive.notify_supervisors(session, env, report, title, total, now)
