"""SMS as a channel of the outbox, through the real escalation scan and dispatcher, against the
Aliyun SMS and WeChat stand-ins on real ports: urgent escalations by SMS, pushes WeChat refuses sent
by SMS instead, retries, dead letters, per-phone pacing, and nothing personal in the logs."""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests as http
from sqlalchemy import select

from config import policy
from devtools.fake_sms import FakeSmsServer
from models import OutboxMessage
from models.enums import RequestCategory, Urgency
from scheduler.jobs import JobContext, escalation_job, outbox_job
from services import requests as service
from services import texts
from services.policy.classify import Classification
from tests.conftest import TEST_SMS_KEY_ID, TEST_SMS_KEY_SECRET, TEST_SMS_SIGN
from tests.scheduler.conftest import at
from tests.support.factories import fresh, make_beneficiary, make_town, make_wechat_user

TZ = ZoneInfo("Asia/Shanghai")
TASK_CODE, URGENT_CODE = "SMS_200001", "SMS_200002"
# Registered with the variables of the wording in services/texts.py: the stand-in refuses a message
# that leaves one out.
REGISTERED = {code: re.findall(r"\$\{(\w+)\}", texts.SMS_TEMPLATES[kind])
              for kind, code in (("task", TASK_CODE), ("urgent", URGENT_CODE))}
SMS_SETTINGS = dict(sms_access_key_id=TEST_SMS_KEY_ID, sms_access_key_secret=TEST_SMS_KEY_SECRET,
                    sms_sign_name=TEST_SMS_SIGN, sms_templates=(("task", TASK_CODE), ("urgent", URGENT_CODE)))


def local(hour: int, minute: int = 0, day: int = 1) -> datetime:
    """A Shanghai time in December 2026."""
    return datetime(2026, 12, day, hour, minute, tzinfo=TZ)


@pytest.fixture
def sms():
    """The Aliyun SMS stand-in with the product's task and urgent templates registered."""
    server = FakeSmsServer(access_key_id=TEST_SMS_KEY_ID, access_key_secret=TEST_SMS_KEY_SECRET,
                           sign_names=(TEST_SMS_SIGN,), templates=REGISTERED).start()
    yield server
    server.stop()


def context(make_app, sms_server=None, **overrides) -> JobContext:
    """The scheduler's job context of an app, with SMS through `sms_server` when given."""
    if sms_server is not None:
        overrides = {"sms_provider": "aliyun", "sms_endpoint": sms_server.url, **SMS_SETTINGS, **overrides}
    svc = make_app(**overrides).extensions["sanzhida"]
    return JobContext(session_factory=svc.session_factory, wechat=svc.wechat, env=svc.request_env)


def sms_calls(server) -> list[dict]:
    """Every SendSms the stand-in received (GET /_calls)."""
    return http.get(f"{server.url}_calls", timeout=5).json()


def sent_to(server, phone: str) -> list[dict]:
    """The messages the stand-in accepted for one phone."""
    return [c for c in sms_calls(server) if c["code"] == "OK" and phone in c["phones"]]


def tick(ctx: JobContext, clock, moment: datetime) -> None:
    """One scheduler minute: the escalation scan, then the outbox (twice: an SMS queued instead of a
    refused push goes on the next run)."""
    at(clock, moment)
    escalation_job(ctx, moment)
    outbox_job(ctx, moment)
    outbox_job(ctx, moment)


def raise_urgent(session, ctx: JobContext, town, when: datetime) -> int:
    """A family member's urgent request, raised at `when` through the real service."""
    elder = make_beneficiary(session, town.village, when, assistant=town.assistant)
    family = make_wechat_user(session, f"o-family-{elder.id}", when, last_message_at=when)
    request = service.open_request(session, ctx.env, beneficiary=elder,
                                   classification=Classification(RequestCategory.MEDICAL, Urgency.URGENT),
                                   summary="老人摔倒了", now=when, user=family)
    session.commit()
    return request.id


def outbox(session) -> dict[str, OutboxMessage]:
    """Every outbox row by key, as committed."""
    fresh(session)
    return {r.idempotency_key: r for r in session.scalars(select(OutboxMessage))}


def test_an_urgent_case_reaches_an_officer_without_wechat_by_sms_exactly_once_after_the_rung(
        make_app, session, clock, sms, fake_wechat):
    """The town officer never bound WeChat: rung 1 (15 minutes) reaches them by SMS, once, with the
    urgent template; nothing before the rung, nothing again on later ticks of the same rung."""
    town = make_town(session, local(9))
    town.officer.wechat_user = None
    session.commit()
    ctx = context(make_app, sms)
    number = raise_urgent(session, ctx, town, at(clock, local(10)))
    for minute in (1, 5, 14):
        tick(ctx, clock, local(10, minute))
    assert sent_to(sms, town.officer.phone) == []
    tick(ctx, clock, local(10, 15))
    for minute in (16, 20, 29):
        tick(ctx, clock, local(10, minute))
    [message] = sent_to(sms, town.officer.phone)
    assert message["template"] == URGENT_CODE and message["sign_name"] == TEST_SMS_SIGN
    assert message["params"]["number"] == str(number) and message["params"]["waited"]
    row = outbox(session)[f"sms:escalate:{number}:1:{town.officer.id}"]
    assert (row.kind, row.status, row.recipient_openid) == ("sms", "sent", None)
    assert message["out_id"] == f"outbox-{row.id}" and row.provider_message_id == message["biz_id"]
    # The officer was alerted themselves, not someone up the chain in their place.
    assert f"escalate:{number}:1:{town.supervisor.id}" not in outbox(session)


def test_an_urgent_escalation_to_a_bound_officer_goes_by_wechat_and_by_sms(
        make_app, session, clock, sms, fake_wechat):
    """SMS_URGENT_ESCALATIONS (on by default): the bound officer gets the WeChat push and the SMS."""
    town = make_town(session, local(9))
    ctx = context(make_app, sms)
    number = raise_urgent(session, ctx, town, at(clock, local(10)))
    tick(ctx, clock, local(10, 15))
    rows = outbox(session)
    assert rows[f"escalate:{number}:1:{town.officer.id}"].status == "sent"
    assert rows[f"sms:escalate:{number}:1:{town.officer.id}"].status == "sent"
    assert len(sent_to(sms, town.officer.phone)) == 1
    wechat = http.get(f"http://{fake_wechat.host}:{fake_wechat.port}/_calls", timeout=5).json()
    assert any((c.get("body") or {}).get("touser") == "o-officer" and c["outcome"] == "delivered" for c in wechat)


def test_urgent_escalations_by_sms_can_be_turned_off(make_app, session, clock, sms, fake_wechat):
    """SMS_URGENT_ESCALATIONS=0: a bound officer gets WeChat only."""
    town = make_town(session, local(9))
    ctx = context(make_app, sms, sms_urgent_escalations=False)
    raise_urgent(session, ctx, town, at(clock, local(10)))
    tick(ctx, clock, local(10, 15))
    assert sent_to(sms, town.officer.phone) == []


def test_a_push_refused_with_43004_is_sent_by_sms_once(make_app, session, clock, sms, fake_wechat):
    """The officer unfollowed (WeChat answers 43004, we were not told): the push is a dead letter and
    its SMS form goes to the officer's phone instead, once, keyed from the refused push."""
    town = make_town(session, local(9))
    elder = make_beneficiary(session, town.village, local(9), assistant=town.assistant)
    session.commit()
    http.post(f"http://{fake_wechat.host}:{fake_wechat.port}/_interactions",
              json={"openid": "o-officer", "msg_type": "event", "event": "unsubscribe"}, timeout=5).raise_for_status()
    # Only the task template is registered: a normal case's rung to the officer has an SMS form.
    ctx = context(make_app, sms)
    family = make_wechat_user(session, "o-family", local(10))
    request = service.open_request(session, ctx.env, beneficiary=elder,
                                   classification=Classification(RequestCategory.MEDICAL, Urgency.NORMAL),
                                   summary="需要买米", now=at(clock, local(10)), user=family)
    session.commit()
    tick(ctx, clock, local(12, 1))
    key = f"escalate:{request.id}:1:{town.officer.id}"
    rows = outbox(session)
    assert rows[key].status == "dead" and rows[key].last_error.startswith("43004")
    assert rows[f"sms:{key}"].status == "sent"
    for minute in (2, 10, 30):
        tick(ctx, clock, local(12, minute))
    [message] = sent_to(sms, town.officer.phone)
    assert message["template"] == TASK_CODE and message["params"]["number"] == str(request.id)
    assert len([k for k in outbox(session) if k.startswith("sms:")]) == 1


def test_sms_faults_are_retried_with_backoff_then_dead_lettered(make_app, session, clock, sms, fake_wechat):
    """isp.SYSTEM_ERROR: retried with backoff up to OUTBOX_MAX_ATTEMPTS, then a dead letter; a
    permanent code (isv.AMOUNT_NOT_ENOUGH) dead-letters at once."""
    town = make_town(session, local(9))
    town.officer.wechat_user = None
    session.commit()
    ctx = context(make_app, sms)
    http.post(f"{sms.url}_faults", json={"code": "isp.SYSTEM_ERROR", "times": 50}, timeout=5).raise_for_status()
    number = raise_urgent(session, ctx, town, at(clock, local(10)))
    tick(ctx, clock, local(10, 15))
    key = f"sms:escalate:{number}:1:{town.officer.id}"
    row = outbox(session)[key]
    assert (row.status, row.attempts) == ("pending", 1) and row.next_attempt_at > local(10, 15)
    moment = local(10, 15)
    for _ in range(policy.OUTBOX_MAX_ATTEMPTS - 1):
        moment = outbox(session)[key].next_attempt_at
        at(clock, moment)
        outbox_job(ctx, moment)
    row = outbox(session)[key]
    assert (row.status, row.attempts) == ("dead", policy.OUTBOX_MAX_ATTEMPTS)
    assert row.last_error.startswith("sms isp.SYSTEM_ERROR")
    tried = [c for c in sms_calls(sms) if town.officer.phone in c["phones"]]
    assert len(tried) == policy.OUTBOX_MAX_ATTEMPTS and {c["code"] for c in tried} == {"isp.SYSTEM_ERROR"}

    http.delete(f"{sms.url}_faults", timeout=5)
    # The first case climbed on meanwhile: its later rungs' SMS meet the fault too.
    http.post(f"{sms.url}_faults", json={"code": "isv.AMOUNT_NOT_ENOUGH", "times": 20}, timeout=5).raise_for_status()
    other = raise_urgent(session, ctx, town, at(clock, moment + timedelta(minutes=1)))
    tick(ctx, clock, moment + timedelta(minutes=16))
    row = outbox(session)[f"sms:escalate:{other}:1:{town.officer.id}"]
    assert (row.status, row.attempts) == ("dead", 1)


def test_a_phones_rate_limit_delays_an_sms_without_spending_its_retries(make_app, session, clock, sms, fake_wechat):
    """Two urgent cases for the same officer half a minute apart: the second SMS waits for the phone's
    minute (ours, as Aliyun's 1 a minute) instead of meeting isv.BUSINESS_LIMIT_CONTROL; a flow-control
    refusal from the provider delays too, attempts unspent."""
    town = make_town(session, local(9))
    town.officer.wechat_user = None
    session.commit()
    ctx = context(make_app, sms)
    first = raise_urgent(session, ctx, town, at(clock, local(10)))
    second = raise_urgent(session, ctx, town, at(clock, local(10) + timedelta(seconds=30)))
    tick(ctx, clock, local(10, 15))
    tick(ctx, clock, local(10, 15) + timedelta(seconds=30))
    rows = outbox(session)
    sent = [rows[f"sms:escalate:{n}:1:{town.officer.id}"] for n in (first, second)]
    assert sorted(r.status for r in sent) == ["pending", "sent"]
    held = next(r for r in sent if r.status == "pending")
    assert held.attempts == 0 and held.next_attempt_at == local(10, 16)
    assert [c["code"] for c in sms_calls(sms) if town.officer.phone in c["phones"]] == ["OK"]

    http.post(f"{sms.url}_faults", json={"code": "isv.BUSINESS_LIMIT_CONTROL"}, timeout=5).raise_for_status()
    tick(ctx, clock, local(10, 16))
    held = outbox(session)[held.idempotency_key]
    assert (held.status, held.attempts, held.next_attempt_at) == ("pending", 0, local(10, 17))
    # The stand-in's own flow control counts real minutes: move its clock on too.
    http.post(f"{sms.url}_clock", json={"advance": 120}, timeout=5).raise_for_status()
    tick(ctx, clock, local(10, 17))
    assert outbox(session)[held.idempotency_key].status == "sent"


def test_without_sms_provider_nothing_changes(make_app, session, clock, fake_wechat, sms):
    """SMS off: an officer without WeChat is passed over for the next reachable person, as before,
    and no row of kind sms is written."""
    town = make_town(session, local(9))
    town.officer.wechat_user = None
    session.commit()
    ctx = context(make_app)
    number = raise_urgent(session, ctx, town, at(clock, local(10)))
    tick(ctx, clock, local(10, 15))
    rows = outbox(session)
    assert not [r for r in rows.values() if r.kind == "sms" or r.recipient_phone]
    assert f"escalate:{number}:1:{town.supervisor.id}" in rows
    assert all("sms" not in r.payload for r in rows.values())
    assert sms_calls(sms) == []


def test_no_phone_or_message_text_reaches_the_logs(make_app, session, clock, sms, fake_wechat, caplog):
    """Everything logged while SMS are queued, refused, retried and sent: no phone, no parameters."""
    caplog.set_level(logging.DEBUG)
    town = make_town(session, local(9))
    town.officer.wechat_user = None
    session.commit()
    ctx = context(make_app, sms)
    http.post(f"{sms.url}_faults", json={"code": "isp.SYSTEM_ERROR"}, timeout=5).raise_for_status()
    number = raise_urgent(session, ctx, town, at(clock, local(10)))
    tick(ctx, clock, local(10, 15))
    tick(ctx, clock, local(11))
    assert len(sent_to(sms, town.officer.phone)) == 1
    params = sent_to(sms, town.officer.phone)[0]["params"]
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert f"outbox=" in logged and str(number) in logged
    for secret in (town.officer.phone, params["name"], params["village"], "老人摔倒了"):
        assert secret not in logged
