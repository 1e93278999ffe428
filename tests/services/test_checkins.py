"""报平安 services: check-ins, signs of life (forward only, ending open silences), plans, the contact hooks
in visits, 代办 and the 联系 case's casework, and what news after 16:00 does to the 联系 case a silence
raised (a check-in or the assignee's visit settles it; anything else is one line on it)."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, select

from models import Beneficiary, Checkin, FamilyLink, OutboxMessage, RequestEvent, ServiceRequest, Silence
from models.enums import CheckinSource, ContactKind, RequestCategory, RequestChannel, RequestSource, Urgency
from services import casework, checkins, on_behalf, texts, visits
from services import requests as request_service
from services.errors import DomainError
from services.notify import Templates
from services.policy.classify import Classification
from services.policy.commands import VisitReport
from tests.support.factories import fresh, make_beneficiary, make_town, make_wechat_user

ENV = request_service.RequestEnv(tz=ZoneInfo("Asia/Shanghai"), templates=Templates(task="tpl-task", progress="tpl-p"))


@pytest.fixture
def town(session, clock):
    """A town with bound staff."""
    return make_town(session, clock())


@pytest.fixture
def elder(session, town, clock):
    """A 留守老人 assigned to the village's assistant."""
    person = make_beneficiary(session, town.village, clock(), assistant=town.assistant, name="陈桂兰")
    session.commit()
    return person


def open_silence(session, person, at) -> Silence:
    """A silence as the 10:00 scan opens it."""
    silence = Silence(beneficiary_id=person.id, village_id=person.village_id, town_id=person.village.parent_id,
                      plan="daily", period_start=at.date(), created_at=at)
    session.add(silence)
    session.flush()
    return silence


def test_a_checkin_is_kept_and_is_the_latest_sign_of_life(session, elder, clock):
    """The row carries the village at the time; last check-in and last contact move to it; open silences end."""
    user = make_wechat_user(session, "o-elder", clock())
    silence = open_silence(session, elder, clock())
    clock.advance(hours=1)
    checkin = checkins.record_checkin(session, elder, clock(), source=CheckinSource.MENU, env=ENV, wechat_user=user)
    session.commit()
    fresh(session)
    row = session.get(Checkin, checkin.id)
    assert (row.beneficiary_id, row.village_id, row.source, row.wechat_user_id, row.checked_at) == (
        elder.id, elder.village_id, "menu", user.id, clock())
    person = session.get(Beneficiary, elder.id)
    assert (person.last_checkin_at, person.last_contact_at, person.last_contact_kind) == (
        clock(), clock(), "checkin")
    ended = session.get(Silence, silence.id)
    assert (ended.ended_at, ended.ended_by) == (clock(), "checkin")


def test_contact_moves_forward_never_back(session, elder, clock):
    """An older sign of life (a voice transcribed late) never hides a newer one, nor changes its kind."""
    now = clock()
    checkins.note_contact(session, elder.id, now, ContactKind.VISIT, env=ENV)
    checkins.note_contact(session, elder.id, now - timedelta(hours=2), ContactKind.MESSAGE, env=ENV)
    checkins.note_contact(session, elder.id, now, ContactKind.MESSAGE, env=ENV)
    session.commit()
    fresh(session)
    person = session.get(Beneficiary, elder.id)
    assert (person.last_contact_at, person.last_contact_kind) == (now, "visit")
    checkins.note_contact(session, elder.id, now + timedelta(minutes=1), ContactKind.STAFF, env=ENV)
    session.commit()
    fresh(session)
    assert session.get(Beneficiary, elder.id).last_contact_kind == "staff"


def test_only_open_silences_of_that_beneficiary_end(session, town, elder, clock):
    """An ended silence keeps how it ended; another beneficiary's stays open."""
    other = make_beneficiary(session, town.village, clock(), assistant=town.assistant)
    yesterday = open_silence(session, elder, clock() - timedelta(days=1))
    yesterday.ended_at, yesterday.ended_by = clock() - timedelta(hours=20), "visit"
    today = open_silence(session, elder, clock())
    others = open_silence(session, other, clock())
    checkins.note_contact(session, elder.id, clock(), ContactKind.MESSAGE, env=ENV)
    session.commit()
    fresh(session)
    assert session.get(Silence, yesterday.id).ended_by == "visit"
    assert (session.get(Silence, today.id).ended_at, session.get(Silence, today.id).ended_by) == (clock(), "message")
    assert session.get(Silence, others.id).ended_at is None


def test_a_message_counts_for_each_beneficiary_the_sender_is_bound_to(session, town, elder, clock):
    """Active links only; an unbound sender touches nobody."""
    father = make_beneficiary(session, town.village, clock(), assistant=town.assistant)
    former = make_beneficiary(session, town.village, clock(), assistant=town.assistant)
    son = make_wechat_user(session, "o-son", clock())
    for person, active in ((elder, True), (father, True), (former, False)):
        session.add(FamilyLink(beneficiary_id=person.id, wechat_user=son, relation="子女", active=active,
                               created_at=clock()))
    stranger = make_wechat_user(session, "o-stranger", clock())
    session.commit()
    checkins.note_message(session, stranger, clock(), env=ENV)
    checkins.note_message(session, son, clock(), env=ENV)
    session.commit()
    fresh(session)
    kinds = {b.id: b.last_contact_kind for b in session.scalars(select(Beneficiary))}
    assert kinds[elder.id] == kinds[father.id] == "message"
    assert kinds[former.id] is None


def test_the_default_plan_follows_categories_and_living_alone_until_staff_set_it(session, town, elder, clock):
    """Living alone puts a 留守老人 on a daily plan; once staff chose weekly, the default no longer moves it."""
    assert elder.checkin_plan == "off"
    elder.lives_alone = True
    checkins.refresh_default_plan(elder)
    assert (elder.checkin_plan, elder.checkin_plan_by_staff) == ("daily", False)
    checkins.set_plan(session, elder, "weekly", staff=town.assistant, now=clock())
    elder.lives_alone = False
    checkins.refresh_default_plan(elder)
    assert (elder.checkin_plan, elder.checkin_plan_by_staff) == ("weekly", True)


def test_a_new_beneficiary_living_alone_starts_on_the_default(session, town, clock):
    """roster.create_beneficiary sets the plan from the categories and living alone."""
    alone = make_beneficiary(session, town.village, clock(), categories=["特困"], lives_alone=True)
    together = make_beneficiary(session, town.village, clock(), categories=["特困"])
    assert (alone.checkin_plan, together.checkin_plan) == ("daily", "off")


@pytest.mark.parametrize("who, allowed", [
    ("assistant", True), ("officer", True), ("supervisor", True), ("other_assistant", False)])
def test_who_may_set_a_plan(session, town, elder, clock, who, allowed):
    """The assistant of the beneficiary, a town officer of their town, city staff; not another village's assistant."""
    staff = getattr(town, who)
    if allowed:
        checkins.set_plan(session, elder, "daily", staff=staff, now=clock())
        assert elder.checkin_plan == "daily"
    else:
        with pytest.raises(DomainError):
            checkins.set_plan(session, elder, "daily", staff=staff, now=clock())
        assert elder.checkin_plan == "off"


def test_an_unknown_plan_is_refused(session, elder, clock):
    """Only daily, weekly, off."""
    with pytest.raises(DomainError):
        checkins.set_plan(session, elder, "monthly", staff=None, now=clock())


def test_a_visit_is_a_sign_of_life(session, town, elder, clock):
    """Recording a 走访 notes VISIT and ends the open silence."""
    silence = open_silence(session, elder, clock())
    visits.record_visit(session, ENV, town.assistant, VisitReport(beneficiary_id=elder.id), clock())
    session.commit()
    fresh(session)
    assert session.get(Beneficiary, elder.id).last_contact_kind == "visit"
    assert session.get(Silence, silence.id).ended_by == "visit"


@pytest.mark.parametrize("channel, counts", [
    (RequestChannel.PHONE, True), (RequestChannel.HOME, True), (RequestChannel.WALK_IN, True),
    (RequestChannel.OTHER, False)])
def test_a_request_staff_heard_in_person_or_by_phone_is_a_sign_of_life(session, town, elder, clock, channel, counts):
    """代办 by 电话, 上门 or 来访 notes STAFF; 其他 (a neighbour passed it on) does not."""
    on_behalf.log_on_behalf(session, ENV, town.assistant, beneficiary_id=elder.id, channel=channel,
                            content="家里没米了", now=clock())
    session.commit()
    fresh(session)
    assert session.get(Beneficiary, elder.id).last_contact_kind == ("staff" if counts else None)


def test_taking_and_closing_a_check_on_case_are_signs_of_life(session, town, elder, clock):
    """接单 and 完成 on a 联系 case note STAFF; on any other case they do not."""
    check_on = request_service.open_request(
        session, ENV, beneficiary=elder, classification=Classification(RequestCategory.CHECK_ON, Urgency.NORMAL),
        summary="今天没有报平安", now=clock())
    food = request_service.open_request(
        session, ENV, beneficiary=elder, classification=Classification(RequestCategory.FOOD, Urgency.NORMAL),
        summary="家里没米了", now=clock())
    session.commit()
    clock.advance(minutes=5)
    casework.acknowledge(session, ENV, food, town.assistant, clock())
    casework.resolve(session, ENV, food, town.assistant, "已送米", clock())
    session.commit()
    fresh(session)
    assert session.get(Beneficiary, elder.id).last_contact_at is None
    casework.acknowledge(session, ENV, check_on, town.assistant, clock())
    session.commit()
    fresh(session)
    assert (session.get(Beneficiary, elder.id).last_contact_at, session.get(Beneficiary, elder.id).last_contact_kind) \
        == (clock(), "staff")
    clock.advance(minutes=30)
    silence = open_silence(session, elder, clock())
    casework.resolve(session, ENV, check_on, town.assistant, "已打电话，老人很好", clock())
    session.commit()
    fresh(session)
    assert session.get(Beneficiary, elder.id).last_contact_at == clock()
    assert session.get(Silence, silence.id).ended_by == "staff"


def test_plan_sentence_names_the_plan_and_what_follows(session, town, elder, clock):
    """The staff member reads the plan in words, and for daily when the family and the assistant hear."""
    checkins.set_plan(session, elder, "daily", staff=town.assistant, now=clock())
    sentence = checkins.plan_sentence(elder)
    assert sentence.startswith(f"已设置陈桂兰（对象{elder.id}）的报平安计划：每天。")
    assert "10:00" in sentence and "16:00" in sentence
    checkins.set_plan(session, elder, "weekly", staff=town.assistant, now=clock())
    assert "每周五" in checkins.plan_sentence(elder)


# --- news after 16:00: the 联系 case a silence raised ---------------------------------------------------


def raised_case(session, person, at) -> ServiceRequest:
    """A silence the 16:00 scan raised, and its open 联系 case for the person's assistant."""
    case = request_service.open_request(
        session, ENV, beneficiary=person, classification=Classification(RequestCategory.CHECK_ON, Urgency.NORMAL),
        summary=texts.SILENCE_SUMMARY.format(name=person.name, when="今天"), now=at,
        source=RequestSource.SILENCE, channel=RequestChannel.OTHER)
    silence = open_silence(session, person, at)
    silence.raised_at, silence.request_id = at, case.id
    session.commit()
    return case


def bound(session, person, openid: str, relation: str, at):
    """A WeChat user bound to the person."""
    user = make_wechat_user(session, openid, at)
    session.add(FamilyLink(beneficiary_id=person.id, wechat_user=user, relation=relation, active=True, created_at=at))
    session.commit()
    return user


def lines(session, case) -> list[tuple[str, str, str | None]]:
    """The case's timeline without its pushes, as (kind, actor kind, body)."""
    fresh(session)
    return [(e.kind, e.actor_kind, e.body) for e in session.scalars(
        select(RequestEvent).where(RequestEvent.request_id == case.id, RequestEvent.kind != "push")
        .order_by(RequestEvent.id))]


def settled_pushes(session) -> list[OutboxMessage]:
    """The pushes telling an assignee that a 联系 case was settled."""
    fresh(session)
    return list(session.scalars(select(OutboxMessage).where(OutboxMessage.idempotency_key.like("check-on-settled:%"))))


@pytest.mark.parametrize("relation, who", [("子女", "家属"), ("本人", "本人")])
def test_a_message_after_the_case_was_raised_is_one_line_on_it_not_an_all_clear(session, elder, clock, relation, who):
    """A message may be a worry: the case stays open, with one line saying who wrote and when (not what),
    however many messages follow; nobody is pushed."""
    case = raised_case(session, elder, clock())
    user = bound(session, elder, "o-writer", relation, clock())
    clock.advance(minutes=65)
    checkins.note_message(session, user, clock(), env=ENV)
    clock.advance(minutes=5)
    checkins.note_message(session, user, clock(), env=ENV)
    session.commit()
    assert lines(session, case)[1:] == [("comment", "system", f"{who} 10:05 发来消息")]
    assert session.get(ServiceRequest, case.id).status == "open"
    assert session.get(ServiceRequest, case.id).next_escalation_at is not None
    assert settled_pushes(session) == []


@pytest.mark.parametrize("visitor, settled", [("assistant", True), ("officer", False)])
def test_the_assignees_visit_settles_the_case_as_theirs_anyone_elses_is_noted(session, town, elder, clock,
                                                                              visitor, settled):
    """The assistant who has the case went and saw her: resolved as theirs, nobody pushed. The town
    officer's visit is a line on the case; it stays with the assistant, who closes it."""
    case = raised_case(session, elder, clock())
    clock.advance(minutes=65)
    staff = getattr(town, visitor)
    visits.record_visit(session, ENV, staff, VisitReport(beneficiary_id=elder.id), clock())
    session.commit()
    fresh(session)
    row = session.get(ServiceRequest, case.id)
    if settled:
        assert (row.status, row.resolved_at, row.acknowledged_at, row.next_escalation_at) == (
            "resolved", clock(), clock(), None)
        assert row.resolution_note == "已走访（10:05，王芳）"
        [event] = session.scalars(select(RequestEvent).where(RequestEvent.request_id == case.id,
                                                             RequestEvent.kind == "resolved")).all()
        assert (event.actor_kind, event.actor_staff_id) == ("staff", town.assistant.id)
    else:
        assert row.status == "open" and row.next_escalation_at is not None
        assert lines(session, case)[1:] == [("comment", "system", "赵敏 10:05 已走访")]
    assert settled_pushes(session) == []


def test_a_check_in_after_a_worried_message_settles_the_acknowledged_case_and_tells_the_assignee_once(
        session, town, elder, clock):
    """The son writes (one line), the assistant takes the case (no line: it is their own act), then the
    mother checks in: resolved by the system, the assistant told once; a second check-in tells nobody."""
    case = raised_case(session, elder, clock())
    son = bound(session, elder, "o-son", "子女", clock())
    mother = bound(session, elder, "o-mother", "本人", clock())
    clock.advance(minutes=30)
    checkins.note_message(session, son, clock(), env=ENV)
    clock.advance(minutes=5)
    casework.acknowledge(session, ENV, session.get(ServiceRequest, case.id), town.assistant, clock())
    clock.advance(minutes=30)
    checkins.record_checkin(session, elder, clock(), source=CheckinSource.MENU, env=ENV, wechat_user=mother)
    clock.advance(minutes=10)
    checkins.record_checkin(session, elder, clock(), source=CheckinSource.MENU, env=ENV, wechat_user=mother)
    session.commit()
    assert lines(session, case)[1:] == [
        ("comment", "system", "家属 09:30 发来消息"), ("acknowledged", "staff", None),
        ("resolved", "system", "已报平安（10:05，本人）")]
    row = session.get(ServiceRequest, case.id)
    assert (row.status, row.resolution_note, row.next_escalation_at) == ("resolved", "已报平安（10:05，本人）", None)
    [push] = settled_pushes(session)
    assert (push.idempotency_key, push.recipient_staff_id) == (f"check-on-settled:{case.id}:{town.assistant.id}",
                                                               town.assistant.id)
    assert push.payload["text"] == f"陈桂兰 10:05 已报平安，联系任务 {case.id}号 已自动办结。如已在路上，可顺路看看。"
    silence = session.scalars(select(Silence).where(Silence.request_id == case.id)).one()
    assert (silence.ended_by, silence.ended_at) == ("message", clock() - timedelta(minutes=45))


def test_a_contact_staff_logged_is_a_line_on_the_case(session, town, elder, clock):
    """A 代办 by phone may be a neighbour's call about her: a line for the assistant, the case stays open."""
    case = raised_case(session, elder, clock())
    clock.advance(minutes=65)
    on_behalf.log_on_behalf(session, ENV, town.officer, beneficiary_id=elder.id, channel=RequestChannel.PHONE,
                            content="邻居说老人家里没开门", now=clock())
    session.commit()
    assert lines(session, case)[1:] == [("comment", "system", "赵敏 10:05 登记了一次联系")]
    assert session.get(ServiceRequest, case.id).status == "open"


def statements(session, action) -> int:
    """How many SQL statements `action` sends (beyond opening a transaction)."""
    session.flush()
    sent = []
    engine = session.get_bind()

    def count(conn, cursor, statement, *_):
        # A new transaction's BEGIN (SQLite's, sent as a statement) is not the action's own.
        if not statement.startswith("BEGIN"):
            sent.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        action()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(sent)


def test_a_sign_of_life_with_no_case_out_costs_its_two_updates(session, town, elder, clock):
    """No silence, an open one not raised, or a raised one whose case is closed: the two UPDATEs, nothing more."""
    user = bound(session, elder, "o-son", "子女", clock())
    assert user.family_links  # loaded with the user, as the webhook loads the sender
    elder_id = elder.id
    assert statements(session, lambda: checkins.note_message(session, user, clock(), env=ENV)) == 2
    open_silence(session, elder, clock())
    assert statements(session, lambda: checkins.note_contact(session, elder_id, clock(), ContactKind.CHECKIN,
                                                             env=ENV)) == 2
    case = raised_case(session, elder, clock() + timedelta(days=1))
    casework.resolve(session, ENV, session.get(ServiceRequest, case.id), town.assistant, "已打电话", clock())
    session.commit()
    assert statements(session, lambda: checkins.note_contact(session, elder_id, clock(), ContactKind.CHECKIN,
                                                             env=ENV)) == 2
