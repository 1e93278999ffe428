"""The city's cases: requests from visits, WeChat and town offices, each with its timeline up to now.

The last data phase of a city seed run. Cases are not played through the request services (the
small demo does that); their timelines are generated with the same ladder and escalation rules,
so the escalation level and `next_escalation_at` are what the scheduler would have left. Request
numbers and event ids follow time, as the running system would have handed them out.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, update

from config import policy
from devtools import demo
from devtools.demo_city_run import CityRun, Person
from models import RequestEvent, ServiceRequest, WeChatUser
from models.enums import ActorKind, EventKind, RequestSource, RequestStatus, Urgency
from services import escalation
from services import requests as request_service
from services.policy import ladder
from services.policy.classify import classify
from services.visits import CHECK_CATEGORY, CHECK_LABEL

REQUEST_DAYS = 42  # WeChat and office cases are spread over the past six weeks


@dataclass
class _Case:
    """A generated request and its timeline, before ids are given out in time order."""

    person: Person
    created: datetime
    source: RequestSource
    category: str
    urgency: str
    summary: str
    emergency_numbers: tuple[str, ...] = ()
    raised_by_user: int | None = None
    raised_by_staff: int | None = None
    visit_id: int | None = None
    events: list[tuple] = field(default_factory=list)  # (at, kind, actor staff, actor user, body, data)
    row: dict = field(default_factory=dict)


@dataclass(frozen=True)
class _Facts:
    """The attributes `requests.next_escalation` reads, for a request not yet an ORM object."""

    status: str
    created_at: datetime
    escalation_level: int
    urgency: str
    escalation_repeats: int = 0


def write_requests(run: CityRun) -> None:
    """Cases from visits, WeChat and town offices, each with a timeline that ends where it is now."""
    rng, shape = run.rng("requests"), run.shape
    cases: list[_Case] = []
    for visit_id, person, at, problems in run.problem_visits:
        summary = "；".join(f"{CHECK_LABEL[k]}：{v}" for k, v in problems.items())
        cases.append(_Case(
            person=person, created=at, source=RequestSource.VISIT,
            category=CHECK_CATEGORY[next(iter(problems))].value, urgency=Urgency.NORMAL.value,
            summary=f"走访发现：{summary}", raised_by_staff=person.staff_id, visit_id=visit_id,
        ))
    with_family = [p for p in run.people if p.family_user_id is not None]
    messages = [m for m, _ in demo.HELP_MESSAGES]
    weights = [w for _, w in demo.HELP_MESSAGES]
    window = timedelta(days=REQUEST_DAYS)
    for _ in range(shape.requests):
        on_wechat = with_family and rng.random() < 0.85
        person = rng.choice(with_family if on_wechat else run.people)
        earliest = max(run.now - window, person.family_since if on_wechat else person.since)
        created = _daytime_between(rng, earliest, run.now, run.tz)
        message = rng.choices(messages, weights)[0]
        found = classify(message, created.astimezone(run.tz).month)
        town = run.villages[person.village].town_index
        cases.append(_Case(
            person=person, created=created,
            source=RequestSource.WECHAT if on_wechat else RequestSource.OFFICE,
            category=found.category.value, urgency=found.urgency.value, summary=message,
            emergency_numbers=found.emergency_numbers,
            raised_by_user=person.family_user_id if on_wechat else None,
            raised_by_staff=None if on_wechat else rng.choice(run.officers[town]),
        ))
    for case in cases:
        _timeline(run, rng, case)
    # Numbers follow time, as they would have been handed out.
    cases.sort(key=lambda c: (c.created, c.person.id))
    for request_id, case in zip(run.ids(ServiceRequest, len(cases)), cases, strict=True):
        case.row["id"] = request_id
    columns = ("id", "beneficiary_id", "village_id", "town_id", "source", "raised_by_wechat_user_id",
               "raised_by_staff_id", "visit_id", "category", "urgency", "status", "summary",
               "assignee_staff_id", "escalation_level", "escalation_repeats", "next_escalation_at", "created_at",
               "updated_at",
               "acknowledged_at", "resolved_at", "closed_at", "cancelled_at", "resolution_note", "rating",
               "rating_comment")
    run.done("requests", run.writer.write(
        ServiceRequest.__table__, columns, (tuple(c.row[name] for name in columns) for c in cases)
    ))
    events = sorted(
        ((at, case.row["id"], n, kind, staff, user, body, data)
         for case in cases for n, (at, kind, staff, user, body, data) in enumerate(case.events)),
        key=lambda e: (e[0], e[1], e[2]),
    )
    last_seen: dict[int, datetime] = {}
    rows = []
    for event_id, (at, request_id, _n, kind, staff, user, body, data) in zip(
        run.ids(RequestEvent, len(events)), events, strict=True
    ):
        actor = ActorKind.STAFF if staff else ActorKind.WECHAT_USER if user else ActorKind.SYSTEM
        rows.append((event_id, request_id, kind.value, actor.value, staff, user, body, data, at))
        if user:
            last_seen[user] = at
    run.done("request events", run.writer.write(
        RequestEvent.__table__,
        ("id", "request_id", "kind", "actor_kind", "actor_staff_id", "actor_wechat_user_id", "body", "data",
         "created_at"),
        rows,
    ))
    # The 48-hour customer-service window runs from a follower's last message.
    if last_seen:
        table = WeChatUser.__table__
        run.session.execute(
            update(table)
            .where(table.c.id == bindparam("user_id"))
            .values(last_message_at=bindparam("at", type_=table.c.last_message_at.type)),
            [{"user_id": user, "at": at} for user, at in sorted(last_seen.items())],
        )


def _timeline(run: CityRun, rng: random.Random, case: _Case) -> None:
    """What happened to the case up to now: accepted, replied, resolved, rated or cancelled; rungs climbed."""
    now, urgent = run.now, case.urgency == Urgency.URGENT.value
    created = case.created
    person = case.person
    rater = case.raised_by_user or person.family_user_id
    # Who may rate or cancel must have been bound by then.
    if rater is not None and person.family_since is not None and person.family_since > created:
        rater = None
    ack = reply = resolved = rated = cancelled = None
    if urgent:
        ack = created + timedelta(minutes=rng.uniform(2, 20))
    elif case.source == RequestSource.VISIT:
        ack = created + timedelta(minutes=rng.uniform(1, 30))  # the assistant was there
    elif rng.random() < 0.03:
        ack = None  # nobody ever accepts it: the ladder climbs to the city
    else:
        ack = created + timedelta(hours=rng.choices(
            (rng.uniform(0.1, 1.8), rng.uniform(2, 14), rng.uniform(14, 60)), (70, 25, 5)
        )[0])
    if ack is not None and rng.random() > 0.04:  # a few stay accepted but never finished
        if urgent:
            resolved = ack + timedelta(hours=rng.uniform(0.5, 8))
        else:
            resolved = ack + timedelta(hours=rng.choices(
                (rng.uniform(1, 24), rng.uniform(24, 47), rng.uniform(48, 160)), (75, 20, 5)
            )[0])
        if rng.random() < 0.3:
            reply = ack + (resolved - ack) * rng.uniform(0.05, 0.5)
    # Only whoever raised a case on WeChat withdraws it (the app lets any bound relative, but rarely).
    if case.raised_by_user is not None and rng.random() < 0.07:
        cancelled = created + timedelta(minutes=rng.uniform(20, 24 * 60))
        if ack is not None and ack >= cancelled:
            ack = reply = None
        if reply is not None and reply >= cancelled:
            reply = None
        resolved = None
    stars = comment = None
    if resolved is not None and rater is not None and rng.random() < 0.7:
        rated = resolved + timedelta(hours=rng.uniform(0.5, 72))
        stars = rng.choices([s for s, _ in demo.RATING_WEIGHTS], [w for _, w in demo.RATING_WEIGHTS])[0]
        comment = rng.choice(demo.RATING_COMMENTS) or None
    note = rng.choice(demo.RESOLUTION_NOTES[case.category]) if resolved else None
    reply_text = rng.choice(demo.REPLIES)

    # Keep only what has happened by now.
    ack, reply, resolved, rated, cancelled = (t if t is not None and t <= now else None
                                              for t in (ack, reply, resolved, rated, cancelled))
    if resolved is None:
        rated = None

    def status_at(t: datetime) -> str:
        """The case's status at moment `t`, from the times drawn above."""
        if cancelled and cancelled <= t:
            return RequestStatus.CANCELLED.value
        if rated and rated <= t:
            return RequestStatus.CLOSED.value
        if resolved and resolved <= t:
            return RequestStatus.RESOLVED.value
        if ack and ack <= t:
            return RequestStatus.ACKNOWLEDGED.value
        return RequestStatus.OPEN.value

    assistant = person.staff_id
    data = {"routed_to": "assistant", "emergency_numbers": list(case.emergency_numbers)}
    if case.visit_id is not None:
        data = {"visit_id": case.visit_id, **data}
    events = [(created, EventKind.CREATED, case.raised_by_staff, case.raised_by_user, case.summary, data)]
    # The escalation scan, as if it had run all along: each rung at its due time, if its condition held.
    level = 0
    for step in policy.ESCALATION_LADDER[case.urgency]:
        due = ladder.step_due_at(step, created, run.tz, policy.SERVICE_HOURS)
        if due <= now and step.level > level and ladder.condition_holds(step, status_at(due)):
            level = step.level
            events.append((due, EventKind.ESCALATED, None, None,
                           f"第{step.level}级督办：已等待{escalation.waited(created, due)}",
                           {"level": step.level, "condition": step.condition, "notify": list(step.notify)}))
    # The last urgent rung repeats while nobody accepts; count the repeats due by now (the demo
    # writes no event for each, as the scan would; its urgent cases are accepted within minutes).
    current = ladder.step_at(level, policy.ESCALATION_LADDER[case.urgency])
    repeats = 0
    if current is not None and ladder.condition_holds(current, status_at(now)):
        repeats = ladder.repeats_due(current, created, now, run.tz, policy.SERVICE_HOURS)
    if ack:
        events.append((ack, EventKind.ACKNOWLEDGED, assistant, None, None, None))
    if reply:
        events.append((reply, EventKind.REPLY, assistant, None, reply_text, None))
    if resolved:
        events.append((resolved, EventKind.RESOLVED, assistant, None, note, None))
    if rated:
        events.append((rated, EventKind.RATED, None, rater, comment, {"rating": stars}))
    if cancelled:
        events.append((cancelled, EventKind.CANCELLED, None, rater, None, None))
    events.sort(key=lambda e: e[0])
    case.events = events
    status = status_at(now)
    facts = _Facts(status=status, created_at=created, escalation_level=level, urgency=case.urgency,
                   escalation_repeats=repeats)
    village = run.villages[person.village]
    case.row.update(
        beneficiary_id=person.id, village_id=village.id, town_id=run.town_ids[village.town_index],
        source=case.source.value, raised_by_wechat_user_id=case.raised_by_user,
        raised_by_staff_id=case.raised_by_staff, visit_id=case.visit_id, category=case.category,
        urgency=case.urgency, status=status, summary=case.summary, assignee_staff_id=assistant,
        escalation_level=level, escalation_repeats=repeats,
        next_escalation_at=request_service.next_escalation(facts, run.tz),
        created_at=created, updated_at=events[-1][0], acknowledged_at=ack,
        resolved_at=resolved, closed_at=rated, cancelled_at=cancelled,
        resolution_note=note if resolved else None, rating=stars if rated else None,
        rating_comment=comment if rated else None,
    )


def _daytime_between(rng: random.Random, start: datetime, end: datetime, tz: ZoneInfo) -> datetime:
    """A moment between `start` and `end`, mostly in waking hours, as people write."""
    for _ in range(4):
        at = start + (end - start) * rng.random()
        if 7 <= at.astimezone(tz).hour < 21 or rng.random() < 0.15:
            return at
    return at
