"""The service figures page: a period and a level (town, village, assistant), in the viewer's scope."""

from __future__ import annotations

from datetime import date

from flask import g, render_template, request
from sqlalchemy import select

from bot.deps import read_session, services
from bot.inputs import id_arg
from bot.office.common import bp, signed_in
from config import policy
from models import Region
from models.enums import CHANNEL_NAMES, RegionLevel, RequestCategory, Urgency
from services.policy import figures as calc
from services import checkin_figures, figures, province_views
from services import scope as scoping

URGENCY_NAMES = {Urgency.NORMAL.value: "一般", Urgency.URGENT.value: "紧急"}
WEEKDAYS = "一二三四五六日"


def _day(name: str, default: date) -> date:
    try:
        return date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return default


@bp.get("/figures")
@signed_in()
def figures_page():
    """Service figures for a period (default: this month so far), read from the replica."""
    db, svc = read_session(), services()
    today = svc.clock().astimezone(svc.settings.tz).date()
    start = _day("from", today.replace(day=1))
    end = _day("to", today)
    if end < start:
        start, end = end, start
    level = request.args.get("level")
    if level not in figures.LEVELS:
        level = "assistant" if g.scope.kind == "own" else ("village" if g.scope.kind == "town" else "town")
    town_id = id_arg(request.args, "town") if g.scope.is_city else None
    # A city has about a thousand assistants: too many for one page. Per assistant, a city viewer
    # picks a town first; meanwhile the towns are shown (the monthly report's sheet has them all).
    pick_town = g.scope.is_city and level == "assistant" and not town_id
    # A province has thousands of villages: per village, its administrator chooses a city first
    # (the header's chooser); meanwhile the towns are shown.
    pick_city = g.scope.is_province and level == "village" and not town_id
    if pick_town or pick_city:
        level = "town"
    channel = request.args.get("channel") if request.args.get("channel") in CHANNEL_NAMES else None
    result = None
    if g.scope.is_province and not town_id and channel is None:
        # A whole province's standard periods: what the scheduler computed (services/province_views.py).
        result = province_views.read_figures(db, level, start, end, svc.clock())
    if result is None:
        result = figures.service_figures(db, g.scope, start, end, svc.settings.tz, level=level, town_id=town_id,
                                         today=today, channel=channel)
    towns = db.scalars(scoping.towns(g.scope, select(Region).where(Region.level == RegionLevel.TOWN.value))
                       .order_by(Region.code)).all() if g.scope.is_city else []
    return render_template(
        "office/figures.html", f=result, levels=figures.LEVELS, towns=towns, town_id=town_id,
        categories=[c.value for c in RequestCategory], urgencies=URGENCY_NAMES,
        checks=list(figures.CHECKS), helps=list(figures.HELPS), service_hours=figures.SERVICE_HOURS_LABEL,
        tz=svc.settings.tz, pick_town=pick_town, pick_city=pick_city, channel=channel,
        first_rung_hours=f"{checkin_figures.FIRST_RUNG.total_seconds() / 3600:g}",
        weekly_day="周" + WEEKDAYS[policy.CHECKIN_WEEKLY_DAY], presets=calc.presets(today),
    )
