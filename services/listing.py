"""The admin API's read side: lookups, filtered and paginated queries, and rows as plain dicts."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, func, not_, or_, select
from sqlalchemy.orm import Session, aliased, selectinload

from models import (
    MediaItem,
    Assignment,
    Beneficiary,
    BeneficiaryCategoryLink,
    OutboxMessage,
    Region,
    RequestEvent,
    ServiceRequest,
    Staff,
)
from models.enums import OPEN_STATUSES, RequestStatus
from services import history, media
from services.pii import PiiCipher
from services.policy import id_number

logger = logging.getLogger(__name__)

DEFAULT_PER_PAGE = 50
# Large enough for a town's whole caseload on one screen, small enough to bound one query.
MAX_PER_PAGE = 200


@dataclass(frozen=True)
class PageRequest:
    """Which page of a list, 1-based; `per_page` is capped at MAX_PER_PAGE by the caller."""

    page: int = 1
    per_page: int = DEFAULT_PER_PAGE

    @property
    def offset(self) -> int:
        """Rows to skip before this page."""
        return (self.page - 1) * self.per_page


@dataclass(frozen=True)
class Page:
    """One page of serialised rows and the total across all pages."""

    items: list[dict]
    total: int
    page: int
    per_page: int

    def as_dict(self) -> dict:
        """The page as the API returns it."""
        return {"items": self.items, "total": self.total, "page": self.page, "per_page": self.per_page}


def iso(value: datetime | None) -> str | None:
    """ISO 8601 with the UTC offset, or None; models only hold aware datetimes."""
    return value.isoformat() if value is not None else None


def _paginate(session: Session, stmt: Select, page: PageRequest, view: Callable[[list], list[dict]]) -> Page:
    """Count all matching rows, then load and serialise one page of them."""
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    rows = list(session.scalars(stmt.limit(page.per_page).offset(page.offset)))
    return Page(items=view(rows), total=total, page=page.page, per_page=page.per_page)


# --- lookups ----------------------------------------------------------------------------------------


def region_by_code(session: Session, code: str) -> Region | None:
    """The region with this administrative code."""
    return session.scalars(select(Region).where(Region.code == code)).one_or_none()


def staff_by_no(session: Session, staff_no: str) -> Staff | None:
    """The member of staff with this 工号, active or not."""
    return session.scalars(select(Staff).where(Staff.staff_no == staff_no)).one_or_none()


def beneficiary_with_id_number(session: Session, pii: PiiCipher, number: str) -> Beneficiary | None:
    """The beneficiary already holding this ID number, found by its keyed hash."""
    digest = pii.lookup_hash(number)
    return session.scalars(select(Beneficiary).where(Beneficiary.id_number_hash == digest)).one_or_none()


def _code_id(code: str):
    """The id of the region with this code, as a scalar subquery."""
    # A scalar subquery on its own alias, so it never correlates with an outer `regions`.
    region = aliased(Region)
    return select(region.id).where(region.code == code).scalar_subquery()


# --- regions ----------------------------------------------------------------------------------------


def region_view(region: Region) -> dict:
    """A region as JSON."""
    return {
        "id": region.id,
        "code": region.code,
        "name": region.name,
        "level": region.level,
        "parent_code": region.parent.code if region.parent is not None else None,
        "is_community": bool(region.is_community),
        "office_phone": region.office_phone,
        "created_at": iso(region.created_at),
    }


def list_regions(session: Session, *, level: str | None = None, parent_code: str | None = None) -> list[dict]:
    """Every region, optionally of one level or under one parent, ordered by code."""
    stmt = select(Region).options(selectinload(Region.parent)).order_by(Region.code)
    if level is not None:
        stmt = stmt.where(Region.level == level)
    if parent_code is not None:
        stmt = stmt.where(Region.parent_id == _code_id(parent_code))
    return [region_view(region) for region in session.scalars(stmt)]


# --- staff ------------------------------------------------------------------------------------------


def _region_ref(region: Region | None) -> dict | None:
    """A region's code and name, or None."""
    return {"code": region.code, "name": region.name} if region is not None else None


def staff_view(staff: Staff) -> dict:
    """A member of staff as JSON; sign-in secrets and lockout state are never included."""
    return {
        "id": staff.id,
        "staff_no": staff.staff_no,
        "name": staff.name,
        "phone": staff.phone,
        "role": staff.role,
        "region": {**_region_ref(staff.region), "level": staff.region.level},
        "active": bool(staff.active),
        "wechat_bound": staff.wechat_user_id is not None,
        "created_at": iso(staff.created_at),
        "updated_at": iso(staff.updated_at),
    }


def list_staff(
    session: Session,
    page: PageRequest,
    *,
    role: str | None = None,
    region_code: str | None = None,
    active: bool | None = None,
) -> Page:
    """Staff filtered by role, region and whether active, ordered by 工号."""
    stmt = select(Staff).options(selectinload(Staff.region)).order_by(Staff.staff_no)
    if role is not None:
        stmt = stmt.where(Staff.role == role)
    if region_code is not None:
        stmt = stmt.where(Staff.region_id == _code_id(region_code))
    if active is not None:
        stmt = stmt.where(Staff.active.is_(active))
    return _paginate(session, stmt, page, lambda rows: [staff_view(s) for s in rows])


# --- beneficiaries ----------------------------------------------------------------------------------


def masked_id_number(pii: PiiCipher, beneficiary: Beneficiary) -> str | None:
    """The stored ID number decrypted and masked at once; None when absent or undecryptable."""
    if not beneficiary.id_number_encrypted:
        return None
    try:
        return id_number.mask(pii.decrypt(beneficiary.id_number_encrypted))
    except ValueError:
        # A rotated PII_KEY must not break the whole list; the id (never the number) is logged.
        logger.warning("pii=undecryptable beneficiary=%s", beneficiary.id)
        return None


def beneficiary_view(beneficiary: Beneficiary, pii: PiiCipher, assistant: Staff | None) -> dict:
    """A beneficiary as JSON: the ID number only masked, the assistant's contact if assigned."""
    village = beneficiary.village
    return {
        "id": beneficiary.id,
        "name": beneficiary.name,
        "village": _region_ref(village),
        "town": _region_ref(village.parent),
        "categories": beneficiary.category_names,
        "phone": beneficiary.phone,
        "address": beneficiary.address,
        "id_number_masked": masked_id_number(pii, beneficiary),
        "bind_code": beneficiary.bind_code,
        "active": bool(beneficiary.active),
        "assistant": (
            {"staff_no": assistant.staff_no, "name": assistant.name, "phone": assistant.phone}
            if assistant is not None
            else None
        ),
        "lives_alone": bool(beneficiary.lives_alone),
        "checkin_plan": beneficiary.checkin_plan,
        "checkin_plan_by_staff": bool(beneficiary.checkin_plan_by_staff),
        "last_checkin_at": iso(beneficiary.last_checkin_at),
        "created_at": iso(beneficiary.created_at),
    }


def current_assistants(session: Session, beneficiary_ids: Iterable[int]) -> dict[int, Staff]:
    """Each beneficiary's active assistant, in one query for a whole page."""
    ids = list(beneficiary_ids)
    if not ids:
        return {}
    rows = session.scalars(
        select(Assignment)
        .options(selectinload(Assignment.staff))
        .where(Assignment.beneficiary_id.in_(ids), Assignment.ended_at.is_(None))
    )
    return {row.beneficiary_id: row.staff for row in rows}


def beneficiary_detail(session: Session, pii: PiiCipher, beneficiary: Beneficiary) -> dict:
    """One beneficiary as JSON, with their current assistant."""
    assistant = current_assistants(session, [beneficiary.id]).get(beneficiary.id)
    return beneficiary_view(beneficiary, pii, assistant)


def list_beneficiaries(
    session: Session,
    pii: PiiCipher,
    page: PageRequest,
    *,
    village_code: str | None = None,
    town_code: str | None = None,
    category: str | None = None,
) -> Page:
    """Beneficiaries filtered by village, town and category, oldest record first."""
    stmt = (
        select(Beneficiary)
        .options(
            selectinload(Beneficiary.categories),
            selectinload(Beneficiary.village).selectinload(Region.parent),
        )
        .order_by(Beneficiary.id)
    )
    if village_code is not None:
        stmt = stmt.where(Beneficiary.village_id == _code_id(village_code))
    if town_code is not None:
        village = aliased(Region)
        stmt = stmt.where(
            Beneficiary.village_id.in_(select(village.id).where(village.parent_id == _code_id(town_code)))
        )
    if category is not None:
        stmt = stmt.where(
            Beneficiary.id.in_(
                select(BeneficiaryCategoryLink.beneficiary_id).where(BeneficiaryCategoryLink.category == category)
            )
        )

    def view(rows: list[Beneficiary]) -> list[dict]:
        """The page's rows with their assistants, loaded in one query."""
        assistants = current_assistants(session, (b.id for b in rows))
        return [beneficiary_view(b, pii, assistants.get(b.id)) for b in rows]

    return _paginate(session, stmt, page, view)


# --- service requests -------------------------------------------------------------------------------


def overdue_clause(now: datetime) -> ColumnElement[bool]:
    """Open past its accept deadline, or open/acknowledged past its resolve deadline."""
    # The IS NOT NULL terms keep the clause TRUE/FALSE (never NULL), so NOT() of it is exact.
    return or_(
        and_(
            ServiceRequest.status == RequestStatus.OPEN.value,
            ServiceRequest.accept_deadline.is_not(None),
            ServiceRequest.accept_deadline < now,
        ),
        and_(
            ServiceRequest.status.in_([s.value for s in OPEN_STATUSES]),
            ServiceRequest.resolve_deadline.is_not(None),
            ServiceRequest.resolve_deadline < now,
        ),
    )


def is_overdue(request: ServiceRequest, now: datetime) -> bool:
    """The same rule as `overdue_clause`, for one loaded request."""
    if request.status not in {s.value for s in OPEN_STATUSES}:
        return False
    late_accept = (
        request.status == RequestStatus.OPEN.value
        and request.accept_deadline is not None
        and request.accept_deadline < now
    )
    late_resolve = request.resolve_deadline is not None and request.resolve_deadline < now
    return late_accept or late_resolve


def request_view(request: ServiceRequest, places: dict[int, Region], now: datetime) -> dict:
    """A service request as JSON, without its timeline; `places` maps region ids to regions."""
    beneficiary = request.beneficiary
    assignee = request.assignee
    return {
        "id": request.id,
        "status": request.status,
        "category": request.category,
        "urgency": request.urgency,
        "source": request.source,
        "channel": request.channel,
        "summary": request.summary,
        "beneficiary": {"id": beneficiary.id, "name": beneficiary.name},
        # Where the case was raised, which stays put if the beneficiary later moves.
        "village": _region_ref(places.get(request.village_id)),
        "town": _region_ref(places.get(request.town_id)),
        "assignee": (
            {"staff_no": assignee.staff_no, "name": assignee.name, "phone": assignee.phone}
            if assignee is not None
            else None
        ),
        "escalation_level": request.escalation_level,
        "overdue": is_overdue(request, now),
        "accept_deadline": iso(request.accept_deadline),
        "resolve_deadline": iso(request.resolve_deadline),
        "created_at": iso(request.created_at),
        "updated_at": iso(request.updated_at),
        "acknowledged_at": iso(request.acknowledged_at),
        "resolved_at": iso(request.resolved_at),
        "closed_at": iso(request.closed_at),
        "cancelled_at": iso(request.cancelled_at),
        "resolution_note": request.resolution_note,
        "rating": request.rating,
        "rating_comment": request.rating_comment,
    }


def event_view(event: RequestEvent) -> dict:
    """One timeline entry as JSON."""
    return {
        "id": event.id,
        "kind": event.kind,
        "actor_kind": event.actor_kind,
        "actor_staff_id": event.actor_staff_id,
        "body": event.body,
        "data": event.data,
        "created_at": iso(event.created_at),
    }


def _places(session: Session, requests: list[ServiceRequest]) -> dict[int, Region]:
    """The villages and towns of a page of requests, by id."""
    # `village_id` and `town_id` are bare foreign keys (no relationship): one query for the page.
    ids = {r.village_id for r in requests} | {r.town_id for r in requests}
    if not ids:
        return {}
    return {region.id: region for region in session.scalars(select(Region).where(Region.id.in_(ids)))}


def _request_options():
    """Eager loads every request view needs."""
    return (
        selectinload(ServiceRequest.beneficiary),
        selectinload(ServiceRequest.assignee),
    )


def list_requests(
    session: Session,
    now: datetime,
    page: PageRequest,
    *,
    status: str | None = None,
    town_code: str | None = None,
    village_code: str | None = None,
    assignee_no: str | None = None,
    urgency: str | None = None,
    overdue: bool | None = None,
) -> Page:
    """Service requests matching every given filter, newest first."""
    stmt = (
        select(ServiceRequest)
        .options(*_request_options())
        .order_by(ServiceRequest.created_at.desc(), ServiceRequest.id.desc())
    )
    if status is not None:
        stmt = stmt.where(ServiceRequest.status == status)
    if urgency is not None:
        stmt = stmt.where(ServiceRequest.urgency == urgency)
    if town_code is not None:
        stmt = stmt.where(ServiceRequest.town_id == _code_id(town_code))
    if village_code is not None:
        stmt = stmt.where(ServiceRequest.village_id == _code_id(village_code))
    if assignee_no is not None:
        stmt = stmt.where(
            ServiceRequest.assignee_staff_id == select(Staff.id).where(Staff.staff_no == assignee_no).scalar_subquery()
        )
    if overdue is not None:
        clause = overdue_clause(now)
        stmt = stmt.where(clause if overdue else not_(clause))

    def view(rows: list[ServiceRequest]) -> list[dict]:
        """The page's rows with their villages and towns, loaded in one query."""
        places = _places(session, rows)
        return [request_view(r, places, now) for r in rows]

    return _paginate(session, stmt, page, view)


def request_detail(session: Session, request_id: int, now: datetime) -> dict | None:
    """One service request with its whole timeline, oldest event first; None when unknown."""
    request = session.scalars(
        select(ServiceRequest)
        .options(*_request_options(), selectinload(ServiceRequest.events))
        .where(ServiceRequest.id == request_id)
    ).one_or_none()
    if request is None:
        return None
    view = request_view(request, _places(session, [request]), now)
    view["urgency_reason"] = request.urgency_reason
    view["events"] = [event_view(event) for event in history.timeline(request, session)]
    view["media"] = [media_view(item) for item in media.for_request(session, request.id)]
    return view


def media_view(item: MediaItem) -> dict:
    """A voice, photo or video of a case as JSON: what it is and its words, never where it is kept.

    The files are served only to a signed-in viewer allowed to see the case (the office and
    mobile case pages), so nothing here works as a link.
    """
    return {
        "id": item.id,
        "kind": item.kind,
        "status": item.status,
        "content_type": item.content_type,
        "size_bytes": item.size_bytes,
        "duration_seconds": round(item.duration_ms / 1000, 1) if item.duration_ms is not None else None,
        "playable_content_type": item.playable_type,
        "transcript": item.transcript,
        "transcript_status": item.transcript_status,
        "received_at": iso(item.created_at),
        "fetched_at": iso(item.fetched_at),
    }


# --- outbox -----------------------------------------------------------------------------------------


def outbox_view(message: OutboxMessage) -> dict:
    """An outbox row as JSON; the payload (message text, names) stays out."""
    return {
        "id": message.id,
        "idempotency_key": message.idempotency_key,
        "recipient_openid": message.recipient_openid,
        "kind": message.kind,
        "status": message.status,
        "attempts": message.attempts,
        "next_attempt_at": iso(message.next_attempt_at),
        "last_error": message.last_error,
        "created_at": iso(message.created_at),
        "sent_at": iso(message.sent_at),
    }


def list_outbox(session: Session, page: PageRequest, *, status: str | None = None) -> Page:
    """Outbox rows, optionally of one status, newest first."""
    stmt = select(OutboxMessage).order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
    if status is not None:
        stmt = stmt.where(OutboxMessage.status == status)
    return _paginate(session, stmt, page, lambda rows: [outbox_view(m) for m in rows])
