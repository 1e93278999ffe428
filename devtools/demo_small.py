"""The small town's seven months, played forward through the real services.

Every visit is recorded with `visits.record_visit`, every case opened, accepted, resolved, rated or
withdrawn with the services the chat commands use, and the escalation ladder is climbed by
`escalation.escalate` at each rung's own time, so the history looks exactly like what the running
system would have produced. Its shape comes from `demo_history`, as the city's does:

- visits on each person's plan, kept 95 % in 东湾村, 78 % in 南岭村 (the weak one) and 90 % in
  新街社区, slipping in the weak months; a few find a problem, which opens a case;
- about three requests a week, logged by the town office from calls (a real village of sixty would
  raise one every two or three weeks: the demo is busier so that every week of a trend has cases),
  at least one in every three days;
- a tour of the ladder: cases that reach each rung of the urgent and the normal ladder;
- one of 新街社区's assistants left 18 days ago and nobody has taken their people over yet: their
  open cases were handed to a colleague, new ones go to the village's responsible officer;
- the scripted cases of the last days, one in every state;
- five weeks of 报平安 by those on a plan, with the day's scans and the 联系 cases they open
  (`demo_small_checkins`).

Demo staff and families are not on WeChat, so nothing is queued in the outbox. Generated cases are
finished before the demo's `now`; only the scripted ones are still open.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from devtools import demo_history as history
from devtools import demo_small_checkins
from models import Beneficiary, FamilyLink, Region, ServiceRequest, Staff, Visit, WeChatUser
from models.enums import OPEN_STATUSES, Relation, RequestChannel, RequestSource, Urgency
from services import casework, daily_checkin_figures, daily_figures, escalation, visits, weekly_figures
from services import requests as request_service
from services.policy import visits as schedule
from services.policy.classify import classify
from services.policy.commands import VisitReport

# Per village, in code order: how well visits keep to plan, and how slowly cases are taken up.
KEEPS_TO_PLAN = (0.95, 0.78, 0.90)
PACE = (1.0, 1.35, 1.0)
REQUESTS_PER_WEEK = 3
SLOT_DAYS = 3
VISIT_PROBLEM_RATE = 0.04
HELP_RATES = (0.35, 0.25, 0.15, 0.2)  # history.HELP_FIELDS, in order
RATED_SHARE = 0.68
CANCELLED_SHARE = 0.04
LEAVER_DAYS_AGO = 18
RECENT_DAYS = 2  # generated cases are raised before this, and finished before now

# Scripted cases, so that every state shows up whatever the seed:
# (message, hours ago raised, minutes until accepted, hours until resolved, then "cancel" or stars).
SMALL_CASES = (
    ("老人在家摔倒了，起不来，请快来看看", 0.4, None, None, None),  # urgent, unanswered: first rung
    ("家里的米快吃完了，能不能帮忙买一袋", 0.6, None, None, None),  # just arrived
    ("想问问残疾补贴怎么申请", 30, None, None, None),  # nobody accepted it: escalated to the town
    ("降压药快吃完了，想请人帮忙去卫生院拿药", 5, 25, None, None),  # being handled
    ("屋顶漏雨了，下雨天屋里都是水", 72, 14 * 60, None, None),  # accepted late, unresolved after 48 hours
    ("冬天的棉被不够厚，晚上冷", 50, 40, 20, None),  # resolved, waiting for a rating
    ("请帮忙代购一些日用品", 240, 30, 6, 5),
    ("好几天联系不上在外地打工的儿子", 480, 90, 30, 4),
    ("电灯坏了，晚上看不见", 150, None, None, "cancel"),  # withdrawn by the family
)
# Cases that climb each rung whatever the seed: (message, minutes until accepted, hours from then
# until resolved). Urgent: 15/30/45 minutes unaccepted are rungs 1-3, 55 and every 10 more rung 4;
# accepted but unresolved after 4 and 12 hours, rungs 5-6. Normal: 2 service hours unaccepted,
# then 48 and 96 hours unresolved.
LADDER_TOUR = (
    (history.URGENT_MESSAGES[0], 20, 2),
    (history.URGENT_MESSAGES[1], 36, 3),
    (history.URGENT_MESSAGES[2], 50, 2),
    (history.URGENT_MESSAGES[0], 78, 2),
    (history.URGENT_MESSAGES[1], 8, 6),
    (history.URGENT_MESSAGES[0], 10, 15),
    ("想问一下低保年审要带什么证明", 200, 4),
    ("屋顶漏雨了，下雨天屋里都是水", 40, 60),
    ("屋顶漏雨了，下雨天屋里都是水", 30, 110),
)
# The first beneficiaries are the simulator's personas (four families, two in person): they start
# with no case at all, so the README's walk opens new cases rather than joining old ones.
WALK_PEOPLE = 6


@dataclass
class Town:
    """Who the history is about: the people with their assistant and registration, and the staff."""

    villages: list[Region]
    people: list[tuple[Beneficiary, Staff, datetime]]
    officers: list[Staff]
    assistants: list[list[Staff]]  # per village, in code order


@dataclass
class _Case:
    """A request being played forward: filled in once the step that opens it has run."""

    request: ServiceRequest | None = None


@dataclass(frozen=True)
class _Step:
    """One thing that happened at `at`; `case` is the request it concerns, if any."""

    at: datetime
    order: int
    run: Callable[[datetime], None]
    case: _Case | None = None


@dataclass
class _Story:
    """The history being written: its steps, and the relatives bound to rate and withdraw."""

    session: Session
    env: request_service.RequestEnv
    rng: random.Random
    now: datetime
    window: history.Window
    steps: list[_Step] = field(default_factory=list)
    family: dict[int, WeChatUser] = field(default_factory=dict)

    def add(self, at: datetime, run: Callable[[datetime], None], case: _Case | None = None) -> None:
        """Keep a step that has happened by now; later ones have not happened yet."""
        if at <= self.now:
            self.steps.append(_Step(at, len(self.steps), run, case))

    def relative(self, person: Beneficiary, since: datetime, before: datetime) -> WeChatUser:
        """The person's relative on WeChat (bound before `before`, not before `since`), bound once."""
        if person.id not in self.family:
            bound = max(since, before - timedelta(days=self.rng.randint(1, 60)))
            self.family[person.id] = _family_member(self.session, person, len(self.family) + 1, bound)
        return self.family[person.id]


def play(session: Session, env: request_service.RequestEnv, rng: random.Random, now: datetime,
         town: Town) -> tuple[int, int]:
    """Seven months of visits and cases, and the scripted cases, run in time order; (visits, requests)."""
    story = _Story(session, env, rng, now, history.Window(now, env.tz))
    leaver = town.assistants[2][-1]
    left_at = now - timedelta(days=LEAVER_DAYS_AGO, hours=rng.uniform(0, 6))
    village_of = {v.id: i for i, v in enumerate(town.villages)}
    walkers = {person.id for person, _, _ in town.people[:WALK_PEOPLE]}
    _visits(story, town, village_of, walkers, leaver, left_at)
    others = town.people[WALK_PEOPLE:]
    _raised_cases(story, others, village_of, town)
    _ladder_tour(story, others, village_of, town)
    _scripted_cases(story, town)
    demo_small_checkins.add_checkins(story, town.people, walkers)
    story.add(left_at, _leave_step(session, env, leaver, town))
    with _quiet_ladder():
        steps = sorted(story.steps, key=lambda s: (s.at, s.order))
        for step in steps:
            _catch_up(session, env, step.case.request if step.case else None, step.at)
            step.run(step.at)
        for step in steps:  # and the rungs due since the last thing that happened
            _catch_up(session, env, step.case.request if step.case else None, now)
    session.flush()
    window = story.window
    daily_figures.rebuild(session, window.first, window.today, env.tz, now)
    daily_checkin_figures.rebuild(session, window.first, window.today, env.tz, now)
    weekly_figures.rebuild(session, window.today, env.tz, now)
    return (session.scalar(select(func.count()).select_from(Visit)),
            session.scalar(select(func.count()).select_from(ServiceRequest)))


# --- visits ---------------------------------------------------------------------------------------


def _visits(story: _Story, town: Town, village_of: dict[int, int], walkers: set[int], leaver: Staff,
            left_at: datetime) -> None:
    """Each person's visits on their plan; a problem found opens a case that is then followed."""
    rng, window = story.rng, story.window
    late = [window.late_chances(keeps) for keeps in KEEPS_TO_PLAN]
    for person, assistant, since in town.people:
        every = schedule.frequency_days(person.category_names)
        until = window.index(left_at) - 3 if assistant is leaver else window.days
        days = history.visit_days(rng, every, late[village_of[person.village_id]], window.weekdays,
                                  window.index(since), until)
        for day in days:
            at = window.mornings[day] + timedelta(minutes=history.working_minutes(rng))
            if at < since or at > story.now:
                continue
            helps = {f for f, rate in zip(history.HELP_FIELDS, HELP_RATES) if rng.random() < rate}
            report = VisitReport(beneficiary_id=person.id, helps=helps)
            if person.id not in walkers and rng.random() < VISIT_PROBLEM_RATE:
                check = _problem_check(rng, at.astimezone(story.env.tz).month)
                report.problems[check] = rng.choice(history.VISIT_PROBLEMS[check])
            case = _Case()
            story.add(at, _visit_step(story.session, story.env, assistant, report, case), case)
            if report.problems:
                category = visits.CHECK_CATEGORY[next(iter(report.problems))].value
                accepted = at + timedelta(minutes=rng.uniform(5, 60))  # the assistant was there
                _follow(story, case, person, since, at, accepted, category, urgent=False)


def _problem_check(rng: random.Random, month: int) -> str:
    """Which 四查 check found the problem: clothes in the cold, roofs in the rain, food and health always."""
    seasons = history.season_of(month)
    checks = sorted(history.VISIT_PROBLEMS)
    weights = [3 if history.PROBLEM_SEASON.get(c) in seasons else 1 for c in checks]
    return rng.choices(checks, weights)[0]


# --- cases ----------------------------------------------------------------------------------------


def _raised_cases(story: _Story, people: list, village_of: dict[int, int], town: Town) -> None:
    """About three calls a week to the town office, at least one in every SLOT_DAYS days."""
    rng, window = story.rng, story.window
    cumulative = window.request_days()
    last = window.days - RECENT_DAYS
    moments = [window.raised_at(rng, cumulative, lo, min(lo + SLOT_DAYS - 1, last))
               for lo in range(0, last + 1, SLOT_DAYS)]
    extra = round(REQUESTS_PER_WEEK * window.days / 7) - len(moments)
    moments += [window.raised_at(rng, cumulative, 0, last) for _ in range(max(extra, 0))]
    for created in sorted(moments):
        local = created.astimezone(story.env.tz)
        month_weights = history.message_weights(local.month)
        text = rng.choices([m for m, _, _ in history.HELP_MESSAGES], month_weights)[0]
        _raise(story, people, village_of, town, created, text)


def _ladder_tour(story: _Story, people: list, village_of: dict[int, int], town: Town) -> None:
    """The cases that climb each rung, on weekday mornings spread over the months."""
    rng, window = story.rng, story.window
    for text, accept_minutes, resolve_hours in LADDER_TOUR:
        day = rng.randint(7, window.days - 14)
        while window.day(day).weekday() >= 5:
            day += 1
        created = window.mornings[day] + timedelta(hours=rng.uniform(1, 3))
        accepted = created + timedelta(minutes=accept_minutes)
        _raise(story, people, village_of, town, created, text, accepted=accepted,
               resolved=accepted + timedelta(hours=resolve_hours))


def _raise(story: _Story, people: list, village_of: dict[int, int], town: Town, created: datetime, text: str,
           accepted: datetime | None = None, resolved: datetime | None = None) -> None:
    """A call logged by a town officer, then accepted, resolved and maybe rated, or withdrawn."""
    rng, env = story.rng, story.env
    person, _, since = rng.choice([p for p in people if p[2] < created - timedelta(days=1)])
    found = classify(text, created.astimezone(env.tz).month)
    urgent = found.urgency == Urgency.URGENT
    case = _Case()
    story.add(created, _open_step(story.session, env, case, person, rng.choice(town.officers), text), case)
    pace = PACE[village_of[person.village_id]]
    if accepted is None:
        accepted = created + history.accept_delay(rng, created, env.tz, urgent, pace)
    if resolved is None and rng.random() < CANCELLED_SHARE and accepted - created > timedelta(minutes=40):
        user = story.relative(person, since, created)
        story.add(created + (accepted - created) * rng.uniform(0.3, 0.9), _cancel_step(story.session, env, case, user),
                  case)
        return
    _follow(story, case, person, since, created, accepted, found.category.value, urgent, resolved)


def _follow(story: _Story, case: _Case, person: Beneficiary, since: datetime, created: datetime, accepted: datetime,
            category: str, urgent: bool, resolved: datetime | None = None) -> None:
    """Accept, resolve and maybe rate a case, all before now (a slow one is finished just in time)."""
    rng, env, now = story.rng, story.env, story.now
    if resolved is None:
        resolved = history.awake(accepted + history.resolve_delay(rng, category, urgent), env.tz, rng, urgent)
    limit = now - timedelta(hours=rng.uniform(1, 12))
    if resolved > limit:
        resolved = limit
        accepted = min(accepted, created + (limit - created) * 0.3)
    story.add(accepted, _staff_step(story.session, env, case, None), case)
    note = rng.choice(history.RESOLUTION_NOTES[category])
    story.add(resolved, _staff_step(story.session, env, case, note), case)
    if rng.random() < RATED_SHARE:
        slow = resolved - created > timedelta(hours=48) or accepted - created > timedelta(hours=6)
        given, comment = history.stars(rng, slow)
        rated = history.awake(resolved + history.rated_after(rng), env.tz, rng)
        user = story.relative(person, since, created)
        story.add(rated, _rate_step(story.session, env, case, user, given, comment or ""), case)


def _scripted_cases(story: _Story, town: Town) -> None:
    """The cases of the last days, one in every state, on older people (none of them the walk's)."""
    rng, env, now = story.rng, story.env, story.now
    adults = [p for p in town.people[WALK_PEOPLE:] if p[0].phone]
    for (text, hours_ago, accept_minutes, resolve_hours, outcome), (person, _, since) in zip(
        SMALL_CASES, rng.sample(adults, len(SMALL_CASES)), strict=True
    ):
        raised = now - timedelta(hours=hours_ago)
        case = _Case()
        story.add(raised, _open_step(story.session, env, case, person, rng.choice(town.officers), text), case)
        if accept_minutes is not None:
            accepted = raised + timedelta(minutes=accept_minutes)
            story.add(accepted, _staff_step(story.session, env, case, None), case)
            if resolve_hours is not None:
                note = rng.choice(history.RESOLUTION_NOTES[classify(text, raised.astimezone(env.tz).month).category])
                story.add(raised + timedelta(hours=resolve_hours), _staff_step(story.session, env, case, note), case)
        if outcome is not None:
            user = story.relative(person, since, raised)
            if outcome == "cancel":
                story.add(raised + timedelta(hours=2), _cancel_step(story.session, env, case, user), case)
            else:
                comment = rng.choice(history.RATING_COMMENTS)
                story.add(raised + timedelta(hours=resolve_hours + 20),
                          _rate_step(story.session, env, case, user, outcome, comment), case)


# --- steps ----------------------------------------------------------------------------------------


def _catch_up(session: Session, env: request_service.RequestEnv, request: ServiceRequest | None,
              until: datetime) -> None:
    """Take the ladder rungs that fell due before `until`, each at its own time, as the scheduler would have."""
    open_statuses = {s.value for s in OPEN_STATUSES}
    while request is not None and request.status in open_statuses:
        due = request.next_escalation_at
        if due is None or due > until:
            return
        escalation.escalate(session, env, request, due)
        if request.next_escalation_at == due:  # nothing moved: never loop on it
            return


@contextmanager
def _quiet_ladder() -> Iterator[None]:
    """Nobody in a fresh demo is on WeChat, so every replayed rung would log that it reached nobody."""
    loggers = [logging.getLogger(name) for name in ("services.responsibility", "services.escalation")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def _visit_step(session, env, assistant: Staff, report: VisitReport, case: _Case) -> Callable[[datetime], None]:
    """Record the visit; a problem found opens a request, which the case then follows."""

    def run(at: datetime) -> None:
        visits.record_visit(session, env, assistant, report, at)
        if report.problems:
            case.request = session.scalars(
                select(ServiceRequest)
                .where(ServiceRequest.beneficiary_id == report.beneficiary_id)
                .order_by(ServiceRequest.id.desc())
                .limit(1)
            ).one()

    return run


def _open_step(session, env, case: _Case, person: Beneficiary, officer: Staff, text: str):
    """A call to the town office, logged by an officer and routed as the app routes it."""

    def run(at: datetime) -> None:
        classification = classify(text, at.astimezone(env.tz).month)
        case.request = request_service.open_request(
            session, env, beneficiary=person, classification=classification, summary=text, now=at,
            staff=officer, source=RequestSource.OFFICE, channel=RequestChannel.PHONE,
        )

    return run


def _staff_step(session, env, case: _Case, note: str | None):
    """Whoever has the case then accepts (no note) or resolves (with the note) it."""

    def run(at: datetime) -> None:
        request = case.request
        if request.status not in {s.value for s in OPEN_STATUSES}:
            return
        if note is None:
            casework.acknowledge(session, env, request, request.assignee, at)
        else:
            casework.resolve(session, env, request, request.assignee, note, at)

    return run


def _rate_step(session, env, case: _Case, user: WeChatUser, stars: int, comment: str):
    """The family rates the resolved case, which closes it."""

    def run(at: datetime) -> None:
        casework.rate(session, env, case.request, user, stars, comment, at)

    return run


def _cancel_step(session, env, case: _Case, user: WeChatUser):
    """The family withdraws the case."""

    def run(at: datetime) -> None:
        casework.cancel(session, env, case.request, user, at)

    return run


def _leave_step(session, env, leaver: Staff, town: Town):
    """An assistant leaves: the responsible officer hands their open cases to a colleague; their
    people keep the assignment until the office reassigns them, so new cases go up the chain."""

    def run(at: datetime) -> None:
        colleague = next(s for s in town.assistants[2] if s.id != leaver.id and s.active)
        officer = town.officers[0]
        mine = session.scalars(select(ServiceRequest).where(
            ServiceRequest.assignee_staff_id == leaver.id,
            ServiceRequest.status.in_([s.value for s in OPEN_STATUSES])).order_by(ServiceRequest.id)).all()
        for request in mine:
            _catch_up(session, env, request, at)
            casework.reassign(session, env, request, officer, colleague.staff_no, at)
        leaver.active = False
        leaver.updated_at = at
        session.flush()

    return run


def _family_member(session: Session, person: Beneficiary, number: int, since: datetime) -> WeChatUser:
    """A relative bound to `person` on WeChat who turned family notices off, so no push is queued."""
    user = WeChatUser(openid=f"demo-family-{number:06d}", subscribed=True, subscribed_at=since, created_at=since)
    session.add(user)
    session.add(FamilyLink(beneficiary=person, wechat_user=user, relation=Relation.CHILD.value, notify=False,
                           active=True, created_at=since))
    session.flush()
    return user
