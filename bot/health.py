"""Health checks: /healthz (the process answers) and /readyz (database, migrations and Redis)."""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from bot.deps import services
from models.migrate import current_revision, head_revision

logger = logging.getLogger(__name__)

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """The process is up and serving."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    """Ready when the database answers at the migration head and Redis answers a ping."""
    svc = services()
    checks: dict[str, str] = {}
    try:
        with svc.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            current, head = current_revision(connection), head_revision()
        checks["database"] = "ok"
        checks["migrations"] = "ok" if current == head else f"at {current or 'none'}, head is {head}"
    except SQLAlchemyError as exc:
        logger.warning("readyz=database_down error=%s", type(exc).__name__)
        checks["database"] = f"unreachable ({type(exc).__name__})"
        checks["migrations"] = "unknown"
    try:
        svc.redis.ping()
        checks["redis"] = "ok"
    except Exception as exc:  # any failure to ping means "not ready", whatever the client raises
        logger.warning("readyz=redis_down error=%s", type(exc).__name__)
        checks["redis"] = f"unreachable ({type(exc).__name__})"
    ready = all(value == "ok" for value in checks.values())
    return jsonify(status="ok" if ready else "unavailable", checks=checks), 200 if ready else 503
