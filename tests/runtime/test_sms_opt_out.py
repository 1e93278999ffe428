"""The dispatcher and SMS opt-outs (回复TD退订): nothing more by SMS to a beneficiary whose phone opted
out, the row ending `skipped` with why; urgent SMS to staff still go, since a member of staff's phone is
their duty phone. Through the real services and dispatcher, against the Aliyun SMS stand-in."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from devtools.fake_sms import FakeSmsServer
from models import OutboxMessage
from runtime.dispatch import OPTED_OUT, dispatch_outbox
from scheduler.jobs import outbox_job
from services import casework, sms_replies
from services.notify import insert_outbox, sms_row, sms_text
from services.sms_replies import Reply
from tests.conftest import TEST_SMS_KEY_ID, TEST_SMS_KEY_SECRET, TEST_SMS_SIGN
from tests.runtime.test_sms_beneficiary import CODES, REGISTERED, log_by_phone, sms_context
from tests.runtime.test_sms_outbox import context, local, raise_urgent, sent_to, tick
from tests.scheduler.conftest import at
from tests.support.factories import fresh, make_beneficiary, make_town


@pytest.fixture
def sms():
    """The Aliyun SMS stand-in with every template of the product registered."""
    server = FakeSmsServer(access_key_id=TEST_SMS_KEY_ID, access_key_secret=TEST_SMS_KEY_SECRET,
                           sign_names=(TEST_SMS_SIGN,), templates={**REGISTERED, "SMS_200002": None}).start()
    yield server
    server.stop()


def opt_out(session, phone: str, when, *, out: bool = True) -> None:
    """The phone's owner replied TD (or 恢复) at `when`, as the provider's push records it."""
    sms_replies.record_replies(session, [Reply(phone=phone, opts_out=out, replied_at=when)], when)
    session.commit()


def rows_to(session, phone: str) -> list[OutboxMessage]:
    """The SMS rows to one phone, as committed."""
    fresh(session)
    return list(session.scalars(select(OutboxMessage).where(OutboxMessage.recipient_phone == phone)
                                .order_by(OutboxMessage.id)))


def test_an_opted_out_beneficiary_gets_no_sms_and_each_row_says_why(make_app, session, clock, sms, fake_wechat):
    """The elder replied TD: the received and resolved notices are skipped, never reaching the provider;
    a neighbour who did not opt out gets theirs in the same runs."""
    town = make_town(session, local(9))
    ctx = sms_context(make_app, sms)
    elder = make_beneficiary(session, town.village, local(9), assistant=town.assistant, phone="13912349001")
    neighbour = make_beneficiary(session, town.village, local(9), assistant=town.assistant, phone="13912349002")
    session.commit()
    opt_out(session, elder.phone, local(9, 30))
    request = log_by_phone(session, ctx, town, elder, at(clock, local(10)))
    log_by_phone(session, ctx, town, neighbour, at(clock, local(10)))
    casework.resolve(session, ctx.env, request, town.assistant, "已请师傅修好水管", at(clock, local(11)))
    session.commit()
    for minute in (1, 3):
        outbox_job(ctx, local(11, minute))
    assert sent_to(sms, elder.phone) == []
    rows = rows_to(session, elder.phone)
    assert {(r.status, r.last_error) for r in rows} == {("skipped", OPTED_OUT)}
    templates = {r.payload["sms"]["template"] for r in rows}
    assert templates == {"received", "resolved"} and all(r.sent_at is None for r in rows)
    [theirs] = sent_to(sms, neighbour.phone)
    assert theirs["template"] == CODES["received"]


def test_a_skipped_sms_is_not_tried_again_and_opting_back_in_lets_new_ones_go(make_app, session, clock, sms,
                                                                              fake_wechat):
    """Skipped is final; after 恢复 the next notice goes."""
    town = make_town(session, local(9))
    ctx = sms_context(make_app, sms)
    elder = make_beneficiary(session, town.village, local(9), assistant=town.assistant, phone="13912349003")
    session.commit()
    opt_out(session, elder.phone, local(9, 30))
    first = log_by_phone(session, ctx, town, elder, at(clock, local(10)))
    report = dispatch_outbox(ctx.session_factory, ctx.wechat, lambda: local(10, 1))
    assert report.skipped == 1 and sent_to(sms, elder.phone) == []
    assert dispatch_outbox(ctx.session_factory, ctx.wechat, lambda: local(12)).claimed == 0
    opt_out(session, elder.phone, local(12, 30), out=False)
    casework.resolve(session, ctx.env, first, town.assistant, "已办好", at(clock, local(13)))
    session.commit()
    outbox_job(ctx, local(13, 1))
    [message] = sent_to(sms, elder.phone)
    assert message["template"] == CODES["resolved"]
    assert [r.status for r in rows_to(session, elder.phone)] == ["skipped", "sent"]


def test_an_urgent_escalation_still_reaches_an_opted_out_officer_and_a_routine_sms_does_not(
        make_app, session, clock, sms, fake_wechat):
    """The officer (no WeChat) replied TD: rung 1 of an urgent case reaches them by SMS all the same; a
    routine text to the same phone is skipped."""
    town = make_town(session, local(9))
    town.officer.wechat_user = None
    session.commit()
    opt_out(session, town.officer.phone, local(9, 30))
    ctx = context(make_app, sms)
    number = raise_urgent(session, ctx, town, at(clock, local(10)))
    insert_outbox(session, [sms_row("sms:test-routine:1", town.officer.phone, sms_text("task", number=1, name="x",
                                                                                        village="x", what="x"),
                                    town.officer, None, local(10), local(10))])
    session.commit()
    tick(ctx, clock, local(10, 15))
    [message] = sent_to(sms, town.officer.phone)
    assert message["params"]["number"] == str(number)
    statuses = {r.idempotency_key: r.status for r in rows_to(session, town.officer.phone)}
    assert statuses == {f"sms:escalate:{number}:1:{town.officer.id}": "sent", "sms:test-routine:1": "skipped"}
