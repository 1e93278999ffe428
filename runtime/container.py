"""The composition root: settings, engine, Redis, WeChat client, router and services, built once per process.

The web app (`bot.app.create_app`), the inbox worker, the scheduler and the CLI all call
`build_services`, so every process is wired the same way. Tests pass their own clock, engine or Redis.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cached_property

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from wechatpy.crypto import WeChatCrypto

from config.settings import Settings
from handlers.inbox import InboxEnv
from handlers.router import Router
from handlers.routes import build_router
from models.db import make_engine, make_read_session_factory, make_session_factory
from runtime.asr import SpeechRecognizer, make_recognizer
from runtime.clock import Clock, ShiftedClock, system_clock
from runtime.media_jobs import MediaEnv
from runtime.media_store import MediaStore, make_media_store
from runtime.redis_client import make_redis
from runtime.wechat import SanzhidaWeChatClient, make_wechat_client
from runtime.wechat_accounts import Account, WeChatAccounts
from runtime.wechat_oauth import WebAuth, make_web_auth
from services.binding import BindGuard
from services.kv import Keys
from services.notify import SmsPlan, Templates
from services.pii import PiiCipher
from services.requests import RequestEnv
from services.summary_links import ListLinks
from services.wechat_accounts import load_accounts

logger = logging.getLogger(__name__)

# The web app's limit on one SQL statement, in seconds: well under gunicorn's 30 s worker timeout
# (config/gunicorn.py), so a runaway query fails its own request instead of getting the worker killed.
WEB_STATEMENT_TIMEOUT = 10.0


@dataclass
class AppServices:
    """Everything a request, a job or a command needs, built once per process by `build_services`."""

    settings: Settings
    clock: Clock
    engine: Engine
    session_factory: sessionmaker[Session]
    redis: object
    keys: Keys
    wechat: SanzhidaWeChatClient
    crypto: WeChatCrypto | None
    router: Router
    pii: PiiCipher
    bind_guard: BindGuard
    request_env: RequestEnv
    media_store: MediaStore
    recognizer: SpeechRecognizer | None
    # Every official account (the default one is `wechat` and `crypto`), by webhook slug or id.
    accounts: WeChatAccounts | None = None
    # The read replica (DATABASE_REPLICA_URL) for dashboard and report reads; None: they read the primary.
    replica_engine: Engine | None = None

    @cached_property
    def read_session_factory(self) -> sessionmaker[Session] | None:
        """Read-only sessions on the replica, or None without one (then reads share the primary's session)."""
        return make_read_session_factory(self.replica_engine) if self.replica_engine is not None else None

    @property
    def media_env(self) -> MediaEnv:
        """What the media job needs."""
        return MediaEnv(session_factory=self.session_factory, wechat=self.wechat, store=self.media_store,
                        recognizer=self.recognizer, clock=self.clock, request_env=self.request_env,
                        max_bytes=self.settings.media_max_bytes)

    @cached_property
    def web_auth(self) -> WebAuth:
        """WeChat web authorisation for the mobile pages staff open from pushes."""
        return make_web_auth(self.settings)

    @property
    def inbox_env(self) -> InboxEnv:
        """What routing a stored message needs."""
        return InboxEnv(redis=self.redis, router=self.router, tz=self.settings.tz, pii=self.pii,
                        bind_guard=self.bind_guard, request_env=self.request_env)


def build_services(settings: Settings, *, clock: Clock | None = None, engine: Engine | None = None,
                   redis=None, read_only: bool = False, statement_timeout: float | None = None) -> AppServices:
    """Connect to the database, Redis and WeChat and build the router (every process alike).

    `read_only` is for commands that only look: on SQLite they then take no write lock.
    `statement_timeout` (seconds, PostgreSQL) is the process's limit on one statement: the web app
    passes WEB_STATEMENT_TIMEOUT; the scheduler, workers and CLI pass none, as their jobs
    (retention, imports, migrations) may run long and nobody waits on them.
    """
    engine = _init_db(settings, engine, read_only, statement_timeout)
    redis = _init_redis(settings, redis)
    keys = Keys(settings.redis_prefix)
    svc = AppServices(
        settings=settings,
        clock=clock or make_clock(settings),
        engine=engine,
        session_factory=make_session_factory(engine),
        redis=redis,
        keys=keys,
        wechat=_init_wechat(settings, redis),
        crypto=_init_crypto(settings),
        router=build_router(),
        pii=PiiCipher(settings.pii_key),
        bind_guard=BindGuard(redis, keys, settings.bind_max_failures),
        request_env=request_env(settings),
        media_store=make_media_store(settings),
        recognizer=make_recognizer(settings.asr_url, timeout=settings.asr_timeout),
    )
    svc.accounts = _init_accounts(svc)
    svc.replica_engine = _init_replica(settings, statement_timeout)
    return svc


def make_clock(settings: Settings) -> Clock:
    """The system clock, or in development the shared shifted clock the simulator moves."""
    return ShiftedClock(settings.dev_clock_file) if settings.dev_clock_file else system_clock


def request_env(settings: Settings) -> RequestEnv:
    """What request services need from the settings (shared with the CLI and the scheduler)."""
    return RequestEnv(
        tz=settings.tz,
        templates=Templates(task=settings.wechat_template_task, progress=settings.wechat_template_progress),
        merge_hours=settings.request_merge_hours,
        links=ListLinks(secret_key=settings.secret_key, base_url=settings.public_base_url),
        asr_on=bool(settings.asr_url),
        sms=sms_plan(settings),
    )


def sms_plan(settings: Settings) -> SmsPlan | None:
    """When pushes go by SMS, from the settings; None when SMS_PROVIDER is unset."""
    if not settings.sms_provider:
        return None
    return SmsPlan(templates=frozenset(kind for kind, _ in settings.sms_templates),
                   urgent_escalations=settings.sms_urgent_escalations)


def _init_db(settings: Settings, engine: Engine | None, read_only: bool, statement_timeout: float | None) -> Engine:
    """The engine a test passed in, or one on DATABASE_URL."""
    if engine is not None:
        return engine
    return make_engine(settings.database_url, sqlite_immediate=not read_only, statement_timeout=statement_timeout)


def _init_replica(settings: Settings, statement_timeout: float | None) -> Engine | None:
    """An engine on DATABASE_REPLICA_URL whose transactions are read-only (BEGIN READ ONLY), or None."""
    if not settings.database_replica_url:
        return None
    engine = make_engine(settings.database_replica_url, statement_timeout=statement_timeout)
    # Even pointed at the primary by mistake, nothing is written through it.
    return engine.execution_options(postgresql_readonly=True)


def _init_redis(settings: Settings, redis):
    """The Redis a test passed in, or a client on REDIS_URL (the in-process stand-in in development)."""
    if redis is not None:
        return redis
    return make_redis(settings.redis_url, allow_embedded=not settings.is_production)


def _init_wechat(settings: Settings, redis) -> SanzhidaWeChatClient:
    """The WeChat API client, its access token shared through Redis."""
    return make_wechat_client(settings, redis)


def _init_accounts(svc: AppServices) -> WeChatAccounts:
    """The added official accounts beside the default one, read from the database on first need."""
    settings = svc.settings

    def load(session=None):
        if session is not None:
            return load_accounts(session, svc.pii)
        with svc.session_factory() as own:
            return load_accounts(own, svc.pii)

    def make_client(row):
        client = make_wechat_client(settings, svc.redis, app_id=row.app_id, app_secret=row.app_secret,
                                    like=svc.wechat)
        # Template ids are per account: the outbox's rows name the settings' ones.
        client.template_ids = {default: own for default, own in (
            (settings.wechat_template_task, row.template_task),
            (settings.wechat_template_progress, row.template_progress)) if own}
        client.account_slug = row.slug
        return client

    accounts = WeChatAccounts(
        Account(None, None, settings.wechat_app_id, settings.wechat_token, svc.crypto), svc.wechat, load, make_client,
    )
    # Whoever sends with the default client (the outbox, the media job) finds the others through it.
    svc.wechat.accounts = accounts
    return accounts


def _init_crypto(settings: Settings) -> WeChatCrypto | None:
    """The message cipher for safe mode, or None in plaintext mode."""
    if not settings.safe_mode:
        if settings.is_production:
            # Only reached with WECHAT_ALLOW_PLAINTEXT=1: the settings refuse plaintext in production otherwise.
            logger.warning("wechat=plaintext_mode allowed_by=WECHAT_ALLOW_PLAINTEXT"
                           " note=set WECHAT_ENCODING_AES_KEY for safe mode (安全模式)")
        return None
    return WeChatCrypto(settings.wechat_token, settings.wechat_encoding_aes_key, settings.wechat_app_id)
