"""The outbox dispatcher against the WeChat stand-in: grouped recording, parallel sends that keep
each user's order, several dispatchers at once, a token retired mid-batch, and a bug mid-batch."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
import requests as http
from sqlalchemy import select

from models import OutboxMessage
from runtime.dispatch import dispatch_outbox, drain_outbox
from runtime.wechat import make_wechat_client
from services.policy.push import client_msg_id, template_data
from tests.support.factories import make_wechat_user


def queue_pushes(session, now, pushes: list[tuple[str, bool]]) -> list[str]:
    """One pending push per (openid, user wrote an hour ago); returns their keys in id order."""
    users = {}
    keys = []
    for n, (openid, wrote) in enumerate(pushes):
        if openid not in users:
            users[openid] = make_wechat_user(session, openid, now - timedelta(days=3),
                                             last_message_at=now - timedelta(hours=1) if wrote else None)
        key = f"test:{n}:{openid}"
        session.add(OutboxMessage(
            idempotency_key=key, recipient_openid=openid, kind="custom", status="pending", attempts=0,
            next_attempt_at=now, created_at=now,
            payload={"text": f"消息 {n}", "template": {"template_id": "tpl-task", "data": template_data({"thing1": key})}},
        ))
        keys.append(key)
        session.flush()
    session.commit()
    return keys


def deliveries(fake_wechat) -> list[tuple[str, str]]:
    """(openid, what) for every delivered send, in the order the stand-in answered them."""
    out = []
    for call in http.get(f"http://{fake_wechat.host}:{fake_wechat.port}/_calls", timeout=5).json():
        body = call.get("body") or {}
        if call["outcome"] != "delivered" or not call["path"].startswith("message/"):
            continue
        if call["path"] == "message/custom/send":
            out.append((body["touser"], body["text"]["content"]))
        else:
            out.append((body["touser"], body["data"]["thing1"]["value"]))
    return out


def fault(fake_wechat, **spec) -> None:
    """Queue a failure on the stand-in."""
    http.post(f"http://{fake_wechat.host}:{fake_wechat.port}/_faults", json=spec, timeout=5).raise_for_status()


def rows(session) -> dict[str, OutboxMessage]:
    """Every outbox row by key, as committed."""
    # End the session's transaction first: on SQLite it would keep reading its old snapshot.
    session.rollback()
    session.expire_all()
    return {r.idempotency_key: r for r in session.scalars(select(OutboxMessage))}


def test_every_push_is_sent_and_recorded_exactly_once(jobs_ctx, session, clock, fake_wechat):
    """130 pushes over three batches: each delivered once and marked sent once, with the kind used."""
    pushes = [(f"o-user-{i % 65}", i % 65 % 2 == 0) for i in range(130)]
    keys = queue_pushes(session, clock(), pushes)

    report = drain_outbox(jobs_ctx.session_factory, jobs_ctx.wechat, clock)

    assert (report.claimed, report.sent, report.retried, report.dead) == (130, 130, 0, 0)
    stored = rows(session)
    assert {r.status for r in stored.values()} == {"sent"}
    assert all(r.sent_at == clock() and r.claimed_until is None for r in stored.values())
    for key, (openid, wrote) in zip(keys, pushes):
        assert stored[key].kind == ("custom" if wrote else "template")
    delivered = deliveries(fake_wechat)
    assert len(delivered) == 130 and len(set(delivered)) == 130


def test_sends_run_in_parallel(jobs_ctx, session, clock, fake_wechat):
    """Six slow answers (0.5 s each) cost about one wait, not six."""
    queue_pushes(session, clock(), [(f"o-user-{i}", False) for i in range(12)])
    jobs_ctx.wechat.access_token  # noqa: B018 - the token first, so the delays hit the sends
    fault(fake_wechat, path="message/template/send", delay=0.5, times=6)

    started = time.monotonic()
    report = dispatch_outbox(jobs_ctx.session_factory, jobs_ctx.wechat, clock)

    assert report.sent == 12
    assert time.monotonic() - started < 2.0


def test_parallel_sends_keep_each_users_order(jobs_ctx, session, clock, fake_wechat):
    """Five users with six pushes each in one batch: each user gets theirs in the order written,
    even when one answer is slow and other users' pushes overtake it."""
    keys = queue_pushes(session, clock(), [(f"o-user-{n % 5}", False) for n in range(30)])
    jobs_ctx.wechat.access_token  # noqa: B018
    fault(fake_wechat, path="message/template/send", delay=0.4, times=1)

    assert dispatch_outbox(jobs_ctx.session_factory, jobs_ctx.wechat, clock).sent == 30

    delivered = deliveries(fake_wechat)
    assert len(delivered) == 30
    for user in range(5):
        openid = f"o-user-{user}"
        assert [what for who, what in delivered if who == openid] == [k for k in keys if k.endswith(f":{openid}")]
    # The slow answer was overtaken: one push after another would have kept the claim order.
    assert [what for _, what in delivered] != keys


def test_two_dispatchers_at_once_send_no_push_twice(settings, redis_client, jobs_ctx, session, clock, fake_wechat):
    """Two dispatchers (each with its own client, as two processes) drain one queue together."""
    keys = queue_pushes(session, clock(), [(f"o-user-{i}", i % 2 == 0) for i in range(200)])
    reports = []

    def dispatcher():
        client = make_wechat_client(settings, redis_client)
        reports.append(drain_outbox(jobs_ctx.session_factory, client, clock))

    threads = [threading.Thread(target=dispatcher) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(r.sent for r in reports) == 200
    assert {r.status for r in rows(session).values()} == {"sent"}
    delivered = deliveries(fake_wechat)
    assert len(delivered) == 200 and len(set(delivered)) == 200
    assert {what for _, what in delivered if what.startswith("test:")} == {k for i, k in enumerate(keys) if i % 2}


def test_a_token_retired_mid_batch_is_refreshed_once_and_every_push_goes(jobs_ctx, session, clock, fake_wechat):
    """WeChat retires the token after ten sends: the senders holding it in memory get 40001,
    one of them fetches a new token, the others take it from Redis, and nothing is lost or doubled."""
    keys = queue_pushes(session, clock(), [(f"o-user-{i}", False) for i in range(40)])
    jobs_ctx.wechat.access_token  # noqa: B018 - the token is in memory before the batch starts
    fault(fake_wechat, path="message/template/send", after=10, revoke_tokens=True, times=1)

    report = dispatch_outbox(jobs_ctx.session_factory, jobs_ctx.wechat, clock)

    assert (report.sent, report.retried, report.dead) == (40, 0, 0)
    calls = http.get(f"http://{fake_wechat.host}:{fake_wechat.port}/_calls", timeout=5).json()
    assert len([c for c in calls if c["path"] == "token"]) == 2
    assert any(c["outcome"] == "errcode 40001" for c in calls)
    sent_ids = [c["body"]["client_msg_id"] for c in calls if c["outcome"] == "delivered" and c["path"] != "token"]
    assert sorted(sent_ids) == sorted(client_msg_id(k) for k in keys)


def test_failures_are_recorded_with_the_batch_and_retried_later(jobs_ctx, session, clock, fake_wechat):
    """Three 500s among twenty pushes: those three wait with backoff, the rest are sent, and the
    next run after the backoff sends the three."""
    queue_pushes(session, clock(), [(f"o-user-{i}", False) for i in range(20)])
    jobs_ctx.wechat.access_token  # noqa: B018
    fault(fake_wechat, path="message/template/send", http_status=500, times=3)

    first = dispatch_outbox(jobs_ctx.session_factory, jobs_ctx.wechat, clock)

    assert (first.sent, first.retried, first.dead) == (17, 3, 0)
    waiting = [r for r in rows(session).values() if r.status == "pending"]
    assert len(waiting) == 3 and all(r.attempts == 1 and r.last_error for r in waiting)
    clock.advance(minutes=1)
    assert dispatch_outbox(jobs_ctx.session_factory, jobs_ctx.wechat, clock).sent == 3
    assert len(set(deliveries(fake_wechat))) == len(deliveries(fake_wechat)) == 20


def test_a_bug_mid_batch_stops_it_but_what_went_out_is_recorded(jobs_ctx, session, clock, fake_wechat):
    """A push the code cannot build raises out of the dispatcher; every push WeChat accepted is
    marked sent, the rest stay claimed and go once the claim lapses, none twice."""
    keys = queue_pushes(session, clock(), [(f"o-user-{i}", False) for i in range(30)])
    broken = session.scalars(select(OutboxMessage).where(OutboxMessage.idempotency_key == keys[5])).one()
    broken.payload = {"text": "模板缺少编号", "template": {"data": {}}}
    session.commit()

    with pytest.raises(KeyError):
        dispatch_outbox(jobs_ctx.session_factory, jobs_ctx.wechat, clock)

    delivered = {what for _, what in deliveries(fake_wechat)}
    stored = rows(session)
    assert {k for k, r in stored.items() if r.status == "sent"} == delivered
    assert all(r.status == "sending" for k, r in stored.items() if k not in delivered)
    assert stored[keys[5]].status == "sending"

    stored[keys[5]].payload = {"text": "修好了", "template": {"template_id": "tpl-task",
                                                           "data": template_data({"thing1": keys[5]})}}
    session.commit()
    clock.advance(minutes=2)
    drain_outbox(jobs_ctx.session_factory, jobs_ctx.wechat, clock)
    assert {r.status for r in rows(session).values()} == {"sent"}
    assert sorted(what for _, what in deliveries(fake_wechat)) == sorted(keys)


def queue_replies(session, now, openid: str, texts: list[str], *, first: int = 0, **row) -> list[str]:
    """Replies to a user who wrote a minute ago (customer-service only, no template); returns their keys.

    `first`: how many were queued before (the user exists then)."""
    if not first:
        make_wechat_user(session, openid, now - timedelta(days=3), last_message_at=now - timedelta(minutes=1))
    keys = [f"answer:test:{n}" for n in range(first, first + len(texts))]
    for key, text in zip(keys, texts):
        fields = {"kind": "custom", "status": "pending", "attempts": 0, "next_attempt_at": now, "created_at": now,
                  **row}
        session.add(OutboxMessage(idempotency_key=key, recipient_openid=openid, payload={"text": text}, **fields))
    session.commit()
    return keys


def test_a_reply_whose_lost_answer_used_up_the_window_is_recorded_as_arrived(jobs_ctx, session, clock, fake_wechat):
    """The fifth reply's answer is lost (WeChat delivered it after the client gave up); its retry is
    refused with 45047 because WeChat counted it. It was delivered once, so it is recorded as sent,
    not as a dead letter, and nothing else goes in its place."""
    texts = [f"第{n}条答复" for n in range(1, 6)]
    keys = queue_replies(session, clock(), "o-asker", texts)
    jobs_ctx.wechat.access_token  # noqa: B018
    fault(fake_wechat, path="message/custom/send", after=4, delay=2.5, times=1)  # the client waits 2 s

    first = dispatch_outbox(jobs_ctx.session_factory, jobs_ctx.wechat, clock)
    assert (first.sent, first.retried, first.dead) == (4, 1, 0)
    assert "request failed" in rows(session)[keys[4]].last_error
    time.sleep(1)  # the stand-in delivers the delayed one
    clock.advance(minutes=1)

    second = dispatch_outbox(jobs_ctx.session_factory, jobs_ctx.wechat, clock)

    assert (second.sent, second.dead) == (1, 0)
    assert {r.status for r in rows(session).values()} == {"sent"}
    calls = http.get(f"http://{fake_wechat.host}:{fake_wechat.port}/_calls", timeout=5).json()
    assert [c["outcome"] for c in calls if c["path"] == "message/custom/send"][-1] == "errcode 45047"
    assert sorted(what for _, what in deliveries(fake_wechat)) == sorted(texts)


@pytest.mark.parametrize("last_error, attempts", [
    ("None: request failed: ReadTimeoutError", 1),  # an earlier answer was lost, but our own count is full
    ("None: HTTP 502", 1),  # the earlier attempt never reached WeChat
])
def test_a_reply_refused_with_45047_otherwise_is_a_dead_letter(jobs_ctx, session, clock, fake_wechat, last_error,
                                                                attempts):
    """When the count was used up by messages recorded as sent, or the earlier attempt never left,
    a 45047 means the reply did not arrive: a dead letter, as WeChat said."""
    full = last_error.endswith("ReadTimeoutError")
    texts = [f"第{n}条答复" for n in range(1, 6 if full else 5)]
    queue_replies(session, clock(), "o-asker", texts)
    jobs_ctx.wechat.access_token  # noqa: B018
    assert dispatch_outbox(jobs_ctx.session_factory, jobs_ctx.wechat, clock).sent == len(texts)
    if not full:
        fault(fake_wechat, path="message/custom/send", errcode=45047, times=1)
    key = queue_replies(session, clock(), "o-asker", ["还有一条"], first=len(texts), attempts=attempts,
                        last_error=last_error)[0]

    report = dispatch_outbox(jobs_ctx.session_factory, jobs_ctx.wechat, clock)

    assert (report.sent, report.dead) == (0, 1)
    assert rows(session)[key].status == "dead"
