"""Pushes to staff WeChat cannot reach go by SMS: a case reassigned (转派) to an assistant who never
bound WeChat, a 督办 WeChat refuses with 43004, the 08:00 visit digest, follow-up messages (one SMS
an hour per case, never their words). Through the real services, scheduler jobs and dispatcher,
against the Aliyun SMS and WeChat stand-ins on real ports."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import requests as http

from devtools.fake_sms import FakeSmsServer
from models import InboundMessage, ServiceRequest, WeChatUser
from models.enums import BeneficiaryCategory, RequestCategory, Urgency
from scheduler import calendar
from scheduler.jobs import outbox_job
from services import casework, texts
from services import requests as service
from services.policy.classify import Classification
from tests.conftest import TEST_SMS_KEY_ID, TEST_SMS_KEY_SECRET, TEST_SMS_SIGN
from tests.runtime.test_sms_outbox import TZ, context, local, outbox, sent_to
from tests.scheduler.conftest import at
from tests.support.factories import fresh, make_beneficiary, make_town, make_wechat_user

CODES = {kind: f"SMS_6000{n:02d}" for n, kind in enumerate(texts.SMS_TEMPLATES, start=1)}
# Registered with the variables of the wording in services/texts.py: the stand-in refuses a message
# that leaves one out.
REGISTERED = {code: re.findall(r"\$\{(\w+)\}", texts.SMS_TEMPLATES[kind]) for kind, code in CODES.items()}


@pytest.fixture
def sms():
    """The Aliyun SMS stand-in with every template of the product registered."""
    server = FakeSmsServer(access_key_id=TEST_SMS_KEY_ID, access_key_secret=TEST_SMS_KEY_SECRET,
                           sign_names=(TEST_SMS_SIGN,), templates=REGISTERED).start()
    yield server
    server.stop()


def raise_case(session, ctx, town, when) -> ServiceRequest:
    """A family member's ordinary request about someone of the first village's assistant."""
    elder = make_beneficiary(session, town.village, when, assistant=town.assistant)
    family = make_wechat_user(session, f"o-family-{elder.id}", when)
    request = service.open_request(session, ctx.env, beneficiary=elder, summary="我妈腿疼，药吃完了",
                                   classification=Classification(RequestCategory.MEDICAL, Urgency.NORMAL),
                                   now=when, user=family)
    session.commit()
    return request


def send(ctx, clock, *moments) -> None:
    """The outbox job at each moment, twice (an SMS queued instead of a refused push goes on the next run)."""
    for moment in moments:
        at(clock, moment)
        outbox_job(ctx, moment)
        outbox_job(ctx, moment)


def sms_rows(session, prefix: str) -> list:
    """The SMS rows whose key starts with `sms:` and `prefix`."""
    return [row for key, row in outbox(session).items() if key.startswith(f"sms:{prefix}")]


def test_a_case_reassigned_to_an_assistant_without_wechat_reaches_their_phone_once(
        make_app, session, clock, sms, fake_wechat):
    """转派 to the other village's assistant, who never bound WeChat: one `task` SMS to their phone
    with the case, the person, the village and that it was passed to them; no WeChat push."""
    town = make_town(session, local(9))
    town.other_assistant.wechat_user = None
    session.commit()
    ctx = context(make_app, sms, sms_templates=tuple(CODES.items()))
    request = raise_case(session, ctx, town, at(clock, local(10)))
    casework.reassign(session, ctx.env, request, town.officer, town.other_assistant.staff_no, at(clock, local(10, 5)))
    session.commit()
    send(ctx, clock, local(10, 5), local(10, 6), local(10, 30))
    [message] = sent_to(sms, town.other_assistant.phone)
    assert message["template"] == CODES["task"] and message["sign_name"] == TEST_SMS_SIGN
    assert message["params"] == {"number": str(request.id), "name": request.beneficiary.name,
                                 "village": town.village.name, "what": "医，已转派给您"}
    [row] = sms_rows(session, "reassigned:")
    assert (row.status, row.recipient_phone, row.recipient_staff_id) == (
        "sent", town.other_assistant.phone, town.other_assistant.id)
    assert message["out_id"] == f"outbox-{row.id}"
    assert not any(key.startswith("reassigned:") for key in outbox(session))


def test_a_supervision_wechat_refuses_with_43004_is_sent_by_sms_once(make_app, session, clock, sms, fake_wechat):
    """The assistant had the task on WeChat, then unfollowed (we were not told): the 督办 push is
    refused with 43004, a dead letter, and its SMS goes to the assistant's phone instead, once."""
    town = make_town(session, local(9))
    ctx = context(make_app, sms, sms_templates=tuple(CODES.items()))
    request = raise_case(session, ctx, town, at(clock, local(10)))
    send(ctx, clock, local(10))
    assert outbox(session)[f"task:{request.id}:{town.assistant.id}"].status == "sent"
    http.post(f"http://{fake_wechat.host}:{fake_wechat.port}/_interactions",
              json={"openid": "o-assistant", "msg_type": "event", "event": "unsubscribe"}, timeout=5).raise_for_status()
    fresh(session)
    casework.supervise(session, ctx.env, session.get(ServiceRequest, request.id), town.supervisor,
                       at(clock, local(10, 30)))
    session.commit()
    send(ctx, clock, local(10, 30), local(10, 31), local(11))
    [refused] = [row for key, row in outbox(session).items() if key.startswith("supervised:")]
    assert refused.status == "dead" and refused.last_error.startswith("43004")
    [row] = sms_rows(session, "supervised:")
    assert row.idempotency_key == f"sms:{refused.idempotency_key}" and row.status == "sent"
    [message] = sent_to(sms, town.assistant.phone)
    assert message["template"] == CODES["task"]
    assert message["params"] == {"number": str(request.id), "name": request.beneficiary.name,
                                 "village": town.village.name, "what": "医，市民政局督办"}


def test_the_morning_visit_digest_reaches_an_assistant_without_wechat_by_sms(
        make_app, session, clock, sms, fake_wechat):
    """08:00: the assistant never bound WeChat; their digest of two overdue visits goes by SMS
    (`digest`, what it is and its figures, no names). The officer, bound, hears on WeChat only."""
    town = make_town(session, local(9))
    town.assistant.wechat_user = None
    for name in ("张秀英", "李桂兰"):
        make_beneficiary(session, town.village, local(9) - timedelta(days=40), assistant=town.assistant,
                         name=name, categories=[BeneficiaryCategory.TEKUN])
    session.commit()
    ctx = context(make_app, sms, sms_templates=tuple(CODES.items()))
    job = next(j for j in calendar.calendar_jobs(TZ) if j.id == "visit_reminders")
    assert calendar.run_calendar_job(ctx, job, at(clock, local(8, day=2)), timedelta(hours=3)) == "ran"
    send(ctx, clock, local(8, day=2), local(8, 5, day=2))
    [message] = sent_to(sms, town.assistant.phone)
    assert message["template"] == CODES["digest"]
    assert message["params"]["what"] == "今日走访"
    assert re.fullmatch(r"2户待走访 最多超期\d+天", message["params"]["figures"])
    [row] = sms_rows(session, f"remind:{town.assistant.id}:")
    assert row.status == "sent"
    assert sent_to(sms, town.officer.phone) == []
    assert outbox(session)[f"visit-overdue:{town.officer.id}:2026-12-02"].status == "sent"


def test_follow_up_messages_reach_an_assistant_without_wechat_as_one_sms_an_hour_without_their_words(
        make_app, session, clock, sms, fake_wechat):
    """Three messages on the case at 10:20, 10:25 and 11:05: the assistant without WeChat gets the
    task, then one "有新留言" for the first two and one for the third; none holds what was written."""
    town = make_town(session, local(9))
    town.assistant.wechat_user = None
    session.commit()
    ctx = context(make_app, sms, sms_templates=tuple(CODES.items()))
    request = raise_case(session, ctx, town, at(clock, local(10)))
    send(ctx, clock, local(10))
    for n, (minute, words) in enumerate(((20, "她说腿更疼了"), (25, "药名是布洛芬"), (65, "现在好一点了"))):
        moment = at(clock, local(10) + timedelta(minutes=minute))
        fresh(session)
        family = session.get(WeChatUser, request.raised_by_wechat_user_id)
        inbound = InboundMessage(dedupe_key=f"msg:test-{n}", openid=family.openid, msg_type="text",
                                 sent_at=moment, received_at=moment, content=words, handled_at=moment,
                                 payload={"MsgType": "text", "Content": words})
        session.add(inbound)
        session.flush()
        service.append_message(session, ctx.env, session.get(ServiceRequest, request.id), family, inbound, moment)
        session.commit()
        # The stand-in counts Aliyun's one a minute per phone on its own clock.
        http.post(f"{sms.url}_clock", json={"advance": 120}, timeout=5).raise_for_status()
        send(ctx, clock, moment)
    messages = sent_to(sms, town.assistant.phone)
    assert [m["params"]["what"] for m in messages] == ["医", "有新留言", "有新留言"]
    assert len(sms_rows(session, "message:")) == 2
    sent = str([m["params"] for m in messages])
    assert not any(words in sent for words in ("腿更疼", "布洛芬", "好一点"))
