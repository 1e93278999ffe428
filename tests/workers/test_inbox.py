"""Queued replies: the webhook stores and answers `success`; the inbox worker handles each message
once, in order per sender, and the reply reaches the user as a customer-service message."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import requests as http
from sqlalchemy import func, select

from devtools.app import create_dev_app
from handlers import inbox
from models import InboundMessage, OutboxMessage, ServiceRequest, WeChatUser
from models.enums import OutboxStatus
from runtime.dispatch import dispatch_outbox
from services import identity, texts
from tests.support.factories import fresh, make_beneficiary, make_town
from tests.support.wechat import reply_content
from workers.inbox import InboxWorker


@pytest.fixture
def queued_app(make_app):
    """The app in queued mode (the production default)."""
    return make_app(wechat_reply_mode="queued")


@pytest.fixture
def queued(queued_app):
    """The test client and an inbox worker on the same services."""
    return queued_app.test_client(), InboxWorker(queued_app.extensions["sanzhida"])


@pytest.fixture
def town(session, clock):
    """A town with bound staff."""
    return make_town(session, clock())


def delivered_texts(fake_wechat, openid: str) -> list[str]:
    """Customer-service texts the stand-in delivered to `openid`."""
    calls = http.get(f"{fake_wechat.base_url.split('/cgi-bin')[0]}/_calls", timeout=5).json()
    return [c["body"]["text"]["content"] for c in calls
            if c["path"] == "message/custom/send" and c["outcome"] == "delivered" and c["body"]["touser"] == openid]


def bind_son(session, town, clock):
    """A beneficiary whose son is bound; returns (beneficiary, the son's openid)."""
    from models import FamilyLink
    from tests.support.factories import make_wechat_user

    person = make_beneficiary(session, town.village, clock(), assistant=town.assistant)
    son = make_wechat_user(session, "o-son", clock())
    session.add(FamilyLink(beneficiary_id=person.id, wechat_user_id=son.id, relation="子女", active=True,
                           created_at=clock()))
    session.commit()
    return person, "o-son"


def test_the_webhook_only_stores_and_the_worker_answers_by_customer_service_message(
        queued, sender, session, town, clock, fake_wechat):
    client, worker = queued
    person, son = bind_son(session, town, clock)
    response, _ = sender.post(client, sender.text(son, "家里没米了，能帮忙买点吗"))
    assert response.status_code == 200 and response.data == b"success"
    stored = session.scalars(select(InboundMessage)).one()
    assert stored.handled_at is None
    assert session.scalar(select(func.count()).select_from(ServiceRequest)) == 0

    assert worker.drain() == 1
    fresh(session)
    stored = session.scalars(select(InboundMessage)).one()
    assert stored.handled_at is not None and stored.handling_error is None
    request = session.scalars(select(ServiceRequest)).one()
    assert request.beneficiary_id == person.id
    replies = delivered_texts(fake_wechat, son)
    assert len(replies) == 1 and str(request.id) in replies[0]
    reply_row = session.scalars(select(OutboxMessage).where(OutboxMessage.idempotency_key == f"answer:{stored.id}")).one()
    assert reply_row.status == OutboxStatus.SENT.value


def test_the_window_counts_from_when_the_user_wrote_not_from_the_handling(queued, sender, session, town, clock):
    """Two messages handled a minute after they came: the 48-hour window (and its five messages)
    counts from the later one's arrival, as WeChat counts it; handled out of order, it never goes back."""
    client, worker = queued
    _, son = bind_son(session, town, clock)
    sender.post(client, sender.text(son, "你好", msg_id=5101))
    first = clock()
    clock.advance(seconds=10)
    sender.post(client, sender.text(son, "在吗", msg_id=5102))
    wrote = clock()
    clock.advance(seconds=60)
    assert worker.drain() == 2
    fresh(session)
    user = session.scalars(select(WeChatUser).where(WeChatUser.openid == son)).one()
    assert user.last_message_at == wrote and first < wrote < clock()
    identity.note_message(user, first)
    assert user.last_message_at == wrote


def test_a_retried_delivery_is_stored_and_handled_once(queued, sender, session, town, clock, fake_wechat):
    client, worker = queued
    _, son = bind_son(session, town, clock)
    xml = sender.text(son, "帮帮忙", msg_id=424242)
    for _ in range(3):
        response, _ = sender.post(client, xml)
        assert response.data == b"success"
    assert worker.drain() == 1
    assert worker.drain() == 0
    fresh(session)
    assert session.scalar(select(func.count()).select_from(InboundMessage)) == 1
    assert session.scalar(select(func.count()).select_from(ServiceRequest)) == 1
    assert len(delivered_texts(fake_wechat, son)) == 1


def test_the_reply_is_the_one_inline_mode_would_give(queued, make_app, sender, clock, fake_wechat):
    """The same command gets the same words either way."""
    client, worker = queued
    sender.post(client, sender.text("o-visitor", "帮助"))
    worker.drain()
    inline = make_app().test_client()
    response, _ = sender.post(inline, sender.text("o-visitor-2", "帮助"))
    assert delivered_texts(fake_wechat, "o-visitor") == [reply_content(response.data)["Content"]]


def test_a_failing_handler_is_kept_and_the_sender_gets_the_apology(queued_app, queued, sender, session, fake_wechat):
    client, worker = queued

    def broken(msg, ctx):
        raise RuntimeError("boom")

    queued_app.extensions["sanzhida"].router.on_type("text")(broken)
    sender.post(client, sender.text("o-x", "随便说点什么"))
    assert worker.drain() == 1
    fresh(session)
    stored = session.scalars(select(InboundMessage)).one()
    assert stored.handling_error == "RuntimeError" and stored.handled_at is not None
    assert delivered_texts(fake_wechat, "o-x") == [texts.SORRY_ERROR]


def test_a_message_taken_by_a_worker_that_died_is_handled_by_the_next(queued, queued_app, sender, session,
                                                                        fake_wechat):
    client, worker = queued
    sender.post(client, sender.text("o-x", "帮助"))
    svc = queued_app.extensions["sanzhida"]
    dying = svc.session_factory()
    assert inbox.take_next(dying) is not None
    dying.close()  # the transaction ends without a commit, as when a worker's connection drops
    assert worker.drain() == 1
    assert len(delivered_texts(fake_wechat, "o-x")) == 1


def test_one_senders_messages_are_handled_in_order_and_others_are_not_held_up(queued, queued_app, sender,
                                                                               session, clock):
    client, _ = queued
    for openid, text in (("o-a", "第一条"), ("o-a", "第二条"), ("o-b", "别人的")):
        sender.post(client, sender.text(openid, text))
        clock.advance(seconds=1)
    svc = queued_app.extensions["sanzhida"]
    first = svc.session_factory()
    second = svc.session_factory()
    try:
        taken = inbox.take_next(first)
        assert (taken.openid, taken.content) == ("o-a", "第一条")
        if svc.engine.dialect.name == "postgresql":
            # Another worker skips the locked message and must not jump to o-a's second one.
            other = inbox.take_next(second)
            assert (other.openid, other.content) == ("o-b", "别人的")
        else:
            # SQLite has one writer and no row locks: once o-a's first is handled, the same
            # transaction's next take is o-a's second, before o-b's later message.
            taken.handled_at = clock()
            follow = inbox.take_next(first)
            assert (follow.openid, follow.content) == ("o-a", "第二条")
    finally:
        first.close()
        second.close()


def test_a_reply_wechat_refused_stays_in_the_outbox_and_goes_later(queued, queued_app, sender, session, clock,
                                                                    fake_wechat):
    client, worker = queued
    base = fake_wechat.base_url.split("/cgi-bin")[0]
    http.post(f"{base}/_faults", json={"path": "message/custom/send", "http_status": 500, "times": 1}, timeout=5)
    sender.post(client, sender.text("o-x", "帮助"))
    assert worker.drain() == 1
    assert delivered_texts(fake_wechat, "o-x") == []
    fresh(session)
    row = session.scalars(select(OutboxMessage)).one()
    assert row.status == OutboxStatus.PENDING.value and row.attempts == 1
    # The scheduler's outbox run sends it once its backoff has passed.
    clock.advance(minutes=10)
    svc = queued_app.extensions["sanzhida"]
    dispatch_outbox(svc.session_factory, svc.wechat, svc.clock)
    assert len(delivered_texts(fake_wechat, "o-x")) == 1


def test_a_real_inbox_worker_process_answers_and_stops_on_sigterm(database_url, tmp_path, fake_wechat, sender,
                                                                  make_app, redis_prefix):
    """`sanzhida inbox run` as its own process finds what the webhook stored, answers, and stops cleanly."""
    redis_url = os.environ.get("TEST_REDIS_URL")
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_KEY_PREFIX": redis_prefix,
        "WECHAT_API_BASE_URL": fake_wechat.base_url,
        "WECHAT_TOKEN": sender.token,
        "WECHAT_APP_ID": sender.app_id,
        "WECHAT_APP_SECRET": fake_wechat.state.app_secret,
        "SANZHIDA_ENV": "test",
    }
    env.pop("REDIS_URL", None)
    if redis_url:
        env["REDIS_URL"] = redis_url
    log = tmp_path / "inbox.log"
    proc = subprocess.Popen([sys.executable, "-m", "cli", "inbox", "run"], env=env,
                            stdout=open(log, "w"), stderr=subprocess.STDOUT)
    try:
        client = make_app(wechat_reply_mode="queued").test_client()
        response, _ = sender.post(client, sender.text("o-proc", "帮助"))
        assert response.data == b"success"
        # Bounded only so a broken worker cannot hang the suite; a reply normally takes well under 1 s.
        deadline = time.monotonic() + 20
        while not delivered_texts(fake_wechat, "o-proc"):
            assert proc.poll() is None, log.read_text()[-2000:]
            assert time.monotonic() < deadline, "no reply: " + log.read_text()[-2000:]
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        assert "inbox=stopped handled=1" in log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()


def test_the_simulator_shows_a_queued_reply_with_the_pushes(settings, db, redis_client, clock, fake_wechat):
    """In development the simulator handles what waits itself, so the reply shows at once."""
    queued_app = create_dev_app(settings.with_overrides(wechat_reply_mode="queued"), clock=clock, engine=db,
                                redis=redis_client)
    client = queued_app.test_client()
    sent = client.post("/dev/simulator/api/send", json={"openid": "sim-visitor-1", "kind": "text", "text": "帮助"})
    assert sent.status_code == 200
    assert [m["from"] for m in sent.get_json()["messages"]] == ["me"]
    items = client.get("/dev/simulator/api/inbox").get_json()["items"]
    assert [(i["openid"], i["kind"]) for i in items] == [("sim-visitor-1", "text")]
    assert items[0]["text"] == delivered_texts(fake_wechat, "sim-visitor-1")[0]


def test_a_bug_in_one_message_of_a_group_leaves_the_others_handled(queued_app, queued, sender, session, clock,
                                                                   fake_wechat):
    """Messages share a transaction in groups; a handler bug is still confined to its own message."""
    from models import Region

    client, worker = queued
    router = queued_app.extensions["sanzhida"].router
    normal = router.types["text"]

    def sometimes_broken(msg, ctx):
        if msg.content == "坏":
            ctx.session.add(Region(code="partial", name="半截", level="city", created_at=ctx.now))
            ctx.session.flush()
            raise RuntimeError("boom")
        return normal(msg, ctx)

    router.on_type("text")(sometimes_broken)
    for openid, text in (("o-a", "你好"), ("o-b", "坏"), ("o-a", "还在吗")):
        sender.post(client, sender.text(openid, text))
        clock.advance(seconds=1)
    assert worker.drain() == 3
    fresh(session)
    rows = session.scalars(select(InboundMessage).order_by(InboundMessage.id)).all()
    assert [r.handling_error for r in rows] == [None, "RuntimeError", None]
    assert all(r.handled_at is not None for r in rows)
    assert session.scalars(select(Region).where(Region.code == "partial")).all() == []
    assert delivered_texts(fake_wechat, "o-b") == [texts.SORRY_ERROR]
    assert len(delivered_texts(fake_wechat, "o-a")) == 2


def test_events_are_answered_in_the_request_even_when_replies_are_queued(queued, sender, session, fake_wechat):
    """After a follow, scan or menu click WeChat allows customer-service messages for one minute
    only, so events get a passive reply at once instead of waiting in the queue."""
    client, worker = queued
    response, _ = sender.post(client, sender.event("o-new", "subscribe"))
    assert reply_content(response.data)["Content"]
    stored = session.scalars(select(InboundMessage)).one()
    assert stored.handled_at is not None and stored.reply_xml
    assert worker.drain() == 0
    assert delivered_texts(fake_wechat, "o-new") == []


def test_a_message_the_database_keeps_failing_on_is_given_up_and_others_go_on(queued_app, queued, sender, session,
                                                                               clock, fake_wechat):
    """A database error is retried, one message at a time; after three the message is kept as
    failed with an apology, instead of holding up everyone else's for ever."""
    from sqlalchemy.exc import OperationalError

    client, worker = queued
    router = queued_app.extensions["sanzhida"].router
    normal = router.types["text"]

    def database_fails_on_this_one(msg, ctx):
        if msg.content == "坏":
            raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))
        return normal(msg, ctx)

    router.on_type("text")(database_fails_on_this_one)
    for openid, text in (("o-a", "你好"), ("o-b", "坏"), ("o-c", "在吗")):
        sender.post(client, sender.text(openid, text))
        clock.advance(seconds=1)
    outcomes = [worker.step() for _ in range(6)]
    # Once in a group of messages, then three times alone; then the rest goes on.
    assert outcomes.count(-1) == 4 and outcomes[-1] == 0
    fresh(session)
    rows = {r.openid: r for r in session.scalars(select(InboundMessage))}
    assert all(r.handled_at is not None for r in rows.values())
    assert rows["o-b"].handling_error == "DatabaseError"
    assert rows["o-a"].handling_error is None and rows["o-c"].handling_error is None
    assert delivered_texts(fake_wechat, "o-b") == [texts.SORRY_ERROR]
    assert len(delivered_texts(fake_wechat, "o-a")) == 1 and len(delivered_texts(fake_wechat, "o-c")) == 1
