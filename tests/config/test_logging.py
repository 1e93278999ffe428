"""Log lines: JSON objects or key=value text, in UTC with an offset, never a list key or sign-in code,
and quiet about routine scheduler runs."""

from __future__ import annotations

import io
import json
import logging
import time
from datetime import datetime, timedelta

import pytest

from config.logging import QUIET_LOGGERS, key_values, log_ids, setup_logging, style_handler
from config.settings import ConfigError, load_settings

TOKEN = "eyJzIjo1LCJrIjoiY2FzZXMiLCJpIjpbMTIsMTVdfQ.aw4cEA.WOICXcIuri_nUYxQybmhdmc7Y__RDTzK4HX2dhsgP6o"


def capture(fmt: str, name: str = "tests.logging"):
    """A logger writing through our format into a string; returns (logger, read lines, detach)."""
    stream = io.StringIO()
    handler = style_handler(logging.StreamHandler(stream), fmt)
    logger = logging.getLogger(name)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False

    def detach():
        logger.removeHandler(handler)
        logger.propagate = True

    return logger, lambda: stream.getvalue().splitlines(), detach


@pytest.fixture
def json_log():
    """A logger writing JSON lines, and a function returning them parsed."""
    logger, lines, detach = capture("json")
    yield logger, lambda: [json.loads(line) for line in lines()]
    detach()


@pytest.fixture
def text_log():
    """A logger writing text lines, and a function returning them."""
    logger, lines, detach = capture("text")
    yield logger, lines
    detach()


@pytest.fixture
def root_logging():
    """Restore the root logger and the quietened loggers after a test that sets logging up."""
    root = logging.getLogger()
    saved = [(h, h.formatter, list(h.filters)) for h in root.handlers]
    level = root.level
    quiet = {name: logging.getLogger(name).level for name in QUIET_LOGGERS}
    yield root
    for handler in list(root.handlers):
        if getattr(handler, "_sanzhida", False) and all(handler is not h for h, _, _ in saved):
            root.removeHandler(handler)
    for handler, formatter, filters in saved:
        handler.setFormatter(formatter)
        handler.filters[:] = filters
    root.setLevel(level)
    for name, was in quiet.items():
        logging.getLogger(name).setLevel(was)


def utc_with_offset(stamp: str) -> datetime:
    """The timestamp parsed, after checking it is ISO 8601 in UTC with an explicit +00:00."""
    assert stamp.endswith("+00:00"), stamp
    parsed = datetime.fromisoformat(stamp)
    assert parsed.utcoffset() == timedelta(0)
    return parsed


def test_each_record_is_one_json_object_with_its_pairs_as_fields(json_log):
    """The message stays whole; each key=value pair becomes a field of the same name."""
    logger, lines = json_log
    before = time.time()
    logger.info("scheduler=ran job=%s due=%s pushes=%s late_seconds=%s", "visit_reminders",
                "2026-12-01T08:00:00+08:00", 3, 0)
    logger.warning("inbox=redis_unavailable; retrying")
    first, second = lines()
    assert first["message"] == ("scheduler=ran job=visit_reminders due=2026-12-01T08:00:00+08:00 pushes=3 "
                                "late_seconds=0")
    assert {k: first[k] for k in ("scheduler", "job", "due", "pushes", "late_seconds")} == {
        "scheduler": "ran", "job": "visit_reminders", "due": "2026-12-01T08:00:00+08:00", "pushes": "3",
        "late_seconds": "0"}
    assert first["level"] == "INFO" and first["logger"] == "tests.logging"
    assert abs(utc_with_offset(first["timestamp"]).timestamp() - before) < 5
    assert second["inbox"] == "redis_unavailable" and second["level"] == "WARNING"


def test_a_pair_never_replaces_the_lines_own_fields(json_log):
    """A message saying level=… or message=… cannot pass for another level or message."""
    logger, lines = json_log
    logger.info("import=staff level=DEBUG message=forged")
    (line,) = lines()
    assert line["level"] == "INFO" and line["message"] == "import=staff level=DEBUG message=forged"
    assert line["import"] == "staff"


def test_quoted_values_keep_their_spaces():
    """`note="a b"` is one field; a value's trailing `;` or `,` is punctuation, not the value."""
    assert key_values('media=retry id=7 error="timed out", next=later;') == {
        "media": "retry", "id": "7", "error": "timed out", "next": "later"}
    assert key_values("GET /office/cases 200") == {}


def test_a_traceback_stays_inside_its_json_line(json_log):
    """An exception's traceback is a field of the one object, not extra lines."""
    logger, lines = json_log
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logger.exception("scheduler=job_failed job=%s", "escalation_scan")
    (line,) = lines()
    assert line["job"] == "escalation_scan" and "RuntimeError: boom" in line["exc_info"]


def test_text_lines_are_key_value_in_utc_with_an_offset(text_log):
    """The readable form: time in UTC with +00:00, level, logger, then the message as written."""
    logger, lines = text_log
    with log_ids(run_id="r-1"):
        logger.info("outbox=dispatched claimed=%s sent=%s", 2, 2)
    (line,) = lines()
    stamp, rest = line.split(" ", 1)
    utc_with_offset(stamp)
    assert rest == "level=INFO logger=tests.logging outbox=dispatched claimed=2 sent=2 run_id=r-1"


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_list_keys_and_sign_in_codes_never_reach_a_line(fmt):
    """Redaction holds in both formats: in the message, in its fields and in a traceback."""
    logger, lines, detach = capture(fmt, f"tests.logging.redact.{fmt}")
    try:
        logger.info("mobile=list path=%s", f"/m/list/{TOKEN}")
        logger.info('%s - - "%s" %s', "127.0.0.1", "GET /m/oauth?code=0a1B2c3D&state=x HTTP/1.1", 302)
        try:
            raise ValueError(f"bad link /m/list/{TOKEN}")
        except ValueError:
            logger.exception("request=failed path=%s", "/m/oauth?code=0a1B2c3D")
    finally:
        detach()
    output = "\n".join(lines())
    assert TOKEN not in output and "0a1B2c3D" not in output
    assert "/m/list/…" in output and "code=…" in output
    if fmt == "json":
        first = json.loads(lines()[0])
        assert first["path"] == "/m/list/…"


def test_setup_logging_quietens_apscheduler_but_not_our_scheduler_lines(root_logging):
    """APScheduler's INFO line per run is dropped at INFO; its warnings and our `scheduler=ran` stay."""
    from apscheduler.schedulers.background import BackgroundScheduler

    setup_logging("INFO", "json")
    stream = io.StringIO()
    handler = style_handler(logging.StreamHandler(stream), "json")
    root_logging.addHandler(handler)
    ours = logging.getLogger("scheduler.calendar")
    ran = []

    def job():
        ran.append(1)
        ours.info("scheduler=ran job=%s due=%s pushes=%s late_seconds=%s", "visit_reminders", "-", 0, 0)

    scheduler = BackgroundScheduler()
    scheduler.add_job(job, "interval", seconds=0.1, id="quick", next_run_time=datetime.now())
    scheduler.start()
    try:
        deadline = time.monotonic() + 5
        while len(ran) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        logging.getLogger("apscheduler.scheduler").warning("Run time of job was missed")
    finally:
        scheduler.shutdown(wait=True)
        root_logging.removeHandler(handler)
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert len(ran) >= 3
    assert [r["logger"] for r in records if r["logger"].startswith("apscheduler")] == ["apscheduler.scheduler"]
    assert sum(r.get("scheduler") == "ran" for r in records) >= 3


def test_debug_level_lets_apscheduler_speak(root_logging):
    """Asking for DEBUG is asking for everything, APScheduler's run lines included."""
    setup_logging("DEBUG", "text")
    assert logging.getLogger("apscheduler.executors.default").isEnabledFor(logging.INFO)
    setup_logging("INFO", "text")
    assert not logging.getLogger("apscheduler.executors.default").isEnabledFor(logging.INFO)


def test_setup_logging_switches_format_without_doubling_lines(root_logging):
    """Set-up twice keeps one handler of ours, now in the second format."""
    setup_logging("INFO", "text")
    setup_logging("INFO", "json")
    ours = [h for h in root_logging.handlers if getattr(h, "_sanzhida", False)]
    assert len(ours) == 1 and type(ours[0].formatter).__name__ == "JsonLines"


@pytest.mark.parametrize(("env", "raw", "expected"), [
    ({"SANZHIDA_ENV": "development"}, None, "text"),
    ({"SANZHIDA_ENV": "test"}, None, "text"),
    ({"SANZHIDA_ENV": "development"}, "JSON", "json"),
    ({"SANZHIDA_ENV": "test"}, "text", "text"),
])
def test_log_format_setting(env, raw, expected):
    """LOG_FORMAT picks the format; without it, development and test read text."""
    environ = dict(env, **({"LOG_FORMAT": raw} if raw else {}))
    assert load_settings(environ, read_dotenv=False).log_format == expected


def test_production_logs_json_by_default_and_a_bad_format_is_named():
    """Production defaults to JSON lines; an unknown LOG_FORMAT stops start-up naming the variable."""
    from config.settings import log_format

    assert log_format({"SANZHIDA_ENV": "production"}) == "json"
    assert log_format({"SANZHIDA_ENV": "production", "LOG_FORMAT": "text"}) == "text"
    with pytest.raises(ConfigError, match="LOG_FORMAT"):
        load_settings({"LOG_FORMAT": "xml"}, read_dotenv=False)


def test_gunicorns_access_line_is_ours_with_the_request_id(tmp_path, monkeypatch):
    """Under gunicorn the access line is a JSON object too: its pairs as fields, the id the app echoed,
    the list key left out."""
    from datetime import timedelta as elapsed
    from types import SimpleNamespace

    from gunicorn.config import Config

    from config import gunicorn as settings_module

    monkeypatch.setenv("LOG_FORMAT", "json")
    cfg = Config()
    cfg.set("accesslog", str(tmp_path / "access.log"))
    cfg.set("errorlog", str(tmp_path / "error.log"))
    cfg.set("access_log_format", settings_module.access_log_format)
    server_log = settings_module.RedactingLogger(cfg)
    try:
        environ = {"REQUEST_METHOD": "GET", "RAW_URI": f"/m/list/{TOKEN}", "PATH_INFO": f"/m/list/{TOKEN}",
                   "SERVER_PROTOCOL": "HTTP/1.1", "QUERY_STRING": "", "REMOTE_ADDR": "10.0.0.1"}
        resp = SimpleNamespace(status="200 OK", sent=512, headers=[("X-Request-Id", "9f86d081884c7d65")])
        server_log.access(resp, SimpleNamespace(headers=[]), environ, elapsed(milliseconds=12))
        server_log.info("Booting worker with pid: %s", 42)
    finally:
        for log in (server_log.error_log, server_log.access_log):
            for handler in list(log.handlers):
                log.removeHandler(handler)
                handler.close()
    (access,) = [json.loads(line) for line in (tmp_path / "access.log").read_text().splitlines()]
    assert access["logger"] == "gunicorn.access" and access["request_id"] == "9f86d081884c7d65"
    assert (access["path"], access["status"], access["duration_ms"]) == ("/m/list/…", "200", "12")
    assert TOKEN not in json.dumps(access, ensure_ascii=False)
    (booting,) = [json.loads(line) for line in (tmp_path / "error.log").read_text().splitlines()]
    utc_with_offset(booting["timestamp"])
