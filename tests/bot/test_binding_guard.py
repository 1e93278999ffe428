"""Binding's guard in Redis: a Redis outage never costs a binding, and guessing codes from many openids
at once trips an overall limit that pauses binding for a while."""

from __future__ import annotations

import math

import pytest
from sqlalchemy import select

from config import policy
from models import FamilyLink, InboundMessage
from runtime.container import build_services
from runtime.redis_client import make_redis
from services import texts
from services.binding import BindGuard, scene_for
from tests.support.factories import fresh, make_beneficiary, make_town
from tests.support.wechat import reply_content
from workers.inbox import MAX_ATTEMPTS, InboxWorker

# Nothing listens on port 1: every connection is refused at once, as when Redis is down.
DEAD_REDIS = "redis://127.0.0.1:1/0"


@pytest.fixture
def elder(session, clock):
    """A beneficiary with an assistant, and her bind code."""
    town = make_town(session, clock())
    person = make_beneficiary(session, town.village, clock(), assistant=town.assistant, name="王秀兰")
    session.commit()
    return person


def say(client, sender, clock, openid: str, text: str) -> str:
    """Send a text as `openid` (inline replies) and return the reply's text."""
    response, _ = sender.post(client, sender.text(openid, text))
    assert response.status_code == 200
    clock.advance(seconds=2)
    return reply_content(response.data).get("Content", "")


def links_of(session, openid: str) -> list[FamilyLink]:
    """The active family links of a WeChat user."""
    fresh(session)
    return [link for link in session.scalars(select(FamilyLink)).all()
            if link.active and link.wechat_user.openid == openid]


# --- a Redis outage during binding -----------------------------------------------------------------


def test_queued_bind_waits_out_a_redis_outage_and_binds_when_it_is_back(
        make_app, settings, db, clock, sender, session, elder):
    """The inbox worker retries a 绑定 while Redis is down, never gives up on it, and binds once Redis is back."""
    app = make_app(wechat_reply_mode="queued")
    client = app.test_client()
    response, _ = sender.post(client, sender.text("o-son", f"绑定 {elder.bind_code}"))
    assert response.data == b"success"

    down = InboxWorker(build_services(settings.with_overrides(redis_url=DEAD_REDIS, wechat_reply_mode="queued"),
                                      clock=clock, engine=db))
    for _ in range(MAX_ATTEMPTS + 2):
        assert down.step() == -1
    fresh(session)
    stored = session.scalars(select(InboundMessage)).one()
    assert stored.handled_at is None and stored.handling_error is None, "kept waiting, not dropped"

    worker = InboxWorker(app.extensions["sanzhida"])
    assert worker.drain() == 1
    fresh(session)
    stored = session.scalars(select(InboundMessage)).one()
    assert stored.handling_error is None and stored.handled_at is not None
    clock.advance(seconds=5)
    sender.post(client, sender.text("o-son", "2"))
    assert worker.drain() == 1
    assert [link.relation for link in links_of(session, "o-son")] == ["子女"]


@pytest.mark.parametrize("how", ["command", "care-card scan"])
def test_inline_bind_during_a_redis_outage_answers_503_and_the_retry_binds(
        make_app, clock, sender, session, elder, how):
    """Handled in the request (inline mode, and every event): a Redis failure answers 503 and keeps nothing,
    so WeChat's retry binds the person once Redis answers again."""
    app = make_app()
    client = app.test_client()
    services = app.extensions["sanzhida"]
    working = services.bind_guard
    # The webhook's own Redis works; the guard's client cannot connect.
    services.bind_guard = BindGuard(make_redis(DEAD_REDIS, allow_embedded=False), services.keys,
                                    working.max_failures)
    xml = (sender.text("o-daughter", f"绑定 {elder.bind_code}") if how == "command"
           else sender.event("o-daughter", "SCAN", key=scene_for(elder.bind_code)))
    response, _ = sender.post(client, xml)
    assert response.status_code == 503
    fresh(session)
    assert session.scalars(select(InboundMessage)).all() == []

    services.bind_guard = working
    clock.advance(seconds=5)
    retry, _ = sender.post(client, xml)
    assert "2 子女" in reply_content(retry.data)["Content"]
    assert "绑定成功" in say(client, sender, clock, "o-daughter", "2")
    assert len(links_of(session, "o-daughter")) == 1


# --- guessing codes from many openids --------------------------------------------------------------


def test_many_openids_guessing_trip_the_overall_limit_and_binding_pauses_for_everyone(
        client, clock, sender, session, elder, caplog):
    """Per openid each guesser stays within its daily limit; together they trip the hourly one: an alert
    is logged once, every code is refused kindly (even the right one), and binding resumes after the pause."""
    limit, per_openid = policy.BIND_GUESSES_PER_HOUR, 5
    guessers = [f"o-guesser-{n}" for n in range(math.ceil(limit / per_openid))]
    sent = 0
    for openid in guessers:
        for attempt in range(per_openid):
            if sent < limit:
                assert "绑定码不对" in say(client, sender, clock, openid, f"绑定 ZZZ{sent:03d}") or attempt == 4
                sent += 1
    alerts = [r for r in caplog.records if "binding=guessing_alert" in r.getMessage()]
    assert len(alerts) == 1 and alerts[0].levelname == "WARNING"

    paused = texts.BIND_PAUSED.format(minutes=policy.BIND_GUESS_PAUSE_MINUTES)
    assert say(client, sender, clock, "o-family", f"绑定 {elder.bind_code}") == paused
    assert say(client, sender, clock, "o-another-guesser", "绑定 ZZZ999") == paused
    scan, _ = sender.post(client, sender.event("o-family", "SCAN", key=scene_for(elder.bind_code)))
    assert reply_content(scan.data)["Content"] == paused
    assert links_of(session, "o-family") == []
    assert len([r for r in caplog.records if "binding=guessing_alert" in r.getMessage()]) == 1

    clock.advance(minutes=policy.BIND_GUESS_PAUSE_MINUTES + 1)
    assert "2 子女" in say(client, sender, clock, "o-family", f"绑定 {elder.bind_code}")
    assert "绑定成功" in say(client, sender, clock, "o-family", "2")
    assert len(links_of(session, "o-family")) == 1


def test_the_per_openid_limit_still_locks_one_guesser(client, clock, sender, session, elder):
    """One openid's fifth wrong code locks it for the day, well before the overall limit."""
    replies = [say(client, sender, clock, "o-lone", f"绑定 ZZZ00{n}") for n in range(5)]
    assert replies[-1] == texts.BIND_LOCKED
    assert say(client, sender, clock, "o-lone", f"绑定 {elder.bind_code}") == texts.BIND_LOCKED
    assert "2 子女" in say(client, sender, clock, "o-other", f"绑定 {elder.bind_code}")
