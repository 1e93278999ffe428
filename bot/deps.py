"""What views need from the running app: its services and the request's one database session.

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


def close_session(_exc) -> None:
    """Close the request's session at teardown (registered by the app factory)."""
    session = g.pop("db_session", None)
    if session is not None:
        # Anything not committed by the view is rolled back here.
        session.close()
