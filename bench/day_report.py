"""What bench/day.py measures: pushes per person by role, quiet hours, rungs, hanging urgent cases, lost answers."""

from __future__ import annotations

import statistics
import sys
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from config import policy
from models import InboundMessage, OutboxMessage, RequestEvent, ServiceRequest, Staff
from models.enums import EventKind, OutboxStatus, RequestStatus, StaffRole, Urgency

ROLES = (StaffRole.ASSISTANT, StaffRole.TOWN_OFFICER, StaffRole.CITY_SUPERVISOR, StaffRole.ADMIN)


@dataclass
class RoleLoad:
    """Pushes per person of one role over the day."""

    people: int
    median: float
    p90: float
    max: int
    worst_hour: int
    total: int


@dataclass
class DayReport:
    """What the day did to the people in it."""

    start: str
    params: dict
    posted: int = 0
    accepted: int = 0
    requests_opened: int = 0
    urgent_opened: int = 0
    roles: dict[str, RoleLoad] = field(default_factory=dict)
    quiet_hours: dict[str, int] = field(default_factory=dict)
    rungs: dict[str, int] = field(default_factory=dict)
    urgent_unaccepted: int = 0
    urgent_unaccepted_alerting: int = 0
    urgent_unaccepted_silent: list[int] = field(default_factory=list)
    answers_expected: int = 0
    answers_lost: int = 0
    wall_seconds: float = 0.0


def _quantile(values: list[int], q: float) -> float:
    """The q-quantile (nearest rank) of a non-empty list."""
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, max(0, int(round(q * len(ordered) + 0.5)) - 1))])


def measure(session_factory: sessionmaker[Session], start: datetime, params, tz,
            quiet: tuple) -> DayReport:
    """Read the day's outcome from the database."""
    end = start + timedelta(hours=params.hours)
    report = DayReport(start=start.isoformat(), params=asdict(params))
    with session_factory() as session:
        staff_roles = dict(session.execute(select(Staff.id, Staff.role).where(Staff.active)).all())
        rows = session.execute(
            select(OutboxMessage.recipient_staff_id, OutboxMessage.sent_at, OutboxMessage.created_at,
                   OutboxMessage.request_id, OutboxMessage.payload, OutboxMessage.next_attempt_at)
            .where(OutboxMessage.recipient_staff_id.is_not(None), OutboxMessage.created_at >= start,
                   OutboxMessage.created_at < end, OutboxMessage.status != OutboxStatus.DEAD.value)
        ).all()
        # Every case a push names, however old: the seed's open urgent cases climb during the day too.
        named = {row.request_id for row in rows if row.request_id is not None}
        urgency = dict(session.execute(
            select(ServiceRequest.id, ServiceRequest.urgency).where(ServiceRequest.id.in_(named))
        ).all()) if named else {}
        per_person: Counter = Counter()
        per_hour: Counter = Counter()
        quiet_counts: Counter = Counter()
        for staff_id, sent_at, created_at, request_id, payload, due_at in rows:
            per_person[staff_id] += 1
            when = (sent_at or created_at).astimezone(tz)
            per_hour[(staff_id, when.strftime("%m-%d %H"))] += 1
            # Judged by when the push fell due: the bench dispatches on its ticks (every few minutes),
            # production within seconds, so a push queued at 21:58 went out at 21:58, not at 22:00.
            released = min(due_at, sent_at).astimezone(tz) if sent_at is not None else None
            if released is not None and _in_quiet(released, quiet):
                quiet_counts["urgent" if _is_urgent(request_id, payload, urgency) else "not urgent"] += 1
        for role in ROLES:
            people = [sid for sid, r in staff_roles.items() if r == role.value]
            if not people:
                continue
            counts = [per_person.get(sid, 0) for sid in people]
            worst = max((n for (sid, _), n in per_hour.items() if staff_roles.get(sid) == role.value), default=0)
            report.roles[role.value] = RoleLoad(len(people), statistics.median(counts), _quantile(counts, 0.9),
                                                max(counts), worst, sum(counts))
        report.quiet_hours = {"urgent": quiet_counts["urgent"], "not urgent": quiet_counts["not urgent"]}
        rungs: Counter = Counter()
        for data in session.scalars(select(RequestEvent.data).where(
                RequestEvent.kind == EventKind.ESCALATED.value, RequestEvent.created_at >= start,
                RequestEvent.created_at < end)):
            data = data or {}
            rungs[f"level {data.get('level')}" + (" (repeat)" if data.get("repeat") else "")] += 1
        report.rungs = dict(sorted(rungs.items()))
        opened = session.execute(select(ServiceRequest.id, ServiceRequest.urgency, ServiceRequest.status,
                                        ServiceRequest.created_at).where(
            ServiceRequest.created_at >= start, ServiceRequest.created_at < end)).all()
        report.requests_opened = len(opened)
        report.urgent_opened = sum(1 for _, u, _, _ in opened if u == Urgency.URGENT.value)
        hanging = {rid: created for rid, u, s, created in opened
                   if u == Urgency.URGENT.value and s == RequestStatus.OPEN.value}
        report.urgent_unaccepted = len(hanging)
        alerts: dict[int, tuple[datetime, dict]] = {}
        if hanging:
            for rid, at, data in session.execute(
                select(RequestEvent.request_id, RequestEvent.created_at, RequestEvent.data)
                .where(RequestEvent.request_id.in_(list(hanging)), RequestEvent.kind == EventKind.PUSH.value,
                       RequestEvent.actor_kind == "system")
                .order_by(RequestEvent.created_at)
            ):
                if (data or {}).get("to_staff_ids"):
                    alerts[rid] = (at, data)
        # The last rung repeats to the person on duty every few minutes: a case past the ladder's
        # climb must have had such an alert within one repeat (plus one tick) of the end.
        repeat = timedelta(minutes=policy.URGENT_REPEAT_MINUTES + params.tick_minutes + 1)
        climb = max((step.after for step in policy.ESCALATION_LADDER["urgent"] if step.condition == "not_accepted"),
                    default=timedelta(0))
        silent = []
        for rid, created in hanging.items():
            if end - created < climb + repeat:
                continue  # still climbing the ladder
            at, data = alerts.get(rid, (start, {}))
            if at < end - repeat or "on_duty" not in data.get("roles", ()):
                silent.append(rid)
        report.urgent_unaccepted_alerting = len(hanging) - len(silent)
        report.urgent_unaccepted_silent = silent
        messages = session.execute(select(InboundMessage.id).where(
            InboundMessage.msg_type != "event", InboundMessage.received_at >= start,
            InboundMessage.received_at < end)).scalars().all()
        answered = set(session.scalars(select(OutboxMessage.idempotency_key).where(
            OutboxMessage.idempotency_key.like("answer:%"), OutboxMessage.status == OutboxStatus.SENT.value)))
        report.answers_expected = len(messages)
        report.answers_lost = sum(1 for mid in messages if f"answer:{mid}" not in answered)
    return report


def _in_quiet(local: datetime, quiet: tuple) -> bool:
    """Whether a local time falls in quiet hours (which may cross midnight)."""
    begin, end = quiet
    t = local.time()
    return (begin <= t or t < end) if begin > end else (begin <= t < end)


def _is_urgent(request_id, payload, urgency: dict) -> bool:
    """A staff push is urgent when its case is, or when it is a digest marked 紧急."""
    if request_id is not None:
        return urgency.get(request_id) == Urgency.URGENT.value
    data = ((payload or {}).get("template") or {}).get("data") or {}
    return any((field or {}).get("value") == "紧急" for field in data.values())


def print_report(report: DayReport, out=sys.stdout) -> None:
    """The day as a table."""
    w = out.write
    w(f"day from {report.start}: posted {report.posted} messages, {report.requests_opened} requests opened "
      f"({report.urgent_opened} urgent), {report.accepted} accepted by assistants\n\n")
    w(f"{'pushes per person':<22}{'people':>8}{'median':>8}{'p90':>8}{'max':>6}{'worst hour':>12}{'total':>8}\n")
    for role, load in report.roles.items():
        w(f"{role:<22}{load.people:>8}{load.median:>8.1f}{load.p90:>8.1f}{load.max:>6}{load.worst_hour:>12}"
          f"{load.total:>8}\n")
    w(f"\nstaff pushes delivered in quiet hours: urgent {report.quiet_hours.get('urgent', 0)}, "
      f"not urgent {report.quiet_hours.get('not urgent', 0)}\n")
    w("alerts per rung: " + (", ".join(f"{k}: {v}" for k, v in report.rungs.items()) or "none") + "\n")
    w(f"urgent cases unaccepted at the end: {report.urgent_unaccepted}, still alerting "
      f"{report.urgent_unaccepted_alerting} (alerting the person on duty, or still climbing the ladder)"
      + (f", silent: {report.urgent_unaccepted_silent}"
                                                 if report.urgent_unaccepted_silent else "") + "\n")
    w(f"answers lost: {report.answers_lost} of {report.answers_expected} messages\n")
    w(f"wall time: {report.wall_seconds:.0f} s\n")
