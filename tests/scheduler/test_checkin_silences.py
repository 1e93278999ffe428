"""报平安 silences end to end, through the real /wechat endpoint, the scheduler's ticks and the WeChat
(and SMS) stand-ins, on a fixed clock: a check-in means no reminder; silence means the family reminder
at 10:00 once, the assistant's 联系 case at 16:00 once, the town officer two service hours later; a
message from the family at noon is a sign of life that stops the case; a 报平安 after 16:00 settles the
case, tells the assistant once and keeps the town officer out of it, even after a worried message."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests as http
from sqlalchemy import select

from devtools.fake_sms import FakeSmsServer
from models import Beneficiary, FamilyLink, OutboxMessage, RequestEvent, ServiceRequest, Silence
from models.enums import CheckinPlan
from scheduler import calendar
from scheduler.jobs import JobContext
from services import texts
from tests.conftest import TEST_SMS_KEY_ID, TEST_SMS_KEY_SECRET, TEST_SMS_SIGN
from tests.runtime.test_sms_outbox import context, sent_to
from tests.scheduler.conftest import at
from tests.support.factories import fresh, make_beneficiary, make_wechat_user
from tests.support.wechat import reply_content

TZ = ZoneInfo("Asia/Shanghai")
GRACE = timedelta(minutes=180)
DAY = 8  # Tuesday 2026-12-08
PERIOD = "2026-12-08"


def local(hour: int, minute: int = 0, day: int = DAY) -> datetime:
    """A Shanghai time in December 2026."""
    return datetime(2026, 12, day, hour, minute, tzinfo=TZ)


def on_daily_plan(session, town, name: str, son_openid: str | None, when: datetime, **fields):
    """A beneficiary of the town's assistant on a daily plan, registered `when`, with a son bound on WeChat."""
    person = make_beneficiary(session, town.village, when, assistant=town.assistant, name=name, **fields)
    person.checkin_plan = CheckinPlan.DAILY.value
    son = None
    if son_openid is not None:
        son = make_wechat_user(session, son_openid, when)
        session.add(FamilyLink(beneficiary_id=person.id, wechat_user_id=son.id, relation="子女", active=True,
                               created_at=when))
    session.commit()
    return person, son


def post(client, sender, clock, xml: str) -> str:
    """POST one message or event to /wechat as WeChat does; the passive reply's text."""
    response, _ = sender.post(client, xml)
    assert response.status_code == 200
    return reply_content(response.data)["Content"] if response.data != b"success" else ""


def tick(ctx: JobContext, clock, moment: datetime) -> dict:
    """One scheduler tick at `moment`, as every scheduler process runs it."""
    return calendar.tick(ctx, TZ, at(clock, moment), GRACE)


def keys(session, like: str) -> list[str]:
    """Committed outbox keys matching a LIKE pattern."""
    fresh(session)
    return sorted(session.scalars(select(OutboxMessage.idempotency_key).where(OutboxMessage.idempotency_key.like(like))))


def delivered_to(fake_wechat, openid: str) -> list[str]:
    """What the WeChat stand-in delivered to `openid`: customer-service texts, and template fields joined."""
    said = []
    for call in http.get(f"http://{fake_wechat.host}:{fake_wechat.port}/_calls", timeout=5).json():
        body = call.get("body") or {}
        if call["outcome"] != "delivered" or body.get("touser") != openid:
            continue
        if call["path"] == "message/custom/send":
            said.append(body["text"]["content"])
        elif call["path"] == "message/template/send":
            said.append(" | ".join(v["value"] for v in body["data"].values()))
    return said


def check_on_cases(session, person) -> list[ServiceRequest]:
    """The 联系 cases of a beneficiary."""
    fresh(session)
    return list(session.scalars(select(ServiceRequest).where(ServiceRequest.beneficiary_id == person.id,
                                                              ServiceRequest.category == "联系")))


def test_a_check_in_means_no_reminder_and_silence_reaches_family_then_assistant_then_officer(
        session, clock, jobs_ctx, town, client, sender, fake_wechat):
    """陈 taps 报平安 at 08:30 and hears nothing more. 林 does not: her son is reminded at 10:00 (once,
    however often the scheduler ticks), the assistant gets one 联系 case at 16:00, and the town officer
    is alerted at 18:00, two service hours after nobody took it."""
    chen, chen_son = on_daily_plan(session, town, "陈桂兰", "o-chen-son", local(9, day=DAY - 1))
    lin, lin_son = on_daily_plan(session, town, "林秀英", "o-lin-son", local(9, day=DAY - 1))

    at(clock, local(8, 30))
    assert post(client, sender, clock, sender.event("o-chen-son", "CLICK", key="CHECKIN"))
    fresh(session)
    assert session.get(Beneficiary, chen.id).last_contact_at == local(8, 30)

    assert tick(jobs_ctx, clock, local(10))["checkin_reminders"] == "ran"
    assert tick(jobs_ctx, clock, local(10))["checkin_reminders"] == "already"
    assert tick(jobs_ctx, clock, local(10, 5))["checkin_reminders"] == "already"
    assert keys(session, "checkin-remind:%") == [f"checkin-remind:{lin.id}:{PERIOD}:{lin_son.id}"]
    [reminder] = [m for m in delivered_to(fake_wechat, "o-lin-son") if "报平安" in m]
    assert "林秀英今天还没有报平安" in reminder
    assert not [m for m in delivered_to(fake_wechat, "o-chen-son") if "还没有报平安" in m]
    silence = session.scalars(select(Silence).where(Silence.beneficiary_id == lin.id)).one()
    assert (silence.reminded_at, silence.raised_at, silence.ended_at) == (local(10), None, None)
    assert session.scalars(select(Silence).where(Silence.beneficiary_id == chen.id)).all() == []

    assert tick(jobs_ctx, clock, local(16))["checkin_silences"] == "ran"
    assert tick(jobs_ctx, clock, local(16))["checkin_silences"] == "already"
    assert check_on_cases(session, chen) == []
    [case] = check_on_cases(session, lin)
    assert (case.source, case.channel, case.urgency, case.status) == ("silence", "other", "normal", "open")
    assert case.assignee_staff_id == town.assistant.id and case.raised_by_wechat_user_id is None
    assert case.summary == texts.SILENCE_SUMMARY.format(name="林秀英", when="今天")
    assert keys(session, f"task:{case.id}:%") == [f"task:{case.id}:{town.assistant.id}"]
    assert any("林秀英" in m and "联系" in m for m in delivered_to(fake_wechat, "o-assistant"))
    silence = session.scalars(select(Silence).where(Silence.beneficiary_id == lin.id)).one()
    assert (silence.raised_at, silence.request_id) == (local(16), case.id)

    # The 联系 ladder: the village's responsible town officer after two service hours unaccepted.
    assert case.next_escalation_at == local(18)
    tick(jobs_ctx, clock, local(17, 59))
    assert keys(session, f"escalate:{case.id}:%") == []
    tick(jobs_ctx, clock, local(18))
    assert f"escalate:{case.id}:1:{town.officer.id}" in keys(session, f"escalate:{case.id}:%")
    fresh(session)
    assert session.get(ServiceRequest, case.id).escalation_level == 1
    tick(jobs_ctx, clock, local(18, 5))
    assert len(check_on_cases(session, lin)) == 1
    assert len(keys(session, "checkin-remind:%")) == 1


def test_a_message_from_the_family_at_noon_is_a_sign_of_life_and_stops_the_case(
        session, clock, jobs_ctx, town, client, sender, fake_wechat):
    """Reminded at 10:00, the son writes at 12:00: the silence ends (by message) and 16:00 opens nothing."""
    mother, son = on_daily_plan(session, town, "黄玉梅", "o-huang-son", local(9, day=DAY - 1))
    tick(jobs_ctx, clock, local(10))
    assert keys(session, "checkin-remind:%") == [f"checkin-remind:{mother.id}:{PERIOD}:{son.id}"]

    at(clock, local(12))
    post(client, sender, clock, sender.text("o-huang-son", "刚给妈妈打了电话，她说腿有点疼，想请人来看看"))
    fresh(session)
    silence = session.scalars(select(Silence).where(Silence.beneficiary_id == mother.id)).one()
    assert (silence.ended_at, silence.ended_by) == (local(12), "message")

    assert tick(jobs_ctx, clock, local(16))["checkin_silences"] == "ran"
    assert check_on_cases(session, mother) == []
    fresh(session)
    assert session.scalars(select(Silence).where(Silence.beneficiary_id == mother.id)).one().raised_at is None


CHECKIN_CODE = "SMS_400001"


@pytest.fixture
def sms():
    """The Aliyun SMS stand-in with the `checkin` template registered with its wording's variables."""
    server = FakeSmsServer(access_key_id=TEST_SMS_KEY_ID, access_key_secret=TEST_SMS_KEY_SECRET,
                           sign_names=(TEST_SMS_SIGN,),
                           templates={CHECKIN_CODE: re.findall(r"\$\{(\w+)\}", texts.SMS_TEMPLATES["checkin"])}).start()
    yield server
    server.stop()


def test_a_beneficiary_nobody_can_reach_on_wechat_gets_the_reminder_by_sms_once(
        make_app, session, clock, town, sms, fake_wechat):
    """Nobody bound on WeChat, a phone on file: one `checkin` SMS at 10:00 naming the assistant and
    their phone, however often the scheduler ticks; the 联系 case at 16:00 all the same."""
    ctx = context(make_app, sms, sms_templates=(("checkin", CHECKIN_CODE),))
    alone, _ = on_daily_plan(session, town, "周淑珍", None, local(9, day=DAY - 1), phone="13912345678")
    for minute in (0, 0, 5):
        tick(ctx, clock, local(10, minute))
    [message] = sent_to(sms, "13912345678")
    assert message["template"] == CHECKIN_CODE
    assert message["params"] == {"name": "周淑珍", "when": "今天", "staff": town.assistant.name,
                                 "phone": town.assistant.phone}
    assert keys(session, "sms:checkin-remind:%") == [f"sms:checkin-remind:{alone.id}:{PERIOD}:phone"]
    tick(ctx, clock, local(16))
    assert len(check_on_cases(session, alone)) == 1


def events_of(session, case) -> list[tuple[str, str, str | None]]:
    """A case's timeline as (kind, actor kind, body), oldest first."""
    fresh(session)
    return [(e.kind, e.actor_kind, e.body) for e in session.scalars(
        select(RequestEvent).where(RequestEvent.request_id == case.id).order_by(RequestEvent.id))]


def test_a_check_in_after_16_00_settles_the_case_and_the_officer_is_never_called(
        session, clock, jobs_ctx, town, client, sender, fake_wechat):
    """The assistant has 陈's 联系 case at 16:00; her son taps 报平安 at 17:05: the case is resolved by the
    system, the assistant hears of it once (another tap tells nobody again), the son is not told it was
    resolved, and the town officer's rung at 18:00 never comes."""
    chen, son = on_daily_plan(session, town, "陈桂兰", "o-chen-son", local(9, day=DAY - 1))
    tick(jobs_ctx, clock, local(10))
    tick(jobs_ctx, clock, local(16))
    [case] = check_on_cases(session, chen)
    assert case.status == "open" and case.next_escalation_at == local(18)

    at(clock, local(17, 5))
    assert post(client, sender, clock, sender.event("o-chen-son", "CLICK", key="CHECKIN"))
    [case] = check_on_cases(session, chen)
    assert (case.status, case.resolved_at, case.resolution_note, case.next_escalation_at, case.acknowledged_at) == (
        "resolved", local(17, 5), "已报平安（17:05，子女）", None, None)
    assert [e for e in events_of(session, case) if e[0] != "push"][-1:] == [
        ("resolved", "system", "已报平安（17:05，子女）")]
    silence = session.scalars(select(Silence).where(Silence.beneficiary_id == chen.id)).one()
    assert (silence.ended_at, silence.ended_by, silence.request_id) == (local(17, 5), "checkin", case.id)

    at(clock, local(17, 30))
    post(client, sender, clock, sender.text("o-chen-son", "平安"))
    tick(jobs_ctx, clock, local(17, 31))
    assert keys(session, f"check-on-settled:{case.id}:%") == [f"check-on-settled:{case.id}:{town.assistant.id}"]
    told = [m for m in delivered_to(fake_wechat, "o-assistant") if "已报平安" in m]
    assert len(told) == 1 and "陈桂兰" in told[0] and "17:05" in told[0]
    # The son gave the news: nothing tells him the case was resolved.
    assert keys(session, "family-resolved:%") == keys(session, "resolved:%") == []
    assert not [m for m in delivered_to(fake_wechat, "o-chen-son") if "办好" in m or "办结" in m]

    for moment in (local(18), local(18, 5), local(16, day=DAY + 1), local(17, day=DAY + 1)):
        tick(jobs_ctx, clock, moment)
    assert keys(session, f"escalate:{case.id}:%") == []
    assert keys(session, f"escalate-repeat:{case.id}:%") == []
    fresh(session)
    assert session.get(ServiceRequest, case.id).escalation_level == 0
    assert not [m for m in delivered_to(fake_wechat, "o-officer") if "陈桂兰" in m]


def test_a_worried_message_after_16_00_stays_on_the_case_and_a_later_check_in_settles_it(
        session, clock, jobs_ctx, town, client, sender, fake_wechat):
    """At 16:30 the son writes that his mother does not answer: the silence ends, but the case stays
    open with his message on it for the assistant; at 17:05 he taps 报平安 and the case is settled."""
    mother, son = on_daily_plan(session, town, "黄玉梅", "o-huang-son", local(9, day=DAY - 1))
    tick(jobs_ctx, clock, local(10))
    tick(jobs_ctx, clock, local(16))
    [case] = check_on_cases(session, mother)

    at(clock, local(16, 30))
    post(client, sender, clock, sender.text("o-huang-son", "妈妈电话一直没人接，我有点担心"))
    [case] = check_on_cases(session, mother)
    assert case.status == "open" and case.next_escalation_at == local(18)
    silence = session.scalars(select(Silence).where(Silence.beneficiary_id == mother.id)).one()
    assert (silence.ended_at, silence.ended_by) == (local(16, 30), "message")
    # The message went to the case itself (it is the beneficiary's open case), so the assistant
    # reads it there, once: no second line says that there was one.
    assert [e for e in events_of(session, case) if e[0] in ("message", "comment")] == [
        ("message", "wechat_user", "妈妈电话一直没人接，我有点担心")]

    at(clock, local(17, 5))
    post(client, sender, clock, sender.event("o-huang-son", "CLICK", key="CHECKIN"))
    [case] = check_on_cases(session, mother)
    assert (case.status, case.resolution_note, case.next_escalation_at) == ("resolved", "已报平安（17:05，子女）", None)
    fresh(session)
    silence = session.scalars(select(Silence).where(Silence.beneficiary_id == mother.id)).one()
    # How the silence ended stays as it was.
    assert (silence.ended_at, silence.ended_by) == (local(16, 30), "message")
    assert keys(session, f"check-on-settled:{case.id}:%") == [f"check-on-settled:{case.id}:{town.assistant.id}"]
    tick(jobs_ctx, clock, local(18))
    assert keys(session, f"escalate:{case.id}:%") == []
