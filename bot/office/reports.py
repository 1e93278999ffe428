"""The 月报 page: the monthly reports kept, their downloads (.xlsx, .pdf), and a button to make one.

A city's administrators and supervisors see and make their city's and its towns'; a town officer their
own town's; the province administrator every city's, and makes one for the city chosen in the form or
at the top of the page; assistants have no access. Every download is audited; so is making one.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import quote

from flask import abort, current_app, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from bot.deps import db_session, read_session, services
from bot.inputs import whole_number
from bot.office.common import bp, record_audit, signed_in
from models import Region
from models.enums import RegionLevel, StaffRole
from runtime import reports
from services import monthly_report, report_archive
from services import scope as scoping
from services.policy import months

logger = logging.getLogger(__name__)

OFFICE_ROLES = (StaffRole.PROVINCE_ADMIN.value, StaffRole.ADMIN.value, StaffRole.CITY_SUPERVISOR.value,
                StaffRole.TOWN_OFFICER.value)
FORMATS = {"xlsx": report_archive.XLSX_TYPE, "pdf": report_archive.PDF_TYPE}
MSG_BAD_MONTH = "请选择月份，例如 2026-11"
MSG_FUTURE_MONTH = "这个月还没有开始，不能生成月报"
MSG_NO_TOWN = "没有这个乡镇"
MSG_NO_CITY = "请选择要生成月报的市"
MSG_NOT_YOURS = "您只能生成本乡镇的月报"
MSG_NOT_YOUR_CITY = "您只能生成本市的月报"
MSG_NO_REPORT = "没有这份月报，或不在您的范围内"
MSG_MADE = "已生成{title}（{month}）{state}，可在下面下载。"


def _towns():
    """The towns the viewer may make a report for."""
    stmt = select(Region).where(Region.level == RegionLevel.TOWN.value).order_by(Region.code)
    return db_session().scalars(scoping.towns(g.scope, stmt)).all()


def _viewer_city() -> Region | None:
    """The city the viewer's whole-city report is for: their own (or the one the province
    administrator chose), or the deployment's only city; None for a town officer, or for the
    province administrator looking at several cities."""
    db = db_session()
    if g.scope.kind == scoping.CITY:
        return db.get(Region, g.scope.city_id)
    cities = monthly_report.cities(db) if g.scope.is_province else []
    return cities[0] if len(cities) == 1 else None


def _page(error: str | None = None, status: int = 200, month: str | None = None):
    """The page, with a refusal's message when there is one (last month chosen by default)."""
    svc, db = services(), db_session()
    today = svc.clock().astimezone(svc.settings.tz).date()
    default = months.previous_month(months.month_start(today))
    city = _viewer_city()
    several = report_archive.several_cities(db)
    return render_template(
        "office/reports.html", reports=report_archive.visible(db, g.scope), towns=_towns(),
        month=month or f"{default:%Y-%m}", latest=f"{today:%Y-%m}", error=error, city=city, several=several,
        # The province administrator looking at every city picks one in the form.
        cities=monthly_report.cities(db) if g.scope.is_province and city is None else [],
        show_city=several and g.scope.is_province, area=report_archive.listed_area,
    ), status


def _asked_city(raw: str) -> tuple[Region | None, str | None]:
    """The city a whole-city report is asked for (the form's, else the viewer's), or why there is none."""
    if not raw:
        city = _viewer_city()
        return (city, None) if city is not None else (None, MSG_NO_CITY)
    city_id = whole_number(raw)
    city = db_session().get(Region, city_id) if city_id else None
    if city is None or city.level != RegionLevel.CITY.value:
        return None, MSG_NO_CITY
    return city, None


@bp.get("/reports")
@signed_in(roles=OFFICE_ROLES)
def reports_page():
    """The reports kept within the viewer's reach, newest month first, and the form to make one."""
    return _page()


@bp.post("/reports")
@signed_in(roles=OFFICE_ROLES)
def reports_make():
    """Make (or make again) one month's report for the city or a town, then list it."""
    svc, db = services(), db_session()
    asked = request.form.get("month", "")
    first = months.parse_month(asked)
    if first is None:
        return _page(MSG_BAD_MONTH, 400)
    now = svc.clock()
    if first > months.month_start(now.astimezone(svc.settings.tz).date()):
        return _page(MSG_FUTURE_MONTH, 400, month=asked)
    raw_town = request.form.get("town", "").strip()
    town = city = None
    if raw_town:
        town_id = whole_number(raw_town)
        town = db.get(Region, town_id) if town_id else None
        if town is None or town.level != RegionLevel.TOWN.value:
            return _page(MSG_NO_TOWN, 400, month=asked)
    elif g.scope.kind == scoping.TOWN:
        town = db.get(Region, g.scope.town_id)
    else:
        city, refused = _asked_city(request.form.get("city", "").strip())
        if city is None:
            return _page(refused, 400, month=asked)
    if not report_archive.may_make(db, g.scope, city.id if city else None, town.id if town else None):
        logger.info("office=report_make_refused staff=%s", g.staff.id)
        abort(403, description=MSG_NOT_YOURS if g.scope.kind == scoping.TOWN else MSG_NOT_YOUR_CITY)
    # The month's figures come from the replica; the report and its audit entry are kept on the primary.
    made = reports.make_report(db, month=first, town=town, city=city, tz=svc.settings.tz, now=now, actor=g.staff,
                               ip=request.remote_addr, reads=read_session())
    db.commit()
    state = "" if made.data.complete else "（本月尚未结束，数字截至今天）"
    flash(MSG_MADE.format(title=made.data.title, month=made.data.month_label, state=state), "ok")
    return redirect(url_for("office.reports_page", _anchor=f"report-{made.report.id}"), 303)


@bp.get("/reports/<id:report_id>.<kind>")
@signed_in(roles=OFFICE_ROLES)
def report_file(report_id: int, kind: str):
    """One kept report's spreadsheet or PDF, as an attachment with its Chinese name; audited."""
    if kind not in FORMATS:
        abort(404, description=MSG_NO_REPORT)
    db = db_session()
    report = report_archive.get_visible(db, g.scope, report_id)
    if report is None:
        logger.info("office=report_refused staff=%s report=%s", g.staff.id, report_id)
        abort(404, description=MSG_NO_REPORT)
    content = report.xlsx if kind == "xlsx" else report.pdf
    name = report_archive.file_name(report, kind)
    record_audit("report.download", ("monthly_report", report.id),
                 {"month": f"{report.month:%Y-%m}", "format": kind, "city": report.city.name if report.city else None,
                  "town": report.town.name if report.town else None})
    db.commit()
    response = current_app.response_class(content, mimetype=FORMATS[kind])
    # An ASCII name for old clients, and the Chinese one (RFC 5987) for every browser today.
    # A city's code names a whole city's report only where there are several cities.
    place = report.town or (report.city if report_archive.several_cities(db) else None)
    fallback = f"monthly-report-{report.month:%Y-%m}" + (f"-{place.code}" if place else "") + f".{kind}"
    fallback = re.sub(r"[^A-Za-z0-9._-]", "_", fallback)
    response.headers["Content-Disposition"] = (f"attachment; filename=\"{fallback}\"; "
                                               f"filename*=UTF-8''{quote(name)}")
    response.headers["Cache-Control"] = "private, no-store"
    return response
