"""The office blueprint and what every page shares: sign-in check, scope, audit, time filter, wording."""

from __future__ import annotations

import functools
import logging
from datetime import datetime

from flask import Blueprint, abort, g, redirect, request, session, url_for

from bot.deps import db_session, services
from sqlalchemy import select

from models import Region, Staff
from models.enums import CHANNEL_NAMES, CHECKIN_PLAN_NAMES, CONTACT_KIND_NAMES, RegionLevel
from services import audit
from services.policy import recency
from services.scope import CITY, Scope, scope_for

logger = logging.getLogger(__name__)

# Templates and static files sit beside the package, in bot/templates and bot/static.
bp = Blueprint("office", __name__, url_prefix="/office", template_folder="../templates",
               static_folder="../static", static_url_path="/static")

SESSION_HOURS = 8
STATUS_NAMES = {"open": "待接单", "acknowledged": "办理中", "resolved": "已办好", "closed": "已办结", "cancelled": "已取消"}
ROLE_NAMES = {"assistant": "协理员", "town_officer": "乡镇民政助理员", "city_supervisor": "市级督办", "admin": "管理员",
              "province_admin": "省级管理员"}


# --- sign-in -----------------------------------------------------------------------------------


def signed_in_staff() -> Staff | None:
    """The active member of staff this browser signed in as, while the sign-in is fresh and current.

    The session cookie is only signed, so a copy works wherever it goes: the staff member's
    `session_version`, stored in the database, is what lets signing out or a new password end it.
    """
    staff_id = session.get("staff_id")
    staff = db_session().get(Staff, staff_id) if staff_id else None
    fresh = services().clock().timestamp() - session.get("signed_at", 0) < SESSION_HOURS * 3600
    if staff is None or not staff.active or not fresh or session.get("session_version") != staff.session_version:
        return None
    return staff


def signed_in(roles: tuple[str, ...] | None = None):
    """Require a signed-in, active member of staff (of one of `roles`); sets g.staff and g.scope."""

    def wrap(view):
        @functools.wraps(view)
        def inner(*args, **kwargs):
            staff = signed_in_staff()
            if staff is None:
                session.clear()
                return redirect(url_for("office.login", next=request.full_path))
            if roles and staff.role not in roles:
                abort(403, description="您的角色不能查看这个页面")
            g.staff, g.scope = staff, _viewing(staff)
            return view(*args, **kwargs)

        return inner

    return wrap


def _viewing(staff: Staff) -> Scope:
    """The staff member's scope; the province administrator may look at one city at a time (`?city=`,
    kept for the sign-in; `?city=0` is the whole province again)."""
    scope = scope_for(staff)
    g.cities, g.city = [], None
    if not scope.is_province:
        return scope
    asked = request.args.get("city", "")
    if asked:
        session["view_city"] = int(asked) if asked.isdigit() else None
    g.cities = db_session().scalars(select(Region).where(Region.level == RegionLevel.CITY.value)
                                    .order_by(Region.code)).all()
    g.city = next((c for c in g.cities if c.id == session.get("view_city")), None)
    return Scope(CITY, staff.id, city_id=g.city.id) if g.city is not None else scope


def require_writer() -> Scope:
    """The signed-in scope, if it may change things (assistants only read the web pages)."""
    if not g.scope.can_write:
        abort(403, description="协理员在网页上只能查看，请在微信里办理")
    return g.scope


def record_audit(action: str, target: tuple[str, int] | None = None, detail: dict | None = None) -> None:
    """Audit what the signed-in member of staff just did, with their address."""
    audit.record(db_session(), services().clock(), action, staff=g.staff, target=target, detail=detail,
                 ip=request.remote_addr)


@bp.app_template_filter("local")
def local_time(moment: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored UTC time shown in the deployment's time zone."""
    return moment.astimezone(services().settings.tz).strftime(fmt) if moment else "—"


@bp.app_template_filter("since")
def since(moment: datetime | None) -> str:
    """A stored UTC time as how long ago it was: 今天 09:12, 昨天 18:30, 3天前."""
    svc = services()
    return recency.since(moment, svc.clock(), svc.settings.tz)


@bp.app_template_test("silent_today")
def silent_today(person) -> bool:
    """A beneficiary on a daily 报平安 plan with no sign of life since local midnight."""
    svc = services()
    return recency.silent_today(person.checkin_plan, person.last_contact_at, svc.clock(), svc.settings.tz)


@bp.app_context_processor
def names():
    """Wording shared by the templates."""
    return {"STATUS_NAMES": STATUS_NAMES, "ROLE_NAMES": ROLE_NAMES, "CHANNEL_NAMES": CHANNEL_NAMES,
            "CHECKIN_PLAN_NAMES": CHECKIN_PLAN_NAMES, "CONTACT_KIND_NAMES": CONTACT_KIND_NAMES}
