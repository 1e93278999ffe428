"""Monthly reports as kept: one per month for each city and one per month for each town, remade in
place; who may make and read which, and the notice to a city's supervisors that its report is ready.

A town officer makes and reads their own town's reports; a city's administrators and supervisors
their city's and its towns'; the province administrator every city's; assistants none. Reading a
stored file is audited by the web layer; making one is audited here, with whoever made it.
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
from services.monthly_report import HOURS, RATING, SHARE, MonthlyData, shown
from services.notify import Delivery, Push, digest_sms, enqueue_many, local_time, push_key
from services.requests import RequestEnv
from services.scope import Scope

# The dashboard page the notice links to (bot/office/reports.py).
PAGE_PATH = "/office/reports"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PDF_TYPE = "application/pdf"


def several_cities(session: Session) -> bool:
    """Whether the deployment serves more than one city (then each keeps its own reports)."""
    return session.scalar(select(func.count()).select_from(Region).where(Region.level == RegionLevel.CITY.value)) > 1


def may_read(scope: Scope, city_id: int | None, town_id: int | None) -> bool:
    """Whether this scope may make and read the report of a city (town None) or of one of its towns:
    the province administrator any; a city's staff their city's; a town officer their town's."""
    if scope.is_province:
        return True
    if scope.is_city:
        return city_id is not None and city_id == scope.city_id
    return scope.kind == scoping.TOWN and town_id is not None and town_id == scope.town_id


def may_make(session: Session, scope: Scope, city_id: int | None, town_id: int | None) -> bool:
    """Whether this scope may make the report of `city_id`, or of `town_id` (its city looked up)."""
    if town_id is not None:
        city_id = scoping.city_of_town(session, town_id)
    return may_read(scope, city_id, town_id)


def find(session: Session, month: date, city_id: int | None, town_id: int | None) -> MonthlyReport | None:
    """The stored report of a month for a city (town None) or a town."""
    stmt = select(MonthlyReport).where(MonthlyReport.month == month)
    if town_id is not None:
        stmt = stmt.where(MonthlyReport.town_id == town_id)
    else:
        city = MonthlyReport.city_id.is_(None) if city_id is None else MonthlyReport.city_id == city_id
        stmt = stmt.where(MonthlyReport.town_id.is_(None), city)
    return session.scalars(stmt.order_by(MonthlyReport.id)).first()


def visible(session: Session, scope: Scope) -> list[MonthlyReport]:
    """The reports the scope may read, newest month first, by city, each city's before its towns'."""
    stmt = select(MonthlyReport).options(selectinload(MonthlyReport.city), selectinload(MonthlyReport.town),
                                         selectinload(MonthlyReport.made_by))
    if scope.kind == scoping.TOWN:
        stmt = stmt.where(MonthlyReport.town_id == scope.town_id)
    elif scope.kind == scoping.CITY:
        stmt = stmt.where(MonthlyReport.city_id == scope.city_id) if scope.city_id is not None else stmt.where(false())
    elif not scope.is_province:
        return []
    reports = session.scalars(stmt).all()
    return sorted(reports, key=lambda r: (-r.month.toordinal(), r.city.code if r.city else "", r.town_id is not None,
                                          r.town.code if r.town else ""))


def get_visible(session: Session, scope: Scope, report_id: int) -> MonthlyReport | None:
    """One stored report, when the scope may read it (else None, as if there were none)."""
    report = session.get(MonthlyReport, report_id)
    if report is None or not may_read(scope, report.city_id, report.town_id):
        return None
    return report


def save(session: Session, data: MonthlyData, xlsx: bytes, pdf: bytes, *, actor: Actor, now: datetime,
         ip: str | None = None) -> MonthlyReport:
    """Keep a month's files, replacing the stored ones of the same month and place; audited as made."""
    report = find(session, data.month, data.city_id, data.town_id)
    if report is not None:
        _fill(session, report, data, xlsx, pdf, actor, now)
    else:
        report = MonthlyReport(month=data.month, city_id=data.city_id, town_id=data.town_id)
        _fill(session, report, data, xlsx, pdf, actor, now)
        try:
            # Two makers at once: the unique index lets one insert, and the other replaces its files.
            with session.begin_nested():
                session.add(report)
                session.flush()
        except IntegrityError:
            report = find(session, data.month, data.city_id, data.town_id)
            _fill(session, report, data, xlsx, pdf, actor, now)
    session.flush()
    detail = {"month": f"{data.month:%Y-%m}", "city": data.city, "town": data.area if data.town_id else None,
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


def area_name(report: MonthlyReport) -> str:
    """The place a report covers: its town, or its city."""
    if report.town is not None:
        return report.town.name
    return report.city.name if report.city is not None else "全省"


def listed_area(report: MonthlyReport, with_city: bool) -> str:
    """The place as a list of several cities' reports shows it: 东城市·东河镇."""
    if with_city and report.town is not None and report.city is not None:
        return f"{report.city.name}·{report.town.name}"
    return area_name(report)


def file_name(report: MonthlyReport, extension: str) -> str:
    """The download's name: 示范市民政服务月报-2026年11月.pdf."""
    return f"{area_name(report)}民政服务月报-{report.month.year}年{report.month.month}月.{extension}"


def reference(month: date) -> str:
    """The report's reference on a push (编号): YB and the month, YB202611."""
    return f"YB{month:%Y%m}"


def notify_supervisors(session: Session, env: RequestEnv, report: MonthlyReport, title: str, total: Row,
                       now: datetime) -> int:
    """Tell each active supervisor of the report's city that its report of a month is ready; once per
    month each (a supervisor serves one city, so the key needs no city)."""
    month = f"{report.month.year}年{report.month.month}月"
    url = f"{env.links.base_url.rstrip('/')}{PAGE_PATH}" if env.links is not None else None
    text = texts.REPORT_READY.format(
        title=title, month=month, raised=total.raised, accept=_with_unit(total.accept.p50_service, HOURS),
        coverage=shown(total.coverage, SHARE), rating=_with_unit(total.mean_rating, RATING), url=url or PAGE_PATH,
    )
    # A report with no city (kept from before each city had its own) is the province's alone.
    supervisors = session.scalars(
        select(Staff).where(Staff.role == StaffRole.CITY_SUPERVISOR.value, Staff.active.is_(True),
                            Staff.region_id == report.city_id)
        .options(selectinload(Staff.wechat_user)).order_by(Staff.id)
    ).all() if report.city_id is not None else []
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
