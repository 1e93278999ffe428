"""The sign-in throttle: attempts at the office sign-in form limited per client address and overall.

The per-account lock-out (`services.accounts`) stops guessing one password; this stops one address
trying a few passwords on each of many staff numbers, and a flood from everywhere. Every POST of
the form counts, before it is handled, in one atomic step in Redis (REDIS_URL; in-process memory in
development and tests), so parallel attempts cannot slip past it. Over a limit the form answers 429
with a page in Chinese; `office=sign_in_throttled` is logged with the address, never the staff number.

The client's address is `request.remote_addr`: behind the reverse proxy, the app factory's ProxyFix
(`TRUSTED_PROXIES`) has already put the client's address there from X-Forwarded-For.
"""

from __future__ import annotations

import logging

from flask import Flask, current_app, render_template, request
from flask_limiter import Limiter
from flask_limiter.errors import RateLimitExceeded

from bot.office.common import bp
from config import policy
from config.settings import Settings

logger = logging.getLogger(__name__)

SIGN_IN_ENDPOINT = "office.login"
THROTTLED = "登录尝试太频繁，请过一会儿再试。如需帮助，请联系管理员。"


def client_address() -> str:
    """The client's address, as the sign-in throttle counts by it."""
    return request.remote_addr or "unknown"


def everyone() -> str:
    """One key shared by every client, for the overall limit."""
    return "everyone"


def init_sign_in_throttle(app: Flask, settings: Settings) -> Limiter:
    """Limit the sign-in form's POSTs on this app; the app's office blueprint must be registered."""
    limiter = Limiter(
        key_func=client_address,
        storage_uri=settings.redis_url or "memory://",
        # Under the app's key prefix, with short timeouts as for the app's own Redis client: a
        # sign-in must not hang on it.
        storage_options={"key_prefix": f"{settings.redis_prefix}:limits", "socket_timeout": 0.5,
                         "socket_connect_timeout": 0.5} if settings.redis_url else {},
        strategy="moving-window",
        key_prefix="sign-in",
        # With Redis down, each process counts in its own memory until Redis is back.
        in_memory_fallback_enabled=True,
        headers_enabled=False,
    )
    limiter.init_app(app)
    # In the app's configuration, read on each attempt, so an operator (or a test) may change them.
    app.config.setdefault("SIGN_IN_LIMIT_PER_ADDRESS", policy.SIGN_IN_LIMIT_PER_ADDRESS)
    app.config.setdefault("SIGN_IN_LIMIT_OVERALL", policy.SIGN_IN_LIMIT_OVERALL)
    view = app.view_functions[SIGN_IN_ENDPOINT]
    # Both limits are checked by the innermost wrapper, each under its own key.
    view = limiter.limit(lambda: current_app.config["SIGN_IN_LIMIT_PER_ADDRESS"], methods=["POST"])(view)
    view = limiter.limit(lambda: current_app.config["SIGN_IN_LIMIT_OVERALL"], key_func=everyone,
                         methods=["POST"])(view)
    app.view_functions[SIGN_IN_ENDPOINT] = view
    return limiter


@bp.errorhandler(RateLimitExceeded)
def throttled(exc: RateLimitExceeded):
    """A kind page instead of the form, with how long to wait at most."""
    limit = exc.limit.limit
    logger.warning("office=sign_in_throttled remote=%s limit=%s", client_address(), limit)
    headers = {"Retry-After": str(limit.get_expiry())}
    return render_template("office/error.html", code=429, message=THROTTLED), 429, headers
