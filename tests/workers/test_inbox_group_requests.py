"""One group of messages: a person's case is joined whoever of the family writes, within the group as
across groups, and a case already finished is not; the timeline keeps the order things happened in."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from models import FamilyLink, InboundMessage, OutboxMessage, RequestEvent, ServiceRequest
from models.enums import RequestCategory, RequestStatus
from services import history, texts
from tests.support.factories import fresh, make_beneficiary, make_town, make_wechat_user
from workers.inbox import InboxWorker


@pytest.fixture
def queued_app(make_app):
    """The app in queued mode (the production default)."""
    return make_app(wechat_reply_mode="queued")


@pytest.fixture
def family(session, clock):
    """One person with a son and a daughter bound, and another person with a son bound."""
    town = make_town(session, clock())
    people = [make_beneficiary(session, town.village, clock() - timedelta(days=30), assistant=town.assistant)
              for _ in range(2)]
    for openid, person in (("o-son", people[0]), ("o-daughter", people[0]), ("o-other", people[1])):
        user = make_wechat_user(session, openid, clock())
        session.add(FamilyLink(beneficiary_id=person.id, wechat_user_id=user.id, relation="子女", active=True,
                               created_at=clock()))
    session.commit()
    return town, people


def _request(session, town, person, at, status):
    """A request raised for `person` at `at`, in `status`."""
    request = ServiceRequest(beneficiary_id=person.id, village_id=town.village.id, town_id=town.town.id,
                             category=RequestCategory.FOOD.value, urgency="normal", status=status, summary="早先的求助",
                             assignee_staff_id=town.assistant.id, escalation_level=0, escalation_repeats=0,
                             created_at=at, updated_at=at)
    session.add(request)
    session.commit()
    return request.id


def _handle(queued_app, sender, *posts):
    """Post the texts, then handle them in one group; the replies by openid."""
    client = queued_app.test_client()
    for openid, text in posts:
        assert sender.post(client, sender.text(openid, text))[0].status_code == 200
    worker = InboxWorker(queued_app.extensions["sanzhida"])
    handled, _ = worker.handle_group()
    assert handled == len(posts)
    return handled


def _answers(session):
    """Each message's sender -> the case it went to."""
    return {m.openid: m.request_id for m in session.scalars(select(InboundMessage))}


def test_two_of_a_family_writing_in_one_group_make_one_case(queued_app, sender, session, family, clock):
    """The daughter's message joins the case her brother's opened a moment before, in the same group;
    the other family's message opens its own; the case's timeline has its creation first."""
    _handle(queued_app, sender, ("o-son", "我妈家里没米了"), ("o-daughter", "麻烦尽快送点米过去"),
            ("o-other", "我爸腿疼走不了路"))
    fresh(session)
    cases = _answers(session)
    assert cases["o-son"] == cases["o-daughter"] != cases["o-other"]
    assert len(session.scalars(select(ServiceRequest)).all()) == 2
    case = session.get(ServiceRequest, cases["o-son"])
    kinds = [event.kind for event in history.timeline(case, session)]
    assert kinds[0] == "created" and kinds.count("created") == 1 and "message" in kinds
    by_id = session.scalars(select(RequestEvent.kind).where(RequestEvent.request_id == case.id)
                            .order_by(RequestEvent.id)).all()
    assert by_id[0] == "created"


def test_an_open_case_from_earlier_is_joined_and_a_finished_one_is_not(queued_app, sender, session, family, clock):
    """A case raised an hour ago and still open takes the message; one resolved does not."""
    town, people = family
    open_case = _request(session, town, people[0], clock() - timedelta(hours=1), RequestStatus.OPEN.value)
    _request(session, town, people[1], clock() - timedelta(hours=1), RequestStatus.RESOLVED.value)
    _handle(queued_app, sender, ("o-son", "米还没送到"), ("o-other", "我爸又摔了一跤"))
    fresh(session)
    cases = _answers(session)
    assert cases["o-son"] == open_case
    assert cases["o-other"] not in (None, open_case)
    assert session.get(ServiceRequest, cases["o-other"]).status == RequestStatus.OPEN.value
    assert texts.REQUEST_APPENDED.split("{")[0] in _reply_to(session, "o-son")


def _reply_to(session, openid):
    """The reply text queued for `openid`."""
    row = session.scalars(select(OutboxMessage).where(OutboxMessage.recipient_openid == openid,
                                                      OutboxMessage.idempotency_key.startswith("answer:"))).one()
    return row.payload["text"]
