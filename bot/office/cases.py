"""The case board, case pages and their actions, visit coverage and the audit log."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from flask import abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from bot.deps import db_session, read_session, services
from bot.inputs import id_arg, page_arg, plausible
from bot.office import audit_names
from bot.office.common import bp, record_audit, require_writer, signed_in
from models import Region
from models.enums import RegionLevel, RequestCategory, RequestStatus
from services import audit, casework, checkin_views, dashboard
from services import scope as scoping
from services.errors import DomainError
from services.media import for_request as media_for_request
from services.policy import permissions

logger = logging.getLogger(__name__)


# --- the case board -------------------------------------------------------------------------------


def _board_filters() -> dashboard.BoardFilters:
    args = request.args
    return dashboard.BoardFilters(
        town_id=id_arg(args, "town"), village_id=id_arg(args, "village"),
        assignee_no=args.get("assignee") or None, category=args.get("category") or None,
        urgency=args.get("urgency") or None, channel=args.get("channel") or None, status=args.get("status") or dashboard.ACTIVE,
        escalated=args.get("escalated") == "1", overdue=args.get("overdue") == "1",
    )


@bp.get("/cases")
@signed_in()
def cases():
    """Open, overdue and escalated requests, filtered, next deadline first, paginated (read from the replica)."""
    db = read_session()
    filters = _board_filters()
    page = page_arg(request.args)
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


@bp.get("/cases/<id:number>")
@signed_in()
def case(number: int):
    """One request with its whole timeline, from the primary: it must show the action just taken."""
    db = db_session()
    item = dashboard.case_detail(db, g.scope, number)
    if item is None:
        abort(404, description="没有这件求助，或不在您的范围内")
    events = dashboard.events_for(item)
    alerted = dashboard.alerted_staff(events)
    staff = dashboard.staff_names(
        db, [e.actor_staff_id for e in events] + [item.assignee_staff_id] + [i for ids in alerted.values() for i in ids]
    )
    # Played and shown through /office/media/<id>, which checks the scope and audits each file.
    files = media_for_request(db, item.id)
    why = checkin_views.silence_reason(db, item, services().clock(), services().settings.tz)
    return render_template("office/case.html", item=item, events=events, staff=staff, alerted=alerted, files=files,
                           why=why)


@bp.post("/cases/<id:number>/<action>")
@signed_in()
def case_action(number: int, action: str):
    """Reassign, comment or close from the page, through the same services as the chat commands."""
    require_writer()
    db = db_session()
    item = dashboard.case_detail(db, g.scope, number)
    if item is None:
        abort(404, description="没有这件求助，或不在您的范围内")
    env, now, text = services().request_env, services().clock(), (request.form.get("text") or "").strip()
    try:
        if action == "reassign":
            message = casework.reassign(db, env, item, g.staff, request.form.get("staff_no", ""), now)
        elif action == "comment":
            casework.comment(db, env, item, g.staff, text, now)
            message = "已添加备注"
        elif action == "close":
            message = casework.resolve(db, env, item, g.staff, text, now)
        else:
            abort(404)
    except DomainError as refused:
        db.rollback()
        flash(refused.message, "error")
        return redirect(url_for("office.case", number=number))
    record_audit(f"case.{action}", ("service_request", number))
    db.commit()
    flash(message, "ok")
    return redirect(url_for("office.case", number=number))


# --- visits -------------------------------------------------------------------------------------------


@bp.get("/visits")
@signed_in()
def visits():
    """Visit coverage per town (or per village of one town) and problems found this month (replica)."""
    db, svc = read_session(), services()
    town_id = id_arg(request.args, "town")
    if g.scope.kind == "town":
        town_id = g.scope.town_id
    town = db.get(Region, town_id) if town_id else None
    if town_id and (town is None or town.level != RegionLevel.TOWN.value or not scoping.may_see_town(g.scope, town)):
        abort(404, description="没有这个乡镇，或不在您的范围内")
    now = svc.clock()
    rows = dashboard.visit_coverage(db, g.scope, now, svc.settings.tz, town_id=town_id)
    problems = dashboard.problems_this_month(db, g.scope, now, svc.settings.tz)
    return render_template("office/visits.html", rows=rows, problems=problems, town=town)


# --- the audit log ------------------------------------------------------------------------------------


@bp.get("/audit")
@signed_in(roles=permissions.ADMIN_ROLES)
def audit_log():
    """Search the audit log (administrators only)."""
    args = request.args
    tz = services().settings.tz

    def day(name: str) -> datetime | None:
        try:
            asked = datetime.fromisoformat(args[name]).replace(tzinfo=tz) if args.get(name) else None
        except ValueError:
            asked = None
        if args.get(name) and (asked is None or not plausible(asked)):
            flash(f"日期格式应为 2026-12-01：{args[name]}", "error")
            return None
        return asked

    since, until = day("since"), day("until")
    rows = audit.search(
        db_session(), action=args.get("action") or None, staff_no=args.get("staff_no") or None,
        target_type=args.get("target_type") or None, target_id=id_arg(args, "target_id"),
        since=since, until=until + timedelta(days=1) if until else None, scope=g.scope,
    )
    named = dashboard.staff_names(db_session(), set().union(*(audit_names.staff_ids(e.detail) for e, _ in rows)))
    entries = [
        (entry, who, audit_names.action_name(entry.action), audit_names.target_name(entry.target_type, entry.target_id),
         audit_names.describe_detail(entry.detail, named))
        for entry, who in rows
    ]
    return render_template("office/audit.html", entries=entries, args=args, action_names=audit_names.ACTION_NAMES,
                           ACTOR_NAMES=audit_names.ACTOR_NAMES)
