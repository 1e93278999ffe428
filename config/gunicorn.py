"""gunicorn settings for the web app: `gunicorn -c python:config.gunicorn 'bot.app:create_app()'`.

Command-line options override these, as gunicorn always does; where the logs go is left to the
command line (the Dockerfile sends both to stdout).
"""

from __future__ import annotations

import gc
import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
# WeChat gives up after 5 s; the timeout only kills truly stuck workers.
timeout = 30
graceful_timeout = 10
# Worker heartbeats on tmpfs, off a slow overlay filesystem, where there is one.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None


def post_worker_init(worker) -> None:
    """Move the loaded app's long-lived objects out of the garbage collector's reach.

    A worker holds some 150,000 objects after loading the app (mappers, routes, templates);
    without this every full collection walks them all again, several times a second under load.
    """
    gc.collect()
    gc.freeze()
