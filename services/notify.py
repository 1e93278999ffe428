"""Pushes: outbox rows written in the same transaction as the change that causes them."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from config import policy
from models import OutboxMessage, RequestEvent, ServiceRequest, Staff, WeChatUser
from models.db import JSON_FROM_ROWS, insert_ignoring_conflicts, insert_json_rows
from models.enums import ActorKind, EventKind, OutboxKind, OutboxStatus, PushKind, Urgency
from services import texts
from services.policy.hours import release_time
from services.policy.push import template_data
from services.wakeups import OUTBOX_CHANNEL, notify_column

logger = logging.getLogger(__name__)


def push_key(kind: PushKind, *parts: object) -> str:
    """The idempotency key of a push: its kind, then what identifies it within the kind, `:`-joined.

    Every outbox key is built here. The kind comes first, so pushes of two kinds never share a
    key even when their ids are equal (an inbound message and a request event both numbered 42).
    """
    if not parts:
        raise ValueError("a push key needs at least one part after its kind")
    return ":".join([PushKind(kind).value, *(str(part) for part in parts)])


@dataclass(frozen=True)
class Templates:
    """The template ids chosen in the WeChat console."""

    task: str
    progress: str


@dataclass(frozen=True)
class Push:
    """One message to one WeChat user: full text for a customer-service message, fields for a template."""

    # Its idempotency key, built by `push_key`.
    key: str
    text: str
    template_id: str
    fields: dict[str, object]
    # A page to open from the push (WeChat's in-app browser): a template message links to it, and a
    # customer-service text ends with it (`texts.LIST_LINK`) unless it already holds it.
    url: str | None = None
    # A voice or photo to send itself (`{"item": media item id, "type": "voice" | "image"}`): only as a
    # customer-service message, so it has no template; `text` says what it is in logs and lists.
    media: dict | None = None
    # Its text-message form, `sms_text(kind, **params)`: a template registered with the SMS provider
    # and its parameters (no free text). None: this push never goes by SMS.
    sms: dict | None = None
    # What its SMS is keyed by (`sms:` and this) when several pushes share one text message; None:
    # the push's own key. Follow-up messages on a case share one an hour (`services.requests`).
    sms_key: str | None = None


@dataclass(frozen=True)
class SmsPlan:
    """When pushes also or instead go by SMS: the template kinds registered (SMS_TEMPLATES) and
    whether urgent escalations always go by SMS too (SMS_URGENT_ESCALATIONS)."""

    templates: frozenset[str]
    urgent_escalations: bool = True

    def form(self, push: Push) -> dict | None:
        """The push's SMS form if it has one and its template is registered."""
        return push.sms if push.sms is not None and push.sms["template"] in self.templates else None


# The template kind of urgent escalations: these always go by SMS too when the plan says so.
SMS_URGENT = "urgent"
# The emergency button's alerts: they go by SMS alongside WeChat as urgent escalations do.
SMS_SOS = "sos"
SMS_ALONGSIDE = frozenset({SMS_URGENT, SMS_SOS})
# The template kind of the digests to staff: what the digest is, and its figures.
SMS_DIGEST = "digest"


def sms_text(kind: str, **params: object) -> dict:
    """A push's SMS form: the template kind and its parameters, each a short string as Aliyun wants."""
    # A variable's value is at most 35 characters (Aliyun's template rules); longer ones are cut.
    return {"template": kind, "params": {name: str(value)[:35] for name, value in params.items()}}


def digest_sms(what: str, figures: str) -> dict:
    """The SMS form of a digest to staff (template `digest`): what it is and its figures, no names."""
    return sms_text(SMS_DIGEST, what=what, figures=figures)


def push_payload(push: Push) -> dict:
    """The outbox payload of a push: its text, and its template with the fields fitted (and its link)."""
    if push.media is not None:
        return {"text": push.text, "media": push.media}
    template = {"template_id": push.template_id, "data": template_data(push.fields)}
    text = push.text
    if push.url:
        template["url"] = push.url
        if push.url not in text:
            text = f"{text}\n{texts.LIST_LINK.format(url=push.url)}"
    return {"text": text, "template": template}


def local_time(moment: datetime, tz: ZoneInfo) -> str:
    """`2026-12-01 09:00` in local time, as template time fields want it."""
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def task_fields(request: ServiceRequest, tz: ZoneInfo, what: str) -> dict[str, object]:
    """Template fields of a task or alert to staff."""
    beneficiary = request.beneficiary
    return {
        "character_string1": request.id,
        "thing2": f"{beneficiary.name} {beneficiary.village.name}",
        "thing3": what,
        "phrase4": "紧急" if request.urgency == "urgent" else "一般",
        "time5": local_time(request.created_at, tz),
    }


def progress_fields(request: ServiceRequest, tz: ZoneInfo, what: str, who: str, now: datetime) -> dict[str, object]:
    """Template fields of a progress notice to a requester or family member."""
    return {
        "character_string1": request.id,
        "thing2": what,
        "thing3": who,
        "time4": local_time(now, tz),
    }


# Bulk INSERTs send NULLs rather than leaving out None-valued keys, so that rows with and without
# a value stay in one batch instead of splitting into one statement per change of shape.
_ALL_COLUMNS = {"render_nulls": True}


@dataclass(frozen=True)
class Delivery:
    """One push to one WeChat user, with the request and staff member it concerns."""

    push: Push
    recipient: WeChatUser | None
    request: ServiceRequest | None = None
    staff: Staff | None = None
    # None: urgent when the request is urgent.
    urgent: bool | None = None
    # A phone to text the push's SMS form to when it cannot go on WeChat (a beneficiary's); staff's own otherwise.
    phone: str | None = None


def enqueue(
    session: Session,
    push: Push,
    recipient: WeChatUser | None,
    now: datetime,
    *,
    tz: ZoneInfo,
    request: ServiceRequest | None = None,
    staff: Staff | None = None,
    urgent: bool | None = None,
    sms: SmsPlan | None = None,
    phone: str | None = None,
) -> bool:
    """Queue a push once per idempotency key; False when there is nobody to reach or it was queued before.

    Non-urgent pushes made in quiet hours wait until the morning; urgent ones (by default, those
    about an urgent request) go at once.
    """
    return enqueue_many(session, [Delivery(push, recipient, request, staff, urgent, phone)], now, tz=tz, sms=sms)[0]


def enqueue_many(session: Session, deliveries: Sequence[Delivery], now: datetime, *, tz: ZoneInfo,
                 sms: SmsPlan | None = None) -> list[bool]:
    """Queue many pushes as `enqueue` does, in a few multi-row INSERTs; True for each one queued now."""
    created = write_outbox(session, deliveries, now, tz=tz, sms=sms)
    add_events(session, [push_event(d, now) for d, new in zip(deliveries, created) if new and d.request is not None])
    return created


def write_outbox(session: Session, deliveries: Sequence[Delivery], now: datetime, *, tz: ZoneInfo,
                 sms: SmsPlan | None = None) -> list[bool]:
    """Insert the outbox rows of reachable recipients, skipping keys queued before; True where a row was created.

    With an SMS plan, a push that has an SMS form also goes by SMS (key `sms:` + its key, or its
    `sms_key`) to a recipient WeChat cannot reach, and alongside WeChat for an urgent escalation.
    Writes nothing to the timeline: `push_event` is the entry for each push created.
    """
    rows, keys = outbox_rows(deliveries, now, tz=tz, sms=sms)
    if not rows:
        return [False] * len(deliveries)
    new_keys = set(insert_outbox(session, rows))
    created = []
    for mine in keys:
        created.append(any(key in new_keys for key in mine))
        # The first delivery with a key is the one that queued it, as if they had been sent one by one.
        new_keys.difference_update(mine)
    return created


def outbox_rows(deliveries: Sequence[Delivery], now: datetime, *, tz: ZoneInfo,
                sms: SmsPlan | None = None) -> tuple[list[dict], list[list[str]]]:
    """The outbox rows `write_outbox` inserts for the deliveries, and each delivery's keys among them."""
    rows, keys = [], []
    for delivery in deliveries:
        recipient, request = delivery.recipient, delivery.request
        urgent = delivery.urgent
        if urgent is None:
            urgent = request is not None and request.urgency == Urgency.URGENT.value
        at = now if urgent else release_time(now, tz, policy.QUIET_HOURS)
        form = sms.form(delivery.push) if sms is not None else None
        mine = []
        phone = delivery.phone or (delivery.staff.phone if delivery.staff is not None else None)
        if form is not None and phone and (
            not _reachable(delivery) or (sms.urgent_escalations and form["template"] in SMS_ALONGSIDE)
        ):
            rows.append(sms_row(sms_key(delivery.push.sms_key or delivery.push.key), phone, form, delivery.staff,
                                request, at, now))
            mine.append(rows[-1]["idempotency_key"])
        keys.append(mine)
        if not _reachable(delivery):
            continue
        mine.insert(0, _stored_key(delivery))
        payload = push_payload(delivery.push)
        if form is not None:
            # Kept with the push: if WeChat refuses it for good, the dispatcher sends this by SMS.
            payload["sms"] = form
            if delivery.push.sms_key is not None:
                payload["sms_key"] = delivery.push.sms_key
        rows.append({
            "idempotency_key": _stored_key(delivery),
            "recipient_openid": recipient.openid,
            "recipient_phone": None,
            "recipient_staff_id": delivery.staff.id if delivery.staff else None,
            "request_id": request.id if request else None,
            # The dispatcher decides at send time whether the customer-service window is open.
            "kind": OutboxKind.CUSTOM.value,
            "payload": payload,
            "status": OutboxStatus.PENDING.value,
            "attempts": 0,
            "next_attempt_at": at,
            "created_at": now,
        })
    return rows, keys


def sms_key(key: str) -> str:
    """The key of a push's SMS: `sms:` and the push's own key (at most 160 characters)."""
    return push_key(PushKind.SMS, key)[:160]


def sms_row(key: str, phone: str, form: dict, staff: Staff | None, request: ServiceRequest | None,
            at: datetime, now: datetime, *, staff_id: int | None = None, request_id: int | None = None) -> dict:
    """An outbox row of kind `sms`: the phone, and the template kind with its parameters."""
    return {
        "idempotency_key": key,
        "recipient_openid": None,
        "recipient_phone": phone,
        "recipient_staff_id": staff.id if staff is not None else staff_id,
        "request_id": request.id if request is not None else request_id,
        "kind": OutboxKind.SMS.value,
        "payload": {"sms": form},
        "status": OutboxStatus.PENDING.value,
        "attempts": 0,
        "next_attempt_at": at,
        "created_at": now,
    }


_clash_lock = threading.Lock()
_clash_count = 0


def key_clashes() -> int:
    """How many pushes this process offered under a key already queued for another recipient or payload."""
    return _clash_count


def insert_outbox(session: Session, rows: Sequence[dict], *, wake: bool = True) -> dict[str, int]:
    """INSERT outbox rows, skipping keys queued before; {key: id} of the rows created.

    On PostgreSQL the same statement notifies the outbox dispatchers when it created a row, at
    commit (services.wakeups); `wake=False` for rows their writer sends itself (a queued reply).

    A skipped key is the normal idempotent retry when the row it met goes to the same recipient
    with the same payload. Anything else is two different pushes given one key, a bug: it is
    logged as an error and counted (`key_clashes`), never dropped quietly.
    """
    # A key already queued, or repeated within `rows`, comes back once at most: only new rows are returned.
    postgres = session.get_bind().dialect.name == "postgresql"
    wake = wake and postgres
    if len(rows) >= BULK_ROWS and postgres:
        created = _insert_outbox_as_json(session, rows, wake)
    else:
        # Multi-row INSERTs: SQLAlchemy's "insertmanyvalues" compiles the statement once and sends the
        # rows in batches under the driver's parameter limit.
        returned = [OutboxMessage.idempotency_key, OutboxMessage.id]
        if wake:
            returned.append(notify_column(OUTBOX_CHANNEL))
        stmt = insert_ignoring_conflicts(session, OutboxMessage).returning(*returned)
        result = session.execute(stmt, list(rows), execution_options=_ALL_COLUMNS)
        created = {key: row_id for key, row_id, *_ in result}
    unclaimed = set(created)
    skipped = []
    for row in rows:
        if row["idempotency_key"] in unclaimed:
            # The first row with a new key is the one that created it.
            unclaimed.discard(row["idempotency_key"])
        else:
            skipped.append(row)
    if skipped:
        _check_skipped(session, skipped)
    return created


# From this many rows on, PostgreSQL gets them as one JSON array (see `models.db.JSON_FROM_ROWS`).
BULK_ROWS = JSON_FROM_ROWS


def _insert_outbox_as_json(session: Session, rows: Sequence[dict], wake: bool) -> dict[str, int]:
    """INSERT … SELECT FROM jsonb_to_recordset(:rows) ON CONFLICT DO NOTHING; {key: id} of the rows created."""
    returning = ["idempotency_key", "id"] + ([f"pg_notify('{OUTBOX_CHANNEL}', '')"] if wake else [])
    result = insert_json_rows(session, OutboxMessage.__table__, rows, skip_conflicts=True, returning=returning)
    return {key: row_id for key, row_id, *_ in result}


def _check_skipped(session: Session, skipped: list[dict]) -> None:
    """Log and count each skipped row that differs from the row already queued under its key."""
    global _clash_count
    stored = {
        row.idempotency_key: row for row in session.execute(
            select(OutboxMessage.idempotency_key, OutboxMessage.recipient_openid, OutboxMessage.payload)
            .where(OutboxMessage.idempotency_key.in_({row["idempotency_key"] for row in skipped}))
        )
    }
    for row in skipped:
        existing = stored.get(row["idempotency_key"])
        if existing is None:
            # Not possible while rows are never deleted: a conflicting row is committed by now.
            continue
        differs = [name for name, same in (
            ("recipient", existing.recipient_openid == row["recipient_openid"]),
            ("payload", _canonical(existing.payload) == _canonical(row["payload"])),
        ) if not same]
        if not differs:
            continue
        with _clash_lock:
            _clash_count += 1
        # Keys and openids only: payloads hold what people wrote, names and phone numbers.
        logger.error("outbox=key_clash key=%s differs=%s stored_openid=%s offered_openid=%s",
                     row["idempotency_key"], ",".join(differs), existing.recipient_openid, row["recipient_openid"])


def _canonical(payload: object) -> str:
    """A payload as JSON with sorted keys, so one offered and one read back from the database compare equal."""
    return json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)


def _reachable(delivery: Delivery) -> bool:
    """Whether the push has someone to go to: a follower who has not unsubscribed."""
    return delivery.recipient is not None and delivery.recipient.subscribed


def _stored_key(delivery: Delivery) -> str:
    """The idempotency key as the outbox column holds it (at most 160 characters)."""
    return delivery.push.key[:160]


def push_event(delivery: Delivery, now: datetime) -> dict:
    """The timeline entry (kind push) of a push queued about a request, as a row for `add_events`."""
    return {
        "request_id": delivery.request.id,
        "kind": EventKind.PUSH.value,
        "actor_kind": ActorKind.SYSTEM.value,
        "data": {
            "key": delivery.push.key,
            "to_staff_id": delivery.staff.id if delivery.staff else None,
            # None for someone reached by SMS only.
            "to_user_id": delivery.recipient.id if _reachable(delivery) else None,
        },
        "created_at": now,
    }


# session.info key of the timeline entries a group of inbox messages holds back (`hold_events`).
HELD_EVENTS = "held_request_events"


def hold_events(session: Session) -> None:
    """From now on keep this session's `add_events` rows back until `write_held_events`: a group of
    messages then writes its timeline in one INSERT rather than one a message."""
    session.info[HELD_EVENTS] = []


def write_held_events(session: Session) -> None:
    """Write the timeline entries held back so far (in order); entries added later are held again."""
    held = session.info.get(HELD_EVENTS)
    if held:
        session.info[HELD_EVENTS] = []
        _insert_events(session, held)


def add_events(session: Session, rows: Sequence[dict]) -> None:
    """Write timeline entries with multi-row INSERTs, in the order given (held back while the session
    holds them, see `hold_events`)."""
    if not rows:
        return
    held = session.info.get(HELD_EVENTS)
    if held is not None:
        held.extend(rows)
        return
    _insert_events(session, rows)


def _insert_events(session: Session, rows: Sequence[dict]) -> None:
    """The INSERTs of `add_events`."""
    columns = ("request_id", "kind", "actor_kind", "actor_staff_id", "actor_wechat_user_id",
               "inbound_message_id", "body", "data", "created_at")
    given = [{c: row.get(c) for c in columns} for row in rows]
    if len(rows) >= BULK_ROWS and session.get_bind().dialect.name == "postgresql":
        insert_json_rows(session, RequestEvent.__table__, given)
        return
    # RETURNING is what makes the driver send multi-row INSERTs rather than one INSERT per row. The
    # table, not the class: the ORM's bulk machinery would only add work for rows no one loads.
    table = RequestEvent.__table__
    session.execute(insert(table).returning(table.c.id), given).all()
