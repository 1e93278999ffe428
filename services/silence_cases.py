"""What news of someone who went quiet does to the 联系 case their silence raised at 16:00.

`services.checkins` ends a beneficiary's open silences with one UPDATE … RETURNING the case each
raised, so only news of someone a case is out for comes here. A 报平安 settles the case as the
system: resolved, the ladder stopped, and its assignee told once (by SMS when WeChat cannot reach
them). A 走访 by the case's own assignee settles it as theirs. Any other news is one line on the
case's timeline for the assignee to weigh. The family are told nothing: they, or the person, gave
the news. Never commits.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from models import ServiceRequest, Staff, WeChatUser
from models.enums import ContactKind, EventKind, PushKind, Relation, RequestStatus
from services import texts
from services.notify import Push, enqueue, push_key, sms_text, task_fields
from services.requests import OPEN, RequestEnv, record_event

# The news that settles a 联系 case: the person's own "I am fine", or a visit. `services.checkins`
# looks for these also on a silence that earlier news (a worried message) already ended, while its
# case is still open, so a 报平安 after such a message still settles it.
SETTLING = frozenset({ContactKind.CHECKIN, ContactKind.VISIT})
# The SMS template kind of the push to the assignee (texts.SMS_TEMPLATES).
SMS_CHECKED_IN = "checked_in"


@dataclass(frozen=True)
class Contact:
    """A sign of life and who gave it: a WeChat user (the beneficiary or family), a member of staff, or
    neither known.

    `via_case`: the case the contact itself went to (a message added to it, 接单 on it); its timeline
    shows the contact already, so no line is added there.
    """

    kind: ContactKind
    user: WeChatUser | None = None
    staff: Staff | None = None
    via_case: int | None = None


def follow_up(session: Session, env: RequestEnv, cases: Iterable[int | None], contact: Contact,
              now: datetime) -> None:
    """Act on each case (raised by a silence the contact ended) that is still open or acknowledged."""
    kind = ContactKind(contact.kind)
    for request_id in sorted({case for case in cases if case is not None}):
        request = session.get(ServiceRequest, request_id)
        if request is None or request.status not in OPEN:
            continue
        at = now.astimezone(env.tz).strftime("%H:%M")
        if kind is ContactKind.CHECKIN:
            _settle_checked_in(session, env, request, contact, now, at)
        elif kind is ContactKind.VISIT and contact.staff is not None and contact.staff.id == request.assignee_staff_id:
            # Whoever has the case went and saw the person: that is what it asked, so it is done,
            # as theirs. A visit by anyone else is only noted: the case stays with its assignee,
            # who may know more (a call already made, a worry from the family) and closes it with 完成.
            note = texts.CHECK_ON_VISITED.format(time=at, staff=contact.staff.name)
            _resolve(session, env, request, note, now, staff=contact.staff)
        elif request.id != contact.via_case:
            # A message may be a worry ("妈妈电话没人接"), a contact staff logged may be a neighbour's
            # call about the person: news for the assignee, not an all-clear. Never a message's words.
            record_event(session, env, request, EventKind.COMMENT, now, body=_line(kind, contact, request, at),
                         data={"contact": kind.value})
            request.updated_at = now


def _settle_checked_in(session: Session, env: RequestEnv, request: ServiceRequest, contact: Contact,
                       now: datetime, at: str) -> None:
    """Resolve the case as the system, then tell its assignee once, who may already be on the way."""
    who = _who(contact, request.beneficiary_id)
    note = (texts.CHECK_ON_CHECKED_IN.format(time=at, who=who) if who
            else texts.CHECK_ON_CHECKED_IN_NOBODY.format(time=at))
    _resolve(session, env, request, note, now, staff=None)
    assignee = request.assignee
    if assignee is None:
        return
    name = request.beneficiary.name
    push = Push(
        key=push_key(PushKind.CHECK_ON_SETTLED, request.id, assignee.id),
        text=texts.PUSH_CHECK_ON_SETTLED.format(name=name, time=at, number=request.id),
        template_id=env.templates.task,
        fields=task_fields(request, env.tz, texts.CHECK_ON_SETTLED_WHAT.format(time=at)),
        sms=sms_text(SMS_CHECKED_IN, name=name, time=at, number=request.id),
    )
    enqueue(session, push, assignee.wechat_user, now, tz=env.tz, request=request, staff=assignee, sms=env.sms)


def _resolve(session: Session, env: RequestEnv, request: ServiceRequest, note: str, now: datetime, *,
             staff: Staff | None) -> None:
    """Resolved as `casework.resolve` resolves, by `staff` or the system; nobody asked to rate it.

    Settled by the system, it stays unaccepted (no acknowledged_at): nobody took it.
    """
    request.status = RequestStatus.RESOLVED.value
    if staff is not None:
        request.acknowledged_at = request.acknowledged_at or now
    request.resolved_at = now
    request.resolution_note = note[:1000]
    request.updated_at = now
    # record_event recomputes next_escalation_at: None once resolved, so the ladder stops here.
    record_event(session, env, request, EventKind.RESOLVED, now, staff=staff, body=request.resolution_note)


def _who(contact: Contact, beneficiary_id: int) -> str | None:
    """Who checked in, for the note: the relation the WeChat user bound with (本人, 子女 …), or staff's name."""
    if contact.user is not None:
        return next((link.relation for link in contact.user.family_links
                     if link.beneficiary_id == beneficiary_id and link.active), None)
    return contact.staff.name if contact.staff is not None else None


def _line(kind: ContactKind, contact: Contact, request: ServiceRequest, at: str) -> str:
    """The timeline line for news that does not settle the case."""
    if kind is ContactKind.MESSAGE:
        own = _who(contact, request.beneficiary_id) == Relation.SELF.value
        who = texts.CHECK_ON_NOTE_SELF if own else texts.CHECK_ON_NOTE_FAMILY
        return texts.CHECK_ON_NOTE_MESSAGE.format(who=who, time=at)
    staff = contact.staff.name if contact.staff is not None else texts.CHECK_ON_NOTE_STAFF_ANYONE
    line = texts.CHECK_ON_NOTE_VISIT if kind is ContactKind.VISIT else texts.CHECK_ON_NOTE_STAFF
    return line.format(staff=staff, time=at)
