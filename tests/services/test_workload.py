"""Each assistant's workload on a small hand-built roster (tests/support/workload_history.py), in
every scope, with the overloaded ones first."""

from __future__ import annotations

import pytest

from services import workload
from services.policy.workload import Limits
from services.scope import scope_for
from tests.support import workload_history


@pytest.fixture
def roster(session):
    """The hand-built roster on 1 December 2026."""
    return workload_history.build(session)


def loads(session, staff, clock, **kwargs):
    """The workload as `staff` sees it, in order, as (name, people, open, escalated, overdue, due soon, over)."""
    return [(x.name, x.people, x.open_cases, x.escalated_open, x.overdue, x.due_soon, x.over)
            for x in workload.workload(session, scope_for(staff), clock(), workload_history.TZ, **kwargs)]


def test_city_sees_every_active_assistant_most_loaded_first(session, roster, clock):
    """李强's six open cases pass the limit of five and put him first; 钱七 has left and is not listed."""
    assert loads(session, roster.a.supervisor, clock) == [
        ("李强", 1, 6, 3, 0, 1, ("open_cases",)),
        # Four people served (the fifth is no longer served), two overdue (one weekly since 20 Nov,
        # one monthly never visited), one due within 7 days; two cases open, one escalated.
        ("王芳", 4, 2, 1, 2, 1, ()),
        ("赵六", 1, 0, 0, 0, 0, ()),
    ]


def test_people_above_the_limit_and_the_village(session, roster, clock):
    """With a limit of three people, 王芳's four (4/3 of it) put her above 李强 (6/5 of his); each load names
    its village."""
    result = workload.workload(session, scope_for(roster.a.supervisor), clock(), workload_history.TZ,
                               limits=Limits(people=3, open_cases=5, overdue=30))
    first, second = result[0], result[1]
    assert (first.name, first.over, first.overloaded) == ("王芳", ("people",), True)
    assert (first.village_id, first.village) == (roster.a.village.id, roster.a.village.name)
    assert (second.name, second.over, second.overloaded) == ("李强", ("open_cases",), True)
    assert not result[2].overloaded


def test_scopes(session, roster, clock):
    """A town officer sees the town's assistants; a city viewer may narrow to a town; an assistant sees themselves."""
    assert [x[0] for x in loads(session, roster.a.officer, clock)] == ["李强", "王芳"]
    assert [x[0] for x in loads(session, roster.officer_b, clock)] == ["赵六"]
    assert [x[0] for x in loads(session, roster.a.supervisor, clock, town_id=roster.a.town.id)] == ["李强", "王芳"]
    assert loads(session, roster.a.assistant, clock) == [("王芳", 4, 2, 1, 2, 1, ())]
