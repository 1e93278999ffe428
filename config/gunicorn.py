"""gunicorn settings for the web app: `gunicorn -c python:config.gunicorn 'bot.app:create_app()'`.

Command-line options override these, as gunicorn always does; where the logs go is left to the
command line (the Dockerfile sends both to stdout).
"""

from __future__ import annotations

import gc
import os
import shutil
import tempfile

from gunicorn.glogging import Logger

from config.logging import has_secret_path, redact, redact_code, style_handler
from config.settings import log_format

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
# WeChat gives up after 5 s; the timeout only kills truly stuck workers. The database cannot hold
# one this long: connecting gives up after 3 s and a web statement after 10 s (models/db.py).
timeout = 30
graceful_timeout = 10
# Worker heartbeats on tmpfs, off a slow overlay filesystem, where there is one.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # nosec B108  # gunicorn's heartbeat files

# The metrics folder this server made for itself (none was given), removed when it exits.
_own_metrics_dir: list[str] = []


def on_starting(server) -> None:
    """Give the workers one emptied metrics folder, so /metrics adds up every worker's counts.

    prometheus_client's multiprocess mode keeps each worker's values in files in PROMETHEUS_MULTIPROC_DIR
    and is chosen when a worker first imports it, after this. Files an earlier server left would be
    counted again, so they go. Without a folder given (docker-compose gives a tmpfs), one of our own.
    """
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not folder:
        folder = tempfile.mkdtemp(prefix="sanzhida-metrics-", dir=worker_tmp_dir)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
        _own_metrics_dir.append(folder)
    os.makedirs(folder, exist_ok=True)
    for name in os.listdir(folder):
        if name.endswith(".db"):
            os.remove(os.path.join(folder, name))


def child_exit(server, worker) -> None:
    """Drop an exited worker's live gauges from the metrics; its counts stay in the totals."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server) -> None:
    """Remove the metrics folder this server made for itself."""
    for folder in _own_metrics_dir:
        shutil.rmtree(folder, ignore_errors=True)


# One access line per request in our key=value form (the JSON format makes each pair a field); the
# request id is the one the app echoed, so the access line joins the request's own lines.
access_log_format = ("http=access remote=%(h)s method=%(m)s path=%(U)s status=%(s)s bytes=%(B)s "
                     "duration_ms=%(M)s request_id=%({x-request-id}o)s")


class RedactingLogger(Logger):
    """gunicorn's logger in our format (LOG_FORMAT), leaving the key of a mobile list link and WeChat's
    sign-in code out of the access log (its path, request line, query and referer): either alone opens a page."""

    def setup(self, cfg):
        """gunicorn's handlers, written like the app's lines: same format, UTC, redaction, ids."""
        super().setup(cfg)
        fmt = log_format(os.environ)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                style_handler(handler, fmt)

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
