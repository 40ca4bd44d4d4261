"""The shape of the library: no module imports in a circle, and the simulator carries
nothing that only the search uses."""

from __future__ import annotations

import ast
from pathlib import Path

import paxoslab as pl
from paxoslab.search import SearchWorld
from paxoslab.sim import Simulation

PACKAGE = Path(pl.__file__).resolve().parent


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Module -> the library's modules it imports, at the top or inside a function."""
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
                for target in (base, *(f"{base}.{a.name}" for a in node.names)):
                    if target in modules and target != name:
                        found.add(target)
            elif isinstance(node, ast.Import):
                found |= {a.name for a in node.names if a.name in modules}
        graph[name] = found
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_module_imports_in_a_circle():
    graph = import_graph()
    assert "paxoslab.protocols.basic_paxos.node" in graph  # the graph sees the packages
    assert circles(graph) == []


def test_the_circle_check_finds_a_circle():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_simulator_names_nothing_only_the_search_uses():
    sim = Simulation(["S1"], make_node=lambda n: None)
    search_only = {"memo", "memo_keys", "numbers", "anonymous", "first_new_id"}
    assert search_only.isdisjoint(vars(sim))
    assert search_only <= set(vars(SearchWorld(["S1"], make_node=lambda n: None)))
    source = (PACKAGE / "sim.py").read_text(encoding="utf-8")
    assert not any(f"self.{name}" in source for name in search_only)
