"""A database that does not answer cannot hold the web app: /readyz fails fast with 503 while /healthz
never waits on it, and a web statement is cancelled after WEB_STATEMENT_TIMEOUT."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from bot.app import create_app
from models.db import CONNECT_TIMEOUT, make_engine
from runtime.container import WEB_STATEMENT_TIMEOUT, build_services
from tests.conftest import using_postgres


@pytest.fixture
def silent_postgres():
    """A port that takes TCP connections and never says a word, like PostgreSQL behind a dead link."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    # Never accepted: the kernel completes the handshakes, then nothing ever answers the start-up message.
    listener.listen(16)
    yield f"postgresql://sanzhida@127.0.0.1:{listener.getsockname()[1]}/sanzhida"
    listener.close()


def test_readyz_fails_fast_and_healthz_answers_while_the_database_is_silent(
        settings, redis_client, clock, silent_postgres):
    """/readyz: 503 within the connect timeout (psycopg would wait 130 s); /healthz: 200 meanwhile."""
    app = create_app(settings.with_overrides(database_url=silent_postgres), clock=clock, redis=redis_client)
    answers = {}

    def ask_ready():
        started = time.monotonic()
        answers["ready"] = app.test_client().get("/readyz")
        answers["seconds"] = time.monotonic() - started

    asking = threading.Thread(target=ask_ready, daemon=True)
    asking.start()
    started = time.monotonic()
    alive = app.test_client().get("/healthz")
    assert alive.status_code == 200 and time.monotonic() - started < 1
    asking.join(timeout=CONNECT_TIMEOUT + 7)
    app.extensions["sanzhida"].engine.dispose()
    assert not asking.is_alive(), "/readyz still waiting on the silent database"
    assert answers["ready"].status_code == 503 and answers["seconds"] < CONNECT_TIMEOUT + 5
    assert answers["ready"].get_json()["checks"]["database"].startswith("unreachable")


@pytest.mark.skipif(not using_postgres(), reason="SQLite has no statement timeout")
def test_the_web_engine_cancels_a_long_statement(settings, redis_client, clock):
    """Through the engine the web app makes, a statement past WEB_STATEMENT_TIMEOUT is cancelled;
    the other processes' engine has no limit."""
    web = create_app(settings, clock=clock, redis=redis_client).extensions["sanzhida"].engine
    worker = build_services(settings, clock=clock, redis=redis_client).engine
    try:
        with worker.connect() as connection:
            assert connection.execute(text("SHOW statement_timeout")).scalar() == "0"
        with web.connect() as connection:
            assert connection.execute(text("SHOW statement_timeout")).scalar() == f"{WEB_STATEMENT_TIMEOUT:g}s"
            started = time.monotonic()
            with pytest.raises(OperationalError, match="statement timeout"):
                connection.execute(text("SELECT pg_sleep(:s)"), {"s": WEB_STATEMENT_TIMEOUT + 20})
            assert time.monotonic() - started < WEB_STATEMENT_TIMEOUT + 5
    finally:
        web.dispose()
        worker.dispose()


@pytest.mark.skipif(not using_postgres(), reason="PostgreSQL connection settings")
def test_options_in_the_url_are_kept_beside_the_statement_timeout(database_url):
    """A URL's own `options` (here a lock timeout) survive; the statement timeout is added to them."""
    engine = make_engine(f"{database_url}?options=-c%20lock_timeout%3D1500", statement_timeout=0.25)
    try:
        with engine.connect() as connection:
            assert connection.execute(text("SHOW lock_timeout")).scalar() == "1500ms"
            assert connection.execute(text("SHOW statement_timeout")).scalar() == "250ms"
            assert connection.execute(text("SHOW jit")).scalar() == "off"
    finally:
        engine.dispose()


@pytest.mark.skipif(not using_postgres(), reason="PostgreSQL connection settings")
def test_jit_is_off_unless_the_url_asks_for_it(database_url):
    """The dashboard's aggregates run without JIT compilation; a URL's own `jit` setting wins."""
    for url, expected in ((database_url, "off"), (f"{database_url}?options=-c%20jit%3Don", "on")):
        engine = make_engine(url)
        try:
            with engine.connect() as connection:
                assert connection.execute(text("SHOW jit")).scalar() == expected
        finally:
            engine.dispose()
