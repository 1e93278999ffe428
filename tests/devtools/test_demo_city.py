"""Demo data: the small town's visits and cases, and the generated city (in a tiny shape of the same kind).

The full-size city (110,000 beneficiaries) is not loaded here; `bench/seed_city.py` times it.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from statistics import median
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from cli import main
from devtools import demo, demo_city, demo_history
from models import (
    Assignment,
    Beneficiary,
    BeneficiaryCategoryLink,
    OutboxMessage,
    Region,
    RequestEvent,
    ServiceRequest,
    Staff,
    VillageOfficers,
    Visit,
)
from models.db import make_engine, make_session_factory
from models.enums import OPEN_STATUSES, BeneficiaryCategory, RegionLevel, RequestStatus, StaffRole
from models.migrate import upgrade
from services import escalation, roster
from services import requests as request_service
from services.notify import Templates
from services.pii import PiiCipher
from services.policy import id_number

PII = PiiCipher("k" * 40)
TZ = ZoneInfo("Asia/Shanghai")
ENV = request_service.RequestEnv(tz=TZ, templates=Templates(task="tpl-task", progress="tpl-progress"))
# The reference city's kind, a thousandth of its size: two towns, six village-level units.
TINY = demo_city.CityShape(
    towns=2, villages=5, communities=1, assistants=20, town_officers=9, supervisors=3, admins=1,
    beneficiaries=300, requests=120,
)
OPEN = {s.value for s in OPEN_STATUSES}


def count(session, model, *where) -> int:
    """Rows of `model` matching `where`."""
    return session.scalar(select(func.count()).select_from(model).where(*where))


@pytest.fixture
def city(session, clock):
    """The tiny city, committed; returns its summary."""
    summary = demo_city.seed_city(session, PII, clock(), tz=TZ, seed=11, shape=TINY)
    session.commit()
    return summary


# --- the city --------------------------------------------------------------------------------------


def test_city_counts_match_the_shape(session, city):
    """Towns, villages, communities, staff per role and beneficiaries are exactly as the shape says."""
    assert count(session, Region, Region.level == RegionLevel.CITY.value) == 1
    assert count(session, Region, Region.level == RegionLevel.TOWN.value) == TINY.towns
    villages = Region.level == RegionLevel.VILLAGE.value
    assert count(session, Region, villages, Region.is_community.is_(False)) == TINY.villages
    assert count(session, Region, villages, Region.is_community.is_(True)) == TINY.communities
    roles = dict(session.execute(select(Staff.role, func.count()).group_by(Staff.role)).all())
    assert roles == {
        StaffRole.ASSISTANT.value: TINY.assistants,
        StaffRole.TOWN_OFFICER.value: TINY.town_officers,
        StaffRole.CITY_SUPERVISOR.value: TINY.supervisors,
        StaffRole.ADMIN.value: TINY.admins,
    }
    assert count(session, Beneficiary) == city.beneficiaries == TINY.beneficiaries
    assert (city.regions, city.staff) == (1 + TINY.towns + TINY.village_units, sum(roles.values()))
    assert count(session, Visit) == city.visits
    assert count(session, ServiceRequest) == city.requests
    assert count(session, RequestEvent) == city.request_events
    # Every town has 4 or 5 officers and at least one village-level unit.
    for town_id in session.scalars(select(Region.id).where(Region.level == RegionLevel.TOWN.value)):
        assert count(session, Staff, Staff.region_id == town_id) in (4, 5)
        assert count(session, Region, Region.parent_id == town_id) >= 1


def test_the_reference_shape_is_the_reference_city():
    """CITY carries the source's figures: 234 villages, 58 communities, 882 assistants, 36 liaisons."""
    shape = demo_city.CITY
    assert (shape.villages, shape.communities, shape.village_units) == (234, 58, 292)
    assert shape.assistants == 882 >= 3 * shape.village_units
    assert 4 * shape.towns <= shape.town_officers <= 5 * shape.towns
    assert (shape.supervisors, shape.beneficiaries) == (36, 110_000)
    with pytest.raises(ValueError):
        demo_city.CityShape(towns=1, villages=2, communities=0, assistants=5, town_officers=4,
                            supervisors=1, admins=1, beneficiaries=10, requests=1)


def test_every_beneficiary_has_one_assistant_of_their_own_village(session, city):
    """At least 3 assistants per village; each beneficiary has exactly one active assignment, in their village."""
    villages = session.scalars(select(Region.id).where(Region.level == RegionLevel.VILLAGE.value)).all()
    for village_id in villages:
        assert count(session, Staff, Staff.region_id == village_id, Staff.role == StaffRole.ASSISTANT.value) >= 3
    rows = session.execute(
        select(Beneficiary.id, Beneficiary.village_id, Staff.region_id, Staff.role)
        .join(Assignment, Assignment.beneficiary_id == Beneficiary.id)
        .join(Staff, Staff.id == Assignment.staff_id)
        .where(Assignment.ended_at.is_(None))
    ).all()
    assert len(rows) == len({r.id for r in rows}) == TINY.beneficiaries
    assert all(r.village_id == r.region_id and r.role == StaffRole.ASSISTANT.value for r in rows)


def test_id_numbers_are_valid_unique_and_encrypted(session, city):
    """Every ID number decrypts to a valid GB 11643 number matching its lookup hash; all differ."""
    rows = session.execute(
        select(Beneficiary.id_number_encrypted, Beneficiary.id_number_hash, Beneficiary.bind_code)
    ).all()
    numbers = [PII.decrypt(r.id_number_encrypted) for r in rows]
    assert all(id_number.is_valid(n) for n in numbers)
    assert all(r.id_number_encrypted != n for r, n in zip(rows, numbers, strict=True))
    assert [PII.lookup_hash(n) for n in numbers] == [r.id_number_hash for r in rows]
    assert len(set(numbers)) == len(numbers)
    codes = [r.bind_code for r in rows]
    assert len(set(codes)) == len(codes)
    assert all(len(c) == roster.BIND_CODE_LENGTH and set(c) <= set(roster.BIND_CODE_ALPHABET) for c in codes)


def test_category_mix_is_plausible(session, city):
    """低保 is the biggest group, about half; every weighted category appears; some people have two."""
    per_category = Counter(session.scalars(select(BeneficiaryCategoryLink.category)))
    assert set(per_category) == {c.value for c, _ in demo.CATEGORY_WEIGHTS}
    assert per_category.most_common(1)[0][0] == BeneficiaryCategory.DIBAO.value
    assert 0.35 <= per_category[BeneficiaryCategory.DIBAO.value] / TINY.beneficiaries <= 0.65
    multi = session.scalar(
        select(func.count()).select_from(
            select(BeneficiaryCategoryLink.beneficiary_id)
            .group_by(BeneficiaryCategoryLink.beneficiary_id)
            .having(func.count() > 1)
            .subquery()
        )
    )
    assert 0 < multi < TINY.beneficiaries / 2


def test_visits_follow_the_plan_by_the_assigned_assistant(session, city, clock):
    """Visits over the whole history, about one per plan period, in the past, by the beneficiary's
    assistant; a few found problems (tests/devtools/test_demo_history.py checks the rest)."""
    per_person = Counter(session.scalars(select(Visit.beneficiary_id)))
    weekly = session.scalars(select(Beneficiary.id).where(Beneficiary.visit_every_days == 7,
                                                          Beneficiary.created_at < clock() - timedelta(days=300)))
    assert median(per_person[b] for b in weekly) >= demo_history.HISTORY_DAYS / 7 * 0.8
    assert len(per_person) >= 0.9 * TINY.beneficiaries
    mismatched = session.scalar(
        select(func.count()).select_from(Visit)
        .join(Assignment, (Assignment.beneficiary_id == Visit.beneficiary_id) & Assignment.ended_at.is_(None))
        .where(Assignment.staff_id != Visit.staff_id)
    )
    assert mismatched == 0
    assert session.scalar(select(func.max(Visit.visited_at))) <= clock()
    problems = count(session, Visit, (Visit.food == "problem") | (Visit.housing == "problem")
                     | (Visit.clothing == "problem") | (Visit.medical == "problem"))
    assert 0 < problems < city.visits / 10


def routed_to(session, request) -> int:
    """Whom a case is with, as the app routes it: whoever it was last handed to; else the assigned
    assistant, if still active when it was raised; else the village's responsible officer."""
    handed = [e for e in request.events if e.kind == "reassigned"]
    if handed:
        return handed[-1].data["to_staff_id"]
    assistant = roster.current_assignment(session, request.beneficiary).staff
    if assistant.active or assistant.updated_at > request.created_at:
        return assistant.id
    return session.get(VillageOfficers, request.village_id).responsible_staff_id


def test_requests_in_every_state_with_their_events(session, city, clock):
    """Every state occurs; each request starts with `created` and has the events its state implies."""
    requests = session.scalars(select(ServiceRequest).order_by(ServiceRequest.id)).all()
    assert {r.status for r in requests} == {s.value for s in RequestStatus}
    assert any(r.urgency == "urgent" for r in requests)
    assert {r.escalation_level for r in requests} >= {0, 1, 2}
    events = {}
    for event in session.scalars(select(RequestEvent).order_by(RequestEvent.id)):
        events.setdefault(event.request_id, []).append(event)
    implied = {
        "open": set(), "acknowledged": {"acknowledged"}, "resolved": {"acknowledged", "resolved"},
        "closed": {"acknowledged", "resolved", "rated"}, "cancelled": {"cancelled"},
    }
    for request in requests:
        timeline = events[request.id]
        assert timeline[0].kind == "created"
        assert [e.created_at for e in timeline] == sorted(e.created_at for e in timeline)
        assert implied[request.status] <= {e.kind for e in timeline}
        assert sum(e.kind == "escalated" for e in timeline) >= (request.escalation_level > 0)
        assert request.created_at <= request.updated_at <= clock()
        if request.status == "closed":
            assert 1 <= request.rating <= 5 and request.closed_at is not None
        # Routed as open_request routes, in the beneficiary's village and town.
        assert request.assignee_staff_id == routed_to(session, request)
        assert request.village_id == request.beneficiary.village_id
        assert request.town_id == request.beneficiary.village.parent_id
        assert request.next_escalation_at == request_service.next_escalation(request, TZ)
    # The ladder is up to date: the escalation scan finds nothing due.
    assert escalation.scan(session, ENV, clock()) == 0


def test_city_is_deterministic_for_a_seed(databases, clock):
    """The same seed gives the same people, ID numbers, assignments, visits and cases; another seed does not."""

    def fingerprint(seed: int) -> dict:
        url = databases.new()
        upgrade(url)
        engine = make_engine(url)
        try:
            with make_session_factory(engine)() as session:
                demo_city.seed_city(session, PII, clock(), tz=TZ, seed=seed, shape=TINY)
                session.commit()
                return {
                    "people": session.execute(
                        select(Beneficiary.id, Beneficiary.name, Beneficiary.address, Beneficiary.bind_code,
                               Beneficiary.id_number_hash, Beneficiary.village_id).order_by(Beneficiary.id)
                    ).all(),
                    "categories": session.execute(
                        select(BeneficiaryCategoryLink.beneficiary_id, BeneficiaryCategoryLink.category)
                        .order_by(BeneficiaryCategoryLink.beneficiary_id, BeneficiaryCategoryLink.category)
                    ).all(),
                    "assignments": session.execute(
                        select(Assignment.beneficiary_id, Staff.staff_no, Staff.name)
                        .join(Staff, Staff.id == Assignment.staff_id).order_by(Assignment.beneficiary_id)
                    ).all(),
                    "visits": session.execute(
                        select(Visit.beneficiary_id, Visit.visited_at, Visit.food, Visit.housing, Visit.medical_note)
                        .order_by(Visit.id)
                    ).all(),
                    "requests": session.execute(
                        select(ServiceRequest.id, ServiceRequest.status, ServiceRequest.summary,
                               ServiceRequest.created_at, ServiceRequest.escalation_level)
                        .order_by(ServiceRequest.id)
                    ).all(),
                }
        finally:
            engine.dispose()

    first, again, other = fingerprint(5), fingerprint(5), fingerprint(6)
    assert first == again
    assert first["people"] != other["people"]


def test_city_refuses_a_database_with_data_and_reports_progress(session, clock):
    """Seeding the city over the small demo is refused; on an empty one every phase is reported."""
    demo.seed_small(session, PII, clock(), seed=1)
    session.flush()
    with pytest.raises(demo.AlreadySeeded):
        demo_city.seed_city(session, PII, clock(), tz=TZ, shape=TINY)
    session.rollback()
    reported = []
    demo_city.seed_city(session, PII, clock(), tz=TZ, shape=TINY, progress=lambda phase, rows: reported.append(phase))
    assert reported[:2] == ["regions", "staff"]
    assert {"beneficiaries", "family links", "visits", "requests", "request events"} <= set(reported)


def test_cli_city_scale_is_offered_and_refuses_a_seeded_database(tmp_path):
    """`seed demo --scale city` is a choice; over the small demo it is refused, or skipped with --if-empty."""
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"], env=env).exit_code == 0
    small = runner.invoke(main, ["seed", "demo", "--scale", "small", "--seed", "3"], env=env)
    assert small.exit_code == 0 and "60 beneficiaries" in small.output and " visits" in small.output
    refused = runner.invoke(main, ["seed", "demo", "--scale", "city"], env=env)
    assert refused.exit_code != 0 and "already" in refused.output
    skipped = runner.invoke(main, ["seed", "demo", "--scale", "city", "--if-empty"], env=env)
    assert skipped.exit_code == 0 and "not loaded" in skipped.output


# --- the small town's history ------------------------------------------------------------------------


@pytest.fixture
def small(session, clock):
    """The small demo with its history, committed."""
    summary = demo.seed_small(session, PII, clock(), seed=7, env=ENV)
    session.commit()
    return summary


def test_small_demo_has_six_months_of_visits(session, small, clock):
    """Visits over the history by the assigned assistants, mostly fine, a few with problems."""
    assert small.visits == count(session, Visit) >= 100
    first, last = session.execute(select(func.min(Visit.visited_at), func.max(Visit.visited_at))).one()
    assert (clock() - first).days <= demo.HISTORY_DAYS and last <= clock()
    assert (clock() - first).days >= demo.HISTORY_DAYS - 10
    problems = count(session, Visit, (Visit.food == "problem") | (Visit.housing == "problem")
                     | (Visit.clothing == "problem") | (Visit.medical == "problem"))
    assert 0 < problems < small.visits / 4
    # Each problem found opened a request from the visit, as recording a visit does.
    assert count(session, ServiceRequest, ServiceRequest.source == "visit") == problems


def test_small_demo_has_cases_in_every_state_through_the_services(session, small, clock):
    """Open, accepted, resolved, rated and cancelled cases, the newest urgent one unanswered, with
    matching events; no pushes queued."""
    requests = session.scalars(select(ServiceRequest)).all()
    assert small.requests == len(requests)
    assert {r.status for r in requests} == {s.value for s in RequestStatus}
    newest_urgent = max((r for r in requests if r.urgency == "urgent"), key=lambda r: r.created_at)
    assert newest_urgent.status == "open" and newest_urgent.escalation_level == 1
    for request in requests:
        kinds = [e.kind for e in request.events]
        assert kinds[0] == "created"
        assert request.assignee_staff_id == routed_to(session, request)
        assert request.town_id == request.beneficiary.village.parent_id
        assert request.next_escalation_at == request_service.next_escalation(request, TZ)
        if request.status == "closed":
            assert {"acknowledged", "resolved", "rated"} <= set(kinds) and request.rating
        if request.status == "cancelled":
            assert "cancelled" in kinds
    assert any(r.status in OPEN and r.escalation_level >= 1 for r in requests if r.urgency == "normal")
    # Demo staff and family are not reachable on WeChat: nothing waits in the outbox.
    assert count(session, OutboxMessage) == 0
    assert escalation.scan(session, ENV, clock()) == 0


def test_small_demo_history_is_deterministic(databases, clock):
    """The same seed gives the same visits and cases."""

    def history(url: str):
        upgrade(url)
        engine = make_engine(url)
        try:
            with make_session_factory(engine)() as session:
                demo.seed_small(session, PII, clock(), seed=4, env=ENV)
                session.commit()
                visits = session.execute(select(Visit.beneficiary_id, Visit.visited_at, Visit.food).order_by(Visit.id))
                cases = session.execute(
                    select(ServiceRequest.status, ServiceRequest.summary, ServiceRequest.created_at)
                    .order_by(ServiceRequest.id)
                )
                return visits.all(), cases.all()
        finally:
            engine.dispose()

    assert history(databases.new()) == history(databases.new())
