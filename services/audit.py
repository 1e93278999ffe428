"""The audit log: record who wrote, exported or displayed personal data, and search it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from models import AuditEntry, Region, Staff
from models.enums import ActorKind
from services import scope as scoping
from services.scope import EVERYWHERE, Scope

# Who ran a bulk job (import, export): a member of staff (object or id) or a label such as "cli".
Actor = Staff | int | str


def record(
    session: Session,
    now: datetime,
    action: str,
    *,
    staff: Staff | None = None,
    label: str | None = None,
    target: tuple[str, int] | None = None,
    detail: dict | None = None,
    ip: str | None = None,
) -> AuditEntry:
    """Add one audit entry; `detail` must never hold ID numbers, phone numbers or message contents."""
    entry = AuditEntry(
        at=now,
        actor_kind=(ActorKind.STAFF if staff else ActorKind.SYSTEM).value,
        actor_staff_id=staff.id if staff else None,
        actor_label=label,
        action=action,
        target_type=target[0] if target else None,
        target_id=target[1] if target else None,
        detail=detail,
        ip=ip,
    )
    session.add(entry)
    return entry


def actor_staff(session: Session, actor: Actor) -> Staff | None:
    """The member of staff behind `actor`, or None for a label such as "cli"."""
    if isinstance(actor, Staff):
        return actor
    if isinstance(actor, int):
        staff = session.get(Staff, actor)
        if staff is None:
            raise ValueError(f"no staff with id {actor}")
        return staff
    return None


def record_by(session: Session, actor: Actor, action: str, detail: dict, now: datetime,
              ip: str | None = None) -> AuditEntry:
    """One audit entry for an import or export; `detail` holds counts and filters, never personal data."""
    by = actor_staff(session, actor)
    return record(session, now, action, staff=by, label=None if by else str(actor)[:64], detail=detail, ip=ip)


@contextmanager
def captured(session: Session) -> Iterator[list[AuditEntry]]:
    """The audit entries added to `session` inside the block.

    A service audits what it changed; the web layer then says who asked and from where (the admin
    API, an address) on those same entries instead of adding a second entry for one change.
    """
    entries: list[AuditEntry] = []

    def added(_session, instance) -> None:
        if isinstance(instance, AuditEntry):
            entries.append(instance)

    event.listen(session, "transient_to_pending", added)
    try:
        yield entries
    finally:
        event.remove(session, "transient_to_pending", added)


def attribute(entries: list[AuditEntry], *, staff: Staff | None = None, kind: ActorKind | None = None,
              label: str | None = None, ip: str | None = None) -> None:
    """Name who asked for the changes audited in `entries` (where a service left it open) and from where."""
    for entry in entries:
        if staff is not None and entry.actor_staff_id is None:
            entry.actor_staff_id, entry.actor_kind = staff.id, ActorKind.STAFF.value
        if kind is not None and entry.actor_staff_id is None:
            entry.actor_kind, entry.actor_label = kind.value, label
        if ip is not None:
            entry.ip = ip


def search(
    session: Session,
    *,
    action: str | None = None,
    staff_no: str | None = None,
    target_type: str | None = None,
    target_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
    scope: Scope = EVERYWHERE,
) -> list[tuple[AuditEntry, Staff | None]]:
    """Audit entries matching every given filter, newest first, with the acting staff member; a
    city's administrator sees what the staff of their city did (the province's, everything)."""
    stmt = select(AuditEntry, Staff).outerjoin(Staff, Staff.id == AuditEntry.actor_staff_id)
    if not scope.is_province:
        actors = scoping.regions(scope, select(Staff.id).join(Region, Region.id == Staff.region_id))
        stmt = stmt.where(AuditEntry.actor_staff_id.in_(actors))
    if action:
        stmt = stmt.where(AuditEntry.action.startswith(action))
    if staff_no:
        stmt = stmt.where(Staff.staff_no == staff_no.strip().upper())
    if target_type:
        stmt = stmt.where(AuditEntry.target_type == target_type)
    if target_id is not None:
        stmt = stmt.where(AuditEntry.target_id == target_id)
    if since:
        stmt = stmt.where(AuditEntry.at >= since)
    if until:
        stmt = stmt.where(AuditEntry.at < until)
    rows = session.execute(stmt.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit).offset(offset))
    return [(entry, staff) for entry, staff in rows]
