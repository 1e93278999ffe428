"""The 走访覆盖 page and the service map for a whole province read today's daily figures: the same
numbers as counting live."""

from __future__ import annotations

from datetime import timedelta

from models.enums import CheckResult
from services import daily_figures, dashboard
from services.scope import EVERYWHERE, scope_for
from tests.support import map_history
from tests.support.factories import make_beneficiary, make_visit
from tests.support.map_history import TZ


def _coverage(session, scope, now) -> dict[str, tuple[int, int]]:
    return {row.region.name: (row.beneficiaries, row.overdue) for row in dashboard.visit_coverage(session, scope, now, TZ)}


def test_the_province_reads_the_daily_figures_and_they_match_the_live_count(session, clock):
    """Before the figures job has run, the people and the problems are counted; after it, its rows give
    the same coverage and the same problems this month as counting them in the city's scope."""
    history = map_history.build(session, clock())
    person = make_beneficiary(session, history.a.village, clock() - timedelta(days=30), assistant=history.a.assistant)
    make_visit(session, person, history.a.assistant, clock() - timedelta(hours=1),
               food=CheckResult.PROBLEM.value, medical=CheckResult.PROBLEM.value)
    session.commit()
    city = scope_for(history.a.supervisor)
    live = _coverage(session, city, clock())
    assert _coverage(session, EVERYWHERE, clock()) == live  # no daily rows yet: counted
    counted = dashboard.problems_this_month(session, city, clock(), TZ)  # no daily rows yet: counted
    today = clock().astimezone(TZ).date()
    daily_figures.rebuild(session, today - timedelta(days=40), today, TZ, clock())
    session.commit()
    assert _coverage(session, EVERYWHERE, clock()) == live
    problems = dashboard.problems_this_month(session, EVERYWHERE, clock(), TZ)
    # The city reads the same daily rows now, and they give what was counted visit by visit.
    assert problems == dashboard.problems_this_month(session, city, clock(), TZ) == counted
    assert (problems["吃"], problems["医"], problems["住"]) == (1, 1, 0)


def _map(session, now) -> tuple[dict, list]:
    """Every village's numbers on the province's map, and the overloaded assistants (any load counts)."""
    picture = dashboard.service_map(session, EVERYWHERE, now, TZ, load_threshold=0)
    villages = {v.region.name: (v.assistants, v.beneficiaries, v.unassigned, v.overdue, v.overloaded)
                for town in picture.towns for v in town.villages}
    return villages, [(staff.staff_no, n) for staff, n in picture.overloaded]


def test_the_provinces_map_reads_the_daily_figures_and_they_match_the_live_count(session, clock):
    """People, unassigned (an inactive assistant's people too), overdue and each assistant's load: the
    same from today's daily rows as counted live before the figures job ran."""
    history = map_history.build(session, clock())
    make_beneficiary(session, history.a.village, clock() - timedelta(days=30), assistant=history.a.assistant)
    session.commit()
    live = _map(session, clock())
    assert any(numbers[2] for numbers in live[0].values()) and live[1]
    today = clock().astimezone(TZ).date()
    daily_figures.rebuild(session, today - timedelta(days=40), today, TZ, clock())
    session.commit()
    assert _map(session, clock()) == live
