"""The development web app: the production app with the WeChat simulator mounted at /dev/simulator."""

from __future__ import annotations

import threading

from flask import Flask

from bot.app import create_app
from config.settings import Settings, load_settings


def create_dev_app(settings: Settings | None = None, **collaborators) -> Flask:
    """`create_app` plus the simulator; refused in production, where the simulator must never be."""
    settings = settings or load_settings()
    if settings.is_production:
        raise RuntimeError("the development app is refused when SANZHIDA_ENV=production")
    app = create_app(settings, **collaborators)
    from devtools.simulator import bp

    app.register_blueprint(bp)
    # The simulator's JSON calls carry no form token; it exists only in development.
    app.extensions["csrf"].exempt(bp)
    app.extensions["simulator_inbox_lock"] = threading.Lock()
    return app
