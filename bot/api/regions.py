"""Admin API routes for regions: create one, list them."""

from __future__ import annotations

from flask import jsonify

from bot.api import responses
from bot.api.audit import audit
from bot.api.blueprint import bp
from bot.api.errors import MSG_CODE_TAKEN, MSG_PARENT_UNKNOWN, conflict, invalid
from bot.api.schemas import RegionCreate, RegionQuery
from bot.api.spec import operation
from bot.deps import db_session, services
from services import listing, roster


@bp.post("/regions")
@operation("createRegion", "regions", 201, responses.Region, 400, 409, 413, 422)
def create_region(json: RegionCreate):
    """Add a city, a town under the city, or a village/community under a town."""
    session = db_session()
    parent = None
    if json.parent_code is not None:
        parent = listing.region_by_code(session, json.parent_code)
        if parent is None:
            raise invalid("parent_code", MSG_PARENT_UNKNOWN)
    if listing.region_by_code(session, json.code) is not None:
        raise conflict("code", MSG_CODE_TAKEN)
    try:
        region = roster.create_region(
            session, code=json.code, name=json.name, level=json.level, parent=parent, now=services().clock(),
            is_community=json.is_community, office_phone=json.office_phone,
        )
    except roster.RosterError as exc:
        # The only rule left to the roster is which level may sit under which.
        raise invalid("parent_code", str(exc)) from None
    session.flush()
    audit(session, "region.create", "region", region.id, {"code": json.code, "level": json.level.value})
    session.commit()
    return jsonify(listing.region_view(region)), 201


@bp.get("/regions")
@operation("listRegions", "regions", 200, responses.RegionList, 422)
def list_regions(query: RegionQuery):
    """List regions, optionally of one level or under one parent, ordered by code."""
    level = query.level.value if query.level is not None else None
    items = listing.list_regions(db_session(), level=level, parent_code=query.parent_code)
    return jsonify(items=items, total=len(items))
