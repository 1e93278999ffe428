"""The service map's picture on a small hand-built map (tests/support/map_history.py): each place's size,
counts and colour against values worked out by hand, and what each role sees."""

from __future__ import annotations

import pytest
from sqlalchemy import event

from models.enums import RegionLevel, StaffRole
from services import dashboard, service_map
from services.policy import service_map as gaps
from services.scope import scope_for
from tests.support import map_history
from tests.support.factories import make_beneficiary, make_region, make_staff
from tests.support.map_history import TZ


@pytest.fixture
def history(session, clock):
    """Two towns, four villages, one gap of each kind."""
    return map_history.build(session, clock())


def draw(session, clock, staff, **options) -> service_map.MapNode:
    """The picture as `staff` sees it today."""
    scope = scope_for(staff)
    data = dashboard.service_map(session, scope, clock(), TZ, **options)
    return service_map.picture(data, scope, city_name=staff.region.name)


def by_name(node: service_map.MapNode) -> dict[str, service_map.MapNode]:
    """Every place below `node`, by name."""
    found = {}
    for child in node.children:
        found[child.name] = child
        found.update(by_name(child))
    return found


def test_city_sizes_counts_and_colours(session, clock, history):
    """People size each box; the worst gap colours it; towns and the city take their worst village's."""
    city = draw(session, clock, history.a.supervisor)
    places = by_name(city)
    assert (city.kind, city.name, [t.name for t in city.children]) == ("city", "示范市", ["柳河镇", "青湖镇"])
    sizes = {name: node.people for name, node in places.items()}
    assert sizes == {"柳河镇": 7, "东湾村": 4, "南岭村": 3, "青湖镇": 3, "北塘村": 2, "西岭村": 1}
    assert city.people == 10
    east, south, north, west = (places[n] for n in ("东湾村", "南岭村", "北塘村", "西岭村"))
    # 东湾村: p3 has nobody, p4's assistant has left; p2 and p4 are overdue.
    assert (east.unassigned, east.overdue, east.coverage, east.gap) == (2, 2, 0.5, gaps.UNASSIGNED)
    assert (south.unassigned, south.overloaded, south.coverage, south.gap) == (0, 0, 1.0, gaps.OK)
    assert (north.overdue, north.coverage, north.gap) == (1, 0.5, gaps.LOW_COVERAGE)
    assert (west.coverage, west.gap) == (1.0, gaps.OK)
    assert (places["柳河镇"].gap, places["柳河镇"].unassigned, places["柳河镇"].behind) == (gaps.UNASSIGNED, 2, 1)
    # Town B's own coverage is 2 of 3 (67 %); one of its villages is behind: amber.
    assert (places["青湖镇"].gap, places["青湖镇"].coverage, places["青湖镇"].behind) == (
        gaps.LOW_COVERAGE, pytest.approx(2 / 3), 1)
    assert (city.gap, city.unassigned, city.overdue, city.behind) == (gaps.UNASSIGNED, 2, 3, 2)


def test_coverage_is_the_visits_page_coverage(session, clock, history):
    """Each town's coverage on the map is the share the 走访覆盖 page shows for it."""
    scope = scope_for(history.a.supervisor)
    visits_page = {row.region.name: row.rate for row in dashboard.visit_coverage(session, scope, clock(), TZ)}
    towns = {town.name: town.coverage for town in draw(session, clock, history.a.supervisor).children}
    assert towns == pytest.approx(visits_page)


def test_overloaded_assistant_colours_the_village_orange(session, clock, history):
    """With a threshold of 2, 李强 (3 people) is overloaded: 南岭村 turns orange; 东湾村 stays red."""
    places = by_name(draw(session, clock, history.a.supervisor, load_threshold=2))
    assert (places["南岭村"].overloaded, places["南岭村"].gap) == (1, gaps.OVERLOADED)
    assert (places["东湾村"].overloaded, places["东湾村"].gap) == (0, gaps.UNASSIGNED)
    assert (places["柳河镇"].overloaded, places["青湖镇"].overloaded) == (1, 0)


def test_target_decides_amber(session, clock, history):
    """At a target of 50 % a village at exactly 50 % is not behind; just above it, it is."""
    assert by_name(draw(session, clock, history.a.supervisor))["北塘村"].gap == gaps.LOW_COVERAGE
    scope = scope_for(history.a.supervisor)
    data = dashboard.service_map(session, scope, clock(), TZ)
    lenient = by_name(service_map.picture(data, scope, city_name="示范市", target=0.5))
    assert (lenient["北塘村"].gap, lenient["青湖镇"].gap, lenient["青湖镇"].behind) == (gaps.OK, gaps.OK, 0)
    strict = by_name(service_map.picture(data, scope, city_name="示范市", target=0.51))
    assert strict["北塘村"].gap == gaps.LOW_COVERAGE


def test_town_officer_gets_only_their_town(session, clock, history):
    """The officer's picture is rooted at their town; the other town's villages never appear."""
    town = draw(session, clock, history.a.officer)
    assert (town.kind, town.name, town.people) == ("town", "柳河镇", 7)
    assert [v.name for v in town.children] == ["东湾村", "南岭村"]
    other = draw(session, clock, history.officer_b)
    assert (other.name, sorted(v.name for v in other.children), other.gap) == (
        "青湖镇", ["北塘村", "西岭村"], gaps.LOW_COVERAGE)


def test_assistant_sees_their_own_people_and_load(session, clock, history):
    """王芳 sees her village with her two people only; over a threshold of 1 she sees herself overloaded."""
    own = draw(session, clock, history.a.assistant, load_threshold=1)
    assert (own.name, [v.name for v in own.children]) == ("柳河镇", ["东湾村"])
    east = own.children[0]
    assert (east.people, east.unassigned, east.overdue, east.overloaded) == (2, 0, 1, 1)
    assert east.gap == gaps.OVERLOADED


def test_json_for_the_chart(session, clock, history):
    """Area is `value`; ids are unique across levels; villages carry their region id for the link."""
    tree = draw(session, clock, history.a.supervisor).as_json()
    town = tree["children"][0]
    village = town["children"][0]
    assert (tree["id"], tree["value"], tree["gap"], tree["behind"]) == ("city-None", 10, "unassigned", 2)
    assert (town["id"], town["name"], town["value"]) == (f"town-{history.a.town.id}", "柳河镇", 7)
    assert village == {
        "id": f"village-{history.a.village.id}", "kind": "village", "regionId": history.a.village.id,
        "name": "东湾村", "value": 4, "unassigned": 2, "overloaded": 0, "coverage": 0.5, "gap": "unassigned",
    }


def test_one_pass_whatever_the_number_of_villages(session, clock, history, test_engine):
    """The map asks the database the same five questions however many villages there are."""
    supervisor = history.a.supervisor

    def selects() -> int:
        name = supervisor.region.name
        statements = []
        listen = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(test_engine, "before_cursor_execute", listen)
        try:
            data = dashboard.service_map(session, scope_for(supervisor), clock(), TZ)
            service_map.picture(data, scope_for(supervisor), city_name=name)
        finally:
            event.remove(test_engine, "before_cursor_execute", listen)
        return sum(s.lstrip().upper().startswith("SELECT") for s in statements)

    few = selects()
    for n in range(5):
        village = make_region(session, RegionLevel.VILLAGE, history.town_b, clock(), name=f"新村{n}")
        assistant = make_staff(session, StaffRole.ASSISTANT, village, clock())
        make_beneficiary(session, village, clock(), assistant=assistant)
    session.commit()
    assert few == selects() == 5
    assert by_name(draw(session, clock, supervisor))["青湖镇"].people == 8
