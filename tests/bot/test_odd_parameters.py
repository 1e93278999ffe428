"""Odd ids, numbers, bytes and dates in URLs, query strings, forms and JSON: each is a 404, a 422 (the
admin API, naming the field) or a 400, never a 500. PostgreSQL raises on ids past int4 and on NUL
bytes where SQLite does not, so these matter most in the PostgreSQL run."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from bot.app import MSG_NO_SUCH_PATH
from models import Staff
from models.enums import RequestCategory, StaffRole, Urgency
from services import accounts
from services import requests as service
from services.policy.classify import Classification
from tests.support.factories import make_beneficiary, make_staff, make_town

TOKEN = {"Authorization": "Bearer test-admin-token"}
PASSWORD = "correct-horse-1"
PAST_INT4 = "2147483648"
PAST_INT8 = "9223372036854775808"
CHINESE = re.compile(r"[\u4e00-\u9fff]")
FUZZ = hypothesis_settings(max_examples=60, deadline=None, database=None,
                           suppress_health_check=[HealthCheck.function_scoped_fixture])
# Anything a query string can carry: digits of every script, NUL, huge and negative numbers.
ODD_VALUES = st.one_of(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.sampled_from(["²", "٣", "0", PAST_INT4, PAST_INT8, "\x00", "1\x00", " 7 ", "9999-12-31", "0001-01-01"]),
)


def test_every_id_in_a_route_is_limited_to_the_database_range(app):
    """No route takes werkzeug's unbounded `int`; every id goes through the `id` converter."""
    unbounded = [rule.rule for rule in app.url_map.iter_rules() if "<int" in rule.rule]
    assert unbounded == []
    assert any("<id:" in rule.rule for rule in app.url_map.iter_rules())


# --- the admin API -------------------------------------------------------------------------------------


@pytest.mark.parametrize("method, path", [
    ("get", f"/api/v1/requests/{PAST_INT4}"),
    ("get", "/api/v1/requests/99999999999999999999999"),
    ("get", "/api/v1/requests/0"),
    ("get", "/api/v1/requests/%D9%A3"),  # an Arabic-Indic 3
    ("post", f"/api/v1/beneficiaries/{PAST_INT8}/bind-code"),
    ("post", f"/api/v1/staff/{PAST_INT4}/invite"),
    ("delete", f"/api/v1/duty-shifts/{PAST_INT4}"),
    ("get", "/api/v1/villages/%00/officers"),
])
def test_ids_that_cannot_exist_are_404_in_the_api_shape(client, method, path):
    """An id past int4 (or 0, or not ASCII digits) or a NUL in a code: 404 with a Chinese message."""
    response = getattr(client, method)(path, headers=TOKEN)
    assert response.status_code == 404
    assert response.get_json() == {"error": "not_found", "message": MSG_NO_SUCH_PATH}


@pytest.mark.parametrize("path, field", [
    ("/api/v1/requests?page=%C2%B2", "page"),
    ("/api/v1/requests?page=10000000000000000000", "page"),
    ("/api/v1/outbox?page=10000000000000000000", "page"),
    ("/api/v1/staff?per_page=%C2%B2", "per_page"),
    ("/api/v1/requests?town_code=a%00b", "town_code"),
    ("/api/v1/requests?village_code=%00", "village_code"),
    ("/api/v1/requests?assignee=S%00", "assignee"),
    ("/api/v1/beneficiaries?village_code=%00", "village_code"),
    ("/api/v1/staff?region_code=%00", "region_code"),
    ("/api/v1/regions?parent_code=%00", "parent_code"),
    ("/api/v1/duty-shifts?since=9999-12-31T23:59:59-14:00", "since"),
    ("/api/v1/duty-shifts?since=0001-01-01T00:00:00%2B14:00", "since"),
])
def test_odd_query_parameters_are_422_naming_the_field(client, path, field):
    """Superscript digits, numbers past any page, NUL bytes and the calendar's ends: 422, in Chinese."""
    response = client.get(path, headers=TOKEN)
    assert response.status_code == 422, response.get_data(as_text=True)
    body = response.get_json()
    assert body["error"] == "invalid" and body["field"] == field and CHINESE.search(body["message"])


@pytest.mark.parametrize("raw", [
    '{"code": "4201", "name": "a\\u0000b", "level": "city"}',
    '{"code": "4201", "name": "a\\ud800b", "level": "city"}',
])
def test_a_body_text_no_row_can_hold_is_422(client, raw):
    """A NUL byte or half a UTF-16 pair in a JSON string: 422 naming the field, nothing stored."""
    response = client.post("/api/v1/regions", data=raw, content_type="application/json", headers=TOKEN)
    assert response.status_code == 422
    assert response.get_json()["field"] == "name"
    assert client.get("/api/v1/regions", headers=TOKEN).get_json()["total"] == 0


@FUZZ
@given(path=st.sampled_from(["/api/v1/requests", "/api/v1/beneficiaries", "/api/v1/staff", "/api/v1/outbox"]),
       params=st.dictionaries(st.sampled_from(["page", "per_page", "town_code", "village_code", "assignee",
                                               "region_code", "status", "urgency", "overdue", "active"]),
                              ODD_VALUES, max_size=4))
def test_api_lists_never_fail_on_odd_filters(client, path, params):
    """Whatever the filters, a list answers 200 or 422."""
    assert client.get(path, query_string=params, headers=TOKEN).status_code in (200, 422)


# --- the office pages ----------------------------------------------------------------------------------


@pytest.fixture
def office(app, session, clock):
    """The factory's town with one open request, and the city supervisor signed in."""
    world = make_town(session, clock())
    accounts.set_password(session.get(Staff, world.supervisor.id), PASSWORD, clock())
    world.person = make_beneficiary(session, world.village, clock(), assistant=world.assistant)
    service.open_request(session, app.extensions["sanzhida"].request_env, beneficiary=world.person, summary="腿疼",
                         classification=Classification(RequestCategory.MEDICAL, Urgency.NORMAL), now=clock())
    session.commit()
    world.supervisor_client = signed_in(app, world.supervisor.staff_no)
    return world


@pytest.fixture
def admin_client(office, app, session, clock):
    """An administrator of the town's city, signed in."""
    admin = make_staff(session, StaffRole.ADMIN, office.city, clock(), name="管理员")
    accounts.set_password(admin, PASSWORD, clock())
    session.commit()
    return signed_in(app, admin.staff_no)


def form_token(client, path: str) -> str:
    """The CSRF token a page's form carries."""
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)


def signed_in(app, staff_no: str):
    """A client signed in to the office pages as `staff_no`."""
    client = app.test_client()
    response = client.post("/office/login", data={"staff_no": staff_no, "password": PASSWORD,
                                                  "csrf_token": form_token(client, "/office/login")})
    assert response.status_code == 302
    return client


@pytest.mark.parametrize("path, status", [
    (f"/office/cases/{PAST_INT4}", 404),
    (f"/office/media/{PAST_INT4}", 404),
    (f"/office/villages/{PAST_INT4}", 404),
    (f"/office/villages/{PAST_INT4}/cards", 404),
    (f"/office/beneficiaries/{PAST_INT4}", 404),
    (f"/office/beneficiaries/{PAST_INT8}/card", 404),
    ("/office/cases?page=10000000000000000000", 200),
    (f"/office/cases?town={PAST_INT4}&village=99999999999999999999", 200),
    ("/office/cases?town=%C2%B2&page=%C2%B2", 200),
    (f"/office/visits?town={PAST_INT4}", 200),
    ("/office/cases?assignee=S%00", 400),
    ("/office/cases?status=open%00", 400),
])
def test_office_pages_answer_odd_parameters_without_failing(office, path, status):
    """Ids past int4 are 404 with a Chinese page; odd filters are no filter; NUL bytes are 400."""
    response = office.supervisor_client.get(path)
    assert response.status_code == status
    if status != 200:
        assert CHINESE.search(response.get_data(as_text=True))


@pytest.mark.parametrize("path", [
    "/office/audit?since=0001-01-01&until=9999-12-31",
    "/office/chain/duty?week=9999-12-31",
    "/office/chain/duty?week=0001-01-01",
])
def test_the_calendar_ends_are_read_as_a_wrong_date(admin_client, path):
    """A date at the calendar's very end (whose next day or week does not exist) is refused kindly."""
    response = admin_client.get(path)
    assert response.status_code == 200 and "日期格式应为" in response.get_data(as_text=True)


def test_an_audit_target_past_int4_finds_nothing(admin_client):
    """The audit search by target id: no match rather than a failure."""
    assert admin_client.get(f"/office/audit?target_id={PAST_INT4}").status_code == 200


def test_an_export_from_the_year_one_is_refused(admin_client):
    """The export's dates are checked like the others: 400, in Chinese."""
    response = admin_client.get("/office/export/cases.xlsx?since=0001-01-01")
    assert response.status_code == 400 and "日期格式" in response.get_data(as_text=True)


def test_forms_with_odd_values_are_refused_not_failed(office, app):
    """A staff id past int4 is no choice; a NUL in the sign-in form is 400."""
    client, page = office.supervisor_client, f"/office/beneficiaries/{office.person.id}"
    moved = client.post(f"{page}/reassign", data={"staff_id": PAST_INT4, "csrf_token": form_token(client, page)})
    assert moved.status_code == 302
    assert "请选择本村" in client.get(page).get_data(as_text=True)
    stranger = app.test_client()
    refused = stranger.post("/office/login", data={"staff_no": "S\x00", "password": "x",
                                                   "csrf_token": form_token(stranger, "/office/login")})
    assert refused.status_code == 400


@FUZZ
@given(params=st.dictionaries(st.sampled_from(["town", "village", "page", "assignee", "category", "urgency",
                                               "status", "escalated", "overdue"]), ODD_VALUES, max_size=5))
def test_the_case_board_never_fails_on_odd_filters(office, params):
    """Whatever the filters, the board answers 200 (unknown values are no filter) or 400 (NUL bytes)."""
    assert office.supervisor_client.get("/office/cases", query_string=params).status_code in (200, 400)
