"""报平安: check-ins, the last sign of life of each beneficiary, and their check-in plan.

`note_contact` is what every sign of life calls (a check-in, a message from the beneficiary or their
family, a visit, a contact staff logged): two indexed UPDATEs, never a read, because it runs on the
webhook's path for every message. Only when a silence it ends had raised a 联系 case (the UPDATE
returns the case) does more happen, in `services.silence_cases`. The silences themselves (the scans
at 10:00 and 16:00) live in `services.silences`. Never commits.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import and_, bindparam, exists, func, inspect, literal, or_, select, update
from sqlalchemy.orm import Session

from config import policy
from models import (
    Assignment,
    Beneficiary,
    Checkin,
    FamilyLink,
    InboundMessage,
    MediaItem,
    ServiceRequest,
    Silence,
    Staff,
    WeChatUser,
)
from models.db import JSON_FROM_ROWS, update_json_rows
from models.enums import CHECKIN_PLAN_NAMES, CheckinPlan, CheckinSource, ContactKind, Relation
from services import texts
from services.errors import DomainError
from services.policy import permissions
from services.policy.checkin import default_plan, is_checkin_words
from services.requests import OPEN, RequestEnv
from services.silence_cases import SETTLING, Contact, follow_up


def record_checkin(session: Session, beneficiary: Beneficiary, now: datetime, *, source: CheckinSource,
                   env: RequestEnv, wechat_user: WeChatUser | None = None, staff: Staff | None = None) -> Checkin:
    """Keep one "I am fine today" for the beneficiary; it is also their latest sign of life, and
    settles a 联系 case their silence raised."""
    checkin = Checkin(
        beneficiary_id=beneficiary.id, village_id=beneficiary.village_id, source=CheckinSource(source).value,
        wechat_user_id=wechat_user.id if wechat_user is not None else None,
        staff_id=staff.id if staff is not None else None, checked_at=now,
    )
    session.add(checkin)
    if beneficiary.last_checkin_at is None or beneficiary.last_checkin_at < now:
        beneficiary.last_checkin_at = now
    session.flush()
    note_contact(session, beneficiary.id, now, ContactKind.CHECKIN, env=env, user=wechat_user, staff=staff)
    return checkin


def note_contact(session: Session, beneficiary_id: int, now: datetime, kind: ContactKind, *, env: RequestEnv,
                 user: WeChatUser | None = None, staff: Staff | None = None, via_case: int | None = None) -> None:
    """A sign of life: move the last contact forward (never back) and end the beneficiary's open silences.

    `user` or `staff`: who gave it (checked in, visited, made contact); `via_case`: the case the
    contact was made through (接单 on it), which needs no line about it.
    """
    _note_contacts(session, env, [beneficiary_id], now,
                   Contact(ContactKind(kind), user=user, staff=staff, via_case=via_case))


def note_message(session: Session, user: WeChatUser, now: datetime, *, env: RequestEnv,
                 via_case: int | None = None, contacts: Contacts | None = None) -> None:
    """A message from a bound user (the beneficiary or their family): a sign of life for each they are bound to.

    The user's links are loaded with the user, so an unbound sender costs nothing. `via_case`: the
    case the message was added to, whose timeline shows it already. `contacts`: where a group of
    messages keeps the beneficiaries' last contacts for one UPDATE (`save_contacts`); None: now.
    """
    links = [link for link in user.family_links if link.active]
    ids = sorted({link.beneficiary_id for link in links})
    if ids:
        _note_contacts(session, env, ids, now, Contact(ContactKind.MESSAGE, user=user, via_case=via_case),
                       silences=_may_have_open_silences(links), contacts=contacts)


# Beneficiary id -> (when, ContactKind value): the latest contact of each, kept for `save_contacts`.
Contacts = dict[int, tuple[datetime, str]]


def save_contacts(session: Session, contacts: Contacts) -> None:
    """Write kept last contacts in one statement; an earlier one never overwrites a later."""
    if not contacts:
        return
    table = Beneficiary.__table__
    if len(contacts) >= JSON_FROM_ROWS and session.get_bind().dialect.name == "postgresql":
        rows = [{"id": key, "last_contact_at": when, "last_contact_kind": kind}
                for key, (when, kind) in sorted(contacts.items())]
        update_json_rows(session, table, rows, only_newer="last_contact_at")
        return
    at = bindparam("at", type_=table.c.last_contact_at.type)
    session.execute(
        update(table)
        .where(table.c.id == bindparam("b_id"), or_(table.c.last_contact_at.is_(None), table.c.last_contact_at < at))
        .values(last_contact_at=at, last_contact_kind=bindparam("kind")),
        [{"b_id": key, "at": when, "kind": kind} for key, (when, kind) in sorted(contacts.items())],
    )


def _may_have_open_silences(links) -> bool:
    """False when the beneficiaries' open silences were loaded with the sender and there are none:
    the UPDATE on silences would then change nothing."""
    for link in links:
        if "beneficiary" in inspect(link).unloaded:
            return True
        beneficiary = link.beneficiary
        if "open_silences" in inspect(beneficiary).unloaded or beneficiary.open_silences:
            return True
    return False


def _note_contacts(session: Session, env: RequestEnv, ids: list[int], now: datetime, contact: Contact, *,
                   silences: bool = True, contacts: Contacts | None = None) -> None:
    """One UPDATE on the beneficiaries (kept in `contacts` when given), one on their open silences
    returning the 联系 cases they raised (none when `silences` is False and the contact settles
    nothing already ended)."""
    kind = ContactKind(contact.kind).value
    if contacts is None:
        session.execute(
            update(Beneficiary)
            .where(Beneficiary.id.in_(ids),
                   or_(Beneficiary.last_contact_at.is_(None), Beneficiary.last_contact_at < now))
            .values(last_contact_at=now, last_contact_kind=kind)
        )
    else:
        for key in ids:
            if key not in contacts or contacts[key][0] < now:
                contacts[key] = (now, kind)
    if not silences and contact.kind not in SETTLING:
        return
    columns = Silence.__table__.c
    ending = Silence.ended_at.is_(None)
    if contact.kind in SETTLING:
        # Also a silence earlier news already ended (a worried message at 16:30) whose case is still
        # open: a 报平安 at 17:05 settles it all the same. Its ending is kept as it was.
        ending = or_(ending, and_(Silence.request_id.is_not(None), exists().where(
            ServiceRequest.id == Silence.request_id, ServiceRequest.status.in_(OPEN))))
    cases = session.execute(
        update(Silence)
        .where(Silence.beneficiary_id.in_(ids), ending)
        .values(ended_at=func.coalesce(Silence.ended_at, literal(now, columns.ended_at.type)),
                ended_by=func.coalesce(Silence.ended_by, literal(kind, columns.ended_by.type)))
        .returning(Silence.request_id)
        .execution_options(synchronize_session=False)
    ).scalars().all()
    if any(case is not None for case in cases):
        follow_up(session, env, cases, contact, now)


def refresh_default_plan(beneficiary: Beneficiary) -> None:
    """Recompute the plan from the categories and living alone, unless staff set it."""
    if not beneficiary.checkin_plan_by_staff:
        beneficiary.checkin_plan = default_plan(beneficiary.category_names, bool(beneficiary.lives_alone))


def may_set_plan(session: Session, staff: Staff, beneficiary: Beneficiary) -> bool:
    """Who may set a plan: the beneficiary's own assistant, a town officer of their town, city staff (as 代办)."""
    assistant_id = session.scalar(select(Assignment.staff_id).where(
        Assignment.beneficiary_id == beneficiary.id, Assignment.ended_at.is_(None)))
    town = beneficiary.village.parent
    return permissions.may_log_for(staff.role, staff.id, staff.region_id, assistant_id, town.id, town.parent_id)


def find_for_plan(session: Session, staff: Staff, beneficiary_id: int) -> Beneficiary:
    """The active beneficiary with this 对象编号 if `staff` may set their plan; else a DomainError saying why."""
    beneficiary = session.get(Beneficiary, beneficiary_id)
    if beneficiary is None or not beneficiary.active:
        raise DomainError(texts.LOG_NOT_FOUND.format(id=beneficiary_id))
    if not may_set_plan(session, staff, beneficiary):
        raise DomainError(texts.PLAN_OUT_OF_SCOPE.format(id=beneficiary_id))
    return beneficiary


def set_plan(session: Session, beneficiary: Beneficiary, plan: str, *, staff: Staff | None, now: datetime) -> None:
    """Staff set the plan; it stays as set whatever the categories. The caller audits.

    With `staff`, their scope is checked (a DomainError when the beneficiary is not theirs); None
    is the admin API or an import, whose callers hold the whole city.
    """
    try:
        value = CheckinPlan(plan).value
    except ValueError:
        raise DomainError(f"报平安计划只能是：{'、'.join(CHECKIN_PLAN_NAMES.values())}") from None
    if staff is not None and not may_set_plan(session, staff, beneficiary):
        raise DomainError(texts.PLAN_OUT_OF_SCOPE.format(id=beneficiary.id))
    beneficiary.checkin_plan = value
    beneficiary.checkin_plan_by_staff = True
    beneficiary.updated_at = now


def plan_sentence(beneficiary: Beneficiary) -> str:
    """`已设置陈桂兰（对象15）的报平安计划：每天。…` for the staff member who set it."""
    plan = beneficiary.checkin_plan
    what = texts.PLAN_WHAT[plan].format(
        remind=policy.CHECKIN_REMIND_AT.strftime("%H:%M"), raise_at=policy.CHECKIN_RAISE_AT.strftime("%H:%M"),
        weekday=texts.WEEKDAY_NAMES[policy.CHECKIN_WEEKLY_DAY],
    )
    return texts.PLAN_SET.format(name=beneficiary.name, id=beneficiary.id, plan=CHECKIN_PLAN_NAMES[plan], what=what)


# --- check-ins from chat -----------------------------------------------------------------------------


def checkin_reply(links: Iterable[FamilyLink]) -> str:
    """The short, warm answer to a check-in recorded for the beneficiaries of these links."""
    links = list(links)
    if len(links) == 1 and links[0].relation == Relation.SELF.value:
        return texts.CHECKIN_SELF
    names = [texts.CHECKIN_YOU if link.relation == Relation.SELF.value else link.beneficiary.name for link in links]
    return texts.CHECKIN_FOR.format(names="、".join(names))


def checkin_from_transcript(session: Session, env: RequestEnv, item: MediaItem, words: str) -> Checkin | None:
    """A voice heard only later (our recogniser) whose words are a check-in: keep it, as of when it was sent.

    Only a voice from someone bound to the case's beneficiary counts (not staff logging a 代办);
    the case the voice opened stays for its assistant, who sees the words on it.
    """
    if not is_checkin_words(words) or item.request_id is None or item.inbound_message_id is None:
        return None
    sender = session.execute(
        select(WeChatUser, Beneficiary, InboundMessage.received_at)
        .join(InboundMessage, InboundMessage.openid == WeChatUser.openid)
        .join(FamilyLink, FamilyLink.wechat_user_id == WeChatUser.id)
        .join(Beneficiary, Beneficiary.id == FamilyLink.beneficiary_id)
        .join(ServiceRequest, ServiceRequest.beneficiary_id == Beneficiary.id)
        .where(InboundMessage.id == item.inbound_message_id, ServiceRequest.id == item.request_id,
               FamilyLink.active.is_(True))
    ).first()
    if sender is None:
        return None
    user, beneficiary, sent_at = sender
    return record_checkin(session, beneficiary, sent_at, source=CheckinSource.VOICE, env=env, wechat_user=user)
