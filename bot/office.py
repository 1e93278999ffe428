"""The civil-affairs office dashboard under /office: sign-in, the service map, the case board,
case and beneficiary pages, visit coverage and the audit log. Server-rendered; every query is
narrowed to the signed-in staff member's scope."""

from __future__ import annotations

import functools
import json
import logging
import secrets
from datetime import date, datetime, timedelta

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, session, url_for
from sqlalchemy import select

from bot.app import db_session, services
from handlers.policy import id_number
from handlers.services import accounts, audit, cards, dashboard, exports, imports, roster
from handlers.services import scope as scoping
from handlers.services import requests as request_service
from handlers.services.errors import DomainError
from handlers.services.scope import Scope, scope_for
from models import Region, Staff
from models.enums import RegionLevel, RequestCategory, RequestStatus, StaffRole

logger = logging.getLogger(__name__)

bp = Blueprint("office", __name__, url_prefix="/office", template_folder="templates",
               static_folder="static", static_url_path="/static")

SESSION_HOURS = 8
STATUS_NAMES = {"open": "待接单", "acknowledged": "办理中", "resolved": "已办好", "closed": "已办结", "cancelled": "已取消"}
ROLE_NAMES = {"assistant": "协理员", "town_officer": "乡镇民政助理员", "city_supervisor": "市级督办", "admin": "管理员"}


# --- sign-in -----------------------------------------------------------------------------------


def signed_in(roles: tuple[str, ...] | None = None):
    """Require a signed-in, active member of staff (of one of `roles`); sets g.staff and g.scope."""

    def wrap(view):
        @functools.wraps(view)
        def inner(*args, **kwargs):
            staff_id = session.get("staff_id")
            staff = db_session().get(Staff, staff_id) if staff_id else None
            signed_at = session.get("signed_at", 0)
            fresh = services().clock().timestamp() - signed_at < SESSION_HOURS * 3600
            if staff is None or not staff.active or not fresh:
                session.clear()
                return redirect(url_for("office.login", next=request.full_path))
            if roles and staff.role not in roles:
                abort(403, description="您的角色不能查看这个页面")
            g.staff, g.scope = staff, scope_for(staff)
            return view(*args, **kwargs)

        return inner

    return wrap


def _writer() -> Scope:
    if not g.scope.can_write:
        abort(403, description="协理员在网页上只能查看，请在微信里办理")
    return g.scope


def _audit(action: str, target: tuple[str, int] | None = None, detail: dict | None = None) -> None:
    audit.record(db_session(), services().clock(), action, staff=g.staff, target=target, detail=detail,
                 ip=request.remote_addr)


@bp.app_template_filter("local")
def local_time(moment: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored UTC time shown in the deployment's time zone."""
    return moment.astimezone(services().settings.tz).strftime(fmt) if moment else "—"


@bp.app_context_processor
def names():
    """Wording shared by the templates."""
    return {"STATUS_NAMES": STATUS_NAMES, "ROLE_NAMES": ROLE_NAMES}


@bp.route("/login", methods=["GET", "POST"])
def login():
    """The sign-in form (CSRF-protected); wrong passwords count towards a lock-out."""
    error = None
    if request.method == "POST":
        db = db_session()
        now = services().clock()
        try:
            staff = accounts.authenticate(db, request.form.get("staff_no", ""), request.form.get("password", ""), now)
        except DomainError as refused:
            db.commit()  # keep the failure count
            error = refused.message
            logger.info("office=login_failed remote=%s", request.remote_addr)
        else:
            audit.record(db, now, "login", staff=staff, ip=request.remote_addr)
            db.commit()
            session.clear()
            session["staff_id"], session["signed_at"] = staff.id, now.timestamp()
            target = request.args.get("next", "")
            # Only local paths: never an open redirect.
            return redirect(target if target.startswith("/office") else url_for("office.home"))
    return render_template("office/login.html", error=error), 401 if error else 200


@bp.post("/logout")
def logout():
    """Sign out."""
    session.clear()
    return redirect(url_for("office.login"))


@bp.get("/")
@signed_in()
def home():
    """The start page: the service map."""
    return redirect(url_for("office.service_map"))


# --- the service map -------------------------------------------------------------------------------


@bp.get("/map")
@signed_in()
def service_map():
    """City > towns > villages with counts and the gaps to fix."""
    data = dashboard.service_map(db_session(), g.scope)
    return render_template("office/map.html", data=data, threshold=dashboard.LOAD_THRESHOLD)


@bp.get("/villages/<int:village_id>")
@signed_in()
def village(village_id: int):
    """One village: assistants and their beneficiaries (prints on A4)."""
    detail = dashboard.village_detail(db_session(), g.scope, village_id)
    if detail is None:
        abort(404, description="没有这个村（社区），或不在您的范围内")
    return render_template("office/village.html", detail=detail)


@bp.get("/beneficiaries/<int:beneficiary_id>")
@signed_in()
def beneficiary(beneficiary_id: int):
    """One beneficiary: details (ID masked), assignment history, cases and visits."""
    return _beneficiary_page(beneficiary_id, full_id=None)


def _beneficiary_page(beneficiary_id: int, full_id: str | None):
    db = db_session()
    person = dashboard.beneficiary_detail(db, g.scope, beneficiary_id)
    if person is None:
        abort(404, description="没有这位服务对象，或不在您的范围内")
    pii = services().pii
    masked = id_number.mask(pii.decrypt(person.id_number_encrypted)) if person.id_number_encrypted else "—"
    history = sorted(person.assignments, key=lambda a: a.started_at, reverse=True)
    staff = dashboard.staff_names(db, [a.staff_id for a in history])
    return render_template(
        "office/beneficiary.html", person=person, masked=masked, full_id=full_id, history=history, staff=staff,
        cases=dashboard.recent_cases(db, person.id), visits=dashboard.recent_visits(db, person.id),
        assistants=dashboard.village_assistants(db, person.village_id),
        current=roster.current_assignment(db, person),
    )


@bp.post("/beneficiaries/<int:beneficiary_id>/reveal-id")
@signed_in()
def reveal_id(beneficiary_id: int):
    """Show the full ID number once; every display is audited."""
    _writer()
    db = db_session()
    person = dashboard.beneficiary_detail(db, g.scope, beneficiary_id)
    if person is None or not person.id_number_encrypted:
        abort(404, description="没有这位服务对象，或不在您的范围内")
    _audit("beneficiary.id_number.view", ("beneficiary", person.id))
    db.commit()
    return _beneficiary_page(beneficiary_id, full_id=services().pii.decrypt(person.id_number_encrypted))


@bp.post("/beneficiaries/<int:beneficiary_id>/reassign")
@signed_in()
def reassign_beneficiary(beneficiary_id: int):
    """Make another assistant of the village responsible: one action, audited, card marked outdated."""
    _writer()
    db = db_session()
    person = dashboard.beneficiary_detail(db, g.scope, beneficiary_id)
    if person is None:
        abort(404, description="没有这位服务对象，或不在您的范围内")
    target = db.get(Staff, request.form.get("staff_id", type=int) or 0)
    if target is None or target.region_id != person.village_id:
        flash("请选择本村（社区）的协理员", "error")
        return redirect(url_for("office.beneficiary", beneficiary_id=beneficiary_id))
    previous = roster.current_assignment(db, person)
    try:
        roster.assign_assistant(db, person, target, services().clock(), by=g.staff,
                                reason=request.form.get("reason") or "网页调整")
    except roster.RosterError as refused:
        flash(str(refused), "error")
        return redirect(url_for("office.beneficiary", beneficiary_id=beneficiary_id))
    _audit("beneficiary.reassign", ("beneficiary", person.id),
           {"from_staff_id": previous.staff_id if previous else None, "to_staff_id": target.id})
    db.commit()
    flash(f"已改由{target.name}负责{person.name}，请重新打印关爱服务电话卡。", "ok")
    return redirect(url_for("office.beneficiary", beneficiary_id=beneficiary_id))


# --- the case board -------------------------------------------------------------------------------


def _board_filters() -> dashboard.BoardFilters:
    args = request.args
    return dashboard.BoardFilters(
        town_id=args.get("town", type=int), village_id=args.get("village", type=int),
        assignee_no=args.get("assignee") or None, category=args.get("category") or None,
        urgency=args.get("urgency") or None, status=args.get("status") or "open",
        escalated=args.get("escalated") == "1", overdue=args.get("overdue") == "1",
    )


@bp.get("/cases")
@signed_in()
def cases():
    """Open, overdue and escalated requests, filtered, next deadline first, paginated."""
    db = db_session()
    filters = _board_filters()
    page = max(request.args.get("page", 1, type=int), 1)
    rows, total = dashboard.case_board(db, g.scope, filters, services().clock(), page)
    towns = db.scalars(
        scoping.towns(g.scope, select(Region).where(Region.level == RegionLevel.TOWN.value))
        .order_by(Region.code)
    ).all()
    return render_template(
        "office/cases.html", rows=rows, total=total, page=page, pages=max((total - 1) // dashboard.PAGE_SIZE + 1, 1),
        filters=filters, towns=towns, categories=[c.value for c in RequestCategory],
        statuses=[s.value for s in RequestStatus], now=services().clock(),
    )


@bp.get("/cases/<int:number>")
@signed_in()
def case(number: int):
    """One request with its whole timeline."""
    db = db_session()
    item = dashboard.case_detail(db, g.scope, number)
    if item is None:
        abort(404, description="没有这件求助，或不在您的范围内")
    events = dashboard.events_for(item)
    alerted = dashboard.alerted_staff(events)
    staff = dashboard.staff_names(
        db, [e.actor_staff_id for e in events] + [item.assignee_staff_id] + [i for ids in alerted.values() for i in ids]
    )
    return render_template("office/case.html", item=item, events=events, staff=staff, alerted=alerted)


@bp.post("/cases/<int:number>/<action>")
@signed_in()
def case_action(number: int, action: str):
    """Reassign, comment or close from the page, through the same services as the chat commands."""
    _writer()
    db = db_session()
    item = dashboard.case_detail(db, g.scope, number)
    if item is None:
        abort(404, description="没有这件求助，或不在您的范围内")
    env, now, text = services().request_env, services().clock(), (request.form.get("text") or "").strip()
    try:
        if action == "reassign":
            message = request_service.reassign(db, env, item, g.staff, request.form.get("staff_no", ""), now)
        elif action == "comment":
            request_service.comment(db, env, item, g.staff, text, now)
            message = "已添加备注"
        elif action == "close":
            message = request_service.resolve(db, env, item, g.staff, text, now)
        else:
            abort(404)
    except DomainError as refused:
        db.rollback()
        flash(refused.message, "error")
        return redirect(url_for("office.case", number=number))
    _audit(f"case.{action}", ("service_request", number))
    db.commit()
    flash(message, "ok")
    return redirect(url_for("office.case", number=number))


# --- visits -------------------------------------------------------------------------------------------


@bp.get("/visits")
@signed_in()
def visits():
    """Visit coverage per town (or per village of one town) and problems found this month."""
    db, svc = db_session(), services()
    town_id = request.args.get("town", type=int)
    if g.scope.kind == "town":
        town_id = g.scope.town_id
    now = svc.clock()
    rows = dashboard.visit_coverage(db, g.scope, now, svc.settings.tz, town_id=town_id)
    problems = dashboard.problems_this_month(db, g.scope, now, svc.settings.tz)
    town = db.get(Region, town_id) if town_id else None
    return render_template("office/visits.html", rows=rows, problems=problems, town=town)


# --- the audit log ------------------------------------------------------------------------------------


@bp.get("/audit")
@signed_in(roles=(StaffRole.ADMIN.value,))
def audit_log():
    """Search the audit log (administrators only)."""
    args = request.args
    tz = services().settings.tz

    def day(name: str) -> datetime | None:
        try:
            return datetime.fromisoformat(args[name]).replace(tzinfo=tz) if args.get(name) else None
        except ValueError:
            flash(f"日期格式应为 2026-12-01：{args[name]}", "error")
            return None

    since, until = day("since"), day("until")
    rows = audit.search(
        db_session(), action=args.get("action") or None, staff_no=args.get("staff_no") or None,
        target_type=args.get("target_type") or None, target_id=args.get("target_id", type=int),
        since=since, until=until + timedelta(days=1) if until else None,
    )
    return render_template("office/audit.html", rows=rows, args=args)


# --- care cards ------------------------------------------------------------------------------------


def _print(people, title: str):
    db = db_session()
    svc = services()
    try:
        views = cards.print_cards(db, svc.wechat, people, svc.clock())
    except cards.CardError as failed:
        db.rollback()
        flash(failed.message, "error")
        return None
    _audit("cards.print", None, {"count": len(views), "title": title})
    db.commit()
    return render_template("cards.html", cards=views, title=title)


@bp.get("/villages/<int:village_id>/cards")
@signed_in()
def village_cards(village_id: int):
    """Print-ready care cards for every beneficiary of a village (A4, print from the browser)."""
    _writer()
    detail = dashboard.village_detail(db_session(), g.scope, village_id)
    if detail is None:
        abort(404, description="没有这个村（社区），或不在您的范围内")
    page = _print(cards.village_beneficiaries(db_session(), village_id), f"{detail.village.name} 关爱服务电话卡")
    return page or redirect(url_for("office.village", village_id=village_id))


@bp.get("/beneficiaries/<int:beneficiary_id>/card")
@signed_in()
def beneficiary_card(beneficiary_id: int):
    """The care card of one beneficiary."""
    _writer()
    person = dashboard.beneficiary_detail(db_session(), g.scope, beneficiary_id)
    if person is None:
        abort(404, description="没有这位服务对象，或不在您的范围内")
    page = _print([person], f"{person.name} 关爱服务电话卡")
    return page or redirect(url_for("office.beneficiary", beneficiary_id=beneficiary_id))


# --- import and export -------------------------------------------------------------------------------

IMPORT_KINDS = {"beneficiaries": "服务对象", "staff": "工作人员"}
UPLOAD_MAX_BYTES = 20 * 1024 * 1024
UPLOAD_TTL_SECONDS = 3600
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _upload_key(token: str) -> str:
    return f"{services().keys.prefix}:upload:{token}"


def _run_import(kind: str, data: bytes, filename: str, accept_good_rows: bool):
    db, svc = db_session(), services()
    table = imports.read_table(data, filename)
    common = {"now": svc.clock(), "actor": g.staff, "accept_good_rows": accept_good_rows, "ip": request.remote_addr}
    if kind == "beneficiaries":
        return imports.import_beneficiaries(db, svc.pii, table, **common)
    return imports.import_staff(db, table, **common)


@bp.get("/import")
@signed_in()
def import_page():
    """Upload forms, templates to download, and exports."""
    _writer()
    return render_template("office/import.html", kinds=IMPORT_KINDS, report=None)


@bp.get("/import/template/<kind>.xlsx")
@signed_in()
def import_template(kind: str):
    """The spreadsheet template offices fill in (Chinese headers, an example row)."""
    if kind not in IMPORT_KINDS:
        abort(404)
    content = imports.beneficiary_template(db_session()) if kind == "beneficiaries" else imports.staff_template(db_session())
    return _download(content, f"{IMPORT_KINDS[kind]}导入模板.xlsx")


def _download(content: bytes, filename: str):
    from urllib.parse import quote

    response = current_app.response_class(content, mimetype=XLSX)
    response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(filename)}"
    return response


@bp.post("/import/<kind>")
@signed_in(roles=(StaffRole.ADMIN.value,))
def import_upload(kind: str):
    """Check an uploaded file; import it when every row is good, otherwise show the row report."""
    if kind not in IMPORT_KINDS:
        abort(404)
    request.max_content_length = UPLOAD_MAX_BYTES
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash("请选择要导入的 .xlsx 或 .csv 文件", "error")
        return redirect(url_for("office.import_page"))
    data = upload.read()
    try:
        report = _run_import(kind, data, upload.filename, accept_good_rows=False)
    except imports.ImportFileError as refused:
        db_session().rollback()
        flash(refused.message, "error")
        return redirect(url_for("office.import_page"))
    token = None
    if report.applied:
        db_session().commit()
    else:
        db_session().rollback()
        # Kept briefly (in Redis, shared by every worker) for "import the good rows" and the report.
        token = secrets.token_urlsafe(16)
        services().redis.set(_upload_key(token), _pack_upload(kind, upload.filename, data), ex=UPLOAD_TTL_SECONDS)
    return render_template("office/import.html", kinds=IMPORT_KINDS, report=report, kind=kind, token=token)


def _pack_upload(kind: str, filename: str, data: bytes) -> bytes:
    """Pack an upload for Redis: kind, file name and contents."""
    header = json.dumps({"kind": kind, "filename": filename}, ensure_ascii=False).encode()
    return len(header).to_bytes(4, "big") + header + data


def _unpack_upload(token: str) -> tuple[str, str, bytes]:
    raw = services().redis.get(_upload_key(token))
    if raw is None:
        abort(410, description="上传的文件已过期，请重新上传")
    size = int.from_bytes(raw[:4], "big")
    header = json.loads(raw[4:4 + size])
    return header["kind"], header["filename"], raw[4 + size:]


@bp.post("/import/confirm/<token>")
@signed_in(roles=(StaffRole.ADMIN.value,))
def import_confirm(token: str):
    """Import only the good rows of a file that had errors, after the user confirmed."""
    kind, filename, data = _unpack_upload(token)
    report = _run_import(kind, data, filename, accept_good_rows=True)
    db_session().commit()
    services().redis.delete(_upload_key(token))
    return render_template("office/import.html", kinds=IMPORT_KINDS, report=report, kind=kind, token=None)


@bp.get("/import/report/<token>.xlsx")
@signed_in(roles=(StaffRole.ADMIN.value,))
def import_report(token: str):
    """The row-by-row error report of an uploaded file (ID numbers masked)."""
    kind, filename, data = _unpack_upload(token)
    report = _run_import(kind, data, filename, accept_good_rows=False)
    db_session().rollback()
    return _download(imports.error_report(report), f"导入问题报告-{filename.rsplit('.', 1)[0]}.xlsx")


@bp.get("/export/<kind>.xlsx")
@signed_in()
def export(kind: str):
    """Cases or visits within the scope as .xlsx; every export is audited."""
    scope = _writer()
    db, svc = db_session(), services()
    args = request.args

    def day(name: str):
        try:
            return date.fromisoformat(args[name]) if args.get(name) else None
        except ValueError:
            abort(400, description=f"日期格式应为 2026-12-01：{args[name]}")

    common = {"now": svc.clock(), "tz": svc.settings.tz, "actor": g.staff, "since": day("since"),
              "until": day("until"), "ip": request.remote_addr}
    if kind == "cases":
        result = exports.export_cases(db, narrow=lambda stmt: scoping.requests(scope, stmt), **common)
    elif kind == "visits":
        result = exports.export_visits(db, narrow=lambda stmt: scoping.visits(scope, stmt), **common)
    else:
        abort(404)
    db.commit()
    return _download(result.content, result.filename)
