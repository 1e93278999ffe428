"""The layout holds: no import circles and no oversized modules in the product's packages.

The direction of imports between layers is checked by `lint-imports` (contracts in
pyproject.toml, run by .ci/run); these checks cover what a layers contract cannot see.
"""

from __future__ import annotations

from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = ("bot", "cli", "config", "handlers", "models", "runtime", "scheduler", "services", "workers")
TOOLS = ("devtools",)
MAX_LINES = 500


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative: every group of modules that import each other in a circle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    groups: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    if len(group) > 1 or node in graph[node]:
                        groups.append(sorted(group))
            elif child not in index:
                index[child] = low[child] = counter
                counter += 1
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph[child]))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return groups


def import_graph(packages: tuple[str, ...]) -> dict[str, set[str]]:
    """Module -> the modules of `packages` it imports directly (imports inside functions included)."""
    built = grimp.build_graph(*packages)
    return {m: set(built.find_modules_directly_imported_by(m)) for m in built.modules}


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
        ({"a": {"b"}, "b": {"a"}}, [["a", "b"]]),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
        ({"a": {"a"}}, [["a"]]),
    ],
)
def test_the_circle_finder_finds_circles(graph, expected):
    """The check below would pass vacuously if this found nothing."""
    assert strongly_connected(graph) == expected


def test_no_import_circles_in_the_product_or_the_tools():
    """Each module can be read and tested from the bottom up: no two modules import each other."""
    circles = strongly_connected(import_graph(PRODUCT + TOOLS))
    assert circles == [], "import circles:\n" + "\n".join(" -> ".join(c) for c in circles)


def test_no_module_is_over_500_lines():
    """Modules past about 500 lines are split along their seams (migrations aside)."""
    too_long = []
    for package in PRODUCT + TOOLS:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            lines = len(path.read_text(encoding="utf-8").splitlines())
            if lines > MAX_LINES:
                too_long.append(f"{path.relative_to(ROOT)}: {lines}")
    assert too_long == [], "split these modules: " + ", ".join(too_long)
