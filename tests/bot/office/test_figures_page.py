"""The service figures page through HTTP: the period and level choosers, the numbers, and the scope."""

from __future__ import annotations

import pytest

from tests.bot.office.test_pages import sign_in
from tests.support import figures_history

NOVEMBER = "/office/figures?from=2026-11-01&to=2026-11-30"


@pytest.fixture
def history(session, clock, app):
    """The hand-built November; its staff can sign in."""
    return figures_history.build_for_sign_in(session, clock())


def page(client, staff, query=""):
    """The figures page as `staff` sees it."""
    sign_in(client, staff.staff_no)
    response = client.get(NOVEMBER + query)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_supervisor_sees_towns_and_the_total(client, history):
    """Both towns, the city total, the period and the chooser; linked from the navigation."""
    html = page(client, history.a.supervisor)
    assert "柳河镇" in html and "青湖镇" in html and "合计" in html
    assert 'value="2026-11-01"' in html and 'href="/office/figures"' in html
    assert "<td>7.5</td>" in html  # the city's median time to accept, in hours
    assert "<td>57%</td>" in html  # town A's visit coverage, 4 of 7


def test_town_officer_sees_only_the_town(client, history):
    """Per assistant: the town's two assistants, not town B's."""
    html = page(client, history.a.officer, "&level=assistant")
    assert history.a.assistant.staff_no in html and history.a.other_assistant.staff_no in html
    assert history.assistant_b.staff_no not in html and "青湖镇" not in html


def test_default_period_is_this_month_and_bad_input_is_ignored(client, history, clock):
    """Without dates: the current month so far; nonsense dates and levels fall back to defaults."""
    sign_in(client, history.a.assistant.staff_no)
    today = clock().astimezone(figures_history.TZ).date()
    html = client.get("/office/figures?from=nonsense&level=planet").get_data(as_text=True)
    assert f'value="{today.replace(day=1).isoformat()}"' in html and f'value="{today.isoformat()}"' in html
    assert history.a.other_assistant.staff_no not in html


def test_city_viewer_by_assistant_is_asked_for_a_town(client, history):
    """Per assistant, a city viewer first picks a town (a city has too many assistants for one page);
    meanwhile the towns are shown; with a town, its assistants."""
    html = page(client, history.a.supervisor, "&level=assistant")
    assert 'id="pick-town"' in html and "柳河镇" in html and history.a.assistant.staff_no not in html
    html = page(client, history.a.supervisor, f"&level=assistant&town={history.a.town.id}")
    assert 'id="pick-town"' not in html and history.a.assistant.staff_no in html
    assert history.assistant_b.staff_no not in html
