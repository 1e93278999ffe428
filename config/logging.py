"""Logging set-up: one line per record, key=value text or a JSON object, never personal data.

Our messages are `key=value key=value` strings. The text format prints them as they are; the JSON
format (LOG_FORMAT=json, production's default) keeps the message and lifts each pair into a field of
the same name. Both stamp every line in UTC with its offset and carry the id of the web request
(`request_id`) or of the job run or worker batch (`run_id`) it belongs to.
"""

from __future__ import annotations

import logging
import re
import sys
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timezone
from types import MappingProxyType

from pythonjsonlogger.core import merge_record_extra
from pythonjsonlogger.json import JsonFormatter

# The last part of a mobile list link is the key to the page (bot/mobile): never written to a log.
_LIST_LINK = re.compile(r"(/m/list/)[^\s\"'?#]+")
# WeChat's one-time sign-in code on the way back to /m/oauth is as good as a password for minutes.
_OAUTH_CODE = re.compile(r"(/m/oauth\?[^\s\"'#]*?\bcode=)[^&\s\"'#]+")
_CODE_PARAM = re.compile(r"((?:^|[?&])code=)[^&\s\"'#]+")
# The SMS provider's reply pushes carry our token in their path (/sms/replies/<token>).
_REPLY_TOKEN = re.compile(r"(/sms/replies/)[^\s\"'?#/]+")
# What marks a line that may hold one of them.
SECRET_PATHS = ("/m/list/", "/m/oauth", "/sms/replies/")


def redact(text: str) -> str:
    """`text` with the key of every list link, every sign-in code and the SMS reply token replaced by `…`."""
    return _REPLY_TOKEN.sub(r"\1…", _OAUTH_CODE.sub(r"\1…", _LIST_LINK.sub(r"\1…", text)))


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


# --- the request or run a record belongs to ------------------------------------------------------

_IDS: ContextVar[Mapping[str, str]] = ContextVar("sanzhida_log_ids", default=MappingProxyType({}))
ID_FIELDS = ("request_id", "run_id")


def new_id() -> str:
    """A fresh random id for a request, a job run or a worker batch."""
    return uuid.uuid4().hex


def current_ids() -> Mapping[str, str]:
    """The ids every record logged here and now carries."""
    return _IDS.get()


def bind_ids(**ids: str):
    """Put `ids` on every record from this context on; returns the token `unbind_ids` takes."""
    return _IDS.set(MappingProxyType({**_IDS.get(), **ids}))


def unbind_ids(token) -> None:
    """Forget what the matching `bind_ids` put on the records."""
    try:
        _IDS.reset(token)
    except ValueError:
        # Bound in another context (a copied one), which ends with its ids: nothing to undo here.
        pass


@contextmanager
def log_ids(**ids: str) -> Iterator[None]:
    """Every record logged inside the block carries `ids` (e.g. `run_id=new_id()`)."""
    token = bind_ids(**ids)
    try:
        yield
    finally:
        unbind_ids(token)


class ContextIds(logging.Filter):
    """Copies the request or run id of the current context onto each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Always keep the record; add the ids it does not already carry."""
        for key, value in _IDS.get().items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


# --- the two formats -----------------------------------------------------------------------------

# `key=value` or `key="a value with spaces"`, starting the message or after a space.
_PAIR = re.compile(r'(?:^|(?<=\s))([A-Za-z_][A-Za-z0-9_.]*)=("[^"]*"|\S*)')
# What a JSON line names itself; a pair in the message never replaces one of these. (An id pair is
# taken when the record has no id of its own: gunicorn's access line names the request it closes.)
_OWN_FIELDS = frozenset({"timestamp", "level", "logger", "message", "exc_info", "stack_info"})


def utc_timestamp(created: float) -> str:
    """A record's time in ISO 8601, UTC with its offset (`2025-03-01T08:00:00.123+00:00`)."""
    return datetime.fromtimestamp(created, timezone.utc).isoformat(timespec="milliseconds")


def key_values(message: str) -> dict[str, str]:
    """The `key=value` pairs of a message, values as written (quotes and a trailing `;` or `,` dropped)."""
    pairs = {}
    for key, value in _PAIR.findall(message):
        value = value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value.rstrip(";,")
        pairs.setdefault(key, value)
    return pairs


def _safe(line: str) -> str:
    # A last guard for what RedactLinks does not see: exception text, extras, gunicorn's fields.
    return redact(line) if has_secret_path(line) else line


class TextLines(logging.Formatter):
    """`<UTC time> level=… logger=… <message> [request_id=…|run_id=…]`, for people reading a terminal."""

    def __init__(self):
        super().__init__("%(asctime)s level=%(levelname)s logger=%(name)s %(message)s")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        """The record's time in UTC with its offset, whatever the machine's time zone."""
        return utc_timestamp(record.created)

    def formatMessage(self, record: logging.LogRecord) -> str:
        """The line before any traceback, with the record's ids at its end."""
        ids = "".join(f" {key}={getattr(record, key)}" for key in ID_FIELDS if getattr(record, key, None))
        return super().formatMessage(record) + ids

    def format(self, record: logging.LogRecord) -> str:
        """The line (and traceback), with any list-link key or sign-in code left out."""
        return _safe(super().format(record))


class JsonLines(JsonFormatter):
    """One JSON object per record: timestamp, level, logger, message, the message's pairs, the ids."""

    def __init__(self):
        super().__init__()

    def add_fields(self, log_data: dict, record: logging.LogRecord, message_dict: dict) -> None:
        """Fill a record's object: own fields first, then the pairs, ids, extras and traceback."""
        message = record.message
        log_data.update(timestamp=utc_timestamp(record.created), level=record.levelname, logger=record.name,
                        message=message)
        for key, value in key_values(message).items():
            if key not in _OWN_FIELDS:
                log_data.setdefault(key, value)
        merge_record_extra(record, log_data, reserved=self._skip_fields)
        log_data.update(message_dict)

    def jsonify_log_record(self, log_data: dict) -> str:
        """The object as one line, with any list-link key or sign-in code left out."""
        return _safe(super().jsonify_log_record(log_data))


FORMATTERS = {"text": TextLines, "json": JsonLines}


def style_handler(handler: logging.Handler, fmt: str = "text") -> logging.Handler:
    """Give a handler our format, the redaction and the ids (also used for gunicorn's own logs)."""
    handler.setFormatter(FORMATTERS[fmt]())
    for kind in (RedactLinks, ContextIds):
        if not any(isinstance(f, kind) for f in handler.filters):
            handler.addFilter(kind())
    return handler


# Loggers that speak at INFO about routine work: APScheduler writes a line for every run of every
# job (the outbox every 5 s; our own `scheduler=ran` lines say what was done), and Alembic names each
# of its plugins whenever a process first looks at the migrations (its upgrade lines stay).
QUIET_LOGGERS = ("apscheduler", "alembic.runtime.plugins")


def setup_logging(level: str = "INFO", fmt: str = "text") -> None:
    """Send one line per record (`fmt`: text or json) to stderr at the given level (idempotent)."""
    root = logging.getLogger()
    ours = [h for h in root.handlers if getattr(h, "_sanzhida", False)]
    if ours:
        handler = ours[0]
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler._sanzhida = True  # marks our handler so repeated set-up does not duplicate lines
        root.addHandler(handler)
    style_handler(handler, fmt)
    root.setLevel(level)
    # urllib3 logs request URLs at DEBUG, and WeChat's carry the app secret and access token.
    logging.getLogger("urllib3").setLevel(logging.WARNING)
    quiet = logging.DEBUG if str(level).upper() == "DEBUG" else logging.WARNING
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(quiet)
