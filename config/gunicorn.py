"""gunicorn settings for the web app: `gunicorn -c python:config.gunicorn 'bot.app:create_app()'`.

Command-line options override these, as gunicorn always does; where the logs go is left to the
command line (the Dockerfile sends both to stdout).
"""

from __future__ import annotations

import gc
import os

from gunicorn.glogging import Logger

from config.logging import has_secret_path, redact, redact_code

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
# WeChat gives up after 5 s; the timeout only kills truly stuck workers. The database cannot hold
# one this long: connecting gives up after 3 s and a web statement after 10 s (models/db.py).
timeout = 30
graceful_timeout = 10
# Worker heartbeats on tmpfs, off a slow overlay filesystem, where there is one.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # nosec B108  # gunicorn's heartbeat files


class RedactingLogger(Logger):
    """gunicorn's logger, leaving the key of a mobile list link and WeChat's sign-in code out of the
    access log (its path, request line, query and referer): either alone opens a page."""

    def atoms(self, resp, req, environ, request_time):
        """gunicorn's access-log fields, list-link keys and sign-in codes replaced by `…`."""
        atoms = super().atoms(resp, req, environ, request_time)
        atoms = {k: redact(v) if isinstance(v, str) and has_secret_path(v) else v for k, v in atoms.items()}
        if environ.get("PATH_INFO", "").startswith("/m/oauth"):
            # The query string alone (`q`, `{query_string}e`) does not name its path.
            atoms = {k: redact_code(v) if isinstance(v, str) else v for k, v in atoms.items()}
        return atoms


logger_class = RedactingLogger


def post_worker_init(worker) -> None:
    """Move the loaded app's long-lived objects out of the garbage collector's reach.

    A worker holds some 150,000 objects after loading the app (mappers, routes, templates);
    without this every full collection walks them all again, several times a second under load.
    """
    gc.collect()
    gc.freeze()
