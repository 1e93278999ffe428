"""The admin JSON API under /api/v1: auth, validation, conflicts, PII handling and lists."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from models import (
    Assignment,
    AuditEntry,
    Beneficiary,
    OutboxMessage,
    Region,
    RequestEvent,
    ServiceRequest,
    Staff,
    StaffInvite,
)
from models.enums import BeneficiaryCategory, RegionLevel, StaffRole
from services import roster
from services.pii import PiiCipher

AUTH = {"Authorization": "Bearer test-admin-token"}
VALID_ID = "11010519491231002X"
BAD_CHECK_DIGIT_ID = "110105194912310021"

CITY, TOWN, VILLAGE, OTHER_TOWN, OTHER_VILLAGE = "420000", "420100", "420101", "420200", "420201"


def post(client, path: str, body=None, **kwargs):
    """POST to the API with the admin token."""
    return client.post(f"/api/v1{path}", json=body, headers=AUTH, **kwargs)


def get(client, path: str, **params):
    """GET from the API with the admin token."""
    return client.get(f"/api/v1{path}", query_string=params, headers=AUTH)


def count(session, model) -> int:
    """Rows of a model, read fresh (the app commits on its own connection)."""
    session.rollback()
    return session.scalar(select(func.count()).select_from(model))


def ids(response) -> list[int]:
    """The ids of a list response's items, in order."""
    assert response.status_code == 200, response.get_json()
    return [item["id"] for item in response.get_json()["items"]]


@pytest.fixture
def pii(settings) -> PiiCipher:
    """The app's cipher, for checking what was stored."""
    return PiiCipher(settings.pii_key)


@pytest.fixture
def places(session, clock) -> dict[str, Region]:
    """A city with two towns of one village each, committed so the app sees them."""
    city = roster.create_region(session, code=CITY, name="示范市", level=RegionLevel.CITY, parent=None, now=clock())
    town = roster.create_region(session, code=TOWN, name="柳河镇", level=RegionLevel.TOWN, parent=city, now=clock())
    other_town = roster.create_region(session, code=OTHER_TOWN, name="桃园镇", level=RegionLevel.TOWN,
                                      parent=city, now=clock())
    village = roster.create_region(session, code=VILLAGE, name="东湾村", level=RegionLevel.VILLAGE,
                                   parent=town, now=clock())
    other_village = roster.create_region(session, code=OTHER_VILLAGE, name="新街社区", level=RegionLevel.VILLAGE,
                                         parent=other_town, now=clock(), is_community=True)
    session.commit()
    return {"city": city, "town": town, "village": village, "other_town": other_town, "other_village": other_village}


@pytest.fixture
def people(session, places, clock) -> dict[str, Staff]:
    """An assistant in each village and a town officer."""
    def add(no, role, region):
        return roster.create_staff(session, staff_no=no, name=f"员工{no}", phone="13800000000", role=role,
                                   region=region, now=clock())

    staff = {
        "assistant": add("A0001", StaffRole.ASSISTANT, places["village"]),
        "other_assistant": add("A0002", StaffRole.ASSISTANT, places["other_village"]),
        "officer": add("T0001", StaffRole.TOWN_OFFICER, places["town"]),
    }
    session.commit()
    return staff


def beneficiary_body(**overrides) -> dict:
    """A valid POST /beneficiaries body."""
    body = {
        "name": "王秀英",
        "village_code": VILLAGE,
        "categories": ["低保", "留守老人"],
        "id_number": VALID_ID,
        "phone": "13912345678",
        "address": "东湾村大堤组3号",
        "assistant_staff_no": "A0001",
    }
    body.update(overrides)
    return body


# --- auth -------------------------------------------------------------------------------------------

PROTECTED = [
    ("get", "/regions"),
    ("post", "/regions"),
    ("get", "/staff"),
    ("post", "/staff"),
    ("post", "/staff/1/invite"),
    ("get", "/beneficiaries"),
    ("post", "/beneficiaries"),
    ("post", "/beneficiaries/1/bind-code"),
    ("get", "/requests"),
    ("get", "/requests/1"),
    ("get", "/outbox"),
]


@pytest.mark.parametrize("method,path", PROTECTED)
@pytest.mark.parametrize(
    "header",
    [None, "Bearer wrong-token", "Bearer test-admin-token-and-more", "Basic test-admin-token", "test-admin-token"],
)
def test_every_route_needs_the_admin_token(client, session, method, path, header):
    """Without the exact bearer token: 401 JSON with WWW-Authenticate, and nothing is written."""
    headers = {"Authorization": header} if header else {}
    body = {"code": "420000", "name": "市", "level": "city"}
    response = getattr(client, method)(f"/api/v1{path}", json=body if method == "post" else None, headers=headers)
    assert response.status_code == 401
    assert response.get_json()["error"] == "unauthorized"
    assert response.get_json()["message"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert count(session, Region) == 0


def test_an_unset_token_opens_nothing(make_app):
    """With ADMIN_API_TOKEN empty, an empty bearer token is refused too."""
    client = make_app(admin_api_token="").test_client()
    for header in ("Bearer ", "Bearer", ""):
        assert client.get("/api/v1/regions", headers={"Authorization": header}).status_code == 401


def test_the_right_token_is_accepted(client):
    """The configured token opens the API, scheme case-insensitive."""
    response = client.get("/api/v1/regions", headers={"Authorization": "bearer test-admin-token"})
    assert response.status_code == 200
    assert response.get_json() == {"items": [], "total": 0}


# --- regions ----------------------------------------------------------------------------------------


def test_create_a_region_chain_and_list_it(client, session):
    """City, town, village: each 201 under its parent, listed by level and parent, and audited."""
    city = post(client, "/regions", {"code": CITY, "name": "示范市", "level": "city", "office_phone": "0716-1234000"})
    assert city.status_code == 201, city.get_json()
    assert city.get_json() | {"id": 0} == {
        "id": 0, "code": CITY, "name": "示范市", "level": "city", "parent_code": None, "is_community": False,
        "office_phone": "0716-1234000", "created_at": "2026-12-01T01:00:00+00:00",
    }
    town = post(client, "/regions", {"code": TOWN, "name": "柳河镇", "level": "town", "parent_code": CITY})
    assert town.status_code == 201
    village = post(client, "/regions", {"code": VILLAGE, "name": "新街社区", "level": "village",
                                        "parent_code": TOWN, "is_community": True})
    assert village.status_code == 201
    assert village.get_json()["parent_code"] == TOWN
    assert village.get_json()["is_community"] is True

    everything = get(client, "/regions").get_json()
    assert [r["code"] for r in everything["items"]] == [CITY, TOWN, VILLAGE]
    villages = get(client, "/regions", level="village", parent_code=TOWN).get_json()["items"]
    assert [r["code"] for r in villages] == [VILLAGE]
    assert get(client, "/regions", parent_code=CITY).get_json()["total"] == 1
    assert get(client, "/regions", level="county").get_json()["field"] == "level"

    session.rollback()
    audits = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    assert [(a.action, a.actor_kind, a.actor_label, a.target_type) for a in audits] == [
        ("region.create", "admin_api", "admin-api", "region")
    ] * 3
    assert audits[0].target_id == city.get_json()["id"]
    assert "0716-1234000" not in json.dumps(audits[0].detail)


# --- staff ------------------------------------------------------------------------------------------


def test_create_staff_and_the_list_never_shows_password_hashes(client, session, places):
    """Staff JSON has the contact and region but no sign-in secrets, even when a password is set."""
    response = post(client, "/staff", {"staff_no": "a0031", "name": "李敏", "phone": "0716-1234567",
                                       "role": "assistant", "region_code": VILLAGE})
    assert response.status_code == 201, response.get_json()
    created = response.get_json()
    # Chat commands look 工号 up upper-cased, so they are stored that way.
    assert created["staff_no"] == "A0031"
    assert created["region"] == {"code": VILLAGE, "name": "东湾村", "level": "village"}
    session.rollback()
    staff = session.get(Staff, created["id"])
    staff.password_hash = "scrypt:32768:8:1$salt$deadbeef"
    session.commit()
    listed = get(client, "/staff").get_json()
    assert [s["staff_no"] for s in listed["items"]] == ["A0031"]
    assert "password_hash" not in listed["items"][0]
    assert "deadbeef" not in json.dumps(listed)
    audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "staff.create")).one()
    assert "1234567" not in json.dumps(audit.detail)


def test_staff_list_filters_and_pages(client, session, people, clock):
    """Role, region and active filter; pages are bounded and numbered from 1."""
    people["other_assistant"].active = False
    session.commit()
    assert [s["staff_no"] for s in get(client, "/staff", role="assistant").get_json()["items"]] == ["A0001", "A0002"]
    assert [s["staff_no"] for s in get(client, "/staff", region_code=TOWN).get_json()["items"]] == ["T0001"]
    assert [s["staff_no"] for s in get(client, "/staff", active="false").get_json()["items"]] == ["A0002"]
    assert [s["staff_no"] for s in get(client, "/staff", active="true", role="assistant").get_json()["items"]] == [
        "A0001"
    ]
    second = get(client, "/staff", per_page=2, page=2).get_json()
    assert (second["total"], second["page"], second["per_page"]) == (3, 2, 2)
    assert [s["staff_no"] for s in second["items"]] == ["T0001"]
    for params, field in [({"per_page": 201}, "per_page"), ({"per_page": 0}, "per_page"), ({"page": "x"}, "page"),
                          ({"active": "maybe"}, "active"), ({"role": "boss"}, "role")]:
        response = get(client, "/staff", **params)
        assert response.status_code == 422
        assert response.get_json()["field"] == field
    assert get(client, "/staff", per_page=200).status_code == 200


# --- beneficiaries ----------------------------------------------------------------------------------


def test_create_beneficiary_stores_the_id_number_encrypted_and_shows_it_masked(client, session, people, pii):
    """The ID number is never stored or returned in plain; the assistant is assigned and shown."""
    response = post(client, "/beneficiaries", beneficiary_body())
    assert response.status_code == 201, response.get_json()
    created = response.get_json()
    assert created["id_number_masked"] == "110***********002X"
    assert VALID_ID not in response.get_data(as_text=True)
    assert created["assistant"] == {"staff_no": "A0001", "name": "员工A0001", "phone": "13800000000"}
    assert created["village"] == {"code": VILLAGE, "name": "东湾村"}
    assert created["categories"] == sorted(["低保", "留守老人"])
    assert re.fullmatch(r"[2-9A-HJKMNP-Z]{6}", created["bind_code"])

    session.rollback()
    raw = session.execute(text("SELECT * FROM beneficiaries WHERE id = :id"), {"id": created["id"]}).mappings().one()
    stored = " ".join(str(value) for value in raw.values())
    assert VALID_ID not in stored and "19491231" not in stored
    row = session.get(Beneficiary, created["id"])
    assert pii.decrypt(row.id_number_encrypted) == VALID_ID
    assert row.id_number_hash == pii.lookup_hash(VALID_ID)
    assignment = session.scalars(select(Assignment).where(Assignment.beneficiary_id == row.id)).one()
    assert (assignment.staff_id, assignment.ended_at) == (people["assistant"].id, None)
    audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "beneficiary.create")).one()
    assert audit.target_id == row.id
    detail = json.dumps(audit.detail, ensure_ascii=False)
    assert VALID_ID not in detail and "13912345678" not in detail and "19491231" not in detail


def test_beneficiary_without_optional_fields(client, people):
    """Only name, village and categories are required; no ID number, no assistant."""
    response = post(client, "/beneficiaries", {"name": "赵六", "village_code": VILLAGE, "categories": ["特困"]})
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["id_number_masked"] is None
    assert response.get_json()["assistant"] is None


# The regions and staff come from the `people` fixture; each case breaks exactly one field.
INVALID = [
    ("bad level", "/regions", {"code": "420300", "name": "x", "level": "county", "parent_code": CITY}, "level"),
    ("province with a parent", "/regions", {"code": "420300", "name": "x", "level": "province", "parent_code": CITY},
     "parent_code"),
    ("missing parent", "/regions", {"code": "420300", "name": "x", "level": "town"}, "parent_code"),
    ("unknown parent", "/regions", {"code": "420300", "name": "x", "level": "town", "parent_code": "999"},
     "parent_code"),
    ("village under city", "/regions", {"code": "420300", "name": "x", "level": "village", "parent_code": CITY},
     "parent_code"),
    ("city with parent", "/regions", {"code": "420300", "name": "x", "level": "city", "parent_code": CITY},
     "parent_code"),
    ("region code not digits", "/regions", {"code": "ab", "name": "x", "level": "city"}, "code"),
    ("region name missing", "/regions", {"code": "420300", "level": "city"}, "name"),
    ("is_community not bool", "/regions",
     {"code": "420300", "name": "x", "level": "town", "parent_code": CITY, "is_community": "yes"}, "is_community"),
    ("bad phone", "/staff", {"staff_no": "A9", "name": "x", "phone": "12345", "role": "assistant",
                             "region_code": VILLAGE}, "phone"),
    ("mobile starting 12", "/staff", {"staff_no": "A9", "name": "x", "phone": "12800000000",
                                        "role": "assistant", "region_code": VILLAGE}, "phone"),
    ("bad role", "/staff", {"staff_no": "A9", "name": "x", "phone": "13800000000", "role": "boss",
                            "region_code": VILLAGE}, "role"),
    ("staff_no with space", "/staff", {"staff_no": "A 9", "name": "x", "phone": "13800000000",
                                       "role": "assistant", "region_code": VILLAGE}, "staff_no"),
    ("unknown staff region", "/staff", {"staff_no": "A9", "name": "x", "phone": "13800000000",
                                        "role": "assistant", "region_code": "999"}, "region_code"),
    ("assistant in a town", "/staff", {"staff_no": "A9", "name": "x", "phone": "13800000000",
                                       "role": "assistant", "region_code": TOWN}, "region_code"),
    ("bad category", "/beneficiaries", beneficiary_body(categories=["低保", "富豪"]), "categories"),
    ("no category", "/beneficiaries", beneficiary_body(categories=[]), "categories"),
    ("categories not a list", "/beneficiaries", beneficiary_body(categories="低保"), "categories"),
    ("bad ID check digit", "/beneficiaries", beneficiary_body(id_number=BAD_CHECK_DIGIT_ID), "id_number"),
    ("ID number too short", "/beneficiaries", beneficiary_body(id_number="1101051949"), "id_number"),
    ("unknown village", "/beneficiaries", beneficiary_body(village_code="999"), "village_code"),
    ("village is a town", "/beneficiaries", beneficiary_body(village_code=TOWN), "village_code"),
    ("bad beneficiary phone", "/beneficiaries", beneficiary_body(phone="call me"), "phone"),
    ("unknown assistant", "/beneficiaries", beneficiary_body(assistant_staff_no="A9999"), "assistant_staff_no"),
    ("officer as assistant", "/beneficiaries", beneficiary_body(assistant_staff_no="T0001"), "assistant_staff_no"),
    ("name not text", "/beneficiaries", beneficiary_body(name=42), "name"),
]


@pytest.mark.parametrize("path,body,field", [case[1:] for case in INVALID], ids=[case[0] for case in INVALID])
def test_invalid_fields_are_422_naming_the_field(client, session, people, path, body, field):
    """Each invalid field: 422 with the field's name and a Chinese message, and nothing written."""
    before = (count(session, Region), count(session, Staff), count(session, Beneficiary))
    response = post(client, path, body)
    assert response.status_code == 422, response.get_json()
    payload = response.get_json()
    assert payload["error"] == "invalid"
    assert payload["field"] == field
    assert re.search(r"[\u4e00-\u9fff]", payload["message"])
    # Whatever was wrong, an ID number is never echoed back.
    assert BAD_CHECK_DIGIT_ID not in response.get_data(as_text=True)
    assert VALID_ID not in response.get_data(as_text=True)
    assert (count(session, Region), count(session, Staff), count(session, Beneficiary)) == before
    assert count(session, AuditEntry) == 0


def test_an_inactive_assistant_cannot_be_assigned(client, session, people):
    """Assigning a deactivated assistant is refused and the beneficiary is not created."""
    people["assistant"].active = False
    session.commit()
    response = post(client, "/beneficiaries", beneficiary_body())
    assert response.status_code == 422
    assert response.get_json()["field"] == "assistant_staff_no"
    assert count(session, Beneficiary) == 0


@pytest.mark.parametrize(
    "kwargs",
    [{"data": "name=王", "content_type": "application/x-www-form-urlencoded"},
     {"data": "{not json", "content_type": "application/json"},
     {"data": "[1, 2]", "content_type": "application/json"}],
    ids=["form", "broken json", "json array"],
)
def test_a_body_that_is_not_a_json_object_is_400(client, places, kwargs):
    """Form posts, broken JSON and JSON arrays are refused as a bad body."""
    response = client.post("/api/v1/regions", headers=AUTH, **kwargs)
    assert response.status_code == 400
    assert response.get_json()["field"] == "body"


def test_an_oversized_body_is_refused(client, places):
    """Bodies beyond 64 KiB are refused before they are parsed."""
    response = post(client, "/regions", {"code": "1", "name": "x" * 70_000, "level": "city"})
    assert response.status_code == 413
    assert response.is_json


@pytest.mark.parametrize(
    "path,body,field",
    [
        ("/regions", {"code": VILLAGE, "name": "重复", "level": "village", "parent_code": TOWN}, "code"),
        ("/staff", {"staff_no": "a0001", "name": "重复", "phone": "13800000001", "role": "assistant",
                    "region_code": VILLAGE}, "staff_no"),
        # Lower-case x and spaces: the same number, so the same keyed hash.
        ("/beneficiaries", beneficiary_body(name="重复", id_number="110105 19491231 002x"), "id_number"),
    ],
    ids=["region code", "staff_no", "id_number"],
)
def test_duplicates_are_409_naming_the_field(client, session, people, path, body, field):
    """A taken region code, 工号 or ID number: 409 naming the field; no second row."""
    assert post(client, "/beneficiaries", beneficiary_body()).status_code == 201
    before = (count(session, Region), count(session, Staff), count(session, Beneficiary), count(session, AuditEntry))
    response = post(client, path, body)
    assert response.status_code == 409, response.get_json()
    assert response.get_json()["error"] == "conflict"
    assert response.get_json()["field"] == field
    assert VALID_ID not in response.get_data(as_text=True)
    after = (count(session, Region), count(session, Staff), count(session, Beneficiary), count(session, AuditEntry))
    assert after == before


def test_beneficiary_list_filters_and_masks(client, session, people):
    """Village, town and category filters; every item masked, never the full number."""
    first = post(client, "/beneficiaries", beneficiary_body()).get_json()
    second = post(client, "/beneficiaries", beneficiary_body(
        name="刘洋", village_code=OTHER_VILLAGE, categories=["留守儿童"], id_number="110105201001010010",
        assistant_staff_no="A0002", phone=None,
    ))
    assert second.status_code == 201, second.get_json()
    second = second.get_json()
    everything = get(client, "/beneficiaries")
    assert ids(everything) == [first["id"], second["id"]]
    assert VALID_ID not in everything.get_data(as_text=True)
    assert "110105201001010010" not in everything.get_data(as_text=True)
    assert [b["id_number_masked"] for b in everything.get_json()["items"]] == ["110***********002X",
                                                                            "110***********0010"]
    assert ids(get(client, "/beneficiaries", village_code=OTHER_VILLAGE)) == [second["id"]]
    assert ids(get(client, "/beneficiaries", town_code=TOWN)) == [first["id"]]
    assert ids(get(client, "/beneficiaries", category="留守儿童")) == [second["id"]]
    assert ids(get(client, "/beneficiaries", category="低保", town_code=OTHER_TOWN)) == []
    assert ids(get(client, "/beneficiaries", per_page=1, page=2)) == [second["id"]]
    assert get(client, "/beneficiaries", category="富豪").get_json()["field"] == "category"
    items = get(client, "/beneficiaries", town_code=OTHER_TOWN).get_json()["items"]
    assert items[0]["assistant"]["staff_no"] == "A0002"
    assert items[0]["town"] == {"code": OTHER_TOWN, "name": "桃园镇"}


# --- invite and bind code ---------------------------------------------------------------------------


def test_invite_issues_a_one_time_code_kept_only_as_a_hash(client, session, people, pii):
    """201 with the code and a week's expiry; the database keeps only its keyed hash."""
    officer = people["officer"]
    response = post(client, f"/staff/{officer.id}/invite")
    assert response.status_code == 201, response.get_json()
    invite = response.get_json()
    assert invite["staff_no"] == "T0001"
    assert re.fullmatch(r"[2-9A-HJKMNP-Z]{8}", invite["code"])
    assert invite["expires_at"] == "2026-12-08T01:00:00+00:00"
    session.rollback()
    stored = session.scalars(select(StaffInvite)).one()
    assert stored.staff_id == officer.id
    assert stored.code_hash == pii.keyed_hash("invite", invite["code"])
    audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "staff.invite")).one()
    assert (audit.target_type, audit.target_id) == ("staff", officer.id)
    assert invite["code"] not in json.dumps(audit.detail)


def test_invite_refuses_unknown_and_inactive_staff(client, session, people):
    """Unknown id: 404 JSON. A deactivated member of staff: 409, no invite."""
    missing = post(client, "/staff/9999/invite")
    assert missing.status_code == 404
    assert missing.get_json()["error"] == "not_found"
    people["officer"].active = False
    session.commit()
    inactive = post(client, f"/staff/{people['officer'].id}/invite")
    assert inactive.status_code == 409
    assert inactive.get_json()["field"] == "active"
    assert count(session, StaffInvite) == 0


def test_bind_code_is_regenerated(client, session, people):
    """A new code replaces the old one, with the QR scene that carries it."""
    created = post(client, "/beneficiaries", beneficiary_body()).get_json()
    response = post(client, f"/beneficiaries/{created['id']}/bind-code")
    assert response.status_code == 201, response.get_json()
    fresh = response.get_json()
    assert fresh["code"] != created["bind_code"]
    assert fresh["qr_scene"] == f"bind:{fresh['code']}"
    session.rollback()
    assert session.get(Beneficiary, created["id"]).bind_code == fresh["code"]
    assert get(client, "/beneficiaries").get_json()["items"][0]["bind_code"] == fresh["code"]
    assert session.scalars(select(AuditEntry).where(AuditEntry.action == "beneficiary.bind_code")).one()
    assert post(client, "/beneficiaries/9999/bind-code").status_code == 404


# --- service requests -------------------------------------------------------------------------------


@pytest.fixture
def cases(session, people, clock, pii):
    """Five requests in two towns, created an hour apart, overdue in different ways."""
    now = clock()
    first = roster.create_beneficiary(session, pii, name="王五", village=people["assistant"].region,
                                      categories=[BeneficiaryCategory.DIBAO], now=now)
    second = roster.create_beneficiary(session, pii, name="赵六", village=people["other_assistant"].region,
                                       categories=[BeneficiaryCategory.TEKUN], now=now)
    session.flush()
    town, other_town = first.village.parent, second.village.parent

    def case(n, who, status, urgency="normal", assignee=None, accept=None, resolve=None):
        return ServiceRequest(
            beneficiary_id=who.id, village_id=who.village_id, town_id=(town if who is first else other_town).id,
            category="医",
            urgency=urgency, status=status, summary=f"第{n}件", assignee_staff_id=assignee.id if assignee else None,
            accept_deadline=accept, resolve_deadline=resolve,
            created_at=now - timedelta(hours=10 - n), updated_at=now,
        )

    past, future = now - timedelta(minutes=1), now + timedelta(hours=1)
    rows = {
        # Open and not accepted in time.
        "late_accept": case(1, first, "open", accept=past, resolve=future),
        # Acknowledged and in time; urgent, with an assignee.
        "in_time": case(2, first, "acknowledged", "urgent", people["assistant"], accept=past, resolve=future),
        # Acknowledged and not resolved in time.
        "late_resolve": case(3, second, "acknowledged", assignee=people["other_assistant"], resolve=past),
        # Resolved: a passed deadline no longer counts.
        "resolved": case(4, second, "resolved", resolve=past),
        # Open with no deadlines yet.
        "no_deadline": case(5, second, "open"),
    }
    session.add_all(rows.values())
    session.commit()
    return {name: row.id for name, row in rows.items()}


def test_requests_list_newest_first_with_every_filter(client, cases, clock):
    """Status, town, village, assignee, urgency and overdue filters, alone and together."""
    c = cases
    assert ids(get(client, "/requests")) == [c["no_deadline"], c["resolved"], c["late_resolve"], c["in_time"],
                                            c["late_accept"]]
    assert ids(get(client, "/requests", status="open")) == [c["no_deadline"], c["late_accept"]]
    assert ids(get(client, "/requests", town_code=TOWN)) == [c["in_time"], c["late_accept"]]
    assert ids(get(client, "/requests", village_code=OTHER_VILLAGE)) == [c["no_deadline"], c["resolved"],
                                                                        c["late_resolve"]]
    assert ids(get(client, "/requests", assignee="a0001")) == [c["in_time"]]
    assert ids(get(client, "/requests", urgency="urgent")) == [c["in_time"]]
    assert ids(get(client, "/requests", overdue="true")) == [c["late_resolve"], c["late_accept"]]
    assert ids(get(client, "/requests", overdue="false")) == [c["no_deadline"], c["resolved"], c["in_time"]]
    assert ids(get(client, "/requests", overdue="true", town_code=OTHER_TOWN)) == [c["late_resolve"]]
    assert ids(get(client, "/requests", town_code="999")) == []
    page = get(client, "/requests", per_page=2, page=2).get_json()
    assert (page["total"], [r["id"] for r in page["items"]]) == (5, [c["late_resolve"], c["in_time"]])


def test_overdue_follows_the_injected_clock(client, cases, clock):
    """Two hours later the in-time case is overdue too."""
    assert cases["in_time"] not in ids(get(client, "/requests", overdue="true"))
    clock.advance(hours=2)
    assert cases["in_time"] in ids(get(client, "/requests", overdue="true"))


def test_request_items_carry_place_assignee_and_lateness(client, cases):
    """A list item names the beneficiary, village, town and assignee, and says whether it is late."""
    item = next(r for r in get(client, "/requests").get_json()["items"] if r["id"] == cases["late_resolve"])
    assert item["beneficiary"]["name"] == "赵六"
    assert item["village"] == {"code": OTHER_VILLAGE, "name": "新街社区"}
    assert item["town"] == {"code": OTHER_TOWN, "name": "桃园镇"}
    assert item["assignee"]["staff_no"] == "A0002"
    assert item["overdue"] is True
    assert item["created_at"] == "2026-11-30T18:00:00+00:00"


def test_requests_stay_where_they_were_raised(client, session, cases, places):
    """A beneficiary who moves takes no old cases along: place filters use where the case was raised."""
    moved = session.get(ServiceRequest, cases["late_accept"]).beneficiary
    moved.village_id = places["other_village"].id
    session.commit()
    assert cases["late_accept"] in ids(get(client, "/requests", village_code=VILLAGE))
    assert cases["late_accept"] not in ids(get(client, "/requests", village_code=OTHER_VILLAGE))
    item = get(client, f"/requests/{cases['late_accept']}").get_json()
    assert item["village"] == {"code": VILLAGE, "name": "东湾村"}


@pytest.mark.parametrize("params,field", [({"status": "pending"}, "status"), ({"urgency": "high"}, "urgency"),
                                          ({"overdue": "yes"}, "overdue"), ({"per_page": "500"}, "per_page")])
def test_bad_request_filters_are_422(client, params, field):
    """Unknown filter values name the parameter instead of silently listing nothing."""
    response = get(client, "/requests", **params)
    assert response.status_code == 422
    assert response.get_json()["field"] == field


def test_request_detail_has_its_timeline(client, session, cases, clock, people):
    """The request with its events, oldest first, times with their offset."""
    request_id = cases["in_time"]
    session.add_all([
        RequestEvent(request_id=request_id, kind="created", actor_kind="wechat_user", body="我妈的降压药吃完了",
                     created_at=clock() - timedelta(hours=8)),
        RequestEvent(request_id=request_id, kind="acknowledged", actor_kind="staff",
                     actor_staff_id=people["assistant"].id, data={"via": "wechat"},
                     created_at=clock() - timedelta(hours=7, minutes=30)),
    ])
    session.commit()
    response = get(client, f"/requests/{request_id}")
    assert response.status_code == 200
    detail = response.get_json()
    assert (detail["id"], detail["status"], detail["urgency"]) == (request_id, "acknowledged", "urgent")
    assert [(e["kind"], e["actor_kind"], e["actor_staff_id"]) for e in detail["events"]] == [
        ("created", "wechat_user", None), ("acknowledged", "staff", people["assistant"].id)
    ]
    assert detail["events"][0]["body"] == "我妈的降压药吃完了"
    assert detail["events"][1]["data"] == {"via": "wechat"}
    assert detail["events"][1]["created_at"] == "2026-11-30T17:30:00+00:00"
    missing = get(client, "/requests/999999")
    assert missing.status_code == 404
    assert missing.get_json()["error"] == "not_found"


# --- outbox -----------------------------------------------------------------------------------------


def test_outbox_lists_rows_by_status_without_payloads(client, session, clock):
    """Status filter, newest first, and no payload in the JSON."""
    now = clock()
    for n, status in enumerate(["pending", "sent", "dead", "pending"]):
        session.add(OutboxMessage(
            idempotency_key=f"push:{n}:assignee", recipient_openid=f"openid-{n}", kind="custom",
            payload={"text": f"秘密内容{n}"}, status=status, attempts=n, next_attempt_at=now,
            last_error="45015 response out of time limit" if status == "dead" else None,
            created_at=now - timedelta(minutes=10 - n), sent_at=now if status == "sent" else None,
        ))
    session.commit()
    everything = get(client, "/outbox")
    assert [m["idempotency_key"] for m in everything.get_json()["items"]] == [
        "push:3:assignee", "push:2:assignee", "push:1:assignee", "push:0:assignee"
    ]
    assert "秘密内容" not in everything.get_data(as_text=True)
    assert all("payload" not in m for m in everything.get_json()["items"])
    pending = get(client, "/outbox", status="pending").get_json()
    assert [m["recipient_openid"] for m in pending["items"]] == ["openid-3", "openid-0"]
    dead = get(client, "/outbox", status="dead").get_json()["items"]
    assert dead[0]["last_error"].startswith("45015")
    assert dead[0]["next_attempt_at"] == "2026-12-01T01:00:00+00:00"
    sent = get(client, "/outbox", status="sent").get_json()["items"]
    assert sent[0]["sent_at"] == "2026-12-01T01:00:00+00:00"
    assert get(client, "/outbox", status="lost").get_json()["field"] == "status"
    assert get(client, "/outbox", per_page=1, page=4).get_json()["items"][0]["idempotency_key"] == "push:0:assignee"
