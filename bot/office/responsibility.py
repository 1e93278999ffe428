"""The 包联 screens: each village's responsible town officer and deputy, the city's departments and
their liaisons, and the duty rota of city supervisors.

Who may change what is the service's rule (services.responsibility_admin): city staff anything in
their city, a town officer their own town's villages; assistants only read. The service audits each
change; the page adds who asked and from which address to those entries.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime, timedelta

from flask import abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.deps import db_session, services
from bot.inputs import plausible
from bot.office.common import bp, require_writer, signed_in
from config import policy
from models import DutyShift, Region, Staff
from models.enums import RegionLevel
from services import audit
from services import responsibility_admin as chain_admin
from services import responsibility_views as views
from services import scope as scoping
from services.errors import DomainError

logger = logging.getLogger(__name__)

MSG_PICK_OFFICER = "请从本乡镇在岗的民政助理员中选择"
MSG_PICK_LIAISON = "请从本市在岗的市级民政联络员中选择"
MSG_VILLAGE_SAVED = "已保存{village}的包村责任人"
MSG_DEPARTMENT_SAVED = "已保存{name}的联络员"
MSG_DEPARTMENTS_ADDED = "已按政策表补齐 {count} 个部门"
MSG_NO_CITY = "没有找到您所在的市"
MSG_BAD_WEEK = "日期格式应为 2026-12-01，已显示本周"
MSG_BAD_TIME = "请填写开始和结束时间，如 2026-12-01 17:30"
MSG_SHIFT_ADDED = "已排班：{name} {start} 至 {end}"
MSG_SHIFT_REMOVED = "已删除{name}的这次值班"
MSG_WEEK_FILLED = "已排好这一周的 {count} 个班次（夜间和休息日）"
MSG_WEEK_TAKEN = "这一周（含前一天晚上）已有值班安排，请逐条添加或先删除"
MSG_CITY_ONLY = "只有市级工作人员可以修改"
MSG_NO_SUCH_VILLAGE = "没有这个村（社区），或不在您的范围内"
MSG_NO_SUCH_DEPARTMENT = "没有这个部门"
MSG_NO_SUCH_SHIFT = "没有这次值班，可能已被删除"


def _city() -> Region:
    """The viewer's city; the province administrator's is the one asked for (`city`), else the first."""
    if g.scope.city_id is not None:
        city = db_session().get(Region, g.scope.city_id)  # the city the province administrator chose
    elif g.scope.is_province:
        cities = views.cities(db_session())
        city = cities[0] if cities else None
    else:
        city = views.city_of(db_session(), g.staff.region_id)
    if city is None:
        abort(404, description=MSG_NO_CITY)
    return city


def _change(work: Callable[[Session], str], back: str):
    """Run one change through the service: commit and say what was done, or roll back and say why not."""
    db = db_session()
    try:
        with audit.captured(db) as entries:
            message = work(db)
    except DomainError as refused:
        db.rollback()
        flash(refused.message, "error")
        return redirect(back)
    audit.attribute(entries, staff=g.staff, ip=request.remote_addr)
    db.commit()
    flash(message, "ok")
    return redirect(back)


def _pick(choices: list[Staff], field: str) -> tuple[Staff | None, bool]:
    """The member of staff a select chose among `choices` (None: by default), and whether it was valid."""
    raw = (request.form.get(field) or "").strip()
    if not raw:
        return None, True
    chosen = next((s for s in choices if str(s.id) == raw), None)
    return chosen, chosen is not None


@bp.get("/chain")
@signed_in()
def chain_home():
    """The 包联 screens start with the village split."""
    return redirect(url_for("office.chain_villages"))


# --- villages --------------------------------------------------------------------------------------


def _towns(db: Session) -> list[Region]:
    stmt = scoping.towns(g.scope, select(Region).where(Region.level == RegionLevel.TOWN.value))
    if g.scope.is_city:
        stmt = stmt.where(Region.parent_id == _city().id)
    return list(db.scalars(stmt.order_by(Region.code, Region.id)))


def _may_edit_town(town_id: int) -> bool:
    town = db_session().get(Region, town_id)
    return g.scope.can_write and town is not None and scoping.may_see_town(g.scope, town)


@bp.get("/chain/villages")
@signed_in()
def chain_villages():
    """Each village of a town with its responsible town officer and deputy (named or by default)."""
    db = db_session()
    towns = _towns(db)
    wanted = request.args.get("town", type=int)
    town = next((t for t in towns if t.id == wanted), towns[0] if towns else None)
    rows = views.town_villages(db, town.id) if town else []
    officers = views.town_officer_choices(db, town.id) if town else []
    return render_template("office/chain_villages.html", towns=towns, town=town, rows=rows, officers=officers,
                           editable=town is not None and _may_edit_town(town.id))


@bp.post("/chain/villages/<id:village_id>")
@signed_in()
def chain_village_save(village_id: int):
    """Name a village's responsible officer and deputy (empty: back to the default spread)."""
    require_writer()
    db = db_session()
    village = db.get(Region, village_id)
    if village is None or village.level != RegionLevel.VILLAGE.value or not scoping.may_see_town(
            g.scope, village.parent):
        abort(404, description=MSG_NO_SUCH_VILLAGE)
    back = url_for("office.chain_villages", town=village.parent_id, _anchor=f"v{village.id}")
    officers = views.town_officer_choices(db, village.parent_id)
    responsible, ok_responsible = _pick(officers, "responsible")
    deputy, ok_deputy = _pick(officers, "deputy")
    if not (ok_responsible and ok_deputy):
        flash(MSG_PICK_OFFICER, "error")
        return redirect(back)

    def work(session: Session) -> str:
        chain_admin.set_village_officers(session, village, responsible, deputy, services().clock(), by=g.staff)
        return MSG_VILLAGE_SAVED.format(village=village.name)

    return _change(work, back)


# --- departments -----------------------------------------------------------------------------------


def _may_edit_city() -> bool:
    return g.scope.can_write and g.scope.is_city


def _require_city_writer() -> None:
    require_writer()
    if not g.scope.is_city:
        abort(403, description=MSG_CITY_ONLY)


@bp.get("/chain/departments")
@signed_in()
def chain_departments():
    """The city's departments with their two liaisons and the request categories each handles."""
    db, city = db_session(), _city()
    rows = views.city_department_rows(db, city.id)
    default = next((r.name for r in rows if r.code == policy.DEFAULT_DEPARTMENT), None)
    return render_template(
        "office/chain_departments.html", city=city, rows=rows, missing=views.missing_departments(db, city.id),
        liaisons=views.liaison_choices(db, city.id), editable=_may_edit_city(),
        default_department=default or views.policy_department_name(policy.DEFAULT_DEPARTMENT),
    )


@bp.post("/chain/departments/ensure")
@signed_in()
def chain_departments_ensure():
    """Add the policy's departments the city does not have yet."""
    _require_city_writer()
    city = _city()

    def work(session: Session) -> str:
        missing = views.missing_departments(session, city.id)
        chain_admin.ensure_departments(session, city, services().clock())
        return MSG_DEPARTMENTS_ADDED.format(count=len(missing))

    return _change(work, url_for("office.chain_departments"))


@bp.post("/chain/departments/<code>")
@signed_in()
def chain_department_save(code: str):
    """Rename a department and name its liaisons (empty: by default); a policy department the city
    has no record of yet is added first."""
    _require_city_writer()
    db, city = db_session(), _city()
    department = views.department_by_code(db, city.id, code)
    policy_name = views.policy_department_name(code)
    if department is None and policy_name is None:
        abort(404, description=MSG_NO_SUCH_DEPARTMENT)
    back = url_for("office.chain_departments", _anchor=f"d-{code}")
    liaisons = views.liaison_choices(db, city.id)
    responsible, ok_responsible = _pick(liaisons, "responsible")
    deputy, ok_deputy = _pick(liaisons, "deputy")
    if not (ok_responsible and ok_deputy):
        flash(MSG_PICK_LIAISON, "error")
        return redirect(back)
    name = request.form.get("name")

    def work(session: Session) -> str:
        now = services().clock()
        found = department or views.department_to_change(session, city, code, now, by=g.staff)
        if name is not None and name.strip() != found.name:
            chain_admin.rename_department(session, found, name, now, by=g.staff)
        chain_admin.set_department_liaisons(session, found, responsible, deputy, now, by=g.staff)
        return MSG_DEPARTMENT_SAVED.format(name=found.name)

    return _change(work, back)


# --- the duty rota -----------------------------------------------------------------------------------


def _week(raw: str | None) -> date:
    """The Monday of the week asked for (this week when none, or when it cannot be read)."""
    today = services().clock().astimezone(services().settings.tz).date()
    if raw:
        try:
            asked = date.fromisoformat(raw)
        except ValueError:
            asked = None
        if asked is not None and plausible(asked):
            return views.week_start(asked)
        flash(MSG_BAD_WEEK, "error")
    return views.week_start(today)


@bp.get("/chain/duty")
@signed_in()
def duty_rota():
    """A week of the rota (this week unless asked), the person on duty now highlighted."""
    db, svc, city = db_session(), services(), _city()
    tz, now = svc.settings.tz, svc.clock()
    monday = _week(request.args.get("week"))
    today = now.astimezone(tz).date()
    # The add form starts at this evening's close (or the shown week's first), until next opening.
    first = today if monday <= today < monday + timedelta(days=7) else monday
    opening, closing = policy.OFFICE_HOURS
    return render_template(
        "office/duty.html", city=city, week=views.rota_week(db, city.id, monday, tz, now), tz=tz,
        editable=_may_edit_city(), supervisors=views.liaison_choices(db, city.id) if _may_edit_city() else [],
        previous=monday - timedelta(days=7), following=monday + timedelta(days=7), this_week=views.week_start(today),
        default_start=datetime.combine(first, closing),
        default_end=datetime.combine(first + timedelta(days=1), opening),
        office_hours=f"{opening:%H:%M}–{closing:%H:%M}",
    )


def _local_time(field: str) -> datetime | None:
    """A form's local date and time ("2026-12-01T17:30" from the picker, or with a space), aware."""
    raw = (request.form.get(field) or "").strip().replace("T", " ")
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        return None
    if not plausible(moment):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=services().settings.tz)


@bp.post("/chain/duty")
@signed_in()
def duty_add():
    """Put a city supervisor on duty from a local start to a local end."""
    _require_city_writer()
    db, city, tz = db_session(), _city(), services().settings.tz
    start, end = _local_time("starts_at"), _local_time("ends_at")
    week = views.week_start(start.astimezone(tz).date()) if start else None
    back = url_for("office.duty_rota", week=week.isoformat() if week else None)
    staff, ok = _pick(views.liaison_choices(db, city.id), "staff_id")
    if staff is None or not ok:
        flash(MSG_PICK_LIAISON, "error")
        return redirect(back)
    if start is None or end is None:
        flash(MSG_BAD_TIME, "error")
        return redirect(back)

    def work(session: Session) -> str:
        chain_admin.add_duty_shift(session, staff, start, end, services().clock(), by=g.staff)
        return MSG_SHIFT_ADDED.format(name=staff.name, start=start.astimezone(tz).strftime("%m-%d %H:%M"),
                                      end=end.astimezone(tz).strftime("%m-%d %H:%M"))

    return _change(work, back)


@bp.post("/chain/duty/<id:shift_id>/remove")
@signed_in()
def duty_remove(shift_id: int):
    """Take one shift off the rota."""
    _require_city_writer()
    db, city, tz = db_session(), _city(), services().settings.tz
    shift = db.get(DutyShift, shift_id)
    if shift is None or shift.staff.region_id != city.id:
        flash(MSG_NO_SUCH_SHIFT, "error")
        return redirect(url_for("office.duty_rota", week=request.args.get("week")))
    name = shift.staff.name
    back = url_for("office.duty_rota", week=views.week_start(shift.starts_at.astimezone(tz).date()).isoformat())

    def work(session: Session) -> str:
        chain_admin.remove_duty_shift(session, shift, services().clock(), by=g.staff)
        return MSG_SHIFT_REMOVED.format(name=name)

    return _change(work, back)


@bp.post("/chain/duty/fill")
@signed_in()
def duty_fill():
    """Fill a week with shifts outside office hours, dealt round the city's supervisors."""
    _require_city_writer()
    db, city, tz = db_session(), _city(), services().settings.tz
    monday = _week(request.form.get("week"))
    back = url_for("office.duty_rota", week=monday.isoformat())
    if views.shifts_between(db, *views.fill_span(monday, tz), city_id=city.id):
        flash(MSG_WEEK_TAKEN, "error")
        return redirect(back)

    def work(session: Session) -> str:
        shifts = chain_admin.fill_rota(session, city, monday, tz, services().clock(), by=g.staff)
        return MSG_WEEK_FILLED.format(count=len(shifts))

    return _change(work, back)
