"""代办 by chat, end to end through /wechat and the WeChat stand-in: a request logged by phone for a
beneficiary shows channel 电话, reaches the assistant, tells the family and climbs the ladder like
one sent by WeChat; a voice can follow `代办 对象编号`; wrong numbers and other people's
beneficiaries are refused in plain words."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from models import MediaItem, OutboxMessage, RequestEvent, ServiceRequest
from models.enums import RequestChannel
from scheduler.jobs import JobContext, escalation_job
from services import texts
from tests.support.factories import fresh, make_beneficiary


@pytest.fixture
def jobs_ctx(app) -> JobContext:
    """What the scheduler's jobs get, wired to the test database, Redis and WeChat stand-in."""
    svc = app.extensions["sanzhida"]
    return JobContext(session_factory=svc.session_factory, wechat=svc.wechat, env=svc.request_env)


def _latest(session) -> ServiceRequest:
    fresh(session)
    return session.get(ServiceRequest, session.scalar(select(func.max(ServiceRequest.id))))


def test_a_request_logged_by_phone_reaches_the_assistant_and_climbs_the_ladder(phone, town, session, clock, jobs_ctx):
    """The town officer takes a call and logs it: channel 电话, the officer is the actor, the assistant
    gets the task, the bound son is told, and 15 minutes later the scan escalates it like any other."""
    elder = make_beneficiary(session, town.village, clock(), assistant=town.assistant, name="陈桂兰")
    session.commit()
    phone.say("o-son", f"绑定 {elder.bind_code}")
    phone.say("o-son", "2")

    reply = phone.say("o-officer", f"代办 {elder.id} 电话 老人在家摔倒了起不来")
    case = _latest(session)
    assert reply.startswith(f"已代陈桂兰登记求助 {case.id}号（电话）") and "紧急" in reply and "王芳" in reply
    assert (case.channel, case.source, case.urgency, case.assignee_staff_id, case.raised_by_staff_id) == (
        RequestChannel.PHONE.value, "office", "urgent", town.assistant.id, town.officer.id)
    created = session.scalars(select(RequestEvent).where(RequestEvent.request_id == case.id,
                                                       RequestEvent.kind == "created")).one()
    assert (created.kind, created.actor_kind, created.actor_staff_id) == ("created", "staff", town.officer.id)
    assert created.data["channel"] == "phone"

    phone.dispatch()
    task = phone.inbox("o-assistant")
    assert len(task) == 1 and str(case.id) in task[0] and "陈桂兰" in task[0] and "摔倒" in task[0]
    told = phone.inbox("o-son")
    assert any("赵敏已为陈桂兰登记求助（电话）" in m and "王芳" in m for m in told)

    # The urgent ladder: nothing at 14 minutes, the responsible officer and a reminder at 15.
    created_at = case.created_at
    clock.now = created_at + timedelta(minutes=14)
    assert escalation_job(jobs_ctx, clock.now) == 0
    clock.now = created_at + timedelta(minutes=15)
    assert escalation_job(jobs_ctx, clock.now) == 1
    fresh(session)
    assert session.get(ServiceRequest, case.id).escalation_level == 1
    keys = set(session.scalars(select(OutboxMessage.idempotency_key).where(
        OutboxMessage.request_id == case.id, OutboxMessage.idempotency_key.like("escalate%"))))
    # No requester on WeChat: the rung alerts staff only.
    assert keys == {f"escalate:{case.id}:1:{town.officer.id}", f"escalate:{case.id}:1:{town.assistant.id}"}
    phone.dispatch()
    assert any(f"请督办：求助 {case.id}号" in m for m in phone.inbox("o-officer"))


def test_the_channel_defaults_to_phone_and_a_voice_can_follow(phone, town, session, clock):
    """`代办 15 家里没米了` is 电话; `代办 15 来访` waits for the content, and the voice that follows
    opens the case with the voice kept on it, as a voice sent by WeChat is."""
    elder = make_beneficiary(session, town.village, clock(), assistant=town.assistant, name="刘长福")
    session.commit()

    phone.say("o-assistant", f"代办 {elder.id} 家里没米了")
    first = _latest(session)
    assert (first.channel, first.category, first.summary) == ("phone", "吃", "家里没米了")

    asked = phone.say("o-officer", f"代办 {elder.id} 来访")
    assert asked == texts.LOG_WAITING_CONTENT.format(name="刘长福")
    reply = phone.voice("o-officer", "media-walkin-1", "屋顶漏雨了想请人来修")
    second = _latest(session)
    assert second.id != first.id and reply.startswith(f"已代刘长福登记求助 {second.id}号（来访）")
    assert (second.channel, second.category, second.summary) == ("walk_in", "住", "屋顶漏雨了想请人来修")
    assert session.scalars(select(MediaItem.request_id).where(MediaItem.wechat_media_id == "media-walkin-1")).one() \
        == second.id
    # The question is answered: the next voice is no longer taken as content.
    assert phone.voice("o-officer", "media-walkin-2", "你好") == texts.HELP_STAFF


@pytest.mark.parametrize(("who", "command", "expected"), [
    ("o-assistant-2", "代办 {id} 电话 家里停水", texts.LOG_OUT_OF_SCOPE.format(id="{id}")),
    ("o-officer", "代办 999999 电话 家里停水", texts.LOG_NOT_FOUND.format(id=999999)),
    ("o-officer", "代办 电话 家里停水", "请这样发：代办 对象编号"),
    ("o-stranger", "代办 {id} 电话 家里停水", texts.STAFF_ONLY),
])
def test_refusals_are_plain_words_and_open_nothing(phone, town, session, clock, who, command, expected):
    """Another village's assistant, a wrong number, no number, and someone who is not staff."""
    elder = make_beneficiary(session, town.village, clock(), assistant=town.assistant)
    session.commit()
    reply = phone.say(who, command.format(id=elder.id))
    assert reply.startswith(expected.format(id=elder.id))
    assert session.scalar(select(func.count()).select_from(ServiceRequest)) == 0


def test_a_town_officer_of_another_town_is_refused_and_city_staff_may_log_anywhere(phone, town, session, clock):
    """Scope: a town officer within their town, city staff anywhere."""
    from models.enums import RegionLevel, StaffRole
    from tests.support.factories import make_region, make_staff

    other_town = make_region(session, RegionLevel.TOWN, town.city, clock())
    make_staff(session, StaffRole.TOWN_OFFICER, other_town, clock(), openid="o-officer-far")
    elder = make_beneficiary(session, town.village, clock(), assistant=town.assistant)
    session.commit()
    assert phone.say("o-officer-far", f"代办 {elder.id} 上门 腿疼") == texts.LOG_OUT_OF_SCOPE.format(id=elder.id)
    assert "登记求助" in phone.say("o-supervisor", f"代办 {elder.id} 上门 腿疼")
    assert _latest(session).channel == "home"
