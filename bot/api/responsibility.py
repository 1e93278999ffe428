"""Admin API routes for the 包联 chain: a village's responsible officers, the city's departments and
their liaisons, and the duty rota.

The changes go through services.responsibility_admin, which audits them; those entries are the
admin API's. What is shown is what is in effect: named, or the default spread (`named` says which).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from flask import jsonify
from sqlalchemy.orm import Session

from bot.api import responses
from bot.api.audit import attributed
from bot.api.blueprint import bp
from bot.api.errors import (
    MSG_CITY_REQUIRED,
    MSG_CONFLICT,
    MSG_DEPARTMENT_NOT_FOUND,
    MSG_NOT_A_CITY,
    MSG_NOT_LIAISON,
    MSG_NOT_TOWN_OFFICER,
    MSG_SAME_PERSON,
    MSG_SHIFT_NOT_FOUND,
    MSG_STAFF_NO_UNKNOWN,
    MSG_VILLAGE_NOT_FOUND,
    MSG_WINDOW,
    conflict,
    invalid,
    not_found,
)
from bot.api.schemas import DepartmentQuery, DepartmentUpdate, DutyShiftCreate, DutyShiftQuery, VillageOfficersUpdate
from bot.api.spec import operation
from bot.deps import db_session, services
from models import DutyShift, Region, Staff
from models.enums import RegionLevel
from services import listing
from services import responsibility_admin as chain_admin
from services import responsibility_views as views
from services.errors import DomainError

# The longest window a rota listing covers: two months.
MAX_WINDOW_DAYS = 62
DEFAULT_WINDOW_DAYS = 7


def _contact(staff: Staff | None) -> dict | None:
    return None if staff is None else {"staff_no": staff.staff_no, "name": staff.name, "phone": staff.phone}


def _place(place: views.Named) -> dict:
    return {"staff": _contact(place.staff), "named": place.named}


def _ref(region: Region) -> dict:
    return {"code": region.code, "name": region.name}


def _same_person(first: Staff | None, second: Staff | None, field: str, other: str) -> None:
    if first is not None and second is not None and first.id == second.id:
        raise invalid(field, MSG_SAME_PERSON.format(field=field, other=other))


# --- villages --------------------------------------------------------------------------------------


def _village(session: Session, code: str) -> Region:
    village = listing.region_by_code(session, code)
    if village is None or village.level != RegionLevel.VILLAGE.value:
        raise not_found(MSG_VILLAGE_NOT_FOUND.format(code=code))
    return village


def _village_view(session: Session, village: Region) -> dict:
    row = views.village_row(session, village)
    return {"village": _ref(village), "town": _ref(village.parent), "responsible": _place(row.responsible),
            "deputy": _place(row.deputy)}


def _officer(session: Session, staff_no: str | None, field: str, town: Region) -> Staff | None:
    if staff_no is None:
        return None
    staff = listing.staff_by_no(session, staff_no)
    if staff is None:
        raise invalid(field, MSG_STAFF_NO_UNKNOWN)
    if not views.is_town_officer_of(staff, town.id):
        raise invalid(field, MSG_NOT_TOWN_OFFICER.format(town=town.name))
    return staff


@bp.get("/villages/<code>/officers")
@operation("getVillageOfficers", "chain", 200, responses.VillageOfficers, 404,
           path_params={"code": "The village's region code."})
def get_village_officers(code: str):
    """Who answers for a village: its responsible town officer and deputy, named or by default."""
    session = db_session()
    return jsonify(_village_view(session, _village(session, code)))


@bp.put("/villages/<code>/officers")
@operation("setVillageOfficers", "chain", 200, responses.VillageOfficers, 400, 404, 413, 422,
           path_params={"code": "The village's region code."})
def set_village_officers(code: str, json: VillageOfficersUpdate):
    """Name a village's responsible town officer and deputy; null hands a place back to the default."""
    session = db_session()
    village = _village(session, code)
    responsible = _officer(session, json.responsible_staff_no, "responsible_staff_no", village.parent)
    deputy = _officer(session, json.deputy_staff_no, "deputy_staff_no", village.parent)
    _same_person(responsible, deputy, "deputy_staff_no", "responsible_staff_no")
    with attributed(session, "chain.village", "region", village.id):
        chain_admin.set_village_officers(session, village, responsible, deputy, services().clock())
    session.commit()
    return jsonify(_village_view(session, village))


# --- departments -----------------------------------------------------------------------------------


def _city(session: Session, code: str | None) -> Region | None:
    """The city asked for, or the only one there is (None: no city yet)."""
    if code is not None:
        city = listing.region_by_code(session, code)
        if city is None or city.level != RegionLevel.CITY.value:
            raise invalid("city_code", MSG_NOT_A_CITY)
        return city
    found = views.cities(session)
    if len(found) > 1:
        raise invalid("city_code", MSG_CITY_REQUIRED)
    return found[0] if found else None


def _liaison(session: Session, staff_no: str | None, field: str, city: Region) -> Staff | None:
    if staff_no is None:
        return None
    staff = listing.staff_by_no(session, staff_no)
    if staff is None:
        raise invalid(field, MSG_STAFF_NO_UNKNOWN)
    if not views.is_liaison_of(staff, city.id):
        raise invalid(field, MSG_NOT_LIAISON)
    return staff


def _department_view(row: views.DepartmentRow, city: Region) -> dict:
    return {"code": row.code, "name": row.name, "city": _ref(city), "stored": row.stored is not None,
            "categories": list(row.categories), "liaison": _place(row.responsible), "deputy": _place(row.deputy)}


@bp.get("/departments")
@operation("listDepartments", "chain", 200, responses.DepartmentList, 422)
def list_departments(query: DepartmentQuery):
    """The city's departments by code, with their liaisons and the request categories each handles."""
    session = db_session()
    city = _city(session, query.city_code)
    items = [_department_view(row, city) for row in views.city_department_rows(session, city.id)] if city else []
    return jsonify(items=items, total=len(items))


@bp.put("/departments/<code>")
@operation("setDepartment", "chain", 200, responses.Department, 400, 404, 413, 422,
           path_params={"code": "The department's code (see CATEGORY_DEPARTMENT), e.g. health."})
def set_department(code: str, json: DepartmentUpdate):
    """Rename a department and name its two liaisons; one of the policy's the city lacks is added."""
    session = db_session()
    city = _city(session, json.city_code)
    if city is None or (views.department_by_code(session, city.id, code) is None
                        and views.policy_department_name(code) is None):
        raise not_found(MSG_DEPARTMENT_NOT_FOUND.format(code=code))
    liaison = _liaison(session, json.liaison_staff_no, "liaison_staff_no", city)
    deputy = _liaison(session, json.deputy_staff_no, "deputy_staff_no", city)
    _same_person(liaison, deputy, "deputy_staff_no", "liaison_staff_no")
    now = services().clock()
    with attributed(session, "chain.department", "department", code):
        department = views.department_to_change(session, city, code, now)
        if json.name != department.name:
            chain_admin.rename_department(session, department, json.name, now)
        chain_admin.set_department_liaisons(session, department, liaison, deputy, now)
    session.commit()
    row = next(r for r in views.city_department_rows(session, city.id) if r.code == code)
    return jsonify(_department_view(row, city))


# --- the duty rota -----------------------------------------------------------------------------------


def _utc(moment: datetime) -> str:
    # A shift just added still holds the offset it was sent with; the API answers in UTC.
    return listing.iso(moment.astimezone(timezone.utc))


def _shift_view(shift: DutyShift) -> dict:
    return {"id": shift.id, "staff": _contact(shift.staff), "starts_at": _utc(shift.starts_at),
            "ends_at": _utc(shift.ends_at), "created_at": _utc(shift.created_at)}


@bp.get("/duty-shifts")
@operation("listDutyShifts", "chain", 200, responses.DutyShiftList, 422)
def list_duty_shifts(query: DutyShiftQuery):
    """The rota's shifts overlapping [since, until), by start (default: the next 7 days)."""
    session = db_session()
    since = query.since or services().clock()
    until = query.until or since + timedelta(days=DEFAULT_WINDOW_DAYS)
    if not since < until <= since + timedelta(days=MAX_WINDOW_DAYS):
        raise invalid("until", MSG_WINDOW.format(days=MAX_WINDOW_DAYS))
    window = {"since": _utc(since), "until": _utc(until)}
    staff_id = None
    if query.staff_no is not None:
        staff = listing.staff_by_no(session, query.staff_no)
        if staff is None:
            return jsonify(items=[], total=0, **window)
        staff_id = staff.id
    items = [_shift_view(s) for s in views.shifts_between(session, since, until, staff_id=staff_id)]
    return jsonify(items=items, total=len(items), **window)


@bp.post("/duty-shifts")
@operation("createDutyShift", "chain", 201, responses.DutyShift, 400, 409, 413, 422)
def create_duty_shift(json: DutyShiftCreate):
    """Put a city supervisor on duty; the same person twice at once is a 409 on starts_at."""
    session = db_session()
    staff = listing.staff_by_no(session, json.staff_no)
    if staff is None:
        raise invalid("staff_no", MSG_STAFF_NO_UNKNOWN)
    if not views.is_liaison_of(staff, staff.region_id):
        raise invalid("staff_no", MSG_NOT_LIAISON)
    try:
        with attributed(session, "duty.add", "staff", staff.id):
            shift = chain_admin.add_duty_shift(session, staff, json.starts_at, json.ends_at, services().clock())
    except DomainError as refused:
        # What the schema and the checks above leave to the service: an overlapping shift.
        raise conflict("starts_at", refused.message or MSG_CONFLICT.format(field="starts_at")) from None
    session.commit()
    return jsonify(_shift_view(shift)), 201


@bp.delete("/duty-shifts/<id:shift_id>")
@operation("deleteDutyShift", "chain", 200, responses.DutyShift, 404, path_params={"shift_id": "The shift's id."})
def delete_duty_shift(shift_id: int):
    """Take a shift off the rota; answers with the shift as it was."""
    session = db_session()
    shift = session.get(DutyShift, shift_id)
    if shift is None:
        raise not_found(MSG_SHIFT_NOT_FOUND.format(id=shift_id))
    view = _shift_view(shift)
    with attributed(session, "duty.remove", "duty_shift", shift_id):
        chain_admin.remove_duty_shift(session, shift, services().clock())
    session.commit()
    return jsonify(view)
