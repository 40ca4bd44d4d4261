"""Run a scenario: build the simulation, play the timeline, summarise.

>>> result = run_scenario({"name": "solo", "protocol": "basic-paxos", "nodes": ["S1"],
...                        "events": [{"at": 0, "propose": {"node": "S1", "value": "X"}}]})
>>> result.summary()["decided"], result.summary()["expect"]
('X', {'ok': True, 'failed': []})
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from .checks import Violation
from .node import Node, read_field
from .progress import run_in_slices
from .protocols import PROTOCOLS
from .report import describe, narrate
from .scenario import DEFAULT_UNTIL, ScenarioError, Validator, _show, build_network, load
from .sim import Simulation, rng_stream
from .trace import Trace
from .watchdog import DEFAULT_SECONDS, handler_time_limit

#: Events a run may process by default: a recorded run keeps about 1 KB per event
#: (trace and summary), so this keeps one under about 1 GB.
DEFAULT_MAX_EVENTS = 1_000_000


@dataclass
class Result:
    """A finished run: the scenario it ran, the simulation and its trace."""

    scenario: dict[str, Any]
    seed: int
    sim: Simulation
    end_time: float
    violations: list[Violation] = field(default_factory=list)

    @property
    def trace(self) -> Trace:
        return self.sim.trace

    @property
    def protocol(self) -> str:
        return self.scenario["protocol"]

    @property
    def nodes(self) -> tuple[str, ...]:
        return self.sim.node_ids

    @cached_property
    def _summary(self) -> dict[str, Any]:
        sim = self.sim
        summary: dict[str, Any] = {
            "scenario": self.scenario["name"],
            "protocol": self.protocol,
            "seed": self.seed,
            "end_time": self.end_time,
            "messages": {
                "sent": sim.sent, "delivered": sim.delivered, "dropped": sim.dropped,
                "by_type": dict(sorted(sim.by_type.items())),
            },
            "violations": [v.to_dict() for v in self.violations],
        }
        summary.update(PROTOCOLS[self.protocol].core.summarize(sim))
        summary["expect"] = compare_expectations(self.scenario.get("expect", {}), summary)
        summary["digest"] = self.trace.digest()
        return summary

    def summary(self) -> dict[str, Any]:
        """The JSON-able outcome (its keys: the README, section "Scenarios")."""
        return self._summary

    def describe(self) -> str:
        """The summary as a few lines of text (the ``expect`` line only if it had any)."""
        return describe(self._summary, expectations=bool(self.scenario.get("expect")))

    def narrate(self, **narrow: Any) -> str:
        """The run step by step (see :func:`paxoslab.report.narrate`)."""
        return narrate(self.trace, protocol=self.protocol, **narrow)


#: an expected object with exactly one of these keys is a test, not a value to equal
OPERATORS = ("not", "in")


def operator_of(expected: Any) -> str | None:
    """``"not"`` for ``{"not": v}``, ``"in"`` for ``{"in": [...]}``, else None."""
    if isinstance(expected, dict) and len(expected) == 1:
        (key,) = expected
        if key in OPERATORS:
            return key
    return None


def matches(expected: Any, actual: Any) -> bool:
    """Equality, except that an expected object only constrains the keys it names, and
    ``{"not": v}`` means "anything that ``v`` does not match", ``{"in": [a, b]}`` "matches
    one of them".

    >>> matches({"not": None}, "X"), matches({"not": None}, None)
    (True, False)
    >>> matches({"in": ["X", "Y"]}, "Y"), matches({"S1": {"in": [1, 2]}}, {"S1": 3, "S2": 9})
    (True, False)
    """
    operator = operator_of(expected)
    if operator == "not":
        return not matches(expected["not"], actual)
    if operator == "in":
        return any(matches(option, actual) for option in expected["in"])
    if isinstance(expected, dict) and isinstance(actual, dict):
        return all(k in actual and matches(v, actual[k]) for k, v in expected.items())
    return expected == actual


def compare_expectations(expect: Mapping[str, Any], summary: Mapping[str, Any]) -> dict[str, Any]:
    """``{ok, failed}``; each failure names the key, what was expected and what came out."""
    failed = [
        {"key": key, "expected": want, "actual": summary.get(key)}
        for key, want in expect.items()
        if key not in summary or not matches(want, summary[key])
    ]
    return {"ok": not failed, "failed": failed}


def run_scenario(
    scenario: Mapping[str, Any] | str | Path,
    seed: int | None = None,
    detailed: bool = True,
    node_class: type[Node] | None = None,
    max_events: int | None = DEFAULT_MAX_EVENTS,
    progress: bool | None = None,
    max_handler_seconds: float | None = DEFAULT_SECONDS,
) -> Result:
    """Validate and run ``scenario`` (a dict or a JSON file path).

    ``seed`` overrides the scenario's own (a whole number; a NumPy integer will
    do); ``detailed=False`` keeps only the events the summary needs (faster,
    for sweeps); ``node_class`` runs in place of the protocol's own node (a
    subclass with some handlers rewritten).  A scenario with a ``schedule`` replays exactly those steps
    (each one time unit long) instead of timing and chance.

    Raises :class:`~paxoslab.scenario.ScenarioError` for bad input (before
    anything runs, or at a schedule step that cannot happen), and, when the
    run itself fails, :class:`~paxoslab.sim.HandlerError` (a node's handler
    raised) or :class:`~paxoslab.sim.SimulationStalled` (simulated time stood
    still: which setting causes it — zero delays, zero back-off, tiny timers —
    is the scenario's to find, so no field is named).

    ``max_events`` (default :data:`DEFAULT_MAX_EVENTS`, which keeps a recorded
    run under about 1 GB; ``None``: no limit) bounds the events a timed run
    processes: one that reaches it with events still due raises
    :class:`~paxoslab.sim.EventLimitReached`, saying how to raise it.  A run
    that takes more than a second shows a progress bar on a terminal
    (``progress=True``: anywhere, ``False``: never).

    ``max_handler_seconds`` (default 5; ``None``: no limit) stops a node's handler
    that runs longer than that in wall time — a rewritten handler that loops for
    ever — with a :class:`~paxoslab.sim.HandlerError` naming it (see
    :mod:`paxoslab.watchdog`).
    """
    check_seconds("max_handler_seconds", max_handler_seconds)
    if max_events is not None and (isinstance(max_events, bool)
                                   or not isinstance(max_events, numbers.Integral) or max_events < 1):
        raise ValueError(f"max_events must be a whole number of at least 1 (or None), "
                         f"got {max_events!r}")
    data = load(scenario)
    source = scenario if isinstance(scenario, str | Path) else f"<scenario {data['name']}>"
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
        raise ScenarioError(str(source), "seed", f"must be a whole number, got {seed!r}")
    seed = data.get("seed", 0) if seed is None else int(seed)
    schedule = data.get("schedule")
    with handler_time_limit(max_handler_seconds):
        sim = build_simulation(data, seed, detailed=detailed, node_class=node_class,
                               timed=schedule is None)
        if schedule is not None:
            return Result(data, seed, replay(sim, schedule, str(source)), sim.now, sim.violations)
        until = data.get("until", DEFAULT_UNTIL)
        end_time = run_in_slices(sim, until, max_events, progress, data["name"])
    return Result(data, seed, sim, end_time, sim.violations)


def check_seconds(name: str, seconds: float | None) -> None:
    """A time limit must be a positive number of seconds, or None."""
    if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, numbers.Real)
                                or not seconds > 0 or seconds == float("inf")):
        raise ValueError(f"{name} must be a positive number of seconds (or None), got {seconds!r}")


def build_simulation(data: dict[str, Any], seed: int, detailed: bool = True,
                     node_class: type[Node] | None = None, timed: bool = True,
                     world_class: type[Simulation] = Simulation) -> Simulation:
    """The simulation of a validated scenario, its actions scheduled in time order
    (``world_class``: a subclass of :class:`Simulation` to build, as the search does)."""
    spec = PROTOCOLS[data["protocol"]]
    options = dict(data.get("options", {}))
    nodes = data["nodes"]
    make = node_class or spec.core.node_class
    reads = spec.core.reads if make is not spec.core.node_class else {}

    def build(node_id: str) -> Node:
        node = make(node_id, nodes, options)
        for name, meaning in reads.items():  # a rewritten node: what the checks read, up front
            read_field(node, name, meaning)
        return node

    network = build_network(data.get("network", {}), nodes, Validator("<scenario>"))
    sim = world_class(
        nodes,
        build,
        network=network,
        seed=seed,
        detailed=detailed,
        persist_ms=options.get("persist_ms", 0),
        timed=timed,
        monitors=[m(nodes, options) for m in spec.core.monitors],
        perform=lambda sim, action, value: spec.core.perform(sim, options, action, value),
        notes=spec.core.notes if make is not spec.core.node_class else None,
    )
    for at, action in scenario_actions(data, seed):
        sim.at(at, action)
    return sim


def scenario_actions(data: dict[str, Any], seed: int) -> list[tuple[float, tuple]]:
    """The timeline's events as ``(time, action)`` data, in the order they happen.

    Random times are drawn in the order the events are written; events at
    one time keep that order.  A client request (``submit``) carries its number
    among them, ``"request"``: 1, 2, 3, ...
    """
    timing = rng_stream(seed, "events")
    timed = []
    for event in data.get("events", []):
        at = event["at"]
        if isinstance(at, dict):
            at = timing.uniform(*at["uniform"])
        (action, value), = ((k, v) for k, v in event.items() if k != "at")
        if action == "partition":
            value = tuple(tuple([g] if isinstance(g, str) else g) for g in value)
        timed.append((float(at), (action,) if action == "heal" else (action, value)))
    timed.sort(key=lambda item: item[0])
    # client requests (submit) are numbered 1, 2, 3, ... in the order they happen
    submits = [i for i, (_, action) in enumerate(timed) if action[0] == "submit"]
    for number, i in enumerate(submits, start=1):
        at, (action, value) = timed[i]
        timed[i] = (at, (action, {**value, "request": number}))
    return timed


def replay(sim: Simulation, schedule: list[dict[str, Any]], source: str) -> Simulation:
    """Take the scheduled steps one by one; a step that cannot happen is a ScenarioError."""
    sim.start()
    for i, entry in enumerate(schedule):
        try:
            step = sim.decode(entry)
        except (TypeError, LookupError):  # {"deliver": [1]}, {"timer": ["S1"]}: not an id or a name
            raise ScenarioError(source, f"schedule[{i}]", "names no message id, node or action of "
                                                          f"this run: {_show(entry)}") from None
        except ValueError as exc:
            raise ScenarioError(source, f"schedule[{i}]", str(exc)) from None
        problem = network_cannot(sim, step)
        if problem:
            raise ScenarioError(source, f"schedule[{i}]", problem)
        try:
            sim.step(step)
        except ValueError as exc:
            raise ScenarioError(source, f"schedule[{i}]", str(exc)) from None
    return sim


def network_cannot(sim: Simulation, step: tuple) -> str | None:
    """Why the scenario's network could never take ``step``, or None if it could.

    A message crossing the network may be lost only where ``network.drop`` is above 0 or
    a partition or rule cuts its link, and duplicated only where ``network.duplicate``
    is; a node's message to itself never crosses the network.  (The search offers only
    the steps that can happen: a hand-edited schedule may name others.)
    """
    kind = step[0]
    if kind not in ("lose", "duplicate"):
        return None
    src, dst, msg = sim.in_flight[step[1]]
    msg_type = type(msg).__name__
    what = f"message {step[1]} ({msg_type} {src} -> {dst})"
    network = sim.network
    if src == dst:
        return f"cannot {kind} {what}: a node's message to itself never crosses the network"
    if kind == "lose" and not network.drop and network.certain_loss(src, dst, msg_type) is None:
        return f"cannot lose {what}: network.drop is 0 and no partition or rule cuts {src} -> {dst}"
    if kind == "duplicate" and not network.duplicate:
        return f"cannot duplicate {what}: network.duplicate is 0"
    return None
