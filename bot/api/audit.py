"""The audit entry every admin API write adds before it commits (or has a service add, attributed here)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from flask import request
from sqlalchemy.orm import Session

from bot.deps import services
from models import AuditEntry
from models.enums import ActorKind
from services import audit as audit_log

logger = logging.getLogger(__name__)

AUDIT_LABEL = "admin-api"


def audit(session: Session, action: str, target_type: str, target_id: int, detail: dict) -> None:
    """Record an admin write; `detail` must never hold ID numbers, phone numbers or codes."""
    session.add(
        AuditEntry(
            at=services().clock(),
            actor_kind=ActorKind.ADMIN_API.value,
            actor_label=AUDIT_LABEL,
            action=action,
            target_type=target_type,
            target_id=target_id,
            detail=detail,
            ip=request.remote_addr,
        )
    )
    logger.info("api=%s target=%s:%s", action, target_type, target_id)


@contextmanager
def attributed(session: Session, action: str, target_type: str, target_id: int | str) -> Iterator[None]:
    """Let a service audit the change made inside the block, as the admin API's, from the caller's address."""
    with audit_log.captured(session) as entries:
        yield
    audit_log.attribute(entries, kind=ActorKind.ADMIN_API, label=AUDIT_LABEL, ip=request.remote_addr)
    logger.info("api=%s target=%s:%s", action, target_type, target_id)
