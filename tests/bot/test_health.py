"""/healthz and /readyz."""

from __future__ import annotations

import redis

from bot.app import create_app
from models.db import make_engine


def test_healthz_answers(client):
    """The liveness check answers 200."""
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json()["status"] == "ok"


def test_readyz_is_ready_with_database_at_head_and_redis_up(client):
    """Database reachable at the migration head and Redis answering: ready."""
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["checks"] == {"database": "ok", "migrations": "ok", "redis": "ok"}


def test_readyz_reports_an_unmigrated_database(settings, redis_client, clock, tmp_path):
    """An empty database is reachable but not ready: the migrations are named."""
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    app = create_app(settings, clock=clock, engine=engine, redis=redis_client)
    response = app.test_client().get("/readyz")
    engine.dispose()
    assert response.status_code == 503
    checks = response.get_json()["checks"]
    assert checks["database"] == "ok"
    assert checks["migrations"].startswith("at none")


def test_readyz_reports_redis_down(settings, db, clock):
    """Redis unreachable: not ready, and the check says which part failed."""
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5)
    app = create_app(settings, clock=clock, engine=db, redis=dead)
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["redis"].startswith("unreachable")
