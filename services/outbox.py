"""The outbox: claim due pushes safely, decide how each goes, and record the outcomes.

These functions never commit; `runtime.dispatch.dispatch_outbox` runs them in short transactions
so that nothing is sent while a database transaction is open.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Integer, String, and_, bindparam, case, func, or_, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session
from wechatpy.exceptions import WeChatClientException

from config import policy
from models import OutboxMessage, Staff, WeChatUser
from models.db import walking_indexes
from models.enums import OutboxKind, OutboxStatus, PushKind
from services.policy.account_links import for_account
from services.policy.push import (
    CUSTOM_COUNT_FULL,
    CUSTOM_FALLBACK_ERRORS,
    PERMANENT_ERRORS,
    NoticeRoute,
    backoff_seconds,
    client_msg_id,
    custom_window_open,
    may_have_arrived,
)
from services.notify import insert_outbox, sms_key, sms_row
from services.retention import EMPTIED_PAYLOAD

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Claimed:
    """A claimed row, detached from any session: what the sender needs."""

    id: int
    key: str
    openid: str | None
    payload: dict
    attempts: int
    kind: str = OutboxKind.CUSTOM.value
    # An SMS's phone; None for a WeChat push.
    phone: str | None = None
    staff_id: int | None = None
    request_id: int | None = None
    # Why the last attempt failed, if one did.
    last_error: str | None = None

    @property
    def is_sms(self) -> bool:
        """Whether the row is a text message rather than a WeChat push."""
        return self.kind == OutboxKind.SMS.value

    @property
    def lane(self) -> str:
        """Whom the row goes to: pushes to one recipient go in order on one thread."""
        return f"sms:{self.phone}" if self.is_sms else str(self.openid)


# The statuses of rows a claim may take (ix_outbox_claimable holds exactly these).
CLAIMABLE = (OutboxStatus.PENDING.value, OutboxStatus.SENDING.value)


def _claim_statement(*, only_ids: bool, skip_locked: bool):
    """The claim as one Core UPDATE … RETURNING with bound `claim_now`, `claim_until`, `claim_limit` (and
    `claim_ids`), built once per shape: building it and its ORM bookkeeping cost more than running it."""
    t = OutboxMessage.__table__
    now = bindparam("claim_now", type_=t.c.next_attempt_at.type)
    due = and_(
        # What ix_outbox_claimable holds, which the claim walks in order (see models.db.walking_indexes).
        t.c.status.in_(CLAIMABLE),
        or_(
            and_(t.c.status == OutboxStatus.PENDING.value, t.c.next_attempt_at <= now),
            # A dispatcher that died after claiming: take its rows over once the claim lapses.
            and_(t.c.status == OutboxStatus.SENDING.value, t.c.claimed_until < now),
        ),
    )
    # An answer to a user's message goes before pushes queued earlier (the morning's reminders): its
    # sender has just written and is waiting for it.
    answers_first = case((t.c.idempotency_key.startswith(f"{PushKind.ANSWER.value}:"), 0), else_=1)
    pick = (select(t.c.id).where(due).order_by(answers_first, t.c.next_attempt_at, t.c.id)
            .limit(bindparam("claim_limit")))
    if only_ids:
        pick = pick.where(t.c.id.in_(bindparam("claim_ids", expanding=True)))
    if skip_locked:
        # Concurrent dispatchers skip each other's rows instead of waiting or double-claiming.
        pick = pick.with_for_update(skip_locked=True)
    # SQLite runs one writer at a time, so the single UPDATE … RETURNING is atomic there too.
    return (
        update(t)
        .where(t.c.id.in_(pick))
        .values(status=OutboxStatus.SENDING.value, claimed_until=bindparam("claim_until", type_=t.c.claimed_until.type),
                attempts=t.c.attempts + 1)
        .returning(t.c.id, t.c.idempotency_key, t.c.recipient_openid, t.c.payload, t.c.attempts, t.c.kind,
                   t.c.recipient_phone, t.c.recipient_staff_id, t.c.request_id, t.c.last_error)
    )


_CLAIMS = {(ids, locked): _claim_statement(only_ids=ids, skip_locked=locked) for ids in (False, True)
           for locked in (False, True)}


def claim_due(session: Session, now: datetime, limit: int, only_ids: list[int] | None = None) -> list[Claimed]:
    """Claim up to `limit` due rows (and rows whose claim expired) in one atomic statement.

    `only_ids` limits the claim to those rows, for a reply sent the moment it is queued.
    """
    statement = _CLAIMS[(only_ids is not None, session.get_bind().dialect.name == "postgresql")]
    params = {"claim_now": now, "claim_until": now + timedelta(seconds=policy.OUTBOX_CLAIM_SECONDS),
              "claim_limit": limit}
    if only_ids is not None:
        params["claim_ids"] = list(only_ids)
    with walking_indexes(session):
        rows = session.execute(statement, params).all()
    return sorted((Claimed(*row) for row in rows), key=lambda c: c.id)


@dataclass
class Window:
    """A user's customer-service window: their last message and what we sent since."""

    last_message_at: datetime | None
    sent: int = 0
    # The subscription-notice templates this user rejected (services/notice_consents.py).
    refused: frozenset[str] = frozenset()
    # The official account the user follows, which every push to them goes through (None: the default).
    account_id: int | None = None

    def allows(self, now: datetime) -> bool:
        """True when one more customer-service message may go now (48 h, 5 messages)."""
        return custom_window_open(self.last_message_at, self.sent, now)


def custom_windows(session: Session, openids: list[str]) -> dict[str, Window]:
    """The windows of a batch of recipients (and the account each follows), in two queries whatever
    the batch size."""
    users = {openid: (last, account) for openid, last, account in session.execute(
        select(WeChatUser.openid, WeChatUser.last_message_at, WeChatUser.account_id)
        .where(WeChatUser.openid.in_(openids))
    )}
    windows = {}
    for openid in openids:
        last, account = users.get(openid, (None, None))
        windows[openid] = Window(last, account_id=account)
    open_since = {o: w.last_message_at for o, w in windows.items() if w.last_message_at is not None}
    if open_since:
        rows = session.execute(
            select(OutboxMessage.recipient_openid, OutboxMessage.sent_at)
            .where(
                OutboxMessage.recipient_openid.in_(list(open_since)),
                OutboxMessage.kind == OutboxKind.CUSTOM.value,
                OutboxMessage.status == OutboxStatus.SENT.value,
                OutboxMessage.sent_at >= min(open_since.values()),
            )
        )
        for openid, sent_at in rows:
            if sent_at >= open_since[openid]:
                windows[openid].sent += 1
    return windows



# What `send` returns for a subscription notice (订阅通知). It is stored as kind `template`, the
# other channel outside the customer-service window, but recorded at once: unlike a template
# message it has no client_msg_id, so WeChat would deliver a repeat.
NOTICE = "notice"


class NoticeRefused(WeChatClientException):
    """The user rejected this subscription notice's template (recorded from WeChat's events): not sent.

    It carries WeChat's own errcode for a refusal (43101), so the push ends as one WeChat refused:
    a dead letter, and for staff the push by SMS instead.
    """

    def __init__(self):
        """WeChat's refusal errcode, with a message saying it was not sent at all."""
        super().__init__(43101, "user rejected this subscription notice (subscribe_msg event), not sent")


def send(client, row: Claimed, use_custom: bool, notices: Mapping[str, NoticeRoute] | None = None,
         refused: frozenset[str] = frozenset()) -> str:
    """Send one push; a customer-service message falls back to a template. Returns the kind used.

    A reply to a user's message carries no template: it always goes as a customer-service
    message, since the user's message has just opened the window. `notices` names the templates
    whose pushes go as subscription notices instead of template messages; a notice whose template
    is in `refused` (the user rejected it) raises NoticeRefused unsent.
    """
    template = row.payload.get("template")
    # Phone-page links name the account they go out through, so the page signs its reader in there.
    slug = getattr(client, "account_slug", None)
    if use_custom or template is None:
        try:
            client.post(
                "message/custom/send",
                data={"touser": row.openid, "msgtype": "text",
                      "text": {"content": for_account(row.payload["text"], slug)}},
            )
            return OutboxKind.CUSTOM.value
        except WeChatClientException as exc:
            if exc.errcode == CUSTOM_COUNT_FULL and use_custom and may_have_arrived(row.last_error, row.attempts):
                # WeChat counts more messages than were recorded as sent, and this push's earlier
                # attempt went unanswered: that attempt arrived. Sending it any other way would repeat it.
                logger.info("outbox=arrived_earlier id=%s attempts=%s", row.id, row.attempts)
                return OutboxKind.CUSTOM.value
            if template is None or exc.errcode not in CUSTOM_FALLBACK_ERRORS:
                raise
    route = (notices or {}).get(template["template_id"])
    if route is not None:
        if route.template_id in refused:
            raise NoticeRefused()
        client.send_subscription_notice(row.openid, route.template_id, route.data(template["data"]),
                                        page=for_account(template["url"], slug) if template.get("url") else None)
        return NOTICE
    body = {
        "touser": row.openid,
        # An added official account has its own id of the template the row names.
        "template_id": getattr(client, "template_ids", {}).get(template["template_id"], template["template_id"]),
        "data": template["data"],
        # WeChat drops a repeat of the same id to the same user within 10 minutes.
        "client_msg_id": client_msg_id(row.key),
    }
    if template.get("url"):
        body["url"] = for_account(template["url"], slug)
    client.post("message/template/send", data=body)
    return OutboxKind.TEMPLATE.value


def _still_ours(row: Claimed):
    # Only the claimant may record the outcome: a row taken over after a lapsed claim is not ours.
    return and_(
        OutboxMessage.id == row.id,
        OutboxMessage.status == OutboxStatus.SENDING.value,
        OutboxMessage.attempts == row.attempts,
    )


def by_recipient(rows: list[Claimed]) -> list[list[Claimed]]:
    """The rows split per recipient, each list in claim order, lists in order of their first row.

    One sender takes one list and sends it in order, so a user gets their pushes in the order
    they were written, as with a single sender.
    """
    lanes: dict[str, list[Claimed]] = {}
    for row in rows:
        lanes.setdefault(row.lane, []).append(row)
    return list(lanes.values())


def mark_sent(session: Session, sent: list[tuple[Claimed, str]], now: datetime,
              provider_ids: Mapping[int, str] | None = None) -> None:
    """Record a group of successful sends (row, kind used) in one statement; an SMS with its provider's id."""
    if not sent:
        return
    done = {"status": OutboxStatus.SENT.value, "sent_at": now, "claimed_until": None, "last_error": None}
    for row in (row for row, _ in sent if row.is_sms):
        # The provider's id, to trace the message in its console; the kind stays `sms`.
        biz_id = (provider_ids or {}).get(row.id)
        session.execute(update(OutboxMessage).where(_still_ours(row))
                        .values(provider_message_id=biz_id[:64] if biz_id else None, **done))
    sent = [(row, OutboxKind.TEMPLATE.value if kind == NOTICE else kind) for row, kind in sent if not row.is_sms]
    if not sent:
        return
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_MARK_SENT_GROUP, {
            "sent_ids": [row.id for row, _ in sent], "sent_attempts": [row.attempts for row, _ in sent],
            "sent_kinds": [kind for _, kind in sent], "done_at": now})
        return
    # SQLite has no arrays: one prepared UPDATE, executed per row.
    table = OutboxMessage.__table__
    session.execute(
        update(table)
        .where(
            table.c.id == bindparam("row_id"),
            table.c.status == OutboxStatus.SENDING.value,
            table.c.attempts == bindparam("row_attempts"),
        )
        .values(kind=bindparam("row_kind"), **done),
        [{"row_id": row.id, "row_attempts": row.attempts, "row_kind": kind} for row, kind in sent],
    )


def _mark_sent_group():
    """PostgreSQL's UPDATE of a group of sent rows, one array per column: the same text for every group
    size, so it is compiled and planned once; a Core statement built once, without ORM bookkeeping."""
    t = OutboxMessage.__table__
    group = func.unnest(
        bindparam("sent_ids", type_=ARRAY(Integer)),
        bindparam("sent_attempts", type_=ARRAY(Integer)),
        bindparam("sent_kinds", type_=ARRAY(String)),
    ).table_valued("id", "attempts", "kind").render_derived(name="done")
    return (
        update(t)
        .where(
            # Only the claimant may record the outcome, as in `_still_ours`.
            t.c.id == group.c.id,
            t.c.status == OutboxStatus.SENDING.value,
            t.c.attempts == group.c.attempts,
        )
        .values(kind=group.c.kind, status=OutboxStatus.SENT.value, sent_at=bindparam("done_at", type_=t.c.sent_at.type),
                claimed_until=None, last_error=None)
    )


_MARK_SENT_GROUP = _mark_sent_group()


def mark_failed(session: Session, row: Claimed, errcode: int | None, error: str, now: datetime, rng: random.Random,
                *, permanent: bool = False) -> str:
    """Record a failure: retry later with backoff, or dead-letter it. Returns the new status.

    `permanent`: the error says trying again cannot help (an SMS provider's own codes).
    """
    dead = permanent or errcode in PERMANENT_ERRORS or row.attempts >= policy.OUTBOX_MAX_ATTEMPTS
    status = OutboxStatus.DEAD.value if dead else OutboxStatus.PENDING.value
    session.execute(
        update(OutboxMessage)
        .where(_still_ours(row))
        .values(
            status=status,
            claimed_until=None,
            last_error=error[:500],
            next_attempt_at=now if dead else now + timedelta(seconds=backoff_seconds(row.attempts, rng)),
        )
    )
    return status


def mark_deferred(session: Session, row: Claimed, until: datetime, reason: str) -> None:
    """Put a row back until `until` without spending an attempt (an SMS held by a phone's rate limit)."""
    session.execute(
        update(OutboxMessage)
        .where(_still_ours(row))
        .values(status=OutboxStatus.PENDING.value, claimed_until=None, attempts=row.attempts - 1,
                next_attempt_at=until, last_error=reason[:500])
    )


def mark_skipped(session: Session, rows: list[Claimed], reason: str) -> None:
    """Record SMS rows as never to be sent (their phone opted out), with why; nothing more is tried."""
    for row in rows:
        session.execute(
            update(OutboxMessage)
            .where(_still_ours(row))
            .values(status=OutboxStatus.SKIPPED.value, claimed_until=None, last_error=reason[:500])
        )


def sms_sent_lately(session: Session, phones: list[str], now: datetime) -> dict[str, list[datetime]]:
    """When each phone was last sent an SMS, within the longest rate-limit window (one query)."""
    longest = max(seconds for seconds, _ in policy.SMS_PHONE_LIMITS)
    sent: dict[str, list[datetime]] = {phone: [] for phone in phones}
    if phones:
        rows = session.execute(
            select(OutboxMessage.recipient_phone, OutboxMessage.sent_at).where(
                OutboxMessage.recipient_phone.in_(phones),
                OutboxMessage.sent_at > now - timedelta(seconds=longest),
            )
        )
        for phone, sent_at in rows:
            sent[phone].append(sent_at)
    return sent


def queue_sms_instead(session: Session, row: Claimed, now: datetime) -> int | None:
    """After WeChat refused a push to staff for good, queue its SMS form to their phone, once.

    The key is `sms:` and the refused push's key (or the `sms_key` it was queued with): an SMS
    already queued for it (an urgent escalation's, or one shared with other pushes) is not doubled.
    The id of the row queued now, or None.
    """
    form = row.payload.get("sms")
    if form is None or row.staff_id is None or row.is_sms:
        return None
    phone = session.scalar(select(Staff.phone).where(Staff.id == row.staff_id))
    if not phone:
        return None
    key = sms_key(row.payload.get("sms_key") or row.key)
    created = insert_outbox(session, [sms_row(key, phone, form, None, None, now, now,
                                              staff_id=row.staff_id, request_id=row.request_id)])
    return next(iter(created.values()), None)


def requeue(session: Session, row_id: int, now: datetime) -> bool:
    """Put a dead letter back in the queue (after the cause was fixed); False if it is not dead, or
    its contents were purged (services/retention.py) and there is nothing left to send."""
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == row_id, OutboxMessage.status == OutboxStatus.DEAD.value,
               OutboxMessage.payload != EMPTIED_PAYLOAD)
        .values(status=OutboxStatus.PENDING.value, attempts=0, next_attempt_at=now, last_error=None)
    )
    return result.rowcount == 1
