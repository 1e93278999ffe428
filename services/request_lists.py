"""Listings of help requests for the chat: a requester's open requests, a member of staff's tasks."""

from __future__ import annotations

from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.orm import Session, joinedload, selectinload

from config import policy
from models import Beneficiary, FamilyLink, ServiceRequest, Staff, WeChatUser
from models.enums import RequestStatus, StaffRole
from services.policy import ladder
from services.requests import OPEN

# Built once: the menu's "progress" asks for it on every click.
_REQUESTS_FOR_USER = (
    select(ServiceRequest)
    .where(
        ServiceRequest.beneficiary_id.in_(
            select(FamilyLink.beneficiary_id).where(
                FamilyLink.wechat_user_id == bindparam("user_id"), FamilyLink.active.is_(True)
            )
        ),
        ServiceRequest.status.in_([*OPEN, RequestStatus.RESOLVED.value]),
    )
    .order_by(ServiceRequest.created_at.desc())
    .limit(bindparam("limit"))
    .options(joinedload(ServiceRequest.beneficiary), joinedload(ServiceRequest.assignee))
)


def requests_for_user(session: Session, user: WeChatUser, limit: int = 10) -> list[ServiceRequest]:
    """Open and awaiting-rating requests of the beneficiaries the user is bound to, newest first."""
    return list(session.scalars(_REQUESTS_FOR_USER, {"user_id": user.id, "limit": limit}))


def tasks_for_staff(session: Session, staff: Staff, limit: int = 10) -> tuple[list[ServiceRequest], int]:
    """The staff member's open requests (urgent and oldest first) and how many there are in all."""
    where = [ServiceRequest.status.in_(OPEN)]
    if staff.role == StaffRole.ASSISTANT.value:
        where.append(ServiceRequest.assignee_staff_id == staff.id)
    elif staff.role == StaffRole.TOWN_OFFICER.value:
        where.append(ServiceRequest.town_id == staff.region_id)
    else:
        # City staff see what reached the city's rungs or was given to them.
        reached = [
            (ServiceRequest.urgency == urgency) & (ServiceRequest.escalation_level >= level)
            for urgency, steps in policy.ESCALATION_LADDER.items()
            if (level := ladder.city_level(steps)) is not None
        ]
        where.append(or_(*reached, ServiceRequest.assignee_staff_id == staff.id))
    total = session.scalar(select(func.count()).select_from(ServiceRequest).where(*where))
    rows = session.scalars(
        select(ServiceRequest)
        .where(*where)
        .order_by((ServiceRequest.urgency == "urgent").desc(), ServiceRequest.created_at)
        .limit(limit)
        .options(selectinload(ServiceRequest.beneficiary).selectinload(Beneficiary.village))
    )
    return list(rows), total
