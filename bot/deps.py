"""What views need from the running app: its services, the request's one database session and,
for the dashboard's and reports' reads, its read session on the replica.

Blueprints import this module, never `bot.app`, so the factory can import them without a circle.
"""

from __future__ import annotations

from flask import current_app, g
from sqlalchemy.orm import Session

from runtime.container import AppServices


def services() -> AppServices:
    """The current app's services."""
    return current_app.extensions["sanzhida"]


def db_session() -> Session:
    """The request's one session, opened on first use and closed at teardown."""
    if "db_session" not in g:
        g.db_session = services().session_factory()
    return g.db_session


def read_session() -> Session:
    """The request's read-only session on the read replica (DATABASE_REPLICA_URL), for the dashboard's
    and reports' reads: the case board, map, figures, trends, visit coverage, exports, a report's figures.

    It may lag the primary by a moment, so a page that must show a write just made (a case page after
    an action, the phone pages) reads through `db_session()` instead; every write, the audit entry
    of a read page included, goes through `db_session()` too. Without a replica this is `db_session()`.
    """
    factory = services().read_session_factory
    if factory is None:
        return db_session()
    if "read_session" not in g:
        g.read_session = factory()
    return g.read_session


def close_session(_exc) -> None:
    """Close the request's sessions at teardown (registered by the app factory)."""
    for name in ("read_session", "db_session"):
        session = g.pop(name, None)
        if session is not None:
            # Anything not committed by the view is rolled back here.
            session.close()
