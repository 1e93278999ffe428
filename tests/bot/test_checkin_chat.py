"""报平安 by chat, through the signed /wechat endpoint: the menu button and the words record a check-in and
open nothing; longer messages are requests as before; staff set plans with `平安计划`, within their scope,
audited; a voice heard later whose words are a check-in is one."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from models import AuditEntry, Beneficiary, Checkin, MediaItem, ServiceRequest, Silence
from services import texts
from services.transcripts import apply_transcript
from tests.support.factories import fresh, make_beneficiary


@pytest.fixture
def elder(session, town, clock, phone):
    """陈桂兰, living alone on a daily plan, bound as 本人 on her own phone."""
    person = make_beneficiary(session, town.village, clock(), assistant=town.assistant, name="陈桂兰",
                              lives_alone=True)
    session.commit()
    phone.say("o-elder", f"绑定 {person.bind_code}")
    assert "绑定成功" in phone.say("o-elder", "1")
    return person


def count(session, model) -> int:
    """Rows of a model, read fresh."""
    fresh(session)
    return session.scalar(select(func.count()).select_from(model))


def test_tapping_the_button_records_a_checkin_and_answers_warmly(phone, elder, session, clock):
    """CLICK CHECKIN: a Checkin row, last_checkin_at set, a short warm reply that promises nothing it did not do."""
    silence = Silence(beneficiary_id=elder.id, village_id=elder.village_id, town_id=elder.village.parent_id,
                      plan="daily", period_start=clock().date(), created_at=clock())
    session.add(silence)
    session.commit()
    tapped_at = clock()
    reply = phone.event("o-elder", "CLICK", key="CHECKIN")
    assert reply == texts.CHECKIN_SELF
    fresh(session)
    row = session.scalars(select(Checkin)).one()
    assert (row.beneficiary_id, row.source, row.checked_at) == (elder.id, "menu", tapped_at)
    person = session.get(Beneficiary, elder.id)
    assert (person.checkin_plan, person.last_checkin_at, person.last_contact_kind) == ("daily", tapped_at, "checkin")
    assert session.get(Silence, silence.id).ended_by == "checkin"
    assert count(session, ServiceRequest) == 0


@pytest.mark.parametrize("words", ["我很好", "平安！", "报平安", "一切都好😊"])
def test_the_words_alone_are_a_checkin_not_a_request(phone, elder, session, words):
    """平安 / 我很好 as the whole message: a check-in from text, no request."""
    assert phone.say("o-elder", words) == texts.CHECKIN_SELF
    fresh(session)
    assert session.scalars(select(Checkin.source)).all() == ["text"]
    assert count(session, ServiceRequest) == 0


def test_more_than_the_words_is_a_request_as_before(phone, elder, session, town):
    """"我很好，就是药吃完了" reaches the assistant as a request, and is still a sign of life (a message)."""
    reply = phone.say("o-elder", "我很好，就是药吃完了")
    case = session.scalars(select(ServiceRequest)).one()
    assert f"编号 {case.id}" in reply and "王芳" in reply
    assert (case.category, case.assignee_staff_id) == ("医", town.assistant.id)
    assert count(session, Checkin) == 0
    person = session.get(Beneficiary, elder.id)
    assert (person.last_checkin_at, person.last_contact_kind) == (None, "message")


def test_a_recognised_voice_saying_the_words_is_a_voice_checkin(phone, elder, session):
    """WeChat's Recognition says 我很好: a check-in from voice, no request, no media fetched."""
    assert phone.voice("o-elder", "media-fine-1", "我很好。") == texts.CHECKIN_SELF
    fresh(session)
    assert session.scalars(select(Checkin.source)).all() == ["voice"]
    assert count(session, ServiceRequest) == 0 and count(session, MediaItem) == 0


def test_a_voice_heard_later_saying_the_words_is_a_checkin_and_its_case_stays(phone, app, elder, session, clock):
    """No Recognition: a request as today (urgent until heard); when the words arrive and say 平安, a
    check-in as of when it was sent, the case no longer urgent, left for the assistant."""
    sent_at = clock()
    reply = phone.voice("o-elder", "media-fine-2", "")
    assert "120" in reply
    case = session.scalars(select(ServiceRequest)).one()
    assert (case.urgency, case.urgency_reason) == ("urgent", "unheard")
    item = session.scalars(select(MediaItem)).one()
    clock.advance(minutes=3)
    apply_transcript(session, app.extensions["sanzhida"].request_env, item, "平安，平安", clock())
    session.commit()
    fresh(session)
    row = session.scalars(select(Checkin)).one()
    assert (row.source, row.checked_at, row.beneficiary_id) == ("voice", sent_at, elder.id)
    case = session.get(ServiceRequest, case.id)
    assert (case.status, case.urgency) == ("open", "normal")


def test_a_family_member_bound_to_two_parents_checks_in_for_both(phone, town, session, clock):
    """One tap, both parents, both named in the reply."""
    mother = make_beneficiary(session, town.village, clock(), assistant=town.assistant, name="陈桂兰")
    father = make_beneficiary(session, town.village, clock(), assistant=town.assistant, name="刘长福")
    session.commit()
    for person in (mother, father):
        phone.say("o-son", f"绑定 {person.bind_code}")
        phone.say("o-son", "2")
    reply = phone.event("o-son", "CLICK", key="CHECKIN")
    assert reply == texts.CHECKIN_FOR.format(names="陈桂兰、刘长福")
    fresh(session)
    assert sorted(session.scalars(select(Checkin.beneficiary_id))) == sorted([mother.id, father.id])


def test_unbound_and_staff_are_answered_without_a_checkin(phone, town, session):
    """Someone not bound learns how to bind; staff are told what the command is for them."""
    assert phone.event("o-stranger", "CLICK", key="CHECKIN") == texts.HOW_TO_BIND
    assert phone.say("o-stranger", "平安") == texts.HOW_TO_BIND
    assert phone.say("o-assistant", "平安") == texts.CHECKIN_STAFF
    assert count(session, Checkin) == 0 and count(session, ServiceRequest) == 0


def test_staff_set_a_plan_by_chat_within_their_scope_audited(phone, town, elder, session):
    """The assistant sets weekly (kept as staff-set), another village's assistant is refused, nothing changes
    for the words it cannot read, and each change is in the audit log."""
    reply = phone.say("o-assistant", f"平安计划 {elder.id} 每周")
    assert reply.startswith(f"已设置陈桂兰（对象{elder.id}）的报平安计划：每周。")
    fresh(session)
    person = session.get(Beneficiary, elder.id)
    assert (person.checkin_plan, person.checkin_plan_by_staff) == ("weekly", True)
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "beneficiary.checkin_plan")).one()
    assert (entry.actor_staff_id, entry.target_type, entry.target_id) == (town.assistant.id, "beneficiary", elder.id)
    assert entry.detail == {"lives_alone": True, "plan": "weekly", "plan_by_staff": True}

    assert phone.say("o-assistant-2", f"平安计划 {elder.id} 关闭") == texts.PLAN_OUT_OF_SCOPE.format(id=elder.id)
    assert phone.say("o-officer", "平安计划 999999 关闭") == texts.LOG_NOT_FOUND.format(id=999999)
    assert phone.say("o-officer", f"平安计划 {elder.id} 每月").startswith("计划只能是每天、每周或关闭")
    assert phone.say("o-elder", f"平安计划 {elder.id} 关闭") == texts.STAFF_ONLY
    assert phone.say("o-officer", f"平安计划 {elder.id} 关闭").endswith(texts.PLAN_WHAT["off"])
    fresh(session)
    assert session.get(Beneficiary, elder.id).checkin_plan == "off"
    assert count(session, AuditEntry) >= 2
