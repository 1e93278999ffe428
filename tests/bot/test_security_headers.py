"""Security headers: the dashboard cannot be framed, runs only its own script files, and leaks no
addresses; HSTS in production only; the mobile pages and media files keep their own stricter policies."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from models import Staff
from services import accounts
from tests.support.factories import make_town

PASSWORD = "correct-horse-1"
TEMPLATES = Path(__file__).resolve().parents[2] / "bot" / "templates"


@pytest.fixture
def officer_client(app, session, clock):
    """A client signed in to the dashboard as a town officer."""
    world = make_town(session, clock())
    accounts.set_password(session.get(Staff, world.officer.id), PASSWORD, clock())
    session.commit()
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/office/login").get_data(as_text=True))
    answer = client.post("/office/login", data={"staff_no": world.officer.staff_no, "password": PASSWORD,
                                                "csrf_token": token.group(1)})
    assert answer.status_code == 302
    return client


def directives(response) -> dict[str, str]:
    """The response's Content-Security-Policy as directive -> sources."""
    policy = response.headers.get("Content-Security-Policy", "")
    return {part.split()[0]: " ".join(part.split()[1:]) for part in policy.split(";") if part.strip()}


@pytest.mark.parametrize("path", ["/office/login", "/office/cases", "/office/visits", "/office/map"])
def test_office_pages_cannot_be_framed_and_run_only_their_own_scripts(officer_client, path):
    """Anti-framing twice over, a CSP with no inline script, no sniffing, no Referer to other sites."""
    response = officer_client.get(path)
    assert response.status_code == 200
    csp = directives(response)
    assert csp["frame-ancestors"] == "'none'" and response.headers["X-Frame-Options"] == "DENY"
    assert csp["script-src"] == "'self'" and csp["default-src"] == "'self'" and csp["object-src"] == "'none'"
    assert csp["form-action"] == "'self'" and csp["base-uri"] == "'none'"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "Strict-Transport-Security" not in response.headers


def test_no_office_page_holds_inline_script():
    """The CSP refuses inline script, so no template may rely on one: no <script> without src (JSON data
    blocks aside) and no on…= handler attribute."""
    offenders = []
    for template in [*(TEMPLATES / "office").glob("*.html"), TEMPLATES / "cards.html"]:
        text = template.read_text(encoding="utf-8")
        for tag in re.findall(r"<script\b[^>]*>", text):
            if "src=" not in tag and 'type="application/json"' not in tag:
                offenders.append(f"{template.name}: {tag}")
        offenders += [f"{template.name}: {m}" for m in re.findall(r"<[^>]*\son[a-z]+\s*=", text)]
    assert offenders == []


def test_the_visits_page_gives_its_charts_data_without_inline_script(officer_client):
    """The coverage chart's data comes as a JSON block the page's own script file reads."""
    page = officer_client.get("/office/visits").get_data(as_text=True)
    block = re.search(r'<script type="application/json" id="visits-data">(.*?)</script>', page, re.S)
    data = json.loads(block.group(1))
    assert set(data) == {"regions", "rates", "problems"} and len(data["regions"]) == len(data["rates"])
    assert "/office/static/office-visits.js" in page and officer_client.get("/office/static/office-visits.js").status_code == 200


def test_hsts_in_production_only(make_app):
    """Production answers tell browsers to use HTTPS only; development and tests do not."""
    production = make_app(env="production").test_client().get("/healthz")
    assert production.headers["Strict-Transport-Security"].startswith("max-age=")
    assert "Strict-Transport-Security" not in make_app().test_client().get("/healthz").headers


def test_mobile_pages_keep_their_own_policy(client):
    """A mobile list page's stricter policy and no-referrer are not replaced by the dashboard's."""
    response = client.get("/m/list/not-a-real-token")
    csp = directives(response)
    assert csp["default-src"] == "'none'" and csp["form-action"] == "'none'"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_the_webhook_and_api_only_gain_harmless_headers(client):
    """The webhook and the API answer as before, with no-framing and no-sniffing added."""
    webhook = client.get("/wechat?signature=x&timestamp=1&nonce=1&echostr=hi")
    api = client.get("/api/v1/requests/1")
    for response in (webhook, api):
        assert response.status_code in (401, 403)
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert directives(response) == {"frame-ancestors": "'none'"}
