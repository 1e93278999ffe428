"""Monthly reports as kept: one per month for the city and one per month for each town, remade in
place; who may make and read which, and the notice to the city supervisors that one is ready.

A town officer makes and reads their own town's reports; administrators and city supervisors the
city's and every town's; assistants none. Reading a stored file is audited by the web layer;
making one is audited here, with whoever made it.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import false, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from models import MonthlyReport, Region, Staff
from models.enums import PushKind, RegionLevel, StaffRole
from services import audit, texts
from services import scope as scoping
from services.audit import Actor
from services.figures import Row
from services.monthly_report import HOURS, RATING, SHARE, MonthlyData, city_name, shown
from services.notify import Delivery, Push, digest_sms, enqueue_many, local_time, push_key
from services.requests import RequestEnv
from services.scope import Scope

# The dashboard page the notice links to (bot/office/reports.py).
PAGE_PATH = "/office/reports"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PDF_TYPE = "application/pdf"


def _one_city(session: Session) -> bool:
    """Whether the deployment serves a single city (then its whole report is that city's)."""
    return session.scalar(select(func.count()).select_from(Region).where(Region.level == RegionLevel.CITY.value)) <= 1


def may_make(session: Session, scope: Scope, town_id: int | None) -> bool:
    """Whether this scope may make (and read) the whole deployment's report (None) or a town's: the
    whole one is the province administrator's, or a single city's staff's."""
    if scope.is_province:
        return True
    if scope.is_city:
        if town_id is None:
            return _one_city(session)
        return scoping.city_of_town(session, town_id) == scope.city_id
    return scope.kind == "town" and town_id is not None and town_id == scope.town_id


def find(session: Session, month: date, town_id: int | None) -> MonthlyReport | None:
    """The stored report of a month for the city (None) or a town."""
    stmt = select(MonthlyReport).where(MonthlyReport.month == month)
    stmt = stmt.where(MonthlyReport.town_id.is_(None) if town_id is None else MonthlyReport.town_id == town_id)
    return session.scalars(stmt).one_or_none()


def visible(session: Session, scope: Scope) -> list[MonthlyReport]:
    """The reports the scope may read, newest month first, the city's before the towns'."""
    stmt = select(MonthlyReport).options(selectinload(MonthlyReport.town), selectinload(MonthlyReport.made_by))
    if scope.kind == "town":
        stmt = stmt.where(MonthlyReport.town_id == scope.town_id)
    elif scope.kind == "city":
        whole = MonthlyReport.town_id.is_(None) if _one_city(session) else false()
        stmt = stmt.where(MonthlyReport.town_id.in_(scoping.city_towns(scope.city_id)) | whole)
    elif not scope.is_city:
        return []
    reports = session.scalars(stmt).all()
    return sorted(reports, key=lambda r: (-r.month.toordinal(), r.town_id is not None, r.town.code if r.town else ""))


def get_visible(session: Session, scope: Scope, report_id: int) -> MonthlyReport | None:
    """One stored report, when the scope may read it (else None, as if there were none)."""
    report = session.get(MonthlyReport, report_id)
    if report is None or not may_make(session, scope, report.town_id):
        return None
    return report


def save(session: Session, data: MonthlyData, xlsx: bytes, pdf: bytes, *, actor: Actor, now: datetime,
         ip: str | None = None) -> MonthlyReport:
    """Keep a month's files, replacing the stored ones of the same month and place; audited as made."""
    report = find(session, data.month, data.town_id)
    if report is not None:
        _fill(session, report, data, xlsx, pdf, actor, now)
    else:
        report = MonthlyReport(month=data.month, town_id=data.town_id)
        _fill(session, report, data, xlsx, pdf, actor, now)
        try:
            # Two makers at once: the unique index lets one insert, and the other replaces its files.
            with session.begin_nested():
                session.add(report)
                session.flush()
        except IntegrityError:
            report = find(session, data.month, data.town_id)
            _fill(session, report, data, xlsx, pdf, actor, now)
    session.flush()
    detail = {"month": f"{data.month:%Y-%m}", "town": data.area if data.town_id else None,
              "complete": data.complete}
    entry = audit.record_by(session, actor, "report.make", detail, now, ip)
    entry.target_type, entry.target_id = "monthly_report", report.id
    return report


def _fill(session: Session, report: MonthlyReport, data: MonthlyData, xlsx: bytes, pdf: bytes, actor: Actor,
          now: datetime) -> None:
    """Put a month's files and who made them, and when, on the row."""
    by = audit.actor_staff(session, actor)
    report.period_end, report.complete, report.made_at = data.end, data.complete, now
    report.made_by_staff_id = by.id if by else None
    report.made_by_label = None if by else str(actor)[:64]
    report.xlsx, report.pdf, report.xlsx_size, report.pdf_size = xlsx, pdf, len(xlsx), len(pdf)


def area_name(session: Session, report: MonthlyReport) -> str:
    """The place a report covers: its town, or the city."""
    return report.town.name if report.town is not None else city_name(session)


def file_name(session: Session, report: MonthlyReport, extension: str) -> str:
    """The download's name: 示范市民政服务月报-2026年11月.pdf."""
    return f"{area_name(session, report)}民政服务月报-{report.month.year}年{report.month.month}月.{extension}"


def reference(month: date) -> str:
    """The report's reference on a push (编号): YB and the month, YB202611."""
    return f"YB{month:%Y%m}"


def notify_supervisors(session: Session, env: RequestEnv, report: MonthlyReport, title: str, total: Row,
                       now: datetime) -> int:
    """Tell each active city supervisor that the city's report of a month is ready; once per month each."""
    month = f"{report.month.year}年{report.month.month}月"
    url = f"{env.links.base_url.rstrip('/')}{PAGE_PATH}" if env.links is not None else None
    text = texts.REPORT_READY.format(
        title=title, month=month, raised=total.raised, accept=_with_unit(total.accept.p50_service, HOURS),
        coverage=shown(total.coverage, SHARE), rating=_with_unit(total.mean_rating, RATING), url=url or PAGE_PATH,
    )
    # With several cities the whole report is the province's: no city's supervisors may read it.
    supervisors = session.scalars(
        select(Staff).where(Staff.role == StaffRole.CITY_SUPERVISOR.value, Staff.active.is_(True))
        .options(selectinload(Staff.wechat_user)).order_by(Staff.id)
    ).all() if _one_city(session) else []
    deliveries = []
    for supervisor in supervisors:
        fields = {
            "character_string1": reference(report.month),
            "thing2": title[:20],
            "thing3": texts.REPORT_READY_WHAT.format(month=month),
            "phrase4": texts.LIST_URGENCY["normal"],
            "time5": local_time(now, env.tz),
        }
        push = Push(key=push_key(PushKind.REPORT_MONTHLY, supervisor.id, f"{report.month:%Y-%m}"), text=text,
                    template_id=env.templates.task, fields=fields, url=url,
                    sms=digest_sms(texts.SMS_DIGEST_REPORT, texts.REPORT_READY_WHAT.format(month=month)))
        deliveries.append(Delivery(push, supervisor.wechat_user, staff=supervisor, urgent=False))
    return sum(enqueue_many(session, deliveries, now, tz=env.tz, sms=env.sms))


def _with_unit(value: float | None, kind: str) -> str:
    """Hours or a rating with its unit, for the notice's text."""
    if value is None:
        return texts.NO_DATA
    return f"{shown(value, kind)}{'小时' if kind == HOURS else '分'}"
