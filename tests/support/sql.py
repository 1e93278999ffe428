"""What SQL a piece of work sends: for tests that hold a path to a number of statements."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import event


def statements_of(session, work: Callable[[], object]) -> list[str]:
    """The statements `work()` sends through the session's engine (SQLite's BEGIN left out)."""
    seen = []

    def note(_conn, _cursor, statement, *_):
        if not statement.upper().startswith("BEGIN"):  # SQLite's transaction start (models.db)
            seen.append(statement)

    event.listen(session.get_bind(), "before_cursor_execute", note)
    try:
        work()
    finally:
        event.remove(session.get_bind(), "before_cursor_execute", note)
    return seen
