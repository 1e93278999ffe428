"""The key in a mobile list link never reaches a log: not our lines, not the development server's
request lines, not gunicorn's access log (path, request line, referer)."""

from __future__ import annotations

import io
import logging
from datetime import timedelta
from types import SimpleNamespace

from config.gunicorn import RedactingLogger
from config.logging import RedactLinks, redact

TOKEN = "eyJzIjo1LCJrIjoiY2FzZXMiLCJpIjpbMTIsMTVdfQ.aw4cEA.WOICXcIuri_nUYxQybmhdmc7Y__RDTzK4HX2dhsgP6o"


def test_redact_keeps_the_path_and_drops_the_key():
    """What was asked for stays readable; the key does not."""
    line = f'127.0.0.1 - - "GET /m/list/{TOKEN} HTTP/1.1" 200 -'
    assert redact(line) == '127.0.0.1 - - "GET /m/list/… HTTP/1.1" 200 -'
    assert redact(f"https://mz.example.cn/m/list/{TOKEN}?a=1") == "https://mz.example.cn/m/list/…?a=1"
    assert redact("GET /office/cases 200") == "GET /office/cases 200"


def test_the_log_handler_rewrites_records_with_a_list_link():
    """A record formatted with %-args (as werkzeug writes its request lines) loses the key."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactLinks())
    logger = logging.getLogger("test.redaction")
    logger.addHandler(handler)
    try:
        logger.warning('%s - - "%s" %s', "127.0.0.1", f"GET /m/list/{TOKEN} HTTP/1.1", 200)
    finally:
        logger.removeHandler(handler)
    assert TOKEN not in stream.getvalue() and "/m/list/…" in stream.getvalue()


def test_gunicorn_access_log_fields_lose_the_key():
    """The request line, the path and a referer from the page itself are all redacted."""
    environ = {
        "REQUEST_METHOD": "GET", "RAW_URI": f"/m/list/{TOKEN}", "PATH_INFO": f"/m/list/{TOKEN}",
        "SERVER_PROTOCOL": "HTTP/1.1", "QUERY_STRING": "", "REMOTE_ADDR": "10.0.0.1",
        "HTTP_REFERER": f"https://mz.example.cn/m/list/{TOKEN}",
    }
    logger = RedactingLogger.__new__(RedactingLogger)
    logger.cfg = SimpleNamespace(access_log_format="")
    resp = SimpleNamespace(status="200 OK", sent=10, headers=[])
    atoms = logger.atoms(resp, SimpleNamespace(headers=[]), environ, timedelta(milliseconds=5))
    assert all(TOKEN not in str(value) for value in atoms.values())
    assert atoms["r"] == "GET /m/list/… HTTP/1.1" and atoms["U"] == "/m/list/…"


def test_wechat_sign_in_codes_never_reach_a_log():
    """The one-time code on the way back to /m/oauth is redacted in lines and in gunicorn's fields."""
    assert redact("GET /m/oauth?code=0a1B2c3D&state=x HTTP/1.1") == "GET /m/oauth?code=…&state=x HTTP/1.1"
    assert redact("GET /m/oauth?state=x&code=0a1B2c3D") == "GET /m/oauth?state=x&code=…"
    environ = {
        "REQUEST_METHOD": "GET", "RAW_URI": "/m/oauth?code=0a1B2c3D&state=x", "PATH_INFO": "/m/oauth",
        "SERVER_PROTOCOL": "HTTP/1.1", "QUERY_STRING": "code=0a1B2c3D&state=x", "REMOTE_ADDR": "10.0.0.1",
    }
    logger = RedactingLogger.__new__(RedactingLogger)
    logger.cfg = SimpleNamespace(access_log_format="")
    resp = SimpleNamespace(status="302 FOUND", sent=0, headers=[])
    atoms = logger.atoms(resp, SimpleNamespace(headers=[]), environ, timedelta(milliseconds=5))
    assert all("0a1B2c3D" not in str(value) for value in atoms.values())
    assert atoms["q"] == "code=…&state=x"
