"""The Flask application factory: settings, services, blueprints, CSRF and error pages.

The services come from the composition root (`runtime.container`); blueprints are imported
inside the factory and reach the services through `bot.deps`, never through this module.
"""

from __future__ import annotations

import logging

from flask import Flask, jsonify, request
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy import Engine
from werkzeug.exceptions import HTTPException, NotFound

from bot import inputs
from bot.deps import close_session
from bot.request_ids import init_request_ids
from config.logging import setup_logging
from config.settings import Settings, load_settings
from runtime.clock import Clock
from runtime.container import WEB_STATEMENT_TIMEOUT, build_services

logger = logging.getLogger(__name__)


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    engine: Engine | None = None,
    redis=None,
) -> Flask:
    """Build the web application; tests pass their own settings, clock, engine or Redis."""
    settings = settings or load_settings()
    setup_logging(settings.log_level, settings.log_format)
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
    # First of the request hooks: every later hook's and view's lines carry the request's id.
    init_request_ids(app, settings)
    app.extensions["sanzhida"] = build_services(settings, clock=clock, engine=engine, redis=redis,
                                                statement_timeout=WEB_STATEMENT_TIMEOUT)
    inputs.init_app(app)
    _register_blueprints(app)
    _init_csrf(app)
    _init_security(app, settings)
    _register_errors(app)
    app.teardown_appcontext(close_session)
    logger.info("app=created env=%s safe_mode=%s", settings.env, settings.safe_mode)
    return app


class _SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, with its signer built once instead of on every request, and
    none at all on paths no browser visits: the webhook would otherwise pay for both on every message."""

    def __init__(self):
        self._serializer = None
        self.sessionless_paths: frozenset[str] = frozenset()
        # Each added official account's webhook, `/wechat/<slug>`.
        self.sessionless_prefixes: tuple[str, ...] = ()

    def open_session(self, app: Flask, request):
        """The cookie's session, or None (Flask's null session) on a sessionless path."""
        if request.path in self.sessionless_paths or request.path.startswith(self.sessionless_prefixes):
            return None
        return super().open_session(app, request)

    def get_signing_serializer(self, app: Flask):
        """The signer for this app's session cookie, made on first use."""
        if self._serializer is None:
            self._serializer = super().get_signing_serializer(app)
        return self._serializer


def _register_blueprints(app: Flask) -> None:
    from bot.api import bp as api_bp
    from bot.health import bp as health_bp
    from bot.metrics import METRICS_PATH
    from bot.metrics import bp as metrics_bp
    from bot.mobile import bp as mobile_bp
    from bot.office import bp as office_bp
    from bot.sms_replies import bp as sms_replies_bp
    from bot.webhook import WEBHOOK_PATH
    from bot.webhook import bp as webhook_bp

    app.register_blueprint(health_bp)
    app.register_blueprint(webhook_bp)
    app.register_blueprint(metrics_bp)
    app.session_interface.sessionless_paths = frozenset({WEBHOOK_PATH, METRICS_PATH})
    app.session_interface.sessionless_prefixes = (f"{WEBHOOK_PATH}/",)
    app.register_blueprint(api_bp)
    app.register_blueprint(office_bp)
    app.register_blueprint(mobile_bp)
    app.register_blueprint(sms_replies_bp)


def _init_security(app: Flask, settings: Settings) -> None:
    """The client's address behind the reverse proxy, the sign-in throttle and the security headers."""
    from werkzeug.middleware.proxy_fix import ProxyFix

    from bot.headers import init_security_headers
    from bot.office.throttle import init_sign_in_throttle

    if settings.trusted_proxies:
        # Without this every client would share the proxy's address (one throttle for the whole
        # city, one address in the audit log); with more hops than there are, anyone could claim any.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxies, x_proto=settings.trusted_proxies)
    init_sign_in_throttle(app, settings)
    init_security_headers(app, settings)


def _init_csrf(app: Flask) -> None:
    from flask_wtf.csrf import CSRFProtect

    csrf = CSRFProtect(app)
    # WeChat, the SMS provider and API clients cannot carry a form token; they are authenticated by
    # signature, the token in the path or a bearer token. (The development simulator exempts itself
    # when it is mounted.)
    for name in ("wechat", "api", "sms_replies"):
        csrf.exempt(app.blueprints[name])


MSG_NO_SUCH_PATH = "没有找到这个地址或编号"


def _readable(exc: HTTPException) -> str:
    """The refusal's own description, or Chinese in place of werkzeug's English 404 text."""
    return MSG_NO_SUCH_PATH if exc.code == 404 and exc.description == NotFound.description else exc.description


def _register_errors(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if request.path.startswith("/office"):
            # People read these pages: a short page in Chinese, not JSON.
            from flask import render_template
            from flask_wtf.csrf import CSRFError

            message = "页面已过期，请刷新后重试" if isinstance(exc, CSRFError) else _readable(exc)
            return render_template("office/error.html", code=exc.code, message=message), exc.code
        if exc.code == 404 and request.path.startswith("/api/"):
            # An unknown route or an id that cannot exist, in the admin API's own shape.
            return jsonify(error="not_found", message=MSG_NO_SUCH_PATH), 404
        if exc.code == 404 and request.path.startswith("/m/"):
            # Read on a phone: the kind page the mobile views show, not JSON.
            from bot.mobile.signin import notice

            return notice(404, "没有找到", "没有这个页面，或链接有误。")
        return jsonify(error=exc.name, message=_readable(exc)), exc.code

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        # Never a stack trace to the caller; the log has it, without request contents.
        logger.exception("request=failed path=%s", request.path)
        return jsonify(error="Internal Server Error", message="服务暂时出错，请稍后再试"), 500
