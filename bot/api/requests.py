"""Admin API routes for service requests (log one on someone's behalf, list, one with its timeline)
and the WeChat outbox."""

from __future__ import annotations

from flask import jsonify

from bot.api import responses
from bot.api.audit import audit
from bot.api.blueprint import bp
from bot.api.errors import MSG_REQUEST_NOT_FOUND, MSG_STAFF_NO_UNKNOWN, invalid, not_found
from bot.api.schemas import OutboxQuery, RequestCreate, RequestQuery
from bot.api.spec import operation
from bot.deps import db_session, services
from models.enums import RequestChannel
from services import listing, on_behalf
from services.errors import DomainError


@bp.post("/requests")
@operation("createRequest", "requests", 201, responses.ServiceRequestDetail, 400, 413, 422)
def create_request(json: RequestCreate):
    """Log a request a member of staff heard by phone, at home or at the office (代办), for a beneficiary
    in their scope; it is classified, routed, pushed and escalated as one sent by WeChat."""
    session, svc = db_session(), services()
    staff = listing.staff_by_no(session, json.staff_no)
    if staff is None or not staff.active:
        raise invalid("staff_no", MSG_STAFF_NO_UNKNOWN)
    try:
        logged = on_behalf.log_on_behalf(
            session, svc.request_env, staff, beneficiary_id=json.beneficiary_id,
            channel=RequestChannel(json.channel.value), content=json.content, now=svc.clock(),
        )
    except DomainError as refused:
        session.rollback()
        raise invalid("beneficiary_id", refused.message) from None
    audit(session, "case.log", "service_request", logged.id,
          {"beneficiary_id": json.beneficiary_id, "staff_no": staff.staff_no, "channel": logged.channel})
    session.commit()
    return jsonify(listing.request_detail(session, logged.id, svc.clock())), 201


@bp.get("/requests")
@operation("listRequests", "requests", 200, responses.RequestPage, 422)
def list_requests(query: RequestQuery):
    """List service requests by status, place, assignee, urgency and lateness, newest first."""
    page = listing.list_requests(
        db_session(),
        services().clock(),
        query.page_request(),
        status=query.status.value if query.status is not None else None,
        town_code=query.town_code,
        village_code=query.village_code,
        assignee_no=query.assignee,
        urgency=query.urgency.value if query.urgency is not None else None,
        overdue=query.overdue,
    )
    return jsonify(page.as_dict())


@bp.get("/requests/<id:request_id>")
@operation(
    "getRequest", "requests", 200, responses.ServiceRequestDetail, 404,
    path_params={"request_id": "The request's number."},
)
def get_request(request_id: int):
    """One service request with its timeline, oldest event first."""
    detail = listing.request_detail(db_session(), request_id, services().clock())
    if detail is None:
        raise not_found(MSG_REQUEST_NOT_FOUND.format(id=request_id))
    return jsonify(detail)


@bp.get("/outbox")
@operation("listOutbox", "outbox", 200, responses.OutboxPage, 422)
def list_outbox(query: OutboxQuery):
    """List WeChat pushes waiting, in flight, sent or dead, newest first; their content is left out."""
    page = listing.list_outbox(
        db_session(), query.page_request(), status=query.status.value if query.status is not None else None
    )
    return jsonify(page.as_dict())
