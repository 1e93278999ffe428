"""The service map as a picture: city → towns → villages, each sized by the people it serves and
marked with its worst gap, as plain values for the map page's chart.

Built from `dashboard.service_map` (the same five queries as the map's table), so the picture
costs no query of its own. A village's gap comes from its own counts
(`services/policy/service_map.py`); a town's or the city's is the worst among its villages, so a
gap anywhere shows on every level above it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from config import policy
from services.dashboard import LOAD_THRESHOLD, ServiceMap, TownRow, VillageRow
from services.policy import service_map as gaps
from services.scope import Scope


def gap_labels(load_threshold: int = LOAD_THRESHOLD, target: float = policy.MAP_COVERAGE_TARGET) -> dict[str, str]:
    """The legend's words for each gap, worst first."""
    return {
        gaps.UNASSIGNED: "有服务对象没有在岗协理员",
        gaps.OVERLOADED: f"有协理员负责超过 {load_threshold} 人",
        gaps.LOW_COVERAGE: f"按计划走访覆盖率低于 {target:.0%}",
        gaps.OK: "没有缺口",
    }


@dataclass
class MapNode:
    """One place on the picture with what the tooltip says about it."""

    kind: str  # "province", "city", "town" or "village"
    region_id: int | None
    name: str
    people: int = 0
    unassigned: int = 0
    overloaded: int = 0
    overdue: int = 0
    gap: str = gaps.OK
    behind: int = 0  # villages under the coverage target (a village: 1 if it is itself)
    children: list[MapNode] = field(default_factory=list)

    @property
    def coverage(self) -> float | None:
        """Share of the people visited within plan (None when there is nobody)."""
        return (self.people - self.overdue) / self.people if self.people else None

    def as_json(self) -> dict:
        """The node as the chart reads it: `value` is the area, ids are unique across levels."""
        coverage = self.coverage
        node = {
            "id": f"{self.kind}-{self.region_id}", "kind": self.kind, "regionId": self.region_id,
            "name": self.name, "value": self.people, "unassigned": self.unassigned,
            "overloaded": self.overloaded, "coverage": None if coverage is None else round(coverage, 3),
            "gap": self.gap,
        }
        if self.kind != "village":
            node["behind"] = self.behind
            node["children"] = [child.as_json() for child in self.children]
        return node


def _village(row: VillageRow, target: float) -> MapNode:
    coverage = row.coverage
    return MapNode(
        "village", row.region.id, row.region.name, people=row.beneficiaries, unassigned=row.unassigned,
        overloaded=row.overloaded, overdue=row.overdue,
        gap=gaps.gap_of(row.unassigned, row.overloaded, coverage, target),
        behind=int(gaps.behind(coverage, target)),
    )


def _above(kind: str, region_id: int | None, name: str, children: list[MapNode]) -> MapNode:
    """A town or the city: sums of its children, and the worst gap among them."""
    return MapNode(
        kind, region_id, name,
        people=sum(c.people for c in children), unassigned=sum(c.unassigned for c in children),
        overloaded=sum(c.overloaded for c in children), overdue=sum(c.overdue for c in children),
        gap=gaps.worst(c.gap for c in children),
        behind=sum(c.behind for c in children),
        children=children,
    )


def _town(town: TownRow, target: float, *, villages: bool = True) -> MapNode:
    node = _above("town", town.region.id, town.region.name, [_village(v, target) for v in town.villages])
    if not villages:
        # Sums and worst gap kept; the villages themselves are left out of the picture.
        node.children = []
    return node


def picture(data: ServiceMap, scope: Scope, city_name: str,
            target: float = policy.MAP_COVERAGE_TARGET) -> MapNode:
    """The tree within the scope: the city and its towns for the city's staff, every city with its
    towns for the province administrator, else the viewer's own town and the villages they see in
    it (`city_name` names the root: the viewer's city or province). A province's picture stops at the
    towns: its thousands of villages are drawn once a city is chosen."""
    towns = [_town(t, target, villages=not scope.is_province) for t in data.towns]
    if not scope.is_city and len(towns) == 1:
        return towns[0]
    if not scope.is_province:
        return _above("city", None, city_name, towns)
    cities: dict[int | None, tuple[str, list[MapNode]]] = {}
    for row, node in zip(data.towns, towns):
        city = row.region.parent
        cities.setdefault(city.id if city else None, (city.name if city else city_name, []))[1].append(node)
    return _above("province", None, city_name, [_above("city", city_id, name, children)
                                                for city_id, (name, children) in cities.items()])
