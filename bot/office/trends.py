"""The trends page: weekly series of the last 26 weeks, towns (or villages) side by side, and each
assistant's workload now, in the viewer's scope.

The weekly series come from the small tables the scheduler recomputes every 10 minutes (the page
says when); the workload is counted afresh on every view.
"""

from __future__ import annotations

from datetime import date, datetime

from flask import g, render_template, request
from sqlalchemy import and_, or_, select

from bot.deps import read_session, services
from bot.inputs import id_arg
from bot.office.common import bp, signed_in
from models import Region
from models.enums import RegionLevel
from services import province_views, trends, workload
from services.policy.workload import REASONS
from services import scope as scoping
from services.scope import Scope


# Rows of the workload table for a whole city (the most loaded first); a town shows all its assistants.
CITY_ROWS = 50
# Bars in the workload chart.
CHART_BARS = 15
# The charts, in order. "count": a number that adds up over the lines, so the total is drawn against
# an axis of its own; "variants": other series the chart can switch to.
MEASURES = [
    {"key": "raised", "title": "求助件数", "unit": "件", "digits": 0, "count": True},
    {"key": "acceptService", "title": "接单用时中位数", "unit": "小时", "digits": 1,
     "variants": [["acceptService", "按服务时段"], ["acceptWall", "按自然时间"]]},
    {"key": "escalated", "title": "督办比例", "unit": "%", "digits": 0, "max": 100},
    {"key": "rating", "title": "平均满意度评分", "unit": "分", "digits": 1, "min": 1, "max": 5},
    {"key": "coverage", "title": "走访按计划完成率", "unit": "%", "digits": 0, "max": 100},
    {"key": "overdue", "title": "超期未走访人数（周末）", "unit": "人", "digits": 0, "count": True},
]


def _weekly_series(scope: Scope, town: Region | None, today: date, lines: list[Region]) -> dict:
    """The charts' data from the weekly and daily tables the scheduler keeps.

    A city viewer's `lines` (the towns, or the villages of the town chosen) are read with the chooser."""
    svc = services()
    return trends.as_json(trends.weekly_trends(read_session(), scope, today, svc.settings.tz,
                                               town_id=town.id if town else None,
                                               regions=lines if scope.is_city else None))


def _changes(data: dict) -> list[dict]:
    """Each measure of the total for the last full week, and its change from the week before."""
    total = data["series"][0]
    if len(data["weeks"]) < 3:
        return []
    out = []
    for measure in MEASURES:
        values = total[measure["key"]]
        last, before = values[-2], values[-3]
        out.append({**measure, "value": last,
                    "change": None if last is None or before is None else round(last - before, measure["digits"] or 0)})
    return out


@bp.get("/trends")
@signed_in()
def trends_page():
    """Weekly series of the last 26 weeks and the assistants' workload (a city viewer may pick a town);
    read from the replica."""
    db, svc = read_session(), services()
    now, tz = svc.clock(), svc.settings.tz
    today = now.astimezone(tz).date()
    asked = id_arg(request.args, "town")
    # A city viewer chooses among the towns; the villages of the town asked for come in the same read.
    wanted = Region.level == RegionLevel.TOWN.value
    if asked:
        wanted = or_(wanted, and_(Region.level == RegionLevel.VILLAGE.value, Region.parent_id == asked))
    regions = db.scalars(scoping.regions(g.scope, select(Region).where(wanted)).order_by(Region.code)).all() \
        if g.scope.is_city else []
    towns = [r for r in regions if r.level == RegionLevel.TOWN.value]
    town = next((t for t in towns if t.id == asked), None)  # anything else: the whole city
    lines = [r for r in regions if r.parent_id == town.id] if town else towns
    whole_list = bool(town) or not g.scope.is_city or request.args.get("all") == "1"
    # A whole province: what the scheduler computed (services/province_views.py), while fresh.
    kept = province_views.read_trends(db, today, now) if g.scope.is_province and not whole_list else None
    snapshot_at = None
    if kept is not None:
        data, loads, load_count, overloaded, snapshot_at = kept
    else:
        data = _weekly_series(g.scope, town, today, lines)
        loads = workload.workload(db, g.scope, now, tz, town_id=town.id if town else None)
        load_count, overloaded = len(loads), sum(x.overloaded for x in loads)
    shown = loads if whole_list else loads[:CITY_ROWS]
    computed = datetime.fromisoformat(data["computedAt"]).astimezone(tz) if data["computedAt"] else None
    chart = {**data, "measures": MEASURES,
             "load": [{"name": f"{x.name}（{x.village}）", "people": x.people, "open": x.open_cases,
                       "overdue": x.overdue, "overloaded": x.overloaded} for x in loads[:CHART_BARS]],
             "limits": {"people": workload.LIMITS.people, "open": workload.LIMITS.open_cases,
                        "overdue": workload.LIMITS.overdue}}
    return render_template(
        "office/trends.html", data=data, chart=chart, changes=_changes(data), towns=towns, town=town,
        loads=shown, load_count=load_count, overloaded=overloaded, limits=workload.LIMITS,
        reasons=REASONS, computed=computed, first=data["weeks"][0], last=data["weeks"][-1],
        snapshot_at=snapshot_at.astimezone(tz) if snapshot_at else None,
        scope_name=_scope_name(g.scope, town),
    )


def _scope_name(scope: Scope, town: Region | None) -> str:
    """What the page covers, in words."""
    if scope.kind == "own":
        return "我负责的服务对象"
    if town is not None:
        return f"{town.name} · 各村（社区）"
    if scope.kind == "town":
        return f"{g.staff.region.name} · 各村（社区）"
    return "全市 · 各乡镇"

