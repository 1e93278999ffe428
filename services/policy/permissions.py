"""Who may act on a request: pure rules over the staff member's role and region and the request."""

from __future__ import annotations

from models.enums import StaffRole

CITY_ROLES = (StaffRole.CITY_SUPERVISOR.value, StaffRole.ADMIN.value)


def may_handle(role: str, staff_id: int, staff_region_id: int, assignee_id: int | None, town_id: int) -> bool:
    """Accept, reply, resolve: the assignee, a town officer of the request's town, or city staff."""
    if role in CITY_ROLES:
        return True
    if role == StaffRole.TOWN_OFFICER.value:
        return staff_region_id == town_id
    return assignee_id == staff_id


def may_reassign(role: str, staff_region_id: int, town_id: int) -> bool:
    """Reassign: a town officer within their town, or city staff anywhere."""
    if role in CITY_ROLES:
        return True
    return role == StaffRole.TOWN_OFFICER.value and staff_region_id == town_id


def may_supervise(role: str) -> bool:
    """督办: city supervisors and administrators."""
    return role in CITY_ROLES


def may_log_for(role: str, staff_id: int, staff_region_id: int, assistant_id: int | None, town_id: int) -> bool:
    """代办 (log a request for a beneficiary): their own assistant, a town officer of their town, city staff."""
    if role in CITY_ROLES:
        return True
    if role == StaffRole.TOWN_OFFICER.value:
        return staff_region_id == town_id
    return role == StaffRole.ASSISTANT.value and assistant_id == staff_id
