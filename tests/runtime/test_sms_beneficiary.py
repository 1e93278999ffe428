"""Short text messages to beneficiaries nobody can reach on WeChat: a request logged for them (代办),
a visit and a resolved case, through the real services and dispatcher, against the Aliyun SMS
stand-in on a real port; nothing by SMS once someone of theirs is bound on WeChat."""

from __future__ import annotations

import re

import pytest
import requests as http

from devtools.fake_sms import FakeSmsServer
from models import Beneficiary, FamilyLink, ServiceRequest
from models.enums import PushKind, RequestChannel
from scheduler.jobs import outbox_job
from services import casework, on_behalf, texts, visits
from services.notify import sms_text
from services.policy.commands import VisitReport
from services.requests import notify_family
from tests.conftest import TEST_SMS_KEY_ID, TEST_SMS_KEY_SECRET, TEST_SMS_SIGN
from tests.runtime.test_sms_outbox import context, local, outbox, sent_to, sms_calls
from tests.scheduler.conftest import at
from tests.support.factories import make_beneficiary, make_town, make_wechat_user

CODES = {"task": "SMS_300001", "urgent": "SMS_300002", "received": "SMS_300003", "visited": "SMS_300004",
         "resolved": "SMS_300005"}
# Registered with the variables of the wording in services/texts.py.
REGISTERED = {code: re.findall(r"\$\{(\w+)\}", texts.SMS_TEMPLATES[kind]) for kind, code in CODES.items()}


@pytest.fixture
def sms():
    """The Aliyun SMS stand-in with every template of the product registered."""
    server = FakeSmsServer(access_key_id=TEST_SMS_KEY_ID, access_key_secret=TEST_SMS_KEY_SECRET,
                           sign_names=(TEST_SMS_SIGN,), templates=REGISTERED).start()
    yield server
    server.stop()


def sms_context(make_app, server):
    """The job context with every template kind registered."""
    return context(make_app, server, sms_templates=tuple(CODES.items()))


def log_by_phone(session, ctx, town, elder, when):
    """The assistant logs the elder's phoned-in request (代办) and commits."""
    request = on_behalf.log_on_behalf(session, ctx.env, town.assistant, beneficiary_id=elder.id,
                                      channel=RequestChannel.PHONE, content="家里水管漏水", now=when)
    session.commit()
    return request


def test_a_request_logged_by_phone_tells_an_unbound_beneficiary_by_sms_once(make_app, session, clock, sms,
                                                                            fake_wechat):
    """The elder has a phone and nobody on WeChat: one "received" SMS with the assistant's name and phone."""
    town = make_town(session, local(9))
    ctx = sms_context(make_app, sms)
    elder = make_beneficiary(session, town.village, local(9), assistant=town.assistant, phone="13912340001")
    session.commit()
    request = log_by_phone(session, ctx, town, elder, at(clock, local(10)))
    for _ in range(3):
        outbox_job(ctx, local(10, 1))
    [message] = sent_to(sms, "13912340001")
    assert message["template"] == CODES["received"] and message["sign_name"] == TEST_SMS_SIGN
    assert message["params"] == {"number": str(request.id), "name": town.assistant.name,
                                 "phone": town.assistant.phone}
    row = outbox(session)[f"sms:family-logged:{request.id}:phone"]
    assert (row.kind, row.status, row.recipient_phone) == ("sms", "sent", "13912340001")
    # The same notice offered again (a retried transaction) queues nothing more.
    again = notify_family(session, ctx.env, session.get(Beneficiary, elder.id), local(10, 2),
                          kind=PushKind.FAMILY_LOGGED, ref=request.id, text="x", what="x", who="x",
                          request=session.get(ServiceRequest, request.id),
                          sms=sms_text("received", number=request.id, name="x", phone="x"))
    session.commit()
    outbox_job(ctx, local(10, 3))
    assert again == 0 and len(sent_to(sms, "13912340001")) == 1


def test_a_bound_family_member_means_no_sms(make_app, session, clock, sms, fake_wechat):
    """A son bound on WeChat gets the notice there; the elder's phone gets nothing."""
    town = make_town(session, local(9))
    ctx = sms_context(make_app, sms)
    elder = make_beneficiary(session, town.village, local(9), assistant=town.assistant, phone="13912340002")
    son = make_wechat_user(session, "o-son-sms", local(9))
    session.add(FamilyLink(beneficiary_id=elder.id, wechat_user_id=son.id, relation="子女", active=True,
                           created_at=local(9)))
    session.commit()
    request = log_by_phone(session, ctx, town, elder, at(clock, local(10)))
    outbox_job(ctx, local(10, 1))
    rows = outbox(session)
    assert f"family-logged:{request.id}:{son.id}" in rows
    assert not any(key.startswith(f"sms:family-logged:{request.id}") for key in rows)
    assert sent_to(sms, "13912340002") == [] and all(c["template"] != CODES["received"] for c in sms_calls(sms))


def test_without_sms_configured_nothing_goes(make_app, session, clock, sms, fake_wechat):
    """SMS_PROVIDER unset: the unbound elder gets nothing, and nothing is queued for them."""
    town = make_town(session, local(9))
    ctx = context(make_app)
    elder = make_beneficiary(session, town.village, local(9), assistant=town.assistant, phone="13912340003")
    session.commit()
    request = log_by_phone(session, ctx, town, elder, at(clock, local(10)))
    assert not any(key.startswith("sms:") for key in outbox(session)) and request.id


def test_a_visit_and_a_resolved_case_reach_an_unbound_beneficiary_by_sms(make_app, session, clock, sms,
                                                                          fake_wechat):
    """The visit's notice and the resolved case's go to the elder's phone, with their registered wording."""
    town = make_town(session, local(9))
    ctx = sms_context(make_app, sms)
    elder = make_beneficiary(session, town.village, local(9), assistant=town.assistant, phone="13912340004")
    session.commit()
    visits.record_visit(session, ctx.env, town.assistant, VisitReport(beneficiary_id=elder.id), at(clock, local(10)))
    session.commit()
    request = log_by_phone(session, ctx, town, elder, at(clock, local(10, 5)))
    casework.resolve(session, ctx.env, request, town.assistant, "已请师傅修好水管", at(clock, local(11)))
    session.commit()
    for minute in (12, 14, 16):
        # One a minute per phone at most (Aliyun's flow control): the three go on three ticks, the
        # stand-in's clock moved on as well.
        outbox_job(ctx, local(11, minute))
        http.post(f"{sms.url}_clock", json={"advance": 120}, timeout=5).raise_for_status()
    kinds = {c["template"]: c["params"] for c in sent_to(sms, "13912340004")}
    assert kinds[CODES["visited"]] == {"name": town.assistant.name, "result": texts.VISIT_ALL_FINE.rstrip("。"),
                                       "phone": town.assistant.phone}
    assert kinds[CODES["resolved"]] == {"number": str(request.id), "note": "已请师傅修好水管"}
    assert CODES["received"] in kinds
