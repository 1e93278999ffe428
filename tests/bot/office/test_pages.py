"""The office dashboard through HTTP: sign-in with CSRF and lock-out, what each role may see and
do, reassignment and ID display audited, case actions through the chat's services."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from models import AuditEntry, ServiceRequest, Staff
from models.enums import RequestCategory, Urgency
from services import accounts
from services import requests as service
from services.policy.classify import Classification
from tests.support.factories import fresh, make_beneficiary, make_town

PASSWORD = "correct-horse-1"
ID_NO = "11010519491231002X"


@pytest.fixture
def town(session, clock, app):
    """A town whose staff can sign in, with one beneficiary and one open request."""
    world = make_town(session, clock())
    for staff in (world.assistant, world.other_assistant, world.officer, world.supervisor):
        accounts.set_password(session.get(Staff, staff.id), PASSWORD, clock())
    person = make_beneficiary(session, world.village, clock(), assistant=world.assistant, name="陈桂兰", id_no=ID_NO)
    service.open_request(session, app.extensions["sanzhida"].request_env, beneficiary=person, summary="腿疼",
                         classification=Classification(RequestCategory.MEDICAL, Urgency.NORMAL), now=clock())
    session.commit()
    world.person = person
    return world


def csrf(client, path: str) -> str:
    """The CSRF token a page's form carries."""
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)


def sign_in(client, staff_no: str, password: str = PASSWORD):
    """Submit the sign-in form."""
    token = csrf(client, "/office/login")
    return client.post("/office/login", data={"staff_no": staff_no, "password": password, "csrf_token": token})


def test_pages_require_sign_in(client):
    """Every page redirects to the sign-in form first."""
    for path in ("/office/map", "/office/cases", "/office/visits", "/office/audit"):
        response = client.get(path)
        assert response.status_code == 302 and "/office/login" in response.headers["Location"]


def test_sign_in_needs_the_csrf_token(client, town):
    """A form post without the token is refused, and nobody is signed in."""
    response = client.post("/office/login", data={"staff_no": town.officer.staff_no, "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/office/map").status_code == 302


def test_session_cookie_is_httponly_and_samesite(client, town):
    """The session cookie cannot be read by scripts or sent cross-site."""
    response = sign_in(client, town.officer.staff_no)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_wrong_passwords_lock_the_account(client, town, session, clock):
    """Five wrong passwords lock the account; even the right one is refused until it lapses."""
    for _ in range(5):
        assert sign_in(client, town.officer.staff_no, "wrong-password").status_code == 401
    locked = sign_in(client, town.officer.staff_no)
    assert locked.status_code == 401 and "锁定" in locked.get_data(as_text=True)
    clock.advance(minutes=16)
    assert sign_in(client, town.officer.staff_no).status_code == 302


def test_each_role_sees_only_its_scope(app, town):
    """The supervisor sees the audit menu, the officer the town, the assistant no write actions."""
    number = str(town.person.id)
    supervisor = app.test_client()
    sign_in(supervisor, town.supervisor.staff_no)
    assert "柳河镇" in supervisor.get("/office/map").get_data(as_text=True)
    assert supervisor.get("/office/audit").status_code == 403, "auditing is for administrators"
    assistant = app.test_client()
    sign_in(assistant, town.other_assistant.staff_no)
    assert "陈桂兰" not in assistant.get("/office/cases").get_data(as_text=True)
    assert assistant.get(f"/office/beneficiaries/{town.person.id}").status_code == 404
    own = app.test_client()
    sign_in(own, town.assistant.staff_no)
    page = own.get("/office/cases").get_data(as_text=True)
    assert "陈桂兰" in page and number in page
    case_page = own.get(f"/office/cases/{number}").get_data(as_text=True)
    assert "转派" not in case_page, "assistants read, they act in the chat"


def test_reassigning_a_beneficiary_is_one_audited_action(client, town, session):
    """The town officer moves a beneficiary to another assistant of the village; it is audited."""
    from models.enums import StaffRole
    from tests.support.factories import make_staff

    newcomer = make_staff(session, StaffRole.ASSISTANT, town.village, town.person.created_at, name="孙丽")
    session.commit()
    sign_in(client, town.officer.staff_no)
    path = f"/office/beneficiaries/{town.person.id}"
    response = client.post(f"{path}/reassign", data={"staff_id": newcomer.id, "csrf_token": csrf(client, path)})
    assert response.status_code == 302
    assert "孙丽" in client.get(path).get_data(as_text=True)
    fresh(session)
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "beneficiary.reassign")).one()
    assert entry.actor_staff_id == town.officer.id and entry.detail["to_staff_id"] == newcomer.id


def test_the_full_id_number_shows_masked_and_each_display_is_audited(client, town, session):
    """The page shows a masked number; showing it in full is an audited action."""
    sign_in(client, town.officer.staff_no)
    path = f"/office/beneficiaries/{town.person.id}"
    page = client.get(path).get_data(as_text=True)
    assert ID_NO not in page and "110***********002X" in page
    shown = client.post(f"{path}/reveal-id", data={"csrf_token": csrf(client, path)}).get_data(as_text=True)
    assert ID_NO in shown
    fresh(session)
    assert session.scalars(select(AuditEntry.action).where(AuditEntry.target_id == town.person.id)).all() == [
        "beneficiary.id_number.view"]


def test_case_actions_go_through_the_chat_services(client, town, session):
    """Comment, reassign and close from the case page write the same events as the chat commands."""
    number = session.scalars(select(ServiceRequest.id)).one()
    sign_in(client, town.officer.staff_no)
    path = f"/office/cases/{number}"
    client.post(f"{path}/comment", data={"text": "已电话联系家属", "csrf_token": csrf(client, path)})
    client.post(f"{path}/reassign", data={"staff_no": town.other_assistant.staff_no, "csrf_token": csrf(client, path)})
    client.post(f"{path}/close", data={"text": "已送药上门", "csrf_token": csrf(client, path)})
    page = client.get(path).get_data(as_text=True)
    assert "已电话联系家属" in page and "已送药上门" in page
    fresh(session)
    case = session.get(ServiceRequest, number)
    assert case.status == "resolved" and case.assignee_staff_id == town.other_assistant.id
    kinds = [e.kind for e in case.events]
    assert {"comment", "reassigned", "resolved"} <= set(kinds)


def test_an_assistant_cannot_post_actions(app, town, session):
    """The write endpoints refuse an assistant even when called directly."""
    number = session.scalars(select(ServiceRequest.id)).one()
    client = app.test_client()
    sign_in(client, town.assistant.staff_no)
    path = f"/office/cases/{number}"
    response = client.post(f"{path}/close", data={"text": "x", "csrf_token": csrf(client, path)})
    assert response.status_code == 403



def test_the_case_timeline_names_who_an_escalation_alerted(client, app, town, session, clock):
    """Two urgent cases escalate in one scan: the officer gets one digest, and each case's timeline
    still says that the officer and the assistant were alerted, and the requester told."""
    from datetime import timedelta

    from services import escalation
    from tests.support.factories import make_wechat_user

    env = app.extensions["sanzhida"].request_env
    start = clock()
    family = make_wechat_user(session, "o-family-office", start, last_message_at=start)
    numbers = [
        service.open_request(session, env, beneficiary=town.person, summary="摔倒了", user=family,
                             classification=Classification(RequestCategory.MEDICAL, Urgency.URGENT), now=start).id,
        service.open_request(session, env, beneficiary=make_beneficiary(session, town.village, start,
                                                                        assistant=town.assistant, name="刘大爷"),
                             summary="停电了", user=family,
                             classification=Classification(RequestCategory.MEDICAL, Urgency.URGENT), now=start).id,
    ]
    session.commit()
    assert escalation.scan(session, env, start + timedelta(minutes=20)) >= 2
    session.commit()
    sign_in(client, town.officer.staff_no)
    for number in numbers:
        page = client.get(f"/office/cases/{number}").get_data(as_text=True)
        assert "已通知：赵敏、王芳" in page
        assert "已通知求助人" in page
