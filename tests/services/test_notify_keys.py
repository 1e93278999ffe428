"""Outbox keys carry the kind of push: pushes of two kinds never share a key whatever their ids, and
a key met again with another recipient or payload is logged and counted, never dropped quietly."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from handlers import inbox
from models import FamilyLink, InboundMessage, OutboxMessage, RequestEvent, ServiceRequest
from models.enums import PushKind, RequestCategory, Urgency
from runtime.dispatch import drain_outbox
from services import casework, notify
from services import requests as request_service
from services.notify import Delivery, Push, enqueue, enqueue_many, insert_outbox, push_key
from services.policy.classify import Classification
from tests.support.factories import fresh, make_beneficiary, make_town, make_wechat_user

# What follows the kind in each kind's key, as its caller builds it, every id being the same N.
PARTS = {
    PushKind.ANSWER: lambda n: (n,),
    PushKind.TASK: lambda n: (n, n),
    PushKind.MESSAGE: lambda n: (n, n),
    PushKind.ACK: lambda n: (n,),
    PushKind.RELAY_REPLY: lambda n: (n,),
    PushKind.RESOLVED: lambda n: (n,),
    PushKind.FAMILY_RESOLVED: lambda n: (n, n),
    PushKind.REASSIGNED: lambda n: (n,),
    PushKind.REASSIGNED_REQUESTER: lambda n: (n,),
    PushKind.SUPERVISED: lambda n: (n,),
    PushKind.CANCELLED: lambda n: (n,),
    PushKind.FAMILY_VISIT: lambda n: (n, n),
    PushKind.FAMILY_LOGGED: lambda n: (n, n),
    PushKind.CHECKIN_REMIND: lambda n: (n, "2026-12-01", n),
    PushKind.ESCALATE: lambda n: (n, 1, n),
    PushKind.ESCALATE_DIGEST: lambda n: (n, "0123456789abcdef0123"),
    PushKind.ESCALATE_REPEAT: lambda n: (n, 4, 1, n),
    PushKind.REMIND: lambda n: (n, "2026-12-01"),
    PushKind.VISIT_OVERDUE: lambda n: (n, "2026-12-01"),
    PushKind.DIGEST_TOWN: lambda n: (n, "2026-12-01"),
    PushKind.DIGEST_CITY: lambda n: (n, "2026-W49"),
    PushKind.DIGEST_LIAISON: lambda n: (n, "2026-12-01"),
    PushKind.MEDIA: lambda n: (n, n),
    PushKind.ADVICE: lambda n: (n, n),
    PushKind.URGENT_TASK: lambda n: (n, n),
    PushKind.TRANSCRIPT: lambda n: (n, n),
    PushKind.REPORT_MONTHLY: lambda n: (n, "2026-11"),
    PushKind.SOS_REPEAT: lambda n: (n, n),
    PushKind.CHECK_ON_SETTLED: lambda n: (n, n),
    PushKind.SMS: lambda n: ("escalate", n, 1, n),
}


@pytest.fixture
def svc(app):
    """The app's services: sessions, the WeChat client, the request settings."""
    return app.extensions["sanzhida"]


@pytest.fixture
def family(session, clock):
    """A town, a beneficiary of its assistant, and her son bound on WeChat who wrote just now."""
    town = make_town(session, clock())
    person = make_beneficiary(session, town.village, clock(), assistant=town.assistant)
    son = make_wechat_user(session, "o-son", clock(), last_message_at=clock())
    session.add(FamilyLink(beneficiary_id=person.id, wechat_user_id=son.id, relation="子女", active=True,
                           created_at=clock()))
    session.commit()
    return town, person, son


def son_asks(s, svc, person, son, now) -> ServiceRequest:
    """The son's request for his mother, opened as the chat opens it."""
    return request_service.open_request(
        s, svc.request_env, beneficiary=s.get(type(person), person.id),
        classification=Classification(RequestCategory.SHOPPING, Urgency.NORMAL), summary="家里没米了",
        now=now, user=s.get(type(son), son.id),
    )


def message_from(s, son, number: int, request_id: int | None, now) -> InboundMessage:
    """A handled message from the son, stored with the id `number`."""
    stored = InboundMessage(
        id=number, dedupe_key=f"msg:{number}", openid=son.openid, msg_type="text", sent_at=now, received_at=now,
        content="谢谢", payload={"MsgType": "text"}, handled_at=now, request_id=request_id,
    )
    s.add(stored)
    s.flush()
    return stored


def answer_row(stored: InboundMessage, key: str, text: str, now) -> dict:
    """The outbox row the inbox writes for the answer to a message, under the given key."""
    return {
        "idempotency_key": key, "recipient_openid": stored.openid, "recipient_staff_id": None,
        "request_id": stored.request_id, "kind": "custom",
        "payload": {"text": text, "template": None, "reply_to": stored.id},
        "status": "pending", "attempts": 0, "next_attempt_at": now, "created_at": now,
    }


def test_old_keys_reply_n_dropped_the_answer_to_message_n(session, svc, family, clock):
    """The old scheme, reproduced: a staff reply relayed for event n and the answer to message n were
    both `reply:{n}`; the answer met the unique key and was not stored. It is now a counted clash."""
    _, person, son = family
    clashes = notify.key_clashes()
    with svc.session_factory() as s:
        request = son_asks(s, svc, person, son, clock())
        n = 1000 + request.id
        relayed = Push(key=f"reply:{n}", text="王芳回复：明天送米", template_id="tpl",
                       fields=notify.progress_fields(request, svc.request_env.tz, "明天送米", "王芳", clock()))
        assert enqueue(s, relayed, s.get(type(son), son.id), clock(), tz=svc.request_env.tz, request=request)
        stored = message_from(s, son, n, request.id, clock())
        assert insert_outbox(s, [answer_row(stored, f"reply:{n}", "收到", clock())]) == {}
        s.commit()
    fresh(session)
    texts_stored = session.scalars(select(OutboxMessage.payload).where(OutboxMessage.recipient_openid == "o-son")).all()
    assert [p["text"] for p in texts_stored] == ["王芳回复：明天送米"]
    assert notify.key_clashes() == clashes + 1


def test_the_answer_and_the_relayed_reply_with_equal_ids_are_both_stored_and_delivered(
        session, svc, family, clock, fake_wechat):
    """The real callers: the staff reply of event n and the answer to message n are `relay-reply:{n}`
    and `answer:{n}`; both rows are stored, and the son gets both."""
    town, person, son = family
    clashes = notify.key_clashes()
    with svc.session_factory() as s:
        request = son_asks(s, svc, person, son, clock())
        casework.reply(s, svc.request_env, request, s.get(type(town.assistant), town.assistant.id), "明天上午送米",
                       clock())
        n = s.scalars(select(RequestEvent.id).where(RequestEvent.kind == "reply")).one()
        stored = message_from(s, son, n, request.id, clock())
        answer_id = inbox.queue_reply(s, stored, "收到，已转告协理员", clock())
        s.commit()
    assert answer_id is not None
    fresh(session)
    keys = set(session.scalars(select(OutboxMessage.idempotency_key).where(OutboxMessage.recipient_openid == "o-son")))
    assert keys == {f"relay-reply:{n}", f"answer:{n}"}

    drain_outbox(svc.session_factory, svc.wechat, clock)
    fresh(session)
    assert set(session.scalars(select(OutboxMessage.status).where(OutboxMessage.recipient_openid == "o-son"))) == {"sent"}
    delivered = [c["body"] for c in fake_wechat.state.calls
                 if c["outcome"] == "delivered" and c["path"] == "message/custom/send" and c["body"]["touser"] == "o-son"]
    said = sorted(body["text"]["content"] for body in delivered)
    assert len(said) == 2
    assert "收到，已转告协理员" in said and any("明天上午送米" in text for text in said)
    assert notify.key_clashes() == clashes


def test_every_kind_of_push_is_covered():
    """The table below names every kind, so a new kind cannot miss the test of equal ids."""
    assert set(PARTS) == set(PushKind)
    assert all(":" not in kind.value for kind in PushKind)


def one_of_each_kind(s, son, n: int, now, tz) -> dict[PushKind, Callable[[], bool]]:
    """How to queue one push of each kind, all with the same numeric id n; each returns True if created."""
    recipient = s.get(type(son), son.id)

    def via_notify(kind):
        push = Push(key=push_key(kind, *PARTS[kind](n)), text=f"{kind.value} 消息", template_id="tpl",
                    fields={"thing2": kind.value})
        return lambda: enqueue_many(s, [Delivery(push, recipient, urgent=True)], now, tz=tz) == [True]

    def via_inbox():
        stored = s.get(InboundMessage, n) or message_from(s, son, n, None, now)
        return inbox.queue_reply(s, stored, "收到", now) is not None

    return {kind: (via_inbox if kind is PushKind.ANSWER else via_notify(kind)) for kind in PushKind}


@pytest.mark.parametrize("first", list(PushKind), ids=lambda kind: kind.value)
def test_equal_ids_across_every_kind_never_share_a_key(session, svc, family, clock, first):
    """One push of each kind, every id the same number, the given kind queued first: every key is
    distinct and starts with its kind, every row is stored, and nothing clashes."""
    _, _, son = family
    clashes = notify.key_clashes()
    with svc.session_factory() as s:
        queue = one_of_each_kind(s, son, 42, clock(), svc.request_env.tz)
        assert queue[first]()
        assert all(queue[kind]() for kind in PushKind if kind is not first)
        s.commit()
    fresh(session)
    keys = session.scalars(select(OutboxMessage.idempotency_key)).all()
    assert len(keys) == len(set(keys)) == len(PushKind)
    assert sorted(key.split(":")[0] for key in keys) == sorted(kind.value for kind in PushKind)
    assert notify.key_clashes() == clashes


@pytest.mark.parametrize("change, differs", [
    ("nothing", None),
    ("text", "payload"),
    ("fields", "payload"),
    ("recipient", "recipient"),
    ("both", "recipient,payload"),
])
def test_a_key_met_again_is_a_retry_only_with_the_same_recipient_and_payload(
        session, svc, family, clock, caplog, change, differs):
    """Offered again unchanged, a push is the normal idempotent retry: skipped, no error. With another
    recipient or payload it is a clash: still skipped (the first stays), but logged as an error, without
    its contents, and counted."""
    _, _, son = family
    tz = svc.request_env.tz
    key = push_key(PushKind.ACK, 7)
    push = Push(key=key, text="7号求助已有人接单：王芳 13800000000", template_id="tpl", fields={"thing2": "已接单"})
    changed = Push(
        key=key,
        text=push.text + "（更正）" if change in ("text", "both") else push.text,
        template_id="tpl",
        fields={"thing2": "已改派"} if change == "fields" else push.fields,
    )
    with svc.session_factory() as s:
        other = make_wechat_user(s, "o-daughter", clock())
        recipient = s.get(type(son), son.id)
        assert enqueue(s, push, recipient, clock(), tz=tz)
        s.commit()
        clashes = notify.key_clashes()
        caplog.clear()
        caplog.set_level(logging.ERROR, logger="services.notify")
        again_to = other if change in ("recipient", "both") else recipient
        assert enqueue(s, changed, again_to, clock(), tz=tz) is False
        s.commit()
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    if differs is None:
        assert errors == [] and notify.key_clashes() == clashes
    else:
        assert errors == [(f"outbox=key_clash key={key} differs={differs} stored_openid=o-son "
                           f"offered_openid={again_to.openid}")]
        assert notify.key_clashes() == clashes + 1
        assert not any("13800000000" in error or "接单" in error for error in errors)
    fresh(session)
    (row,) = session.scalars(select(OutboxMessage)).all()
    assert row.recipient_openid == "o-son" and row.payload["text"] == push.text


def test_two_pushes_given_one_key_in_one_batch_are_a_clash(session, svc, family, clock, caplog):
    """The same key twice in one multi-row INSERT with different texts: the first is stored, the second counted."""
    town, _, son = family
    key = push_key(PushKind.REMIND, town.assistant.id, "2026-12-01")
    clashes = notify.key_clashes()
    caplog.set_level(logging.ERROR, logger="services.notify")
    with svc.session_factory() as s:
        recipient = s.get(type(son), son.id)
        pushes = [Push(key=key, text=text, template_id="tpl", fields={}) for text in ("第一条", "第二条", "第一条")]
        created = enqueue_many(s, [Delivery(p, recipient) for p in pushes], clock(), tz=svc.request_env.tz)
        s.commit()
    assert created == [True, False, False]
    assert notify.key_clashes() == clashes + 1
    assert sum("outbox=key_clash" in r.getMessage() for r in caplog.records) == 1
    fresh(session)
    assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 1


def test_push_keys_refuse_what_is_not_a_kind():
    """Only the closed set of kinds builds keys, and a key always has something after its kind."""
    assert push_key(PushKind.RELAY_REPLY, 5) == "relay-reply:5"
    assert push_key("answer", 5) == "answer:5"
    with pytest.raises(ValueError):
        push_key("reply", 5)
    with pytest.raises(ValueError):
        push_key(PushKind.ANSWER)
