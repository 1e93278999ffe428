"""Moving finished rows older than ARCHIVE_AFTER_MONTHS out of the hot tables into `*_archive` tables.

What moves (and nothing else):
- `request_events`: entries made before the cut-off of cases resolved, closed or cancelled before it;
- `inbound_messages`: messages handled and received before the cut-off that no entry still in
  `request_events` names (those wait for their case's entries); a media item made from one keeps its
  link in the archive row (`media_item_id`), its own reference is cleared;
- `outbox`: pushes sent or skipped, created before the cut-off.

A waiting message, a pending push and an open case's history never move; nor does a message whose
handling failed or a push given up (a dead letter): someone still has to follow those up, and
`sanzhida inbound failed`, `outbox list` and `outbox retry` work on the hot tables. Each window of ids is one
short transaction that copies the rows not yet in the archive and then deletes, from the hot table,
the rows that are: a window killed halfway is rolled back whole, and a window run twice copies and
deletes nothing the second time.

The newest row of each hot table always stays: SQLite hands out max(id) + 1 as the next id, so
deleting the newest row would give its id to the next insert and an archived id would come back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Table, delete, exists, func, insert, literal, select, update
from sqlalchemy.orm import Session

from models import InboundMessage, MediaItem, OutboxMessage, RequestEvent, ServiceRequest
from models.archive import inbound_messages_archive, outbox_archive, request_events_archive
from models.base import UTCDateTime
from models.enums import OutboxStatus, RequestStatus

# Ids per transaction: a range scan of the primary key, short enough to never hold locks long.
WINDOW = 2000
FINISHED_CASES = (RequestStatus.RESOLVED.value, RequestStatus.CLOSED.value, RequestStatus.CANCELLED.value)
FINISHED_PUSHES = (OutboxStatus.SENT.value, OutboxStatus.SKIPPED.value)


def cutoff_month(today: date, months: int) -> date:
    """The first day of the month `months` before today's: rows older than it are archived, so the
    months the reports and the figures compare (a year and the current month) stay whole."""
    index = today.year * 12 + today.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


def cutoff_for(month: date, tz: ZoneInfo) -> datetime:
    """The instant the local month `month` begins: the archive's cut-off."""
    return datetime.combine(month.replace(day=1), time(0), tzinfo=tz)


def _case_finished(cutoff: datetime) -> ColumnElement[bool]:
    """The case of the entry being looked at ended (resolved, closed or cancelled) before the cut-off."""
    ended = func.coalesce(ServiceRequest.closed_at, ServiceRequest.cancelled_at, ServiceRequest.resolved_at,
                          ServiceRequest.updated_at)
    return (ServiceRequest.id == RequestEvent.request_id) & ServiceRequest.status.in_(FINISHED_CASES) & (ended < cutoff)


def _event_due(cutoff: datetime) -> ColumnElement[bool]:
    """An entry made before the cut-off of a case that ended before it."""
    return (RequestEvent.created_at < cutoff) & exists().where(_case_finished(cutoff))


def _message_due(cutoff: datetime) -> ColumnElement[bool]:
    """A message handled without failing, received before the cut-off, that no entry staying in
    `request_events` names."""
    staying = exists().where(RequestEvent.inbound_message_id == InboundMessage.id, ~_event_due(cutoff))
    return (InboundMessage.handled_at.is_not(None) & InboundMessage.handling_error.is_(None)
            & (InboundMessage.received_at < cutoff) & ~staying)


def _push_due(cutoff: datetime) -> ColumnElement[bool]:
    """A push sent or skipped, created before the cut-off."""
    return OutboxMessage.status.in_(FINISHED_PUSHES) & (OutboxMessage.created_at < cutoff)


@dataclass(frozen=True)
class Move:
    """One hot table and where its finished rows go: which rows are due, and the column whose age
    decides (ids grow with it, so the first row at or past the cut-off ends the walk)."""

    name: str
    hot: Table
    archive: Table
    due: Callable[[datetime], ColumnElement[bool]]
    age: ColumnElement


# In this order: entries first, so the messages they named are free to go in the same run.
MOVES = (
    Move("request_events", RequestEvent.__table__, request_events_archive, _event_due, RequestEvent.created_at),
    Move("inbound_messages", InboundMessage.__table__, inbound_messages_archive, _message_due,
         InboundMessage.received_at),
    Move("outbox", OutboxMessage.__table__, outbox_archive, _push_due, OutboxMessage.created_at),
)


def ceiling(session: Session, move: Move) -> int | None:
    """The newest id of the hot table, which always stays (see the module's note); None when empty."""
    return session.scalar(select(func.max(move.hot.c.id)))


def next_window(session: Session, move: Move, cutoff: datetime, after: int, top: int) -> tuple[int, int] | None:
    """The next window of ids above `after` (and below `top`) to look at, or None when the rest is
    newer than the cut-off. Stretches already moved are skipped in one index probe."""
    first = session.scalar(select(func.min(move.hot.c.id)).where(move.hot.c.id > after, move.hot.c.id < top))
    if first is None:
        return None
    age = session.scalar(select(move.age).where(move.hot.c.id == first))
    if age >= cutoff:
        return None
    return first, min(first + WINDOW - 1, top - 1)


def count_window(session: Session, move: Move, cutoff: datetime, first: int, last: int) -> int:
    """How many rows of the window would move (the dry run)."""
    return session.scalar(
        select(func.count()).select_from(move.hot).where(move.hot.c.id.between(first, last), move.due(cutoff))
    ) or 0


def move_window(session: Session, move: Move, cutoff: datetime, first: int, last: int, now: datetime) -> int:
    """Copy the due rows with ids from `first` to `last` into the archive (those not there yet), clear
    the references to them, and delete them from the hot table; how many were deleted. The caller
    commits: one window, one transaction."""
    hot, archive = move.hot, move.archive
    in_window = [hot.c.id.between(first, last), move.due(cutoff)]
    names = [c.name for c in hot.columns]
    extra: dict[str, ColumnElement] = {"archived_at": literal(now, UTCDateTime())}
    if move.archive is inbound_messages_archive:
        extra["media_item_id"] = (select(MediaItem.id).where(MediaItem.inbound_message_id == hot.c.id)
                                  .scalar_subquery())
    copied = select(*(hot.c[n] for n in names), *(value.label(k) for k, value in extra.items())).where(
        *in_window, ~exists().where(archive.c.id == hot.c.id))
    session.execute(insert(archive).from_select([*names, *extra], copied))
    moved = select(archive.c.id).where(archive.c.id.between(first, last))
    if move.archive is inbound_messages_archive:
        session.execute(update(MediaItem).where(MediaItem.inbound_message_id.in_(moved))
                        .values(inbound_message_id=None).execution_options(synchronize_session=False))
    result = session.execute(delete(hot).where(*in_window, hot.c.id.in_(moved))
                             .execution_options(synchronize_session=False))
    return result.rowcount or 0
