"""The Flask application factory: settings, database, Redis, WeChat client, blueprints, errors."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import Flask, current_app, g, jsonify, request
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.exceptions import HTTPException
from wechatpy.crypto import WeChatCrypto

from bot.clock import Clock, ShiftedClock, system_clock
from bot.wechat import SanzhidaWeChatClient, make_wechat_client
from config.logging import setup_logging
from config.settings import Settings, load_settings
from handlers.inbox import InboxEnv
from handlers.router import Router
from handlers.routes import build_router
from handlers.services.kv import Keys, make_redis
from handlers.services.binding import BindGuard
from handlers.services.notify import Templates
from handlers.services.pii import PiiCipher
from handlers.services.requests import RequestEnv
from models.db import make_engine, make_session_factory

logger = logging.getLogger(__name__)

@dataclass
class AppServices:
    """Everything a request needs, created once per process in `create_app`."""

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

    @property
    def inbox_env(self) -> InboxEnv:
        """What routing a stored message needs."""
        return InboxEnv(redis=self.redis, router=self.router, tz=self.settings.tz, pii=self.pii,
                        bind_guard=self.bind_guard, request_env=self.request_env)


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    engine: Engine | None = None,
    redis=None,
) -> Flask:
    """Build the web application; tests pass their own settings, clock, engine or Redis."""
    settings = settings or load_settings()
    setup_logging(settings.log_level)
    app = Flask("sanzhida")
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="sanzhida_session",
        PERMANENT_SESSION_LIFETIME=8 * 3600,
        WTF_CSRF_TIME_LIMIT=8 * 3600,
        SESSION_COOKIE_SECURE=settings.is_production,
        JSON_AS_ASCII=False,
    )
    app.json.ensure_ascii = False
    app.session_interface = _SessionInterface()
    app.extensions["sanzhida"] = build_services(settings, clock=clock, engine=engine, redis=redis)
    _register_blueprints(app, settings)
    _init_csrf(app)
    _register_errors(app)
    app.teardown_appcontext(_close_session)
    logger.info("app=created env=%s safe_mode=%s", settings.env, settings.safe_mode)
    return app


class _SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, with its signer built once instead of on every request, and
    none at all on paths no browser visits: the webhook would otherwise pay for both on every message."""

    def __init__(self):
        self._serializer = None
        self.sessionless_paths: frozenset[str] = frozenset()

    def open_session(self, app: Flask, request):
        """The cookie's session, or None (Flask's null session) on a sessionless path."""
        if request.path in self.sessionless_paths:
            return None
        return super().open_session(app, request)

    def get_signing_serializer(self, app: Flask):
        """The signer for this app's session cookie, made on first use."""
        if self._serializer is None:
            self._serializer = super().get_signing_serializer(app)
        return self._serializer


def build_services(settings: Settings, *, clock: Clock | None = None, engine: Engine | None = None,
                   redis=None) -> AppServices:
    """Connect to the database, Redis and WeChat and build the router (web and inbox worker alike)."""
    engine = _init_db(settings, engine)
    redis = _init_redis(settings, redis)
    keys = Keys(settings.redis_prefix)
    return AppServices(
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
    )


def make_clock(settings: Settings) -> Clock:
    """The system clock, or in development the shared shifted clock the simulator moves."""
    return ShiftedClock(settings.dev_clock_file) if settings.dev_clock_file else system_clock


def request_env(settings: Settings) -> RequestEnv:
    """What request services need from the settings (shared with the CLI and the scheduler)."""
    return RequestEnv(
        tz=settings.tz,
        templates=Templates(task=settings.wechat_template_task, progress=settings.wechat_template_progress),
        merge_hours=settings.request_merge_hours,
    )


def _init_db(settings: Settings, engine: Engine | None) -> Engine:
    return engine if engine is not None else make_engine(settings.database_url)


def _init_redis(settings: Settings, redis):
    if redis is not None:
        return redis
    return make_redis(settings.redis_url, allow_embedded=not settings.is_production)


def _init_wechat(settings: Settings, redis) -> SanzhidaWeChatClient:
    return make_wechat_client(settings, redis)


def _init_crypto(settings: Settings) -> WeChatCrypto | None:
    if not settings.safe_mode:
        if settings.is_production:
            logger.warning("wechat=plaintext_mode note=set WECHAT_ENCODING_AES_KEY for safe mode (安全模式)")
        return None
    return WeChatCrypto(settings.wechat_token, settings.wechat_encoding_aes_key, settings.wechat_app_id)


def _register_blueprints(app: Flask, settings: Settings) -> None:
    from bot.api import bp as api_bp
    from bot.health import bp as health_bp
    from bot.webhook import WEBHOOK_PATH
    from bot.webhook import bp as webhook_bp

    app.register_blueprint(health_bp)
    app.register_blueprint(webhook_bp)
    app.session_interface.sessionless_paths = frozenset({WEBHOOK_PATH})
    app.register_blueprint(api_bp)
    from bot.office import bp as office_bp

    app.register_blueprint(office_bp)
    if not settings.is_production:
        # The simulator signs messages with the real token: never part of a production app.
        from bot.simulator import bp as simulator_bp

        app.register_blueprint(simulator_bp)


def _init_csrf(app: Flask) -> None:
    from flask_wtf.csrf import CSRFProtect

    csrf = CSRFProtect(app)
    # WeChat, API clients and the simulator's JSON calls cannot carry a form token; they are
    # authenticated by signature, bearer token, or exist only in development.
    for name in ("wechat", "api", "simulator"):
        if name in app.blueprints:
            csrf.exempt(app.blueprints[name])


def _register_errors(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if request.path.startswith("/office"):
            # People read these pages: a short page in Chinese, not JSON.
            from flask import render_template
            from flask_wtf.csrf import CSRFError

            message = "页面已过期，请刷新后重试" if isinstance(exc, CSRFError) else exc.description
            return render_template("office/error.html", code=exc.code, message=message), exc.code
        return jsonify(error=exc.name, message=exc.description), exc.code

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        # Never a stack trace to the caller; the log has it, without request contents.
        logger.exception("request=failed path=%s", request.path)
        return jsonify(error="Internal Server Error", message="服务暂时出错，请稍后再试"), 500


def services() -> AppServices:
    """The current app's services."""
    return current_app.extensions["sanzhida"]


def db_session() -> Session:
    """The request's one session, opened on first use and closed at teardown."""
    if "db_session" not in g:
        g.db_session = services().session_factory()
    return g.db_session


def _close_session(_exc) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        # Anything not committed by the view is rolled back here.
        session.close()
