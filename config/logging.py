"""Logging set-up: one key=value line per record, never personal data."""

from __future__ import annotations

import logging
import re
import sys

# The last part of a mobile list link is the key to the page (bot/mobile): never written to a log.
_LIST_LINK = re.compile(r"(/m/list/)[^\s\"'?#]+")
# WeChat's one-time sign-in code on the way back to /m/oauth is as good as a password for minutes.
_OAUTH_CODE = re.compile(r"(/m/oauth\?[^\s\"'#]*?\bcode=)[^&\s\"'#]+")
_CODE_PARAM = re.compile(r"((?:^|[?&])code=)[^&\s\"'#]+")
# What marks a line that may hold one of them.
SECRET_PATHS = ("/m/list/", "/m/oauth")


def redact(text: str) -> str:
    """`text` with the key of every list link and every sign-in code replaced by `…`."""
    return _OAUTH_CODE.sub(r"\1…", _LIST_LINK.sub(r"\1…", text))


def redact_code(query: str) -> str:
    """A query string (of a /m/oauth request) with its `code` replaced by `…`."""
    return _CODE_PARAM.sub(r"\1…", query)


def has_secret_path(text: str) -> bool:
    """Whether `text` may hold a list key or a sign-in code."""
    return any(path in text for path in SECRET_PATHS)


class RedactLinks(logging.Filter):
    """Rewrites a record that would show a list link's key (a server's request line, say)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Always keep the record; rewrite its message when it holds a list link."""
        message = record.getMessage()
        if has_secret_path(message):
            record.msg, record.args = redact(message), None
        return True


def setup_logging(level: str = "INFO") -> None:
    """Send key=value log lines to stderr at the given level (idempotent)."""
    root = logging.getLogger()
    if any(getattr(h, "_sanzhida", False) for h in root.handlers):
        root.setLevel(level)
        logging.getLogger("urllib3").setLevel(logging.WARNING)
        return
    handler = logging.StreamHandler(sys.stderr)
    handler._sanzhida = True  # marks our handler so repeated set-up does not duplicate lines
    handler.addFilter(RedactLinks())
    handler.setFormatter(logging.Formatter("%(asctime)s level=%(levelname)s logger=%(name)s %(message)s"))
    root.addHandler(handler)
    root.setLevel(level)
    # urllib3 logs request URLs at DEBUG, and WeChat's carry the app secret and access token.
    logging.getLogger("urllib3").setLevel(logging.WARNING)
