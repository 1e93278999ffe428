"""What the pages show of 报平安 beyond the beneficiary's own columns: why a 联系 case exists."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import ServiceRequest, Silence
from models.enums import EventKind, RequestCategory, RequestSource
from services import history
from services.policy import recency


def is_silence_case(request: ServiceRequest) -> bool:
    """A 联系 case the check-in scan raised because someone on a plan went quiet."""
    return request.category == RequestCategory.CHECK_ON.value and request.source == RequestSource.SILENCE.value


def silence_reason(session: Session, request: ServiceRequest, now: datetime, tz: ZoneInfo) -> str | None:
    """Why this case exists (今天没有报平安, 本周没有报平安…), or None when a check-in silence did not raise it."""
    if not is_silence_case(request):
        return None
    today = now.astimezone(tz).date()
    # The scan writes the silence's period on the case's first event (archived with an old case's timeline).
    created = next((e for e in history.timeline(request, session) if e.kind == EventKind.CREATED.value), None)
    data = (created.data if created is not None else None) or {}
    if data.get("plan") and data.get("period_start"):
        try:
            return recency.silence_reason(data["plan"], date.fromisoformat(data["period_start"]), today)
        except (TypeError, ValueError):
            pass
    # By the beneficiary first: UNIQUE(beneficiary_id, period_start) is the index that finds it.
    silence = session.scalars(select(Silence).where(Silence.beneficiary_id == request.beneficiary_id,
                                                    Silence.request_id == request.id)).first()
    if silence is None:
        return recency.silence_reason(request.beneficiary.checkin_plan, None, today)
    return recency.silence_reason(silence.plan, silence.period_start, today)
