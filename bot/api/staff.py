"""Admin API routes for staff: create, list, and issue a WeChat binding invite."""

from __future__ import annotations

from flask import jsonify

from bot.api import responses
from bot.api.audit import audit
from bot.api.blueprint import bp
from bot.api.errors import (
    MSG_REGION_UNKNOWN,
    MSG_STAFF_INACTIVE,
    MSG_STAFF_NO_TAKEN,
    MSG_STAFF_NOT_FOUND,
    conflict,
    invalid,
    not_found,
)
from bot.api.schemas import StaffCreate, StaffQuery
from bot.api.spec import operation
from bot.deps import db_session, services
from models import Staff
from services import binding, listing, roster


@bp.post("/staff")
@operation("createStaff", "staff", 201, responses.Staff, 400, 409, 413, 422)
def create_staff(json: StaffCreate):
    """Add a member of staff in a region matching their role."""
    session = db_session()
    region = listing.region_by_code(session, json.region_code)
    if region is None:
        raise invalid("region_code", MSG_REGION_UNKNOWN)
    if listing.staff_by_no(session, json.staff_no) is not None:
        raise conflict("staff_no", MSG_STAFF_NO_TAKEN)
    try:
        staff = roster.create_staff(
            session, staff_no=json.staff_no, name=json.name, phone=json.phone, role=json.role, region=region,
            now=services().clock(),
        )
    except roster.RosterError as exc:
        raise invalid("region_code", str(exc)) from None
    session.flush()
    audit(session, "staff.create", "staff", staff.id, {"staff_no": json.staff_no, "role": json.role.value,
                                                       "region_code": json.region_code})
    session.commit()
    return jsonify(listing.staff_view(staff)), 201


@bp.get("/staff")
@operation("listStaff", "staff", 200, responses.StaffPage, 422)
def list_staff(query: StaffQuery):
    """List staff by role, region and whether active, ordered by 工号, a page at a time."""
    page = listing.list_staff(
        db_session(),
        query.page_request(),
        role=query.role.value if query.role is not None else None,
        region_code=query.region_code,
        active=query.active,
    )
    return jsonify(page.as_dict())


@bp.post("/staff/<id:staff_id>/invite")
@operation(
    "inviteStaff", "staff", 201, responses.Invite, 404, 409, path_params={"staff_id": "The member of staff's id."}
)
def invite_staff(staff_id: int):
    """Issue a one-time code (valid 7 days) with which the member of staff binds their WeChat account."""
    session = db_session()
    staff = session.get(Staff, staff_id)
    if staff is None:
        raise not_found(MSG_STAFF_NOT_FOUND.format(id=staff_id))
    if not staff.active:
        raise conflict("active", MSG_STAFF_INACTIVE)
    code, expires = binding.issue_invite(session, services().pii, staff, services().clock())
    # The code itself is a credential: only its hash is stored, and the audit omits it.
    audit(session, "staff.invite", "staff", staff.id, {"staff_no": staff.staff_no,
                                                       "expires_at": listing.iso(expires)})
    session.commit()
    return jsonify(staff_no=staff.staff_no, code=code, expires_at=listing.iso(expires)), 201
