"""`models.db.insert_loaded`: a new row in one INSERT, its object then in the session as if loaded, with
nothing left to load or to flush; and a refusal where a plain INSERT would store something else."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from models import ServiceRequest, WeChatUser
from models.db import insert_loaded
from tests.support.factories import fresh, make_beneficiary, make_town
from tests.support.sql import statements_of


def test_the_object_is_loaded_with_its_id_and_needs_no_other_statement(session, clock):
    town = make_town(session, clock())
    person = make_beneficiary(session, town.village, clock(), assistant=town.assistant)
    session.commit()
    request = ServiceRequest(beneficiary=person, beneficiary_id=person.id, village_id=town.village.id,
                             town_id=town.town.id, category="吃", summary="家里没米了", created_at=clock(),
                             updated_at=clock())

    def work():
        insert_loaded(session, request)
        assert request.id is not None and request in session
        assert (request.status, request.urgency, request.escalation_level) == ("open", "normal", 0)
        assert request.resolved_at is None and request.beneficiary is person
        assert not session.dirty and not session.new

    statements = statements_of(session, work)
    assert len(statements) == 1 and statements[0].lstrip().upper().startswith("INSERT")
    session.commit()
    fresh(session)
    stored = session.scalars(select(ServiceRequest).where(ServiceRequest.id == request.id)).one()
    assert (stored.summary, stored.beneficiary_id, stored.channel) == ("家里没米了", person.id, "wechat")


def test_a_json_column_left_empty_is_refused_rather_than_stored_as_json_null(session, clock):
    with pytest.raises(ValueError, match="wechat_users.dialog"):
        insert_loaded(session, WeChatUser(openid="o-json", created_at=clock()))
