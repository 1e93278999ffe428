"""Service figures on a small hand-built November: each figure against a value worked out by hand."""

from __future__ import annotations

import pytest

from services import figures
from services.scope import scope_for
from tests.support import figures_history
from tests.support.figures_history import NOVEMBER, TZ


@pytest.fixture
def history(session, clock):
    """The hand-built November in two towns."""
    return figures_history.build(session, clock())


def run(session, staff, level="town"):
    """November's figures as `staff` sees them, rows by name."""
    result = figures.service_figures(session, scope_for(staff), *NOVEMBER, TZ, level=level)
    return result, {row.name: row for row in result.rows}


def test_city_figures_by_town(session, history):
    """Counts, percentiles (wall and service hours), escalation, rating and visits, per town and for the city."""
    result, rows = run(session, history.a.supervisor)
    assert set(rows) == {"柳河镇", "青湖镇"}
    town_a, total = rows["柳河镇"], result.total
    assert (town_a.raised, total.raised) == (4, 5)  # the October case is outside the period
    assert dict(town_a.by_category) == {"医": 3, "吃": 1}
    assert dict(town_a.by_urgency) == {"normal": 3, "urgent": 1}
    # Accept hours in town A: wall 0.5, 14, 34.5; service 0.5, 2, 12.5.
    assert town_a.accept.p50_wall == pytest.approx(14)
    assert town_a.accept.p90_wall == pytest.approx(14 + 0.8 * 20.5)
    assert town_a.accept.p50_service == pytest.approx(2)
    assert town_a.accept.p90_service == pytest.approx(2 + 0.8 * 10.5)
    # The city adds 1 hour (town B): wall 0.5, 1, 14, 34.5; service 0.5, 1, 2, 12.5.
    assert total.accept.p50_wall == pytest.approx(7.5)
    assert total.accept.p90_wall == pytest.approx(14 + 0.7 * 20.5)
    assert total.accept.p50_service == pytest.approx(1.5)
    assert total.accept.p90_service == pytest.approx(2 + 0.7 * 10.5)
    # Resolve hours in town A: 6 and 62 wall; 6 and 26 service (Fri 19-20, Sat and Sun 12 each, Mon 8-9).
    assert town_a.resolve.count == 2 and town_a.resolve.p50_wall == pytest.approx(34)
    assert town_a.resolve.p50_service == pytest.approx((6 + 26) / 2)
    # Rungs reached in town A: case 2 -> 1, case 3 -> 2, case 4 -> 3.
    assert [town_a.escalated_share(n) for n in (1, 2, 3, 4)] == [0.75, 0.5, 0.25, 0]
    assert [town_a.open_past[n] for n in (1, 2, 3, 4)] == [2, 2, 1, 0]
    assert total.escalated_share(1) == pytest.approx(3 / 5)
    # Ratings: town A one of two resolved rated (5); the city 5 and 1 over three resolved.
    assert (town_a.mean_rating, town_a.rated_share) == (5, 0.5)
    assert (total.mean_rating, total.rated_share) == (3, pytest.approx(2 / 3))
    # Visits: p1 weekly (5 due, 3 made), p2 monthly (1 due, 2 made), p3 monthly (none); B: p4 (1 due, 1 made).
    assert (town_a.beneficiaries, town_a.visits_due, town_a.visits_covered, town_a.visits_made) == (3, 7, 4, 5)
    assert town_a.coverage == pytest.approx(4 / 7)
    assert town_a.overdue == 2  # p1 last seen 17 Nov (> 7 days), p3 never
    assert town_a.problems == {"吃": 1, "穿": 0, "住": 0, "医": 1}
    assert town_a.helps == {"生活照料": 1, "代购代办": 0, "联系亲人": 0, "政策落实": 1}
    assert (total.visits_due, total.visits_covered, total.overdue) == (8, 5, 2)
    assert total.helps["代购代办"] == 1


def test_per_assistant_and_village(session, history):
    """Grouped by assistant and by village, the same cases and visits split up."""
    a = history.a
    _, rows = run(session, a.supervisor, level="assistant")
    mine = rows[f"{a.assistant.name}（{a.assistant.staff_no}）"]
    other = rows[f"{a.other_assistant.name}（{a.other_assistant.staff_no}）"]
    assert (mine.raised, mine.accept.p50_wall, mine.accept.p50_service) == (2, pytest.approx(7.25), pytest.approx(1.25))
    assert (mine.escalated_share(1), mine.mean_rating) == (0.5, 5)
    assert (mine.visits_due, mine.visits_covered, mine.overdue) == (6, 4, 1)
    assert (other.raised, other.escalated_share(2), other.open_past[2]) == (2, 1, 2)
    assert (other.visits_due, other.visits_covered, other.coverage, other.overdue) == (1, 0, 0, 1)
    _, villages = run(session, a.supervisor, level="village")
    assert set(villages) == {a.village.name, a.other_village.name, "北塘村"}
    assert villages[a.village.name].raised == 2


def test_town_officer_and_assistant_scope(session, history):
    """A town officer's figures cover the town only; an assistant's only their own."""
    a = history.a
    result, rows = run(session, a.officer)
    assert set(rows) == {"柳河镇"} and result.total.raised == 4 and result.total.visits_due == 7
    _, people = run(session, a.officer, level="assistant")
    assert history.assistant_b.name not in "".join(people)
    assert len(people) == 2
    result, _ = run(session, history.officer_b)
    assert (result.total.raised, result.total.visits_due, result.total.mean_rating) == (1, 1, 1)
    result, rows = run(session, a.assistant, level="assistant")
    assert list(rows) == [f"{a.assistant.name}（{a.assistant.staff_no}）"]
    assert (result.total.raised, result.total.visits_due) == (2, 6)


def test_unknown_level_is_refused(session, history):
    """Only town, village and assistant are levels."""
    with pytest.raises(ValueError):
        figures.service_figures(session, scope_for(history.a.officer), *NOVEMBER, TZ, level="planet")
