"""A group's rows written as one JSON parameter on PostgreSQL (`models.db.update_json_rows`, the path
`update_by_key` and `checkins.save_contacts` take from `JSON_FROM_ROWS` rows on): the same rows changed
as by the plain statements SQLite takes, each row its own values, a stale key refused, a later contact
never overwritten by an earlier one."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from models import Beneficiary, WeChatUser
from models.db import JSON_FROM_ROWS, update_by_key, update_json_rows
from services.checkins import save_contacts
from tests.support.factories import fresh, make_beneficiary, make_town, make_wechat_user
from tests.support.sql import statements_of


def test_update_by_key_writes_each_row_its_own_values_in_one_statement(session, clock):
    now = clock()
    users = [make_wechat_user(session, f"o-upd-{n}", now) for n in range(JSON_FROM_ROWS + 2)]
    untouched = make_wechat_user(session, "o-upd-other", now)
    session.commit()
    rows = {user.id: {"last_message_at": now + timedelta(minutes=n), "subscribed": n % 2 == 0}
            for n, user in enumerate(users)}
    sent = statements_of(session, lambda: update_by_key(session, WeChatUser, rows))
    assert len(sent) == 1 and sent[0].lstrip().upper().startswith("UPDATE")
    session.commit()
    fresh(session)
    stored = {u.openid: u for u in session.scalars(select(WeChatUser))}
    for n in range(len(users)):
        assert stored[f"o-upd-{n}"].last_message_at == now + timedelta(minutes=n)
        assert stored[f"o-upd-{n}"].subscribed is (n % 2 == 0)
    assert stored["o-upd-other"].last_message_at == untouched.last_message_at


def test_a_key_no_longer_there_is_refused_as_the_orm_refuses_it(session, clock):
    now = clock()
    users = [make_wechat_user(session, f"o-gone-{n}", now) for n in range(JSON_FROM_ROWS)]
    session.commit()
    rows = {user.id: {"last_message_at": now} for user in users}
    rows[max(rows) + 1000] = {"last_message_at": now}
    with pytest.raises(StaleDataError):
        update_by_key(session, WeChatUser, rows)
    session.rollback()


def test_rows_of_different_columns_are_refused(session, clock):
    with pytest.raises(ValueError, match="same columns"):
        update_json_rows(session, WeChatUser.__table__, [{"id": 1, "subscribed": True}, {"id": 2}])


def test_a_later_contact_is_never_overwritten_by_an_earlier_one(session, clock):
    now = clock()
    town = make_town(session, now)
    people = [make_beneficiary(session, town.village, now, assistant=town.assistant) for _ in range(JSON_FROM_ROWS + 1)]
    people[0].last_contact_at, people[0].last_contact_kind = now + timedelta(hours=1), "visit"
    session.commit()
    contacts = {person.id: (now, "message") for person in people}
    sent = statements_of(session, lambda: save_contacts(session, contacts))
    assert len(sent) == 1
    session.commit()
    fresh(session)
    stored = {b.id: b for b in session.scalars(select(Beneficiary))}
    assert (stored[people[0].id].last_contact_at, stored[people[0].id].last_contact_kind) == (
        now + timedelta(hours=1), "visit")
    for person in people[1:]:
        assert (stored[person.id].last_contact_at, stored[person.id].last_contact_kind) == (now, "message")
