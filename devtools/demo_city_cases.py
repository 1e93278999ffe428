"""The city's cases: requests from visits, WeChat and town offices, each with its timeline up to now.

The last data phase of a city seed run. Cases are not played through the request services (the
small demo does that); their timelines are generated with the same ladder and escalation rules,
so every rung (and every repeat of the urgent ladder's last rung) has its event at the time the
scheduler would have taken it, and the escalation level, repeats and `next_escalation_at` are what
it would have left. A case raised after the beneficiary's assistant left goes to the village's
responsible officer, as routing sends it. How fast help comes, per town, follows `demo_history`.
Request numbers and event ids follow time, as the running system would have handed them out.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import bindparam, update

from config import policy
from devtools import demo_city_checkins
from devtools import demo_history as history
from devtools.demo_city_run import CityRun, Person
from models import RequestEvent, ServiceRequest, Silence, WeChatUser
from models.enums import (
    OPEN_STATUSES,
    ActorKind,
    EventKind,
    RequestCategory,
    RequestChannel,
    RequestSource,
    RequestStatus,
    Urgency,
)
from services import escalation, texts
from services import requests as request_service
from services.policy import ladder
from services.policy.classify import Classification, classify
from services.visits import CHECK_CATEGORY, CHECK_LABEL

WECHAT_SHARE = 0.85  # of raised cases; the rest are calls logged at a town office
CANCELLED_SHARE = 0.04  # of cases raised on WeChat
RATED_SHARE = 0.85  # of resolved cases with someone on WeChat to rate them
REPLY_SHARE = 0.3
# In the last weeks a few cases are still hanging: never accepted, or accepted and stuck.
RECENT = timedelta(days=21)
NEVER_ACCEPTED_SHARE = 0.006
STUCK_SHARE = 0.02
OPEN = {s.value for s in OPEN_STATUSES}

# How each kind of demo case reached the office: the office's own are calls it took.
CHANNEL_OF_SOURCE = {RequestSource.WECHAT: RequestChannel.WECHAT, RequestSource.VISIT: RequestChannel.HOME,
                     RequestSource.OFFICE: RequestChannel.PHONE, RequestSource.SILENCE: RequestChannel.OTHER}


@dataclass
class _Case:
    """A generated request and its timeline, before ids are given out in time order."""

    person: Person
    created: datetime
    source: RequestSource
    category: str
    urgency: str
    summary: str
    assignee: int
    routed_to: str = "assistant"
    emergency_numbers: tuple[str, ...] = ()
    raised_by_user: int | None = None
    raised_by_staff: int | None = None
    visit_id: int | None = None
    hangs: str | None = None  # "never" accepted, or accepted and "stuck": still open now
    # A silence's 联系 case: its silence row (written once the case has its id) and when the
    # assistant took it up (the call that ended the silence).
    silence: tuple | None = None
    accepted: datetime | None = None
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
    category: str = ""


@cache
def _classified(message: str, month: int) -> Classification:
    """classify() for the few demo messages, once per month."""
    return classify(message, month)


def write_requests(run: CityRun) -> None:
    """Cases from visits, WeChat and town offices, each with a timeline that ends where it is now."""
    rng, shape, window = run.rng("requests"), run.shape, run.window
    cases: list[_Case] = []
    for visit_id, person, at, problems in run.problem_visits:
        summary = "；".join(f"{CHECK_LABEL[k]}：{v}" for k, v in problems.items())
        cases.append(_Case(
            person=person, created=at, source=RequestSource.VISIT,
            category=CHECK_CATEGORY[next(iter(problems))].value, urgency=Urgency.NORMAL.value,
            summary=f"走访发现：{summary}", assignee=person.staff_id, raised_by_staff=person.staff_id,
            visit_id=visit_id,
        ))
    for person, name, silence, accepted in run.silence_cases:
        village = run.villages[person.village]
        gone = person.left_at is not None and person.left_at <= silence[7]
        when = texts.CHECKIN_WHEN[silence[4]]
        cases.append(_Case(
            person=person, created=silence[7], source=RequestSource.SILENCE,
            category=RequestCategory.CHECK_ON.value, urgency=Urgency.NORMAL.value,
            summary=texts.SILENCE_SUMMARY.format(name=name, when=when),
            assignee=run.responsible[village.id] if gone else person.staff_id, routed_to="town" if gone else "assistant",
            silence=silence, accepted=accepted,
        ))
    with_family = [p for p in run.people if p.family_user_id is not None]
    messages = [m for m, _, _ in history.HELP_MESSAGES]
    cumulative = window.request_days()
    for _ in range(shape.requests):
        created = window.raised_at(rng, cumulative)
        on_wechat = bool(with_family) and rng.random() < WECHAT_SHARE
        person = _someone(rng, with_family if on_wechat else run.people, created, on_wechat)
        if person is None:
            on_wechat, person = False, _someone(rng, run.people, created, False)
        if person is None:
            continue
        month = created.astimezone(run.tz).month
        message = rng.choices(messages, history.message_weights(month))[0]
        found = _classified(message, month)
        village = run.villages[person.village]
        gone = person.left_at is not None and person.left_at <= created
        cases.append(_Case(
            person=person, created=created,
            source=RequestSource.WECHAT if on_wechat else RequestSource.OFFICE,
            category=found.category.value, urgency=found.urgency.value, summary=message,
            assignee=run.responsible[village.id] if gone else person.staff_id,
            routed_to="town" if gone else "assistant",
            emergency_numbers=found.emergency_numbers,
            raised_by_user=person.family_user_id if on_wechat else None,
            raised_by_staff=None if on_wechat else rng.choice(run.officers[village.town_index]),
        ))
    _hanging(run, rng, cases)
    for case in cases:
        _timeline(run, rng, case)
    _write(run, cases)
    _write_raised_silences(run, cases)


def _write_raised_silences(run: CityRun, cases: list[_Case]) -> None:
    """The silences raised at 16:00, each pointing at its 联系 case."""
    at = demo_city_checkins.REQUEST_AT
    rows = [(*c.silence[:at], c.row["id"], *c.silence[at + 1:]) for c in cases if c.silence is not None]
    written = run.writer.write(Silence.__table__, demo_city_checkins.SILENCE_COLUMNS, rows)
    run.counts["silences"] = run.counts.get("silences", 0) + written


def _hanging(run: CityRun, rng: random.Random, cases: list[_Case]) -> None:
    """A few cases of the last weeks are still hanging, past a rung: some nobody accepted, some
    accepted and stuck (at least one and two, when there are cases enough)."""
    recent = [c for c in cases if c.source not in (RequestSource.VISIT, RequestSource.SILENCE)
              and c.urgency == Urgency.NORMAL.value
              and run.now - c.created < RECENT and (c.person.left_at is None or c.person.left_at <= c.created)]
    if len(recent) < 3:
        return
    chosen = rng.sample(recent, max(round((NEVER_ACCEPTED_SHARE + STUCK_SHARE) * len(recent)), 3))
    never = max(round(NEVER_ACCEPTED_SHARE * len(recent)), 1)
    for n, case in enumerate(chosen):
        case.hangs = "never" if n < never else "stuck"



def _someone(rng: random.Random, pool: list[Person], created: datetime, on_wechat: bool) -> Person | None:
    """Someone of `pool` registered (and, on WeChat, bound) before `created`, not in the days their
    assistant was handing over; None when a few tries find nobody."""
    for _ in range(30):
        person = rng.choice(pool)
        if person.since > created - timedelta(days=1):
            continue
        if on_wechat and person.family_since > created:
            continue
        if person.left_at is not None and person.left_at - timedelta(days=3) <= created < person.left_at:
            continue
        return person
    return None


def _write(run: CityRun, cases: list[_Case]) -> None:
    """The requests, numbered in time order, then their events, and each follower's last message."""
    cases.sort(key=lambda c: (c.created, c.person.id))
    for request_id, case in zip(run.ids(ServiceRequest, len(cases)), cases, strict=True):
        case.row["id"] = request_id
    columns = ("id", "beneficiary_id", "village_id", "town_id", "source", "channel", "raised_by_wechat_user_id",
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


def _times(run: CityRun, rng: random.Random, case: _Case) -> tuple:
    """(accepted, replied, resolved, rated, cancelled, stars, comment, rater) as drawn; any may be None."""
    created, person, tz = case.created, case.person, run.tz
    if case.silence is not None:
        # The assistant calls or calls round, and closes the case once they know all is well.
        return case.accepted, None, case.accepted + timedelta(minutes=rng.uniform(5, 90)), None, None, None, None, None
    urgent = case.urgency == Urgency.URGENT.value
    pace = run.pace[run.villages[person.village].town_index]
    if case.source == RequestSource.VISIT:
        ack = created + timedelta(minutes=rng.uniform(1, 30))  # the assistant was there
    elif case.hangs == "never":
        ack = None  # nobody accepts it: the ladder climbs to the city
    else:
        ack = created + history.accept_delay(rng, created, tz, urgent, pace)
    reply = resolved = rated = cancelled = None
    if ack is not None and case.hangs is None:
        resolved = history.awake(ack + history.resolve_delay(rng, case.category, urgent), tz, rng, urgent)
        if rng.random() < REPLY_SHARE:
            reply = ack + (resolved - ack) * rng.uniform(0.05, 0.5)
    # Only whoever raised a case on WeChat withdraws it (the app lets any bound relative, but rarely).
    if case.raised_by_user is not None and case.hangs is None and rng.random() < CANCELLED_SHARE:
        cancelled = created + timedelta(minutes=rng.uniform(20, 24 * 60))
        if ack is not None and ack >= cancelled:
            ack = reply = None
        if reply is not None and reply >= cancelled:
            reply = None
        resolved = None
    left = person.left_at
    if left is not None and created < left and case.assignee == person.staff_id:
        # Everything the assistant did, they did before they left.
        limit = left - timedelta(hours=rng.uniform(1, 24))
        if cancelled is None or cancelled > limit:
            cancelled = None
            if ack is None or ack > limit:
                ack, reply = created + (limit - created) * 0.3, None
            if resolved is None or resolved > limit:
                resolved, reply = limit, None
    rater = case.raised_by_user or person.family_user_id
    # Who rates or withdraws must have been bound by then.
    if person.family_since is not None and person.family_since > created:
        rater = None
    stars = comment = None
    if resolved is not None and rater is not None and rng.random() < RATED_SHARE:
        rated = history.awake(resolved + history.rated_after(rng), tz, rng)
        slow = resolved - created > timedelta(hours=48) or ack - created > timedelta(hours=4)
        stars, comment = history.stars(rng, slow)
    return ack, reply, resolved, rated, cancelled, stars, comment, rater


def _timeline(run: CityRun, rng: random.Random, case: _Case) -> None:
    """What happened to the case up to now: accepted, replied, resolved, rated or cancelled; rungs climbed."""
    now, created, person = run.now, case.created, case.person
    ack, reply, resolved, rated, cancelled, stars, comment, rater = _times(run, rng, case)
    note = rng.choice(history.RESOLUTION_NOTES[case.category]) if resolved else None
    reply_text = rng.choice(history.REPLIES)

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

    handler = case.assignee
    data = {"routed_to": case.routed_to, "emergency_numbers": list(case.emergency_numbers)}
    if case.silence is not None:
        data = {"silence_id": case.silence[0], "plan": case.silence[4],
                "period_start": case.silence[5].isoformat(), **data}
    if case.visit_id is not None:
        data = {"visit_id": case.visit_id, **data}
    events = [(created, EventKind.CREATED, case.raised_by_staff, case.raised_by_user, case.summary, data)]
    level, repeats = _rungs(run, case, status_at, events)
    if ack:
        events.append((ack, EventKind.ACKNOWLEDGED, handler, None, None, None))
    if reply:
        events.append((reply, EventKind.REPLY, handler, None, reply_text, None))
    if resolved:
        events.append((resolved, EventKind.RESOLVED, handler, None, note, None))
    if rated:
        events.append((rated, EventKind.RATED, None, rater, comment, {"rating": stars}))
    if cancelled:
        events.append((cancelled, EventKind.CANCELLED, None, rater, None, None))
    events.sort(key=lambda e: e[0])
    case.events = events
    status = status_at(now)
    facts = _Facts(status=status, created_at=created, escalation_level=level, urgency=case.urgency,
                   escalation_repeats=repeats, category=case.category)
    village = run.villages[person.village]
    case.row.update(
        beneficiary_id=person.id, village_id=village.id, town_id=run.town_ids[village.town_index],
        source=case.source.value, channel=CHANNEL_OF_SOURCE[case.source].value,
        raised_by_wechat_user_id=case.raised_by_user,
        raised_by_staff_id=case.raised_by_staff, visit_id=case.visit_id, category=case.category,
        urgency=case.urgency, status=status, summary=case.summary, assignee_staff_id=handler,
        escalation_level=level, escalation_repeats=repeats,
        # A finished case has no next rung; asking the ladder for each of the thousands costs seconds.
        next_escalation_at=request_service.next_escalation(facts, run.tz) if status in OPEN else None,
        created_at=created, updated_at=events[-1][0], acknowledged_at=ack,
        resolved_at=resolved, closed_at=rated, cancelled_at=cancelled,
        resolution_note=note if resolved else None, rating=stars if rated else None,
        rating_comment=comment if rated else None,
    )


def _rungs(run: CityRun, case: _Case, status_at, events: list[tuple]) -> tuple[int, int]:
    """The escalation scan, as if it had run all along: each rung at its due time if its condition
    held then, and each repeat of a repeating rung while it kept holding (until a higher rung).
    Returns the level reached and the repeats of that level."""
    now, created = run.now, case.created
    steps = policy.ESCALATION_LADDER[ladder.ladder_key(case.category, case.urgency)]
    taken: list[tuple] = []
    for step in steps:
        due = ladder.step_due_at(step, created, run.tz, policy.SERVICE_HOURS)
        if due <= now and step.level > (taken[-1][0].level if taken else 0) \
                and ladder.condition_holds(step, status_at(due)):
            taken.append((step, due))
            events.append((due, EventKind.ESCALATED, None, None,
                           f"第{step.level}级督办：已等待{escalation.waited(created, due)}",
                           {"level": step.level, "condition": step.condition, "notify": list(step.notify)}))
    repeats = 0
    for n, (step, _) in enumerate(taken):
        if step.repeat_every is None:
            continue
        stop = taken[n + 1][1] if n + 1 < len(taken) else now + timedelta(microseconds=1)
        at, count = ladder.first_repeat_at(step, created, run.tz, policy.SERVICE_HOURS), 0
        while at < stop and ladder.condition_holds(step, status_at(at)):
            count += 1
            events.append((at, EventKind.ESCALATED, None, None,
                           f"第{step.level}级督办：已等待{escalation.waited(created, at)}"
                           + texts.ESCALATION_REPEAT_NOTE.format(repeat=count),
                           {"level": step.level, "condition": step.condition, "notify": list(step.notify),
                            "repeat": count}))
            at += step.repeat_every
        if n + 1 == len(taken):
            repeats = count
    return (taken[-1][0].level if taken else 0), repeats
