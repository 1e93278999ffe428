"""代办 outside the chat: the dashboard's 代办登记 form and `POST /api/v1/requests` open a request
through the same service, scoped, audited, with the channel on the case; the case board and the
figures filter by channel."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from models import AuditEntry, OutboxMessage, ServiceRequest, Staff
from models.enums import RequestCategory, RequestChannel, Urgency
from services import accounts, figures, on_behalf, texts
from services import requests as request_service
from services.policy.classify import Classification
from services.scope import scope_for
from tests.support.factories import fresh, make_beneficiary, make_town
from tests.support.office import PASSWORD, csrf, signed_in

AUTH = {"Authorization": "Bearer test-admin-token"}


@pytest.fixture
def town(session, clock):
    """A town whose staff can sign in, and one beneficiary of its first village's assistant."""
    world = make_town(session, clock())
    for staff in (world.assistant, world.other_assistant, world.officer, world.supervisor):
        accounts.set_password(session.get(Staff, staff.id), PASSWORD, clock())
    world.person = make_beneficiary(session, world.village, clock(), assistant=world.assistant, name="陈桂兰")
    session.commit()
    return world


def _count(session) -> int:
    fresh(session)
    return session.scalar(select(func.count()).select_from(ServiceRequest))


def test_the_dashboard_form_logs_a_request_audited_and_the_case_page_shows_the_channel(app, town, session):
    """The town officer logs a walk-in from the beneficiary page: the case opens, routed to the
    assistant with a task push, and the case page says 来访 and who logged it."""
    client = signed_in(app, town.officer.staff_no)
    path = f"/office/beneficiaries/{town.person.id}"
    assert "代办登记" in client.get(path).get_data(as_text=True)
    answer = client.post(f"{path}/log-request", data={"channel": "walk_in", "text": "想申请临时救助",
                                                      "csrf_token": csrf(client, path)})
    assert answer.status_code == 302
    fresh(session)
    case = session.scalars(select(ServiceRequest)).one()
    assert answer.headers["Location"].endswith(f"/office/cases/{case.id}")
    assert (case.channel, case.raised_by_staff_id, case.assignee_staff_id) == ("walk_in", town.officer.id,
                                                                                town.assistant.id)
    assert session.scalar(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.idempotency_key == f"task:{case.id}:{town.assistant.id}")) == 1
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "case.log")).one()
    assert (entry.actor_staff_id, entry.target_id, entry.detail["channel"]) == (town.officer.id, case.id, "walk_in")
    page = client.get(f"/office/cases/{case.id}").get_data(as_text=True)
    assert "来访（赵敏代为登记）" in page and f"已代陈桂兰登记求助 {case.id}号（来访）" in page


def test_the_dashboard_form_needs_its_csrf_token(app, town, session):
    """A post without the token is refused and opens nothing."""
    client = signed_in(app, town.officer.staff_no)
    answer = client.post(f"/office/beneficiaries/{town.person.id}/log-request", data={"channel": "phone", "text": "腿疼"})
    assert answer.status_code == 400 and _count(session) == 0


@pytest.mark.parametrize(("who", "form", "says"), [
    ("assistant", {"channel": "phone", "text": "腿疼"}, "协理员请在微信里发送"),
    ("officer", {"channel": "wechat", "text": "腿疼"}, "请选择渠道"),
    ("officer", {"channel": "phone", "text": "  "}, texts.LOG_NO_CONTENT.split("，")[0]),
])
def test_dashboard_refusals_are_a_short_message(app, town, session, who, form, says):
    """An assistant (read-only on the web), a channel that is no 代办 channel, no content: a flash
    on the beneficiary page, never an error page, and nothing opened."""
    client = signed_in(app, getattr(town, who).staff_no)
    path = f"/office/beneficiaries/{town.person.id}"
    answer = client.post(f"{path}/log-request", data={**form, "csrf_token": csrf(client, path)},
                         follow_redirects=True)
    assert answer.status_code == 200 and says in answer.get_data(as_text=True)
    assert _count(session) == 0


def test_out_of_scope_on_the_dashboard_is_a_message_on_the_board(app, town, session, clock):
    """A town officer of another town posting for this beneficiary reads why, on the case board."""
    from models.enums import RegionLevel, StaffRole
    from tests.support.factories import make_region, make_staff

    far = make_staff(session, StaffRole.TOWN_OFFICER, make_region(session, RegionLevel.TOWN, town.city, clock()),
                     clock())
    accounts.set_password(far, PASSWORD, clock())
    session.commit()
    client = signed_in(app, far.staff_no)
    token = csrf(client, "/office/cases")
    answer = client.post(f"/office/beneficiaries/{town.person.id}/log-request",
                         data={"channel": "phone", "text": "腿疼", "csrf_token": token}, follow_redirects=True)
    assert answer.status_code == 200
    assert texts.LOG_OUT_OF_SCOPE.format(id=town.person.id) in answer.get_data(as_text=True)
    assert _count(session) == 0


def test_the_api_logs_a_request_and_refuses_what_the_chat_refuses(client, town, session):
    """`POST /api/v1/requests` by the staff member's 工号: 201 with the case, channel 电话; another
    village's assistant, an unknown 工号, the wechat channel and no content are 422s naming the field."""
    body = {"beneficiary_id": town.person.id, "staff_no": town.assistant.staff_no, "channel": "phone",
            "content": "老人摔倒了起不来"}
    answer = client.post("/api/v1/requests", json=body, headers=AUTH)
    assert answer.status_code == 201, answer.get_json()
    made = answer.get_json()
    assert (made["channel"], made["source"], made["urgency"], made["assignee"]["staff_no"]) == (
        "phone", "office", "urgent", town.assistant.staff_no)
    assert made["events"][0]["kind"] == "created"
    fresh(session)
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "case.log")).one()
    assert (entry.actor_kind, entry.target_id) == ("admin_api", made["id"])

    for change, field in (({"staff_no": town.other_assistant.staff_no}, "beneficiary_id"),
                          ({"beneficiary_id": 999999}, "beneficiary_id"),
                          ({"staff_no": "NOBODY1"}, "staff_no"),
                          ({"channel": "wechat"}, "channel"),
                          ({"content": ""}, "content")):
        refused = client.post("/api/v1/requests", json={**body, **change}, headers=AUTH)
        assert (refused.status_code, refused.get_json()["field"]) == (422, field), change
    assert _count(session) == 1
    assert client.post("/api/v1/requests", json=body).status_code == 401


def test_the_case_board_filters_by_channel(app, town, session, clock):
    """One WeChat request and one logged by phone: the board shows each under its own channel."""
    env = app.extensions["sanzhida"].request_env
    wechat = request_service.open_request(
        session, env, beneficiary=town.person, summary="家里没米了", now=clock(),
        classification=Classification(RequestCategory.FOOD, Urgency.NORMAL))
    logged = on_behalf.log_on_behalf(session, env, town.officer, beneficiary_id=town.person.id,
                                     channel=RequestChannel.PHONE, content="屋顶漏雨", now=clock())
    session.commit()
    client = signed_in(app, town.officer.staff_no)

    def board(**args) -> str:
        return client.get("/office/cases", query_string=args).get_data(as_text=True)

    assert f"/office/cases/{wechat.id}\"" in board() and f"/office/cases/{logged.id}\"" in board()
    by_phone = board(channel="phone")
    assert f"/office/cases/{logged.id}\"" in by_phone and f"/office/cases/{wechat.id}\"" not in by_phone
    assert '<option value="phone" selected>电话</option>' in by_phone
    by_wechat = board(channel="wechat")
    assert f"/office/cases/{wechat.id}\"" in by_wechat and f"/office/cases/{logged.id}\"" not in by_wechat


def test_the_figures_filter_by_channel(app, town, session, clock):
    """Two WeChat requests and one logged by phone: the figures count 3, 2 or 1 as filtered, in the
    service and on the page."""
    env = app.extensions["sanzhida"].request_env
    for summary in ("家里没米了", "想问低保政策"):
        request_service.open_request(session, env, beneficiary=town.person, summary=summary, now=clock(),
                                     classification=Classification(RequestCategory.FOOD, Urgency.NORMAL))
    on_behalf.log_on_behalf(session, env, town.officer, beneficiary_id=town.person.id,
                            channel=RequestChannel.PHONE, content="屋顶漏雨", now=clock())
    session.commit()
    tz = app.extensions["sanzhida"].settings.tz
    day = clock().astimezone(tz).date()
    scope = scope_for(town.officer)

    def raised(channel=None) -> int:
        return figures.service_figures(session, scope, day.replace(day=1), day, tz, level="village",
                                       channel=channel, today=day).total.raised

    assert (raised(), raised("wechat"), raised("phone"), raised("home")) == (3, 2, 1, 0)
    client = signed_in(app, town.officer.staff_no)
    page = client.get("/office/figures", query_string={"channel": "phone", "level": "village"}).get_data(as_text=True)
    assert "求助只计电话渠道" in page and '<option value="phone" selected>电话</option>' in page
    assert '<tr class="total"><td>合计</td><td>1</td>' in page


def test_the_same_request_sent_twice_is_logged_once(app, town, session, clock):
    """A double tap (the same words for the same person by the same officer within two minutes) opens
    one case and lands on it both times; other words, or the same words later, are a new case."""
    client = signed_in(app, town.officer.staff_no)
    path = f"/office/beneficiaries/{town.person.id}"

    def send(text: str) -> str:
        answer = client.post(f"{path}/log-request", data={"channel": "phone", "text": text,
                                                          "csrf_token": csrf(client, path)})
        assert answer.status_code == 302
        return answer.headers["Location"]

    first = send("想申请临时救助")
    assert send("想申请临时救助") == first
    assert _count(session) == 1
    assert send("家里漏雨了") != first
    clock.advance(minutes=3)
    assert send("想申请临时救助") != first
    assert _count(session) == 3
