"""Logging set-up: one key=value line per record, never personal data."""

from __future__ import annotations

import logging
import sys


def setup_logging(level: str = "INFO") -> None:
    """Send key=value log lines to stderr at the given level (idempotent)."""
    root = logging.getLogger()
    if any(getattr(h, "_sanzhida", False) for h in root.handlers):
        root.setLevel(level)
        logging.getLogger("urllib3").setLevel(logging.WARNING)
        return
    handler = logging.StreamHandler(sys.stderr)
    handler._sanzhida = True  # marks our handler so repeated set-up does not duplicate lines
    handler.setFormatter(logging.Formatter("%(asctime)s level=%(levelname)s logger=%(name)s %(message)s"))
    root.addHandler(handler)
    root.setLevel(level)
    # urllib3 logs request URLs at DEBUG, and WeChat's carry the app secret and access token.
    logging.getLogger("urllib3").setLevel(logging.WARNING)
