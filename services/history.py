"""A case's history wherever it is kept: `request_events`, or `request_events_archive` once the case
closed more than ARCHIVE_AFTER_MONTHS ago (services/archive.py). Every reader of old timelines and
of escalations goes through here, so archiving changes no page and no figure."""

from __future__ import annotations

from sqlalchemy import Subquery, select, union_all
from sqlalchemy.orm import Session, object_session

from models import RequestEvent, ServiceRequest
from models.archive import ArchivedRequestEvent
from models.enums import EventKind


def timeline(request: ServiceRequest, session: Session | None = None) -> list:
    """The request's entries oldest first: those still in `request_events` (already loaded with the
    request) and the archived ones, which read the same (kind, actor, body, data, created_at)."""
    session = session or object_session(request)
    archived = [] if session is None else list(session.scalars(
        select(ArchivedRequestEvent).where(ArchivedRequestEvent.request_id == request.id)))
    return sorted([*request.events, *archived], key=lambda e: (e.created_at, e.id))


def escalations() -> Subquery:
    """(request_id, data) of every escalation entry, hot and archived, for the highest rung per case."""
    kind = EventKind.ESCALATED.value
    return union_all(
        select(RequestEvent.request_id, RequestEvent.data).where(RequestEvent.kind == kind),
        select(ArchivedRequestEvent.request_id, ArchivedRequestEvent.data).where(ArchivedRequestEvent.kind == kind),
    ).subquery("escalations")
