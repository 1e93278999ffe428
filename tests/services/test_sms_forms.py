"""Every push to staff can reach someone without WeChat: each kind carries an SMS form, of a template
kind the README lists, with exactly the variables of its wording and nothing anyone wrote or said; or
it is one of the few kinds that never go by SMS (`services.policy.sms.NEVER_BY_SMS`).

A new kind of push must be placed in one of the tables below, so none can silently lack an SMS form.
The flows run as the chat, the dashboard and the scheduler run them, with a fixed `now`, on the 包联
chain's world with everyone bound to WeChat and every template kind registered.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from models import FamilyLink, InboundMessage, MediaItem, OutboxMessage, ServiceRequest, WeChatUser
from models.enums import (
    BeneficiaryCategory,
    CheckinPlan,
    CheckinSource,
    MediaKind,
    MediaStatus,
    PushKind,
    RequestCategory,
    Urgency,
)
from scheduler import calendar
from scheduler.jobs import JobContext, escalation_job
from services import casework, checkins, media, sos, transcripts
from services import requests as service
from services import responsibility_admin as admin
from services import texts
from services.policy.classify import Classification
from services.policy.sms import NEVER_BY_SMS
from tests.conftest import TEST_SMS_KEY_ID, TEST_SMS_KEY_SECRET, TEST_SMS_SIGN
from tests.support.chain import make_chain_town, name_chain
from tests.support.factories import fresh, make_beneficiary, make_wechat_user

TZ = ZoneInfo("Asia/Shanghai")
GRACE = timedelta(minutes=180)
# Every kind the product words (services/texts.py), registered under a code of its own.
CODES = {kind: f"SMS_5000{n:02d}" for n, kind in enumerate(texts.SMS_TEMPLATES, start=1)}
VARIABLES = {kind: set(re.findall(r"\$\{(\w+)\}", wording)) for kind, wording in texts.SMS_TEMPLATES.items()}
# What people wrote or said in the flows: none of it may be in an SMS.
WRITTEN = ("我妈腿疼药吃完了", "她说腿更疼了", "家里水管坏了", "我摔倒了起不来")

# Pushes that never go to a member of staff: notices to requesters, family members and
# beneficiaries (by SMS to a beneficiary's own phone where they have one: tests/runtime/
# test_sms_beneficiary.py), the answer to a chat message (its reader has just written on WeChat),
# and SMS, which is the text-message form of another push.
NOT_TO_STAFF = frozenset({
    PushKind.ANSWER, PushKind.ACK, PushKind.RELAY_REPLY, PushKind.RESOLVED, PushKind.FAMILY_RESOLVED,
    PushKind.REASSIGNED_REQUESTER, PushKind.FAMILY_VISIT, PushKind.FAMILY_LOGGED, PushKind.ADVICE,
    PushKind.CHECKIN_REMIND, PushKind.SMS,
})
# Each kind of push to staff, and the flow (a method of Flows) that queues one.
TO_STAFF = {
    PushKind.TASK: "new_case",
    PushKind.MESSAGE: "follow_up",
    PushKind.REASSIGNED: "reassign",
    PushKind.SUPERVISED: "supervise",
    PushKind.CANCELLED: "cancel",
    PushKind.ESCALATE: "urgent_unaccepted",
    PushKind.ESCALATE_REPEAT: "urgent_unaccepted",
    PushKind.ESCALATE_DIGEST: "escalation_digest",
    PushKind.REMIND: "morning_visits",
    PushKind.VISIT_OVERDUE: "morning_visits",
    PushKind.DIGEST_TOWN: "town_digest",
    PushKind.DIGEST_LIAISON: "night_shift",
    PushKind.DIGEST_CITY: "city_summary",
    PushKind.REPORT_MONTHLY: "monthly_report",
    PushKind.MEDIA: "voice",
    PushKind.TRANSCRIPT: "voice",
    PushKind.URGENT_TASK: "voice_shows_danger",
    PushKind.SOS_REPEAT: "sos_again",
    PushKind.CHECK_ON_SETTLED: "checked_in_after_16",
}


def local(day: int, hour: int, minute: int = 0) -> datetime:
    """A Shanghai time in December 2026 (the 1st is a Tuesday, the 7th a Monday)."""
    return datetime(2026, 12, day, hour, minute, tzinfo=TZ)


class Flows:
    """The product's flows on the chain's world, each at a fixed time, through the real services."""

    def __init__(self, app, session, clock):
        svc = app.extensions["sanzhida"]
        self.session, self.clock, self.env = session, clock, svc.request_env
        self.ctx = JobContext(session_factory=svc.session_factory, wechat=svc.wechat, env=svc.request_env)
        self.world = make_chain_town(session, local(1, 8))
        name_chain(session, self.world, local(1, 8))

    def at(self, moment: datetime) -> datetime:
        """Move the clock to `moment` and return it."""
        self.clock.now = moment
        return moment

    def raise_case(self, when: datetime, urgency: Urgency = Urgency.NORMAL,
                   summary: str = WRITTEN[0]) -> ServiceRequest:
        """A family member's request about someone in the first village, through the service."""
        fresh(self.session)
        elder = make_beneficiary(self.session, self.world.villages[0], when - timedelta(days=60),
                                 assistant=self.world.assistants[0])
        family = make_wechat_user(self.session, f"o-family-{elder.id}", when)
        request = service.open_request(self.session, self.env, beneficiary=elder, summary=summary,
                                       classification=Classification(RequestCategory.MEDICAL, urgency),
                                       now=self.at(when), user=family)
        self.session.commit()
        return request

    def scan(self, *moments: datetime) -> None:
        """The escalation scan at each moment."""
        for moment in moments:
            escalation_job(self.ctx, self.at(moment))

    def calendar_job(self, job_id: str, when: datetime) -> None:
        """Run one of the scheduler's calendar jobs as due at `when`."""
        job = next(j for j in calendar.calendar_jobs(TZ) if j.id == job_id)
        assert calendar.run_calendar_job(self.ctx, job, self.at(when), GRACE) == "ran"

    def voice_case(self, words: str) -> None:
        """A case with a voice nobody has heard yet: it is forwarded to the assignee, then its words arrive."""
        request = self.raise_case(local(1, 9), summary="[语音留言]")
        item = MediaItem(wechat_media_id=f"m-{request.id}", request_id=request.id, kind=MediaKind.VOICE.value,
                         status=MediaStatus.STORED.value, attempts=1, next_attempt_at=local(1, 9),
                         transcript_attempts=0, created_at=local(1, 9), fetched_at=local(1, 9))
        self.session.add(item)
        self.session.flush()
        media.forward_to_assignee(self.session, item, self.at(local(1, 9, 1)), tz=self.env.tz)
        transcripts.apply_transcript(self.session, self.env, item, words, self.at(local(1, 9, 2)))
        self.session.commit()

    # --- the flows -------------------------------------------------------------------------------

    def new_case(self):
        self.raise_case(local(1, 9))

    def follow_up(self):
        request = self.raise_case(local(1, 9))
        family = self.session.get(WeChatUser, request.raised_by_wechat_user_id)
        inbound = InboundMessage(dedupe_key=f"msg:{request.id}", openid=family.openid, msg_type="text",
                                 sent_at=local(1, 9, 10), received_at=local(1, 9, 10), content=WRITTEN[1],
                                 payload={"MsgType": "text", "Content": WRITTEN[1]}, handled_at=local(1, 9, 10))
        self.session.add(inbound)
        self.session.flush()
        service.append_message(self.session, self.env, request, family, inbound, self.at(local(1, 9, 10)))
        self.session.commit()

    def reassign(self):
        request = self.raise_case(local(1, 9))
        casework.reassign(self.session, self.env, request, self.world.officers[1], self.world.assistants[1].staff_no,
                          self.at(local(1, 9, 30)))
        self.session.commit()

    def supervise(self):
        request = self.raise_case(local(1, 9))
        casework.supervise(self.session, self.env, request, self.world.liaisons[0], self.at(local(1, 9, 30)))
        self.session.commit()

    def cancel(self):
        request = self.raise_case(local(1, 9))
        family = self.session.get(WeChatUser, request.raised_by_wechat_user_id)
        casework.cancel(self.session, self.env, request, family, self.at(local(1, 9, 30)))
        self.session.commit()

    def urgent_unaccepted(self):
        # Every rung of an urgent case nobody accepts, up to the repeats of the last one.
        self.raise_case(local(1, 10), Urgency.URGENT)
        self.scan(*(local(1, 10, 15) + timedelta(minutes=5 * n) for n in range(14)))

    def escalation_digest(self):
        # Three cases climb in one scan: the officers and the assistant get one push listing them.
        self.raise_case(local(1, 9))
        self.raise_case(local(1, 10, 40), Urgency.URGENT)
        self.raise_case(local(1, 10, 45), Urgency.URGENT)
        self.scan(local(1, 11))

    def morning_visits(self):
        for name in ("张秀英", "李桂兰"):
            make_beneficiary(self.session, self.world.villages[0], local(1, 8) - timedelta(days=40),
                             assistant=self.world.assistants[0], name=name, categories=[BeneficiaryCategory.TEKUN])
        self.session.commit()
        self.calendar_job("visit_reminders", local(2, 8))

    def town_digest(self):
        self.raise_case(local(1, 9))
        self.calendar_job("town_digest", local(2, 8, 30))

    def night_shift(self):
        # The person on duty stood in for the health liaison overnight: the liaison hears of it at 08:30.
        admin.add_duty_shift(self.session, self.world.liaisons[3], local(1, 17, 30), local(2, 8, 30), local(1, 8))
        self.session.commit()
        self.raise_case(local(1, 23, 30), Urgency.URGENT)
        self.scan(local(2, 0, 15), local(2, 0, 25))
        self.calendar_job("town_digest", local(2, 8, 30))

    def city_summary(self):
        self.raise_case(local(3, 9))
        self.calendar_job("city_summary", local(7, 9))

    def monthly_report(self):
        self.raise_case(local(1, 8, 30))
        self.calendar_job("monthly_report", local(1, 9))

    def voice(self):
        self.voice_case(WRITTEN[2])

    def voice_shows_danger(self):
        self.voice_case(WRITTEN[3])

    def sos_again(self):
        # 紧急求助 tapped (the officers hear at once), tapped again, then the place picked.
        fresh(self.session)
        elder = make_beneficiary(self.session, self.world.villages[0], local(1, 8) - timedelta(days=60),
                                 assistant=self.world.assistants[0])
        family = make_wechat_user(self.session, f"o-family-{elder.id}", local(1, 9))
        tap = {"MsgType": "event", "Event": "CLICK", "EventKey": "SOS"}
        place = {"MsgType": "location", "Location_X": "30.657412", "Location_Y": "113.914286", "Label": "东湾村"}
        for minute, payload in ((0, tap), (5, tap), (6, place)):
            at = self.at(local(1, 9, minute))
            inbound = InboundMessage(dedupe_key=f"sos:{elder.id}:{minute}", openid=family.openid,
                                     msg_type=payload["MsgType"], sent_at=at, received_at=at, payload=payload,
                                     handled_at=at)
            self.session.add(inbound)
            self.session.flush()
            if payload is tap:
                request, _ = sos.raise_sos(self.session, self.env, elder, family, inbound, at)
            else:
                sos.attach_place(self.session, self.env, request, family, inbound, sos.place_of(inbound), at)
        self.session.commit()

    def checked_in_after_16(self):
        # Silent all day on a daily plan: the 联系 case at 16:00; her son taps 报平安 at 17:05.
        fresh(self.session)
        elder = make_beneficiary(self.session, self.world.villages[0], local(1, 8) - timedelta(days=60),
                                 assistant=self.world.assistants[0])
        elder.checkin_plan = CheckinPlan.DAILY.value
        son = make_wechat_user(self.session, f"o-son-{elder.id}", local(1, 8))
        self.session.add(FamilyLink(beneficiary_id=elder.id, wechat_user_id=son.id, relation="子女", active=True,
                                    created_at=local(1, 8)))
        self.session.commit()
        self.calendar_job("checkin_silences", local(1, 16))
        fresh(self.session)
        checkins.record_checkin(self.session, elder, self.at(local(1, 17, 5)), source=CheckinSource.MENU,
                                env=self.env, wechat_user=son)
        self.session.commit()


def sms_problems(row: OutboxMessage) -> list[str]:
    """What is wrong with the SMS form a push to staff carries, or with one it should not carry."""
    kind = PushKind(row.idempotency_key.split(":")[0])
    form = row.payload.get("sms")
    if kind in NEVER_BY_SMS:
        return [] if form is None else ["it has an SMS form, yet it never goes by SMS"]
    if form is None:
        return ["no SMS form"]
    if form["template"] not in CODES:
        return [f"its template {form['template']!r} is none the product words"]
    params = form["params"]
    found = []
    if set(params) != VARIABLES[form["template"]]:
        found.append(f"variables {sorted(params)} are not {sorted(VARIABLES[form['template']])}")
    found += [f"{name} {value!r} is not 1 to 35 characters" for name, value in params.items()
              if not 0 < len(value) <= 35]
    found += [f"{name} holds what someone wrote or said" for name, value in params.items()
              if any(words[:4] in value for words in WRITTEN)]
    return found


def test_every_kind_of_push_is_either_to_staff_or_not():
    """A new kind of push is placed in one table or the other (and, to staff, gets a flow below)."""
    assert not NOT_TO_STAFF & set(TO_STAFF)
    assert set(PushKind) == NOT_TO_STAFF | set(TO_STAFF)
    assert NEVER_BY_SMS <= set(TO_STAFF)


@pytest.mark.parametrize("kind", list(TO_STAFF), ids=lambda kind: kind.value)
def test_every_push_to_staff_has_an_sms_form_unless_it_never_goes_by_sms(make_app, session, clock, fake_wechat,
                                                                         fake_sms, kind):
    """Each push of the kind the flow queued to staff carries an SMS form of a registered template,
    with its wording's variables, short, without anyone's words; or none, for a kind never by SMS."""
    app = make_app(sms_provider="aliyun", sms_endpoint=fake_sms.url, sms_access_key_id=TEST_SMS_KEY_ID,
                   sms_access_key_secret=TEST_SMS_KEY_SECRET, sms_sign_name=TEST_SMS_SIGN,
                   sms_templates=tuple(CODES.items()))
    getattr(Flows(app, session, clock), TO_STAFF[kind])()
    fresh(session)
    rows = [row for row in session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
            if row.recipient_staff_id is not None and row.kind != "sms"]
    assert any(row.idempotency_key.split(":")[0] == kind.value for row in rows), f"the flow queued no {kind} push"
    # Every push to staff the flow queued, of this kind or another, is held to the rule.
    assert {row.idempotency_key: sms_problems(row) for row in rows} == {row.idempotency_key: [] for row in rows}


def test_without_sms_no_push_carries_a_form(make_app, session, clock, fake_wechat):
    """SMS off: the same pushes are queued without an SMS form, and nothing goes by SMS."""
    Flows(make_app(), session, clock).reassign()
    fresh(session)
    rows = session.scalars(select(OutboxMessage)).all()
    assert any(row.idempotency_key.startswith("reassigned:") for row in rows)
    assert all("sms" not in row.payload and row.kind != "sms" for row in rows)
