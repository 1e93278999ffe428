"""The admin API's 包联 routes: a village's officers, the city's departments and their liaisons, the
duty rota. What is in effect is shown (named or by default), every change is audited as the admin
API's, and refusals have the API's usual shape with the field named."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from models import AuditEntry, Department, DutyShift, VillageOfficers
from models.enums import RegionLevel
from tests.support.chain import make_chain_town
from tests.support.factories import fresh, make_region

AUTH = {"Authorization": "Bearer test-admin-token"}


@pytest.fixture
def world(session, clock):
    """The chain town: villages C100T1V1-4, officers T0001-T0004, liaisons C0001-C0004."""
    return make_chain_town(session, clock())


def call(client, method: str, path: str, body=None, **params):
    """A call with the admin token: (status, JSON)."""
    response = client.open(f"/api/v1{path}", method=method, json=body, query_string=params, headers=AUTH)
    return response.status_code, response.get_json()


def refused(client, method: str, path: str, body=None, **params) -> tuple[int, str | None]:
    """A refusal: (status, field)."""
    status, data = call(client, method, path, body, **params)
    assert set(data) <= {"error", "message", "field"} and data["message"], data
    return status, data.get("field")


def api_audit(session, prefix: str) -> list[AuditEntry]:
    """Audit entries whose action starts with `prefix`, read fresh."""
    fresh(session)
    return list(session.scalars(select(AuditEntry).where(AuditEntry.action.startswith(prefix))))


# --- villages --------------------------------------------------------------------------------------


def test_a_village_s_officers_are_shown_then_named_and_audited_once(client, world, session):
    """By default the split is shown with named false; a PUT names both; one audit entry, the API's."""
    code = world.villages[0].code
    status, data = call(client, "GET", f"/villages/{code}/officers")
    assert status == 200
    assert data["village"] == {"code": code, "name": "一村"} and data["town"]["name"] == "桥头镇"
    assert data["responsible"]["named"] is False and data["responsible"]["staff"]["staff_no"].startswith("T")

    status, data = call(client, "PUT", f"/villages/{code}/officers",
                        {"responsible_staff_no": "t0002", "deputy_staff_no": "T0003"})
    assert status == 200, data
    assert data["responsible"] == {"named": True, "staff": {"staff_no": "T0002", "name": "助理员2",
                                                            "phone": world.officers[1].phone}}
    assert data["deputy"]["named"] is True and data["deputy"]["staff"]["staff_no"] == "T0003"
    [entry] = api_audit(session, "chain.village")
    assert (entry.actor_kind, entry.actor_label, entry.ip) == ("admin_api", "admin-api", "127.0.0.1")
    assert entry.target_id == world.villages[0].id

    status, data = call(client, "PUT", f"/villages/{code}/officers", {})
    assert status == 200 and data["responsible"]["named"] is False and data["deputy"]["named"] is False
    fresh(session)
    assert session.get(VillageOfficers, world.villages[0].id).responsible_staff_id is None


def test_village_officer_refusals(client, world, session):
    """Unknown or non-village codes are 404; wrong people are 422 naming the field; the body must be JSON."""
    code = world.villages[0].code
    path = f"/villages/{code}/officers"
    assert refused(client, "GET", "/villages/000000/officers")[0] == 404
    assert refused(client, "PUT", f"/villages/{world.town.code}/officers", {})[0] == 404
    assert refused(client, "PUT", "/villages/000000/officers", {}) == (404, None)
    assert refused(client, "PUT", path, {"responsible_staff_no": "X9999"}) == (422, "responsible_staff_no")
    assert refused(client, "PUT", path, {"responsible_staff_no": "bad no!"}) == (422, "responsible_staff_no")
    assert refused(client, "PUT", path, {"responsible_staff_no": world.assistants[0].staff_no}) == (
        422, "responsible_staff_no")
    assert refused(client, "PUT", path, {"responsible_staff_no": "T0001", "deputy_staff_no": "C0001"}) == (
        422, "deputy_staff_no")
    assert refused(client, "PUT", path, {"responsible_staff_no": "T0001", "deputy_staff_no": "T0001"}) == (
        422, "deputy_staff_no")
    response = client.put(f"/api/v1{path}", data="[]", content_type="application/json", headers=AUTH)
    assert (response.status_code, response.get_json()["field"]) == (400, "body")
    assert client.get(f"/api/v1{path}").status_code == 401
    assert api_audit(session, "chain.") == []


# --- departments -----------------------------------------------------------------------------------


def test_departments_are_listed_then_set_which_adds_the_policy_s(client, world, session):
    """Before any are on record the policy's are listed (stored false); setting one adds them all,
    names the liaisons, and every entry is the API's."""
    status, data = call(client, "GET", "/departments")
    assert status == 200 and data["total"] == 18
    by_code = {d["code"]: d for d in data["items"]}
    assert by_code["health"]["categories"] == ["医"] and by_code["health"]["stored"] is False
    assert set(by_code["civil_affairs"]["categories"]) == {"吃", "穿", "联系亲人", "政策", "其他", "联系"}
    assert by_code["health"]["city"] == {"code": world.city.code, "name": "联城市"}

    status, data = call(client, "PUT", "/departments/health",
                        {"name": "市卫生健康委员会", "liaison_staff_no": "C0003", "deputy_staff_no": "c0004"})
    assert status == 200, data
    assert data["name"] == "市卫生健康委员会" and data["stored"] is True
    assert data["liaison"]["staff"]["staff_no"] == "C0003" and data["liaison"]["named"] is True
    assert data["deputy"]["staff"]["staff_no"] == "C0004"
    assert len(session.scalars(select(Department)).all()) == 18
    entries = api_audit(session, "chain.department")
    assert {e.action for e in entries} == {"chain.department.create", "chain.department.rename",
                                           "chain.department.liaisons"}
    assert {(e.actor_kind, e.ip) for e in entries} == {("admin_api", "127.0.0.1")}
    status, data = call(client, "GET", "/departments")
    assert all(d["stored"] for d in data["items"])


def test_department_refusals(client, world, session):
    """Unknown codes 404; a name is required; liaisons must be the city's supervisors and two people."""
    assert refused(client, "PUT", "/departments/nope", {"name": "某局"}) == (404, None)
    assert refused(client, "PUT", "/departments/health", {"liaison_staff_no": "C0001"}) == (422, "name")
    assert refused(client, "PUT", "/departments/health", {"name": "市卫健委", "liaison_staff_no": "T0001"}) == (
        422, "liaison_staff_no")
    assert refused(client, "PUT", "/departments/health",
                   {"name": "市卫健委", "liaison_staff_no": "C0001", "deputy_staff_no": "C0001"}) == (
        422, "deputy_staff_no")
    assert refused(client, "PUT", "/departments/health", {"name": "市卫健委", "city_code": world.town.code}) == (
        422, "city_code")
    assert refused(client, "GET", "/departments", city_code="000000") == (422, "city_code")
    assert session.scalars(select(Department)).all() == []


def test_with_two_cities_the_city_is_named(client, world, session, clock):
    """With a second city, city_code is required, and picks that city's departments."""
    make_region(session, RegionLevel.CITY, None, clock(), name="二市", code="990000")
    session.commit()
    assert refused(client, "GET", "/departments") == (422, "city_code")
    assert refused(client, "PUT", "/departments/health", {"name": "市卫健委"}) == (422, "city_code")
    status, data = call(client, "GET", "/departments", city_code="990000")
    assert status == 200 and data["total"] == 18 and data["items"][0]["city"]["name"] == "二市"
    assert data["items"][0]["liaison"]["staff"] is None, "that city has no supervisors"


# --- the duty rota -----------------------------------------------------------------------------------

SHIFT = {"staff_no": "C0001", "starts_at": "2026-12-01T17:30:00+08:00", "ends_at": "2026-12-02T08:30:00+08:00"}


def test_add_list_and_remove_a_shift(client, world, session):
    """A shift is added (201), listed in the window, filtered by 工号, removed (200 with the shift), then gone."""
    status, added = call(client, "POST", "/duty-shifts", SHIFT)
    assert status == 201, added
    assert added["staff"]["staff_no"] == "C0001"
    assert added["starts_at"] == "2026-12-01T09:30:00+00:00" and added["ends_at"] == "2026-12-02T00:30:00+00:00"

    status, listed = call(client, "GET", "/duty-shifts")
    assert status == 200 and [s["id"] for s in listed["items"]] == [added["id"]]
    assert listed["since"] == "2026-12-01T01:00:00+00:00" and listed["until"] == "2026-12-08T01:00:00+00:00"
    assert call(client, "GET", "/duty-shifts", staff_no="c0002")[1]["total"] == 0
    assert call(client, "GET", "/duty-shifts", staff_no="NOBODY")[1]["total"] == 0
    later = call(client, "GET", "/duty-shifts", since="2026-12-02T09:00:00+08:00")[1]
    assert later["total"] == 0

    assert refused(client, "POST", "/duty-shifts", {**SHIFT, "starts_at": "2026-12-02T07:00:00+08:00",
                                                    "ends_at": "2026-12-02T12:00:00+08:00"}) == (409, "starts_at")
    status, removed = call(client, "DELETE", f"/duty-shifts/{added['id']}")
    assert status == 200 and removed == added
    assert refused(client, "DELETE", f"/duty-shifts/{added['id']}") == (404, None)
    assert session.scalars(select(DutyShift)).all() == []
    entries = api_audit(session, "duty.")
    assert [e.action for e in entries] == ["duty.add", "duty.remove"]
    assert {(e.actor_kind, e.actor_label) for e in entries} == {("admin_api", "admin-api")}


@pytest.mark.parametrize("change, field", [
    ({"staff_no": None}, "staff_no"),
    ({"staff_no": "X9999"}, "staff_no"),
    ({"staff_no": "T0001"}, "staff_no"),
    ({"starts_at": "2026-12-01 17:30"}, "starts_at"),  # no offset
    ({"starts_at": "tonight"}, "starts_at"),
    ({"ends_at": None}, "ends_at"),
    ({"ends_at": "2026-12-01T08:00:00+08:00"}, "ends_at"),  # before the start
    ({"ends_at": "2026-12-05T08:30:00+08:00"}, "ends_at"),  # over 72 hours
])
def test_shift_refusals_name_the_field(client, world, session, change, field):
    """Each bad field is a 422 naming it; nothing is written."""
    assert refused(client, "POST", "/duty-shifts", {**SHIFT, **change}) == (422, field)
    assert session.scalars(select(DutyShift)).all() == []


@pytest.mark.parametrize("params, field", [
    ({"since": "2026-12-01T00:00:00"}, "since"),
    ({"until": "2026-11-01T00:00:00+08:00"}, "until"),
    ({"since": "2026-12-01T00:00:00+08:00", "until": "2027-03-01T00:00:00+08:00"}, "until"),
])
def test_the_rota_window_is_checked(client, world, params, field):
    """A time without offset, an end before the start or a window over 62 days is a 422."""
    assert refused(client, "GET", "/duty-shifts", **params) == (422, field)
