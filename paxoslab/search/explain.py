"""A schedule read step by step: what each step does and what it changed in which node."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..node import Node, canonical
from ..runner import build_simulation
from ..scenario import load
from ..sim import Simulation
from ..trace import jsonable


def describe_step(sim: Simulation, choice: tuple) -> str:
    """One step in words, read before it is taken."""
    kind = choice[0]
    if kind in ("deliver", "lose", "duplicate"):
        src, dst, msg = sim.in_flight[choice[1]]
        label = msg.label() if hasattr(msg, "label") else type(msg).__name__
        verb = {"deliver": "receives", "lose": "never gets (lost)",
                "duplicate": "receives a duplicate of"}[kind]
        return f"{dst} {verb} {label} from {src}"
    if kind == "timer":
        return f"{choice[1]}'s {type(choice[2]).__name__} timer fires"
    _, action = sim.actions[choice[1]]
    args = " ".join(json.dumps(jsonable(a)) if not isinstance(a, str) else a for a in action[1:])
    return f"scenario: {action[0]} {args}".rstrip()


def _show(value: Any) -> str:
    text = json.dumps(jsonable(value), ensure_ascii=False)
    return text if len(text) <= 50 else text[:47] + "..."


def state_diff(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[str]:
    """``field: old -> new`` for each field that changed (``down``/``up`` for crashes)."""
    if before is None and after is None:
        return []
    if after is None:
        return ["crashed (volatile state lost)"]
    if before is None:
        return ["recovered: " + ", ".join(f"{k}={_show(v)}" for k, v in after.items()
                                          if v not in (None, 0, "", [], {}, set(), "idle"))]
    return [f"{k}: {_show(before.get(k))} -> {_show(v)}" for k, v in after.items()
            if canonical(before.get(k)) != canonical(v)]


def explain_schedule(scenario: Mapping[str, Any], node_class: type[Node] | None = None) -> list[str]:
    """The schedule's steps, numbered, each with what changed in which node."""
    data = load(scenario)
    sim = build_simulation(data, data.get("seed", 0), detailed=False, node_class=node_class,
                           timed=False)
    sim.start()
    lines = []
    for number, entry in enumerate(data["schedule"], start=1):
        choice = sim.decode(entry)
        text = describe_step(sim, choice)
        before = {n: (node.state() if node is not None else None) for n, node in sim.nodes.items()}
        sim.step(choice)
        lines.append(f"{number:>3}. {text}")
        for node_id, node in sim.nodes.items():
            for change in state_diff(before[node_id], node.state() if node is not None else None):
                lines.append(f"       {node_id}  {change}")
    return lines
