"""What a signed-in member of staff may see, applied inside every dashboard query.

admin and city_supervisor see the city; a town_officer sees their town; an assistant sees only
their own beneficiaries and cases, read-only. Pages never filter after the fact: each query
takes the scope and narrows itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, exists, select

from models import Assignment, Beneficiary, Region, ServiceRequest, Staff, Visit
from models.enums import StaffRole


@dataclass(frozen=True)
class Scope:
    """The reach of one member of staff."""

    kind: str  # "city", "town" or "own"
    staff_id: int
    town_id: int | None = None

    @property
    def can_write(self) -> bool:
        """Assistants read the dashboard; they act through the chat."""
        return self.kind != "own"

    @property
    def is_city(self) -> bool:
        """True for administrators and city supervisors."""
        return self.kind == "city"


def scope_for(staff: Staff) -> Scope:
    """The scope a staff member's role and region give."""
    if staff.role in (StaffRole.ADMIN.value, StaffRole.CITY_SUPERVISOR.value):
        return Scope("city", staff.id)
    if staff.role == StaffRole.TOWN_OFFICER.value:
        return Scope("town", staff.id, town_id=staff.region_id)
    return Scope("own", staff.id)


def _own_beneficiaries(scope: Scope):
    return select(Assignment.beneficiary_id).where(
        Assignment.staff_id == scope.staff_id, Assignment.ended_at.is_(None)
    )


def requests(scope: Scope, stmt: Select) -> Select:
    """Narrow a query over ServiceRequest to the scope."""
    if scope.kind == "town":
        return stmt.where(ServiceRequest.town_id == scope.town_id)
    if scope.kind == "own":
        return stmt.where(
            (ServiceRequest.assignee_staff_id == scope.staff_id)
            | ServiceRequest.beneficiary_id.in_(_own_beneficiaries(scope))
        )
    return stmt


def beneficiaries(scope: Scope, stmt: Select) -> Select:
    """Narrow a query over Beneficiary to the scope."""
    if scope.kind == "town":
        return stmt.where(
            exists().where(Region.id == Beneficiary.village_id, Region.parent_id == scope.town_id)
        )
    if scope.kind == "own":
        return stmt.where(Beneficiary.id.in_(_own_beneficiaries(scope)))
    return stmt


def visits(scope: Scope, stmt: Select) -> Select:
    """Narrow a query over Visit to the scope."""
    if scope.kind == "city":
        return stmt
    return stmt.where(Visit.beneficiary_id.in_(beneficiaries(scope, select(Beneficiary.id))))


def towns(scope: Scope, stmt: Select) -> Select:
    """Narrow a query over town Regions to the scope (an assistant sees their village's town)."""
    if scope.kind == "town":
        return stmt.where(Region.id == scope.town_id)
    if scope.kind == "own":
        village = select(Staff.region_id).where(Staff.id == scope.staff_id).scalar_subquery()
        return stmt.where(Region.id == select(Region.parent_id).where(Region.id == village).scalar_subquery())
    return stmt


def may_see_town(scope: Scope, town_id: int) -> bool:
    """Whether a town's pages are within reach (assistants use their own lists instead)."""
    return scope.kind == "city" or (scope.kind == "town" and scope.town_id == town_id)
