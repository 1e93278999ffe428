"""The roster: region levels, one active assistant per beneficiary with history, and the demo town."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from devtools import demo
from models import Assignment, Beneficiary, BeneficiaryCategoryLink, Staff
from models.enums import BeneficiaryCategory, RegionLevel, StaffRole
from services import roster
from services.pii import PiiCipher

PII = PiiCipher("k" * 40)


@pytest.fixture
def village(session, clock):
    """A city > town > village chain."""
    city = roster.create_region(session, code="1", name="市", level=RegionLevel.CITY, parent=None, now=clock())
    town = roster.create_region(session, code="2", name="镇", level=RegionLevel.TOWN, parent=city, now=clock())
    return roster.create_region(session, code="3", name="村", level=RegionLevel.VILLAGE, parent=town, now=clock())


def assistant(session, village, no, clock):
    """An assistant in the village."""
    return roster.create_staff(
        session, staff_no=no, name=f"协理员{no}", phone="13800000000", role=StaffRole.ASSISTANT, region=village, now=clock()
    )


def test_regions_must_nest_by_level(session, village, clock):
    """A village cannot sit directly under the city, nor a town officer in a village."""
    city = village.parent.parent
    with pytest.raises(roster.RosterError):
        roster.create_region(session, code="9", name="错", level=RegionLevel.VILLAGE, parent=city, now=clock())
    with pytest.raises(roster.RosterError):
        roster.create_staff(session, staff_no="T1", name="x", phone="1", role=StaffRole.TOWN_OFFICER,
                            region=village, now=clock())


def test_reassignment_keeps_history_and_one_active(session, village, clock):
    """Reassigning ends the old assignment; only one stays active."""
    first, second = assistant(session, village, "A1", clock), assistant(session, village, "A2", clock)
    person = roster.create_beneficiary(session, PII, name="王五", village=village,
                                       categories=[BeneficiaryCategory.TEKUN, BeneficiaryCategory.DISABLED], now=clock())
    roster.assign_assistant(session, person, first, clock())
    later = clock() + timedelta(days=3)
    roster.assign_assistant(session, person, second, later)
    session.commit()
    rows = session.scalars(select(Assignment).where(Assignment.beneficiary_id == person.id).order_by(Assignment.id)).all()
    assert [(r.staff_id, r.ended_at) for r in rows] == [(first.id, later), (second.id, None)]
    assert roster.current_assignment(session, person).staff_id == second.id
    assert person.category_names == sorted(["特困", "残疾人"])


def test_the_database_refuses_two_active_assignments(session, village, clock):
    """Even bypassing the service, a second open assignment violates the partial unique index."""
    first, second = assistant(session, village, "A1", clock), assistant(session, village, "A2", clock)
    person = roster.create_beneficiary(session, PII, name="赵六", village=village,
                                       categories=[BeneficiaryCategory.DIBAO], now=clock())
    roster.assign_assistant(session, person, first, clock())
    session.add(Assignment(beneficiary=person, staff=second, started_at=clock()))
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()


def test_demo_is_deterministic_and_complete(session, clock):
    """The small demo: staff of every role, 60 beneficiaries each with one assistant, same for a seed."""
    summary = demo.seed_small(session, PII, clock(), seed=7)
    session.commit()
    assert (summary.regions, summary.beneficiaries) == (5, 60)
    roles = set(session.scalars(select(Staff.role)))
    # A one-city demo has no province above it, so no province administrator.
    assert roles == {r.value for r in StaffRole} - {StaffRole.PROVINCE_ADMIN.value}
    active = session.scalar(select(func.count()).select_from(Assignment).where(Assignment.ended_at.is_(None)))
    assert active == 60
    assert session.scalar(select(func.count(func.distinct(BeneficiaryCategoryLink.category)))) >= 4
    names = session.scalars(select(Beneficiary.name).order_by(Beneficiary.id)).all()
    codes = session.scalars(select(Beneficiary.bind_code).order_by(Beneficiary.id)).all()
    with pytest.raises(demo.AlreadySeeded):
        demo.seed_small(session, PII, clock(), seed=7)
    session.rollback()
    # Same seed in a fresh database gives the same people.
    for table in ("duty_shifts", "departments", "village_officers", "assignments", "beneficiary_categories",
                  "beneficiaries", "staff", "regions"):
        session.execute(text(f"DELETE FROM {table}"))
    demo.seed_small(session, PII, clock(), seed=7)
    session.flush()
    assert session.scalars(select(Beneficiary.name).order_by(Beneficiary.id)).all() == names
    assert session.scalars(select(Beneficiary.bind_code).order_by(Beneficiary.id)).all() == codes
