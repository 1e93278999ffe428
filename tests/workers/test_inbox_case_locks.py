"""A group of inbox messages locks the recent cases of the people its senders are bound to when it
starts (PostgreSQL), in id order: two workers whose groups share people then wait for each other
instead of each locking the cases in its own messages' order and deadlocking."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from models import ServiceRequest
from models.enums import RequestCategory
from services.requests import know_recent_requests
from tests.conftest import using_postgres
from tests.support.factories import make_beneficiary, make_town

pytestmark = pytest.mark.skipif(not using_postgres(), reason="row locks are PostgreSQL's")


def _case(session, town, person, at) -> int:
    """An open case of `person` raised at `at`; its id."""
    request = ServiceRequest(beneficiary_id=person.id, village_id=town.village.id, town_id=town.town.id,
                             category=RequestCategory.FOOD.value, urgency="normal", status="open",
                             summary="家里没米了", assignee_staff_id=town.assistant.id, escalation_level=0,
                             escalation_repeats=0, created_at=at, updated_at=at)
    session.add(request)
    session.flush()
    return request.id


def _locked(engine, case_id: int) -> bool:
    """Whether another transaction holds the case's row lock (tried without waiting)."""
    with engine.connect() as other:
        try:
            other.execute(text("SELECT id FROM service_requests WHERE id = :id FOR NO KEY UPDATE NOWAIT"),
                          {"id": case_id})
            return False
        except OperationalError:
            return True
        finally:
            other.rollback()


def test_the_recent_cases_of_a_groups_people_are_locked_until_it_commits(session, clock):
    now = clock()
    town = make_town(session, now)
    mine, other = (make_beneficiary(session, town.village, now, assistant=town.assistant) for _ in range(2))
    recent = _case(session, town, mine, now - timedelta(hours=1))
    old = _case(session, town, mine, now - timedelta(days=10))
    elsewhere = _case(session, town, other, now - timedelta(hours=1))
    session.commit()
    engine = session.get_bind()
    with engine.connect() as connection:
        group = Session(bind=connection)
        know_recent_requests(group, [mine.id], now, hours=72)
        assert _locked(engine, recent), "the case a message may join is the group's until it commits"
        assert not _locked(engine, old), "a case from before the merge window is left alone"
        assert not _locked(engine, elsewhere), "another person's case is left alone"
        group.rollback()
        group.close()
    assert not _locked(engine, recent)
