"""报平安 silences: at 10:00 the family of anyone on a plan not heard from is reminded; at 16:00, still
nothing, the assistant gets a 联系 case to call or visit.

Both scans start set-based: one INSERT … SELECT notes the silence of every beneficiary on a plan
who gave no sign of life since the period began (`silences`, unique per beneficiary and period, so
a second run or a second scheduler adds nothing); at 10:00 it also marks as reminded those who have
someone to remind. The reminders are then read in one joined query and queued as one batch of
outbox rows; only the silences raised at 16:00 load their beneficiaries, to open and route each
case as any request is opened.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import and_, case, literal, null, or_, select, true, update
from sqlalchemy.orm import Session, aliased, selectinload

from models import Assignment, Beneficiary, FamilyLink, Region, Silence, Staff, WeChatUser
from models.db import insert_ignoring_conflicts
from models.enums import CheckinPlan, PushKind, Relation, RequestCategory, RequestChannel, RequestSource, Urgency
from services import requests as request_service
from services import texts
from services.notify import Delivery, Push, enqueue_many, local_time, push_key, sms_text
from services.policy import silence as rules
from services.policy.classify import Classification
from services.policy.sms import FALLBACK_PHONE
from services.scope import city_towns

logger = logging.getLogger(__name__)

# Ids per IN list: well under the drivers' parameter limits, whatever the size of the city.
CHUNK = 5000
# The SMS template kind of the reminder (texts.SMS_TEMPLATES).
SMS_CHECKIN = "checkin"


@dataclass(frozen=True)
class Follower:
    """What a push needs of a WeChat user (as `services.notify` reads a WeChatUser), read with the
    silence: thousands of reminders do not load thousands of ORM objects."""

    id: int
    openid: str
    subscribed: bool


@dataclass(frozen=True)
class Period:
    """One plan's period checked today: the plan, its first local day, and the instant it began."""

    plan: str
    start: date
    since: datetime


def periods(now: datetime, tz) -> list[Period]:
    """The plans checked on the local day of `now`, each with its period."""
    today = now.astimezone(tz).date()
    return [Period(plan, rules.period_start(plan, today), rules.period_start_at(plan, today, tz))
            for plan in rules.plans_checked(today)]


def still_silent(period: Period):
    """SQL: an active beneficiary on the period's plan, on the rolls when it began, not heard from since.

    Written so PostgreSQL answers it from the partial index ix_beneficiaries_checkin_due.
    """
    return and_(
        Beneficiary.checkin_plan != CheckinPlan.OFF.value,
        Beneficiary.active == true(),
        Beneficiary.checkin_plan == period.plan,
        or_(Beneficiary.last_contact_at.is_(None), Beneficiary.last_contact_at < period.since),
        Beneficiary.created_at < period.since,
    )


def note_silences(session: Session, period: Period, now: datetime, reminding=None, city_id: int | None = None) -> None:
    """Add a silence for every beneficiary still silent in the period who has none yet (one INSERT … SELECT),
    in one city when `city_id` is given.

    `reminding` (SQL on the beneficiary): those it holds for are noted as reminded at `now`.
    """
    columns = Silence.__table__.c
    reminded = (case((reminding, literal(now, columns.reminded_at.type)), else_=null()) if reminding is not None
                else null())
    chosen = (
        select(Beneficiary.id, Beneficiary.village_id, Region.parent_id,
               literal(period.plan, columns.plan.type), literal(period.start, columns.period_start.type),
               literal(now, columns.created_at.type), reminded)
        .join(Region, Region.id == Beneficiary.village_id)
        .where(still_silent(period))
    )
    if city_id is not None:
        chosen = chosen.where(Region.parent_id.in_(city_towns(city_id)))
    session.execute(insert_ignoring_conflicts(session, Silence).from_select(
        ["beneficiary_id", "village_id", "town_id", "plan", "period_start", "created_at", "reminded_at"], chosen))


def _open_silences(period: Period):
    """SQL: the period's silences nothing has ended or raised yet."""
    return and_(Silence.period_start == period.start, Silence.plan == period.plan, Silence.ended_at.is_(None),
                Silence.raised_at.is_(None))


# --- 10:00: the family ------------------------------------------------------------------------------


def remind_families(session: Session, env: request_service.RequestEnv, now: datetime,
                    city_id: int | None = None) -> int:
    """Remind the bound family of everyone on a plan not heard from this period (of one city, or of the
    whole deployment); pushes queued.

    The silences are noted as reminded as they are written, for everyone there is someone to remind
    (`_reachable`), so no UPDATE of thousands of rows follows the pushes.
    """
    queued = 0
    for period in periods(now, env.tz):
        note_silences(session, period, now, reminding=_reachable(env), city_id=city_id)
        queued += _remind(session, env, period, now, city_id)
    return queued


def _sms_on(env: request_service.RequestEnv) -> bool:
    """Whether a reminder can go by SMS: SMS is on with the `checkin` template registered."""
    return env.sms is not None and SMS_CHECKIN in env.sms.templates


def _reachable(env: request_service.RequestEnv):
    """SQL: the beneficiary has someone to remind, as `_reminder` decides: a bound WeChat user (family,
    or themself) with notices on who still follows the account; or nobody bound at all, a phone, and SMS on."""
    follower = (
        select(FamilyLink.id).join(WeChatUser, WeChatUser.id == FamilyLink.wechat_user_id)
        .where(FamilyLink.beneficiary_id == Beneficiary.id, FamilyLink.active == true(),
               FamilyLink.notify == true(), WeChatUser.subscribed == true())
        .exists()
    )
    if not _sms_on(env):
        return follower
    bound = select(FamilyLink.id).where(FamilyLink.beneficiary_id == Beneficiary.id, FamilyLink.active == true())
    return or_(follower, and_(~bound.exists(), Beneficiary.phone.is_not(None), Beneficiary.phone != ""))


def _remind(session: Session, env: request_service.RequestEnv, period: Period, now: datetime,
            city_id: int | None = None) -> int:
    """Queue the reminders of the period's silences noted as reminded in this run (in one city)."""
    town, assistant = aliased(Region), aliased(Staff)
    village = aliased(Region)
    stmt = (
        select(Silence.id, Silence.beneficiary_id, Beneficiary.name, Beneficiary.phone, FamilyLink.relation,
               FamilyLink.notify, WeChatUser.id.label("user_id"), WeChatUser.openid, WeChatUser.subscribed,
               assistant.name.label("staff"), assistant.phone.label("staff_phone"), town.office_phone)
        .join(Beneficiary, Beneficiary.id == Silence.beneficiary_id)
        .outerjoin(FamilyLink, and_(FamilyLink.beneficiary_id == Silence.beneficiary_id, FamilyLink.active == true()))
        .outerjoin(WeChatUser, WeChatUser.id == FamilyLink.wechat_user_id)
        .outerjoin(Assignment, and_(Assignment.beneficiary_id == Silence.beneficiary_id, Assignment.ended_at.is_(None)))
        .outerjoin(assistant, assistant.id == Assignment.staff_id)
        .join(village, village.id == Silence.village_id)
        .join(town, town.id == village.parent_id)
        .where(_open_silences(period), Silence.reminded_at == now)
        .order_by(Silence.id)
    )
    if city_id is not None:
        # The cities of one run share its `now`: those already done are not queued again.
        stmt = stmt.where(Silence.town_id.in_(city_towns(city_id)))
    rows = session.execute(stmt).all()
    sent_at = local_time(now, env.tz)
    queued = 0
    # A slice at a time: a city's tens of thousands of pushes are never all built in memory at once.
    for batch in _chunks(rows):
        deliveries = [delivery for row in batch if (delivery := _reminder(env, period, row, sent_at)) is not None]
        if deliveries:
            queued += sum(enqueue_many(session, deliveries, now, tz=env.tz, sms=env.sms))
    logger.info("checkin=remind plan=%s period=%s reminded=%s pushes=%s", period.plan,
                period.start.isoformat(), len({row.id for row in rows}), queued)
    return queued


def _reminder(env: request_service.RequestEnv, period: Period, row, sent_at: str) -> Delivery | None:
    """One row's reminder: to a bound family member (or the beneficiary bound as 本人) with notices on, or
    by SMS to the beneficiary's own phone when nobody is bound at all; None when neither applies."""
    when = texts.CHECKIN_WHEN[period.plan]
    start = period.start.isoformat()
    if row.relation is None:
        # Nobody (the beneficiary included) is bound on WeChat: a text to their own phone, if SMS is on.
        if not _sms_on(env) or not row.phone:
            return None
        staff, phone = (row.staff, row.staff_phone) if row.staff and row.staff_phone else (
            texts.TOWN_OFFICE, row.office_phone or FALLBACK_PHONE)
        push = Push(key=push_key(PushKind.CHECKIN_REMIND, row.beneficiary_id, start, "phone"),
                    text=texts.PUSH_CHECKIN_REMIND_SELF.format(name=row.name, when=when),
                    template_id=env.templates.progress, fields={},
                    sms=sms_text(SMS_CHECKIN, name=row.name, when=when, staff=staff, phone=phone))
        return Delivery(push, None, phone=row.phone)
    # One who opted out of notices is bound all the same: no reminder, and no SMS either.
    if not row.notify or row.user_id is None or not row.subscribed:
        return None
    user = Follower(row.user_id, row.openid, row.subscribed)
    if row.relation == Relation.SELF.value:
        text = texts.PUSH_CHECKIN_REMIND_SELF.format(name=row.name, when=when)
    else:
        text = texts.PUSH_CHECKIN_REMIND_FAMILY.format(
            who=texts.CHECKIN_RELATION_WORDS.get(row.relation, ""), name=row.name, when=when)
    push = Push(
        key=push_key(PushKind.CHECKIN_REMIND, row.beneficiary_id, start, user.id), text=text,
        template_id=env.templates.progress,
        # A template's "who" is whom to call: their assistant, else the town office.
        fields={"character_string1": row.beneficiary_id,
                "thing2": texts.CHECKIN_REMIND_WHAT.format(name=row.name, when=when),
                "thing3": row.staff or texts.TOWN_OFFICE, "time4": sent_at},
    )
    return Delivery(push, user)


# --- 16:00: the assistant ---------------------------------------------------------------------------


def raise_silences(session: Session, env: request_service.RequestEnv, now: datetime,
                   city_id: int | None = None) -> int:
    """Open one 联系 case for each silence of today's periods still without a sign of life (in one city,
    or in the whole deployment); cases opened."""
    opened = 0
    for period in periods(now, env.tz):
        # A silence the 10:00 scan did not note (it found nobody to remind, or did not run) is noted now.
        note_silences(session, period, now, city_id=city_id)
        opened += _raise(session, env, period, now, city_id)
    return opened


def _raise(session: Session, env: request_service.RequestEnv, period: Period, now: datetime,
           city_id: int | None = None) -> int:
    """Claim the period's open silences (raised_at set where still NULL, so each is raised once,
    whichever process gets there first) and open a case for each one claimed."""
    where = [_open_silences(period), Silence.beneficiary_id.in_(select(Beneficiary.id).where(still_silent(period)))]
    if city_id is not None:
        where.append(Silence.town_id.in_(city_towns(city_id)))
    claimed = sorted(session.execute(
        update(Silence)
        .where(*where)
        .values(raised_at=now)
        .returning(Silence.id, Silence.beneficiary_id)
        .execution_options(synchronize_session=False)
    ).all())
    when = texts.CHECKIN_WHEN[period.plan]
    for batch in _chunks(claimed):
        people = {b.id: b for b in session.scalars(
            select(Beneficiary).where(Beneficiary.id.in_([bid for _, bid in batch]))
            .options(selectinload(Beneficiary.village).selectinload(Region.parent))
        )}
        for silence_id, beneficiary_id in batch:
            person = people[beneficiary_id]
            request = request_service.open_request(
                session, env, beneficiary=person,
                classification=Classification(RequestCategory.CHECK_ON, Urgency.NORMAL),
                summary=texts.SILENCE_SUMMARY.format(name=person.name, when=when), now=now,
                source=RequestSource.SILENCE, channel=RequestChannel.OTHER,
                data={"silence_id": silence_id, "plan": period.plan, "period_start": period.start.isoformat()},
            )
            session.execute(update(Silence).where(Silence.id == silence_id).values(request_id=request.id)
                            .execution_options(synchronize_session=False))
    logger.info("checkin=raise plan=%s period=%s cases=%s", period.plan, period.start.isoformat(), len(claimed))
    return len(claimed)


def _chunks(items: Sequence) -> Iterator[Sequence]:
    """`items` in slices of at most CHUNK."""
    for i in range(0, len(items), CHUNK):
        yield items[i:i + CHUNK]
