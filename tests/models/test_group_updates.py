"""Column changes taken out of the unit of work and written for many rows in one statement
(`models.db.take_changes`, `update_by_key`): what the inbox worker does for a group of messages."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import event, select

from models import FamilyLink, WeChatUser
from models.db import take_changes, update_by_key
from tests.support.factories import fresh, make_wechat_user


def test_taken_changes_are_written_by_one_statement_and_the_objects_are_clean(session, test_engine, clock):
    users = [make_wechat_user(session, f"o-group-{i}", clock()) for i in range(3)]
    session.commit()
    later = clock() + timedelta(minutes=5)
    taken = {}
    for n, user in enumerate(users):
        user.last_message_at = later + timedelta(seconds=n)
        user.unsubscribed_at = later - timedelta(hours=n)
        taken[user.id] = take_changes(user)

    assert taken[users[0].id] == {"last_message_at": later, "unsubscribed_at": later}
    # Clean: a flush writes nothing, and the objects still hold the new values.
    assert not session.dirty
    statements = []

    def count(conn, cursor, statement, *_):
        # SQLite's own BEGIN (models.db) is not a write.
        if statement != "BEGIN":
            statements.append(statement)

    event.listen(test_engine, "before_cursor_execute", count)
    try:
        session.flush()
        assert statements == []
        assert users[2].unsubscribed_at == later - timedelta(hours=2)
        update_by_key(session, WeChatUser, taken)
        assert len(statements) == 1
    finally:
        event.remove(test_engine, "before_cursor_execute", count)
    session.commit()

    fresh(session)
    stored = {u.openid: (u.last_message_at, u.unsubscribed_at) for u in session.scalars(select(WeChatUser))}
    assert stored["o-group-1"] == (later + timedelta(seconds=1), later - timedelta(hours=1))


def test_nothing_is_taken_from_a_new_object_or_one_whose_relationships_changed(session, clock):
    new = WeChatUser(openid="o-new", subscribed=True, created_at=clock())
    session.add(new)
    assert take_changes(new) == {}
    session.flush()
    # Unchanged: nothing to take, and the session is left as it was.
    assert take_changes(new) == {}
    new.unsubscribed_at = clock()
    assert take_changes(new) == {"unsubscribed_at": clock()}
    assert take_changes(new) == {}
    # A relationship changed too: everything is left to the session's flush.
    new.subscribed = False
    new.family_links.append(FamilyLink(relation="子女", active=True, created_at=clock()))
    assert take_changes(new) == {}
    assert new in session.dirty
    session.rollback()
