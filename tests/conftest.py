"""Fixtures: a throwaway database migrated to head, Redis under a per-test prefix, a fixed clock,
the local WeChat stand-in, and an app wired to all of them.

With TEST_DATABASE_URL / TEST_REDIS_URL set (CI does), tests run against real PostgreSQL and
Redis; without them, against a SQLite file and the in-process Redis stand-in.
"""

from __future__ import annotations

import os
import uuid
from datetime import datetime, timezone

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from bot.app import create_app
from config.settings import Settings
from devtools.fake_asr import FakeAsrServer
from devtools.fake_sms import FakeSmsServer
from devtools.fake_wechat import FakeWeChatServer
from models import metadata
from models.db import make_engine, make_session_factory, normalize_url
from models.migrate import upgrade
from tests.support.clock import FixedClock
from tests.support.wechat import WeChatSender, tell_standin_who_wrote

TEST_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
TEST_APP_ID = "wx-test-app"
TEST_APP_SECRET = "test-app-secret"
# The SMS stand-in's AccessKey, sign name and templates (kind -> code; any variables accepted).
TEST_SMS_KEY_ID = "test-sms-key"
TEST_SMS_KEY_SECRET = "test-sms-secret"
TEST_SMS_SIGN = "三直达"
TEST_SMS_TEMPLATES = (("task", "SMS_100001"), ("urgent", "SMS_100002"), ("notice", "SMS_100003"))
# 2026-12-01 09:00 in Shanghai.
START = datetime(2026, 12, 1, 1, 0, tzinfo=timezone.utc)


def using_postgres() -> bool:
    """True when the suite runs on PostgreSQL."""
    return bool(os.environ.get("TEST_DATABASE_URL"))


class ThrowawayDatabases:
    """Creates empty databases next to TEST_DATABASE_URL (or SQLite files) and drops them after."""

    def __init__(self, tmp_path_factory):
        self.base = os.environ.get("TEST_DATABASE_URL")
        self.tmp = tmp_path_factory
        self.created: list[str] = []
        self._base_ready = False

    def new(self) -> str:
        """The URL of a new, empty database."""
        if not self.base:
            return f"sqlite:///{self.tmp.mktemp('db') / 'test.db'}"
        name = f"sanzhida_test_{uuid.uuid4().hex[:12]}"
        self._admin(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return make_url(normalize_url(self.base)).set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        """Drop every database this run created."""
        for name in self.created:
            self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _admin(self, sql: str) -> None:
        self._ensure_base()
        engine = create_engine(normalize_url(self.base), isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(text(sql))
        engine.dispose()

    def _ensure_base(self) -> None:
        """Create TEST_DATABASE_URL's own database if it is missing (a fresh PostgreSQL has only `postgres`)."""
        if self._base_ready:
            return
        url = make_url(normalize_url(self.base))
        engine = create_engine(url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect():
                pass
        except OperationalError:
            maintenance = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
            with maintenance.connect() as connection:
                known = connection.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"),
                                          {"name": url.database})
                if not known:
                    connection.execute(text(f'CREATE DATABASE "{url.database}"'))
            maintenance.dispose()
        finally:
            engine.dispose()
        self._base_ready = True


@pytest.fixture(scope="session")
def databases(tmp_path_factory):
    """Factory of throwaway databases for this test run."""
    dbs = ThrowawayDatabases(tmp_path_factory)
    yield dbs
    dbs.drop_all()


@pytest.fixture(scope="session")
def database_url(databases) -> str:
    """One database for the run, migrated to head with Alembic."""
    url = databases.new()
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def engine(database_url):
    """The engine on the run's database."""
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def db(engine):
    """A clean database for one test (every table emptied afterwards)."""
    yield engine
    tables = [t.name for t in reversed(metadata.sorted_tables)]
    for attempt in range(3):
        try:
            with engine.begin() as connection:
                if engine.dialect.name == "postgresql":
                    connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
                else:
                    for name in tables:
                        connection.execute(text(f"DELETE FROM {name}"))
            return
        except OperationalError as exc:
            # A live server's last request (a page still loading when its test ended) can meet the
            # TRUNCATE's locks; PostgreSQL then cancels one of the two, and the request ends anyway.
            if attempt == 2 or "deadlock detected" not in str(exc):
                raise


@pytest.fixture(scope="session")
def test_engine(database_url):
    """The tests' own engine: deferred SQLite transactions, so a test reading never blocks the app."""
    engine = make_engine(database_url, sqlite_immediate=False)
    yield engine
    engine.dispose()


@pytest.fixture
def session(db, test_engine, request):
    """A session for arranging and checking data directly.

    In a test with the WeChat stand-in, a user this session records as having written
    (last_message_at) is registered there too, as WeChat would know them (tests/support/wechat.py).
    """
    with make_session_factory(test_engine)() as session:
        if "fake_wechat" in request.fixturenames:
            tell_standin_who_wrote(session, request.getfixturevalue("fake_wechat").root_url,
                                   request.getfixturevalue("clock"))
        yield session


@pytest.fixture
def redis_client():
    """Real Redis when TEST_REDIS_URL is set, the in-process stand-in otherwise."""
    url = os.environ.get("TEST_REDIS_URL")
    if url:
        import redis

        client = redis.Redis.from_url(url)
    else:
        import fakeredis

        client = fakeredis.FakeRedis()
    yield client
    client.close()


@pytest.fixture
def redis_prefix(redis_client):
    """A key prefix of this test's own; its keys are deleted afterwards."""
    prefix = f"t-{uuid.uuid4().hex[:10]}"
    yield prefix
    for key in redis_client.scan_iter(match=f"{prefix}:*"):
        redis_client.delete(key)


@pytest.fixture
def clock():
    """A fixed clock at 2026-12-01 09:00 Shanghai time."""
    return FixedClock(START)


@pytest.fixture
def fake_wechat():
    """The WeChat API stand-in on a real local port, accepting the test settings' app id and secret."""
    server = FakeWeChatServer(app_id=TEST_APP_ID, app_secret=TEST_APP_SECRET).start()
    yield server
    server.stop()


@pytest.fixture
def fake_asr():
    """The FunASR speech-recognition stand-in on a real local port."""
    server = FakeAsrServer().start()
    yield server
    server.stop()


@pytest.fixture
def fake_sms():
    """The Aliyun SMS stand-in on a real local port, taking the TEST_SMS_* key, sign name and templates."""
    server = FakeSmsServer(access_key_id=TEST_SMS_KEY_ID, access_key_secret=TEST_SMS_KEY_SECRET,
                           sign_names=(TEST_SMS_SIGN,), templates={code: None for _, code in TEST_SMS_TEMPLATES}).start()
    yield server
    server.stop()


@pytest.fixture
def settings(database_url, redis_prefix, fake_wechat, tmp_path) -> Settings:
    """Test settings: plaintext mode, the stand-in as the WeChat API, media in a folder of the test's own."""
    return Settings(
        env="test",
        database_url=database_url,
        redis_url=os.environ.get("TEST_REDIS_URL"),
        redis_prefix=redis_prefix,
        wechat_token="test-token",
        wechat_app_id=TEST_APP_ID,
        wechat_app_secret=TEST_APP_SECRET,
        wechat_api_base_url=fake_wechat.base_url,
        wechat_oauth_url=fake_wechat.oauth_url,
        wechat_http_timeout=2.0,
        # Most tests read the passive reply; tests/bot/test_inbox.py covers queued replies.
        wechat_reply_mode="inline",
        secret_key="test-secret-key-000000000000000000000",
        admin_api_token="test-admin-token",
        pii_key="test-pii-key-0000000000000000000000000",
        media_store_url=(tmp_path / "media").as_uri(),
    )


@pytest.fixture
def make_app(settings, db, redis_client, clock):
    """Build an app with optional settings overrides, on the shared test database and Redis."""

    def build(**overrides):
        return create_app(settings.with_overrides(**overrides), clock=clock, engine=db, redis=redis_client)

    return build


@pytest.fixture
def app(make_app):
    """The app in plaintext mode."""
    return make_app()


@pytest.fixture
def client(app):
    """A test client for the app."""
    return app.test_client()


@pytest.fixture
def sender(settings, clock, fake_wechat) -> WeChatSender:
    """WeChat's side, signing with the app's token (AES key ready for safe-mode tests), registering
    every message and event it posts at the WeChat stand-in."""
    return WeChatSender(token=settings.wechat_token, app_id=settings.wechat_app_id, aes_key=TEST_AES_KEY, clock=clock,
                        standin=fake_wechat.root_url)
