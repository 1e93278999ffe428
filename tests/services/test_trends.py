"""Weekly trends on the hand-built history (tests/support/figures_history.py): each week's numbers
against values worked out by hand, per town, per village for a town officer, and an assistant's own.

Today is Tuesday 1 December 2026, so the 26 weeks run from Monday 8 June to the week of Monday 30
November (in progress). Week 19 starts 19 October, 20 on 26 October, 21 on 2 November, 22 on 9,
23 on 16, 24 on 23 November and 25 (this week) on 30 November.
"""

from __future__ import annotations

from datetime import date

import pytest

from services import trends
from services.scope import scope_for
from tests.support import figures_history
from tests.support.figures_history import TZ

TODAY = date(2026, 12, 1)
OCT19, OCT26, NOV2, NOV9, NOV16, NOV23, NOV30 = range(19, 26)


@pytest.fixture
def history(session, clock):
    """The hand-built autumn in two towns, with the daily figures computed up to today."""
    return figures_history.build(session, clock())


def run(session, staff, town_id=None):
    """The trends as `staff` sees them, the lines by name."""
    result = trends.weekly_trends(session, scope_for(staff), TODAY, TZ, town_id=town_id)
    return result, {series.name: series.points for series in result.groups}


def column(points, name):
    """One measure over the 26 weeks."""
    return [getattr(p, name) for p in points]


def only(weeks: dict[int, object], default=0) -> list:
    """26 weeks of `default` except the weeks given."""
    return [weeks.get(i, default) for i in range(26)]


def test_the_weeks(session, history):
    """26 Monday-to-Sunday weeks ending with this one, which is in progress."""
    result, _ = run(session, history.a.supervisor)
    assert len(result.weeks) == 26
    assert (result.weeks[0].start, result.weeks[0].end) == (date(2026, 6, 8), date(2026, 6, 14))
    assert (result.weeks[NOV2].start, result.weeks[-1].start) == (date(2026, 11, 2), date(2026, 11, 30))
    assert [w.in_progress for w in result.weeks] == [False] * 25 + [True]


def test_city_by_town(session, history):
    """Raised, median time to accept, share escalated and rating per week, per town and for the city."""
    result, towns = run(session, history.a.supervisor)
    assert result.level == "town" and list(towns) == ["柳河镇", "青湖镇"] and result.total.name == "全市"
    town_a, town_b, city = towns["柳河镇"], towns["青湖镇"], result.total.points
    assert column(town_a, "raised") == only({OCT19: 1, NOV2: 2, NOV9: 1, NOV23: 1})
    assert column(town_b, "raised") == only({NOV2: 1})
    assert column(city, "raised") == only({OCT19: 1, NOV2: 3, NOV9: 1, NOV23: 1})
    # Accepted in service hours: the October case 1; week of 2 Nov: 0.5 and 2 in town A, 1 in town B;
    # the case of Saturday 28 Nov, 12.5 (over the weekend). The case of 9 Nov was never accepted.
    assert column(town_a, "accept_service") == only({OCT19: 1, NOV2: 1.25, NOV23: 12.5}, None)
    assert column(city, "accept_service") == only({OCT19: 1, NOV2: 1, NOV23: 12.5}, None)
    assert column(town_a, "accept_wall") == only({OCT19: 1, NOV2: 7.25, NOV23: 34.5}, None)
    assert city[NOV2].accept_wall == 1
    # Reached the first rung: the October case, one of town A's two of 2 Nov, both later ones.
    assert column(town_a, "escalated_share") == only({OCT19: 1, NOV2: 0.5, NOV9: 1, NOV23: 1}, None)
    assert city[NOV2].escalated_share == pytest.approx(1 / 3)
    assert town_b[NOV2].escalated_share == 0
    assert column(city, "mean_rating") == only({OCT19: 2, NOV2: 3}, None)
    assert (town_a[NOV2].mean_rating, town_b[NOV2].mean_rating) == (5, 1)


def test_visit_coverage_and_overdue_per_week(session, history):
    """Plan periods due and covered in each week, and the people overdue on its Sunday (today for this one)."""
    result, towns = run(session, history.a.supervisor)
    town_a, town_b, city = towns["柳河镇"], towns["青湖镇"], result.total.points
    # p1 is visited weekly (3, 10 and 17 Nov); p2, p3 and p4 monthly, so October's months end in the
    # week of 26 Oct and November's on Monday 30 Nov. This week p1's own week has not ended yet.
    assert [(p.visits_due, p.visits_covered) for p in town_a[OCT19:]] == [(1, 0), (3, 0), (1, 1), (1, 1), (1, 1),
                                                                          (1, 0), (2, 1)]
    assert [(p.visits_due, p.visits_covered) for p in town_b[OCT19:]] == [(0, 0), (1, 0), (0, 0), (0, 0), (0, 0),
                                                                          (0, 0), (1, 1)]
    assert (city[NOV30].visits_due, city[NOV30].visits_covered, city[NOV30].coverage) == (3, 2, pytest.approx(2 / 3))
    assert town_b[NOV9].coverage is None  # nothing was due
    # Overdue on Sundays: p1 until its first visit and again from 25 Nov; p2 1-4 Nov; p3 from 1 Nov;
    # p4 1-14 Nov.
    assert column(town_a, "overdue")[OCT19:] == [1, 3, 1, 1, 1, 2, 2]
    assert column(town_b, "overdue")[OCT19:] == [0, 1, 1, 0, 0, 0, 0]
    assert column(city, "overdue")[OCT19:] == [1, 4, 2, 1, 1, 2, 2]


def test_town_officer_sees_the_villages_of_the_town(session, history):
    """A town officer's lines are the town's villages, the total is the town, town B is nowhere."""
    a = history.a
    result, villages = run(session, a.officer, town_id=history.town_b.id)  # another town: not theirs to pick
    assert result.level == "village" and result.total.name == "全镇"
    assert list(villages) == [a.village.name, a.other_village.name]
    assert column(villages[a.village.name], "raised") == only({OCT19: 1, NOV2: 2})
    assert column(villages[a.other_village.name], "raised") == only({NOV9: 1, NOV23: 1})
    assert column(result.total.points, "raised") == only({OCT19: 1, NOV2: 2, NOV9: 1, NOV23: 1})
    assert [(p.visits_due, p.visits_covered) for p in (villages[a.village.name][NOV30],
                                                      villages[a.other_village.name][NOV30])] == [(1, 1), (1, 0)]
    assert column(result.total.points, "overdue")[OCT26:] == [3, 1, 1, 1, 2, 2]


def test_city_viewer_narrowed_to_one_town(session, history):
    """With a town, a city viewer sees that town's villages."""
    result, villages = run(session, history.a.supervisor, town_id=history.town_b.id)
    assert result.level == "village" and list(villages) == ["北塘村"]
    assert column(result.total.points, "raised") == only({NOV2: 1})
    assert column(result.total.points, "overdue")[OCT19:] == [0, 1, 1, 0, 0, 0, 0]


def test_assistant_sees_only_their_own(session, history):
    """An assistant has one line, their own: their cases and their people's visits."""
    result, groups = run(session, history.a.assistant)
    assert result.level == "assistant" and groups == {} and result.total.name == "本人"
    mine = result.total.points
    assert column(mine, "raised") == only({OCT19: 1, NOV2: 2})
    assert mine[NOV2].accept_service == 1.25
    assert (mine[NOV30].visits_due, mine[NOV30].visits_covered) == (1, 1)  # p2's November; p1's week not over
    assert column(mine, "overdue")[OCT19:] == [1, 2, 0, 0, 0, 1, 1]


def test_as_json_for_the_charts(session, history):
    """The charts' data: weeks with labels, the total first, shares in percent, nothing a chart cannot draw."""
    data = trends.as_json(trends.weekly_trends(session, scope_for(history.a.supervisor), TODAY, TZ))
    assert data["weeks"][-1] == {"start": "2026-11-30", "end": "2026-12-06", "label": "11-30", "inProgress": True}
    assert [s["name"] for s in data["series"]] == ["全市", "柳河镇", "青湖镇"]
    city = data["series"][0]
    assert city["total"] is True and city["raised"][NOV2] == 3
    assert city["escalated"][NOV2] == 33.3 and city["coverage"][NOV30] == 66.7
    assert city["acceptService"][NOV9] is None and city["rating"][NOV2] == 3
    assert data["computedAt"] is not None
