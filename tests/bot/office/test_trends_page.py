"""The trends page through HTTP: the lines each role gets, the workload table, the town chooser,
odd query strings, each view in its own reach, and how many SQL statements a view takes."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import event

from tests.bot.office.test_pages import sign_in
from tests.support import figures_history

DATA = re.compile(r'<script type="application/json" id="trends-data">(.*?)</script>', re.S)
NOV2 = 21  # the week of 2 November among the 26 weeks up to the week of 30 November


@pytest.fixture
def history(session, clock, app):
    """The hand-built autumn; its staff can sign in."""
    return figures_history.build_for_sign_in(session, clock())


def page(client, staff, query=""):
    """The trends page as `staff` sees it: its HTML and the charts' data."""
    sign_in(client, staff.staff_no)
    response = client.get("/office/trends" + query)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    return html, json.loads(DATA.search(html).group(1))


def lines(data):
    """The lines of the charts by name."""
    return {s["name"]: s for s in data["series"]}


def test_supervisor_sees_towns_side_by_side_and_the_workload(client, history):
    """The city and both towns as lines, 26 weeks, the workload of every assistant; linked from the navigation."""
    html, data = page(client, history.a.supervisor)
    assert list(lines(data)) == ["全市", "柳河镇", "青湖镇"]
    assert len(data["weeks"]) == 26 and data["weeks"][-1]["inProgress"]
    assert [lines(data)[n]["raised"][NOV2] for n in ("全市", "柳河镇", "青湖镇")] == [3, 2, 1]
    assert [m["key"] for m in data["measures"]] == ["raised", "acceptService", "escalated", "rating", "coverage",
                                                    "overdue"]
    assert 'href="/office/trends"' in html and 'id="chart-coverage"' in html
    workload = html[html.index('id="workload"'):]
    for staff in (history.a.assistant, history.a.other_assistant, history.assistant_b):
        assert staff.staff_no in workload
    assert f'href="/office/villages/{history.a.village.id}"' in workload
    # The other town's villages, as a choice.
    assert f'<option value="{history.town_b.id}"' in html


def test_figures_page_links_here(client, history):
    """From the figures of a period to the weekly trends."""
    sign_in(client, history.a.supervisor.staff_no)
    assert 'href="/office/trends"' in client.get("/office/figures").get_data(as_text=True)


def test_city_viewer_picks_a_town(client, history):
    """With a town chosen, its villages are the lines and only its assistants are listed."""
    html, data = page(client, history.a.supervisor, f"?town={history.town_b.id}")
    assert list(lines(data)) == ["全镇", "北塘村"] and data["level"] == "village"
    assert "青湖镇 · 各村（社区）" in html
    workload = html[html.index('id="workload"'):]
    assert history.assistant_b.staff_no in workload and history.a.assistant.staff_no not in workload


def test_town_officer_sees_only_the_town(client, history):
    """The town's villages; town B is neither a line, nor a choice, nor in the workload; a town asked for is ignored."""
    html, data = page(client, history.a.officer, f"?town={history.town_b.id}")
    assert list(lines(data)) == ["全镇", history.a.village.name, history.a.other_village.name]
    assert lines(data)["全镇"]["raised"][NOV2] == 2
    assert "青湖镇" not in html and "北塘村" not in html and history.assistant_b.staff_no not in html
    assert 'name="town"' not in html


def test_assistant_sees_only_their_own(client, history):
    """One line, their own, and only their own workload."""
    html, data = page(client, history.a.assistant)
    assert list(lines(data)) == ["本人"] and lines(data)["本人"]["raised"][NOV2] == 2
    workload = html[html.index('id="workload"'):]
    assert history.a.assistant.staff_no in workload and history.a.other_assistant.staff_no not in workload
    assert 'id="trend-legend"' not in html  # nothing to show or hide


@pytest.mark.parametrize("query", ["?town=abc", "?town=99999999999", "?town=-3", "?town=", "?all=yes",
                                   "?town=1e3&all=1"])
def test_odd_query_strings_show_the_city(client, history, query):
    """A town that is no number, no town, or out of range: the whole city, never an error."""
    _, data = page(client, history.a.supervisor, query)
    assert data["level"] == "town" and list(lines(data)) == ["全市", "柳河镇", "青湖镇"]


def test_a_village_id_is_not_a_town(client, history):
    """A village's id as the town shows the city."""
    _, data = page(client, history.a.supervisor, f"?town={history.a.village.id}")
    assert data["level"] == "town"


def test_nul_byte_is_refused(client, history):
    """A NUL byte in the query string is a 400, as everywhere."""
    sign_in(client, history.a.supervisor.staff_no)
    assert client.get("/office/trends?town=%00").status_code == 400


def test_views_follow_each_viewers_reach(client, app, history):
    """The town officer's view is not what the supervisor gets next."""
    page(client, history.a.officer)
    _, data = page(app.test_client(), history.a.supervisor)
    assert list(lines(data)) == ["全市", "柳河镇", "青湖镇"]


@pytest.mark.parametrize("query", ["", "?town={town_b}"])
def test_statements_per_view(app, db, history, query):
    """A city view (or one town's) takes at most 9 SQL statements, the sign-in check and the city's town
    ids (read once, so PostgreSQL plans each town's rows) included, however many requests and visits
    lie behind it."""
    client = app.test_client()
    sign_in(client, history.a.supervisor.staff_no)
    path = "/office/trends" + query.format(town_b=history.town_b.id)
    statements: list[str] = []

    def count(_connection, _cursor, statement, *_args):
        if not statement.startswith("BEGIN"):  # SQLite's own transaction start is not a query
            statements.append(statement)

    event.listen(db, "before_cursor_execute", count)
    try:
        assert client.get(path).status_code == 200
    finally:
        event.remove(db, "before_cursor_execute", count)
    assert len(statements) <= 9, statements
