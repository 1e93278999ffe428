"""Who may act on a request: pure rules over the staff member's role and region and the request.

`town_id` is the request's (or beneficiary's) town and `city_id` the city above it: a city's
staff act within their own city only; the province administrator acts in every city.
"""

from __future__ import annotations

from models.enums import StaffRole

CITY_ROLES = (StaffRole.CITY_SUPERVISOR.value, StaffRole.ADMIN.value)
# Who runs the roster, imports and the audit log: a city's administrator, or the province's.
ADMIN_ROLES = (StaffRole.ADMIN.value, StaffRole.PROVINCE_ADMIN.value)


def _city_wide(role: str, staff_region_id: int | None, city_id: int | None) -> bool:
    """The province administrator anywhere; a city's staff within their city."""
    if role == StaffRole.PROVINCE_ADMIN.value:
        return True
    return role in CITY_ROLES and staff_region_id is not None and staff_region_id == city_id


def may_handle(role: str, staff_id: int, staff_region_id: int, assignee_id: int | None, town_id: int,
               city_id: int | None) -> bool:
    """Accept, reply, resolve: the assignee, a town officer of the request's town, or the city's staff."""
    if _city_wide(role, staff_region_id, city_id):
        return True
    if role == StaffRole.TOWN_OFFICER.value:
        return staff_region_id == town_id
    return assignee_id == staff_id


def may_reassign(role: str, staff_region_id: int, town_id: int, city_id: int | None) -> bool:
    """Reassign: a town officer within their town, or the city's staff anywhere in it."""
    if _city_wide(role, staff_region_id, city_id):
        return True
    return role == StaffRole.TOWN_OFFICER.value and staff_region_id == town_id


def may_supervise(role: str, staff_region_id: int, city_id: int | None) -> bool:
    """督办: the city's supervisors and administrators (and the province administrator)."""
    return _city_wide(role, staff_region_id, city_id)


def may_log_for(role: str, staff_id: int, staff_region_id: int, assistant_id: int | None, town_id: int,
                city_id: int | None) -> bool:
    """代办 (log a request for a beneficiary): their own assistant, a town officer of their town, the city's staff."""
    if _city_wide(role, staff_region_id, city_id):
        return True
    if role == StaffRole.TOWN_OFFICER.value:
        return staff_region_id == town_id
    return role == StaffRole.ASSISTANT.value and assistant_id == staff_id
