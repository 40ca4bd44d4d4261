"""What a search returns, and the arguments it accepts."""

from __future__ import annotations

import json
import math
import numbers
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..node import Node
from ..protocols import PROTOCOLS
from ..runner import Result
from .explain import explain_schedule
from .memory import automatic_bound


@dataclass
class SearchResult:
    """What a search found: ``ok`` unless a property is violated, a goal was never
    reached in a complete search, or the search was interrupted (it proved nothing)."""

    scenario: dict[str, Any]
    strategy: str
    ok: bool
    property: str | None
    counterexample: Result | None
    states: int
    transitions: int
    seconds: float
    complete: bool
    depth: int
    goals: dict[str, bool] = field(default_factory=dict)
    #: BFS: how many new worlds were kept at each depth (index 0: the start)
    worlds_per_depth: list[int] = field(default_factory=list)
    interrupted: bool = False
    saved_to: str | None = None
    #: why the search ended: ``"violation"``, ``"complete"`` (every world seen, or the
    #: bounded space ended), ``"max_states"``, ``"max_seconds"``, ``"max_memory"``,
    #: ``"max_depth"`` (worlds were left at the depth bound), ``"stopped"`` (``should_stop``
    #: said so: the Stop button of :func:`paxoslab.widgets.search_explorer`) or
    #: ``"interrupted"`` (Ctrl-C): only ``"violation"`` and ``"complete"`` prove something
    stopped: str = "complete"
    #: steps the bounds kept the search from taking: ``"max_ballots"`` (a ballot or term
    #: beyond ``max_ballots``), ``"re-sends"`` (a timer that only re-sends, beyond
    #: ``MAX_RESENDS`` per node) -> how many times; what a complete search did not cover
    bounded: dict[str, int] = field(default_factory=dict)

    @property
    def violation(self):
        """The violation the counterexample ends with (None if there is none)."""
        found = self.counterexample.violations if self.counterexample else []
        return next((v for v in found if v.property == self.property), None)

    def summary(self) -> dict[str, Any]:
        """JSON-able outcome (what ``python -m paxoslab search --json`` prints)."""
        v = self.violation
        return {
            "scenario": self.scenario["name"], "strategy": self.strategy, "ok": self.ok,
            "property": self.property, "states": self.states, "transitions": self.transitions,
            "seconds": round(self.seconds, 3), "complete": self.complete, "depth": self.depth,
            "goals": self.goals, "interrupted": self.interrupted, "stopped": self.stopped,
            "violation": v.to_dict() if v else None,
            "witnesses": list(v.witnesses) if v else [],
            "counterexample": self.counterexample.scenario if self.counterexample else None,
        }

    def save(self, path: str | Path) -> str:
        """Write the counterexample scenario as JSON; returns the path."""
        if self.counterexample is None:
            raise ValueError("no counterexample to save")
        Path(path).write_text(json.dumps(self.counterexample.scenario, indent=2,
                                         ensure_ascii=False) + "\n", encoding="utf-8")
        self.saved_to = str(path)
        return self.saved_to

    def explain(self) -> str:
        """The outcome in words; a counterexample step by step with each step's state diff."""
        lines = [self.headline()]
        cut = [f"{n:,} step(s) beyond {bound}" for bound, n in self.bounded.items() if n]
        if cut:
            lines.append("bounded: not taken " + ", ".join(cut) + " (a ballot or term past max_ballots; a"
                         " timer that only re-sends, past one firing per node)")
        for goal, reached in self.goals.items():
            # never, only when every world was seen
            unreached = "NEVER reached" if self.complete else "not reached in the states seen"
            lines.append(f"goal '{goal}': {'reached' if reached else unreached}")
        if self.counterexample is None:
            if self.property is not None:
                lines.append(f"not ok: goal '{self.property}' never reached")
            elif self.interrupted:
                lines.append("interrupted: nothing is proved (no violation among the states seen)")
            else:
                lines.append("no violation found")
            return "\n".join(lines)
        v = self.violation
        lines.append(f"violation of {self.property} after {len(self.counterexample.scenario['schedule'])}"
                     " steps:")
        lines += explain_schedule(self.counterexample.scenario, self._node_class)
        if v is not None:
            lines.append(f"=> {v.property} violated: {v.detail}")
            if v.witnesses:
                lines.append(f"   witnesses: {', '.join(v.witnesses)}")
        own = PROTOCOLS[self.scenario["protocol"]].core.node_class
        if self._node_class not in (None, own):  # the command line would run the library's node
            name = self._node_class.__name__
            lines.append(f"replay with your node: pl.run_scenario(result.counterexample.scenario, "
                         f"node_class={name}).narrate()")
            return "\n".join(lines)
        where = self.saved_to or "COUNTEREXAMPLE.json  (save it with result.save(path))"
        lines.append(f"replay: python -m paxoslab run {where}")
        return "\n".join(lines)

    def headline(self) -> str:
        """One line: the scenario, the size of the search and why it stopped."""
        why = {"violation": "stopped at a violation", "complete": "complete",
               "max_states": "budget reached: max_states", "max_seconds": "budget reached: max_seconds",
               "max_memory": "memory bound reached: max_memory",
               "max_depth": "depth bound reached: max_depth", "stopped": "stopped when asked",
               "interrupted": "interrupted"}
        return (f"{self.scenario['name']}: {self.strategy} search, {self.states:,} states, "
                f"{self.transitions:,} transitions, depth {self.depth}, {self.seconds:.1f} s "
                f"({why.get(self.stopped, self.stopped)})")

    _node_class: type[Node] | None = None

    def __repr__(self) -> str:
        return (f"SearchResult(ok={self.ok}, property={self.property!r}, states={self.states}, "
                f"complete={self.complete}, stopped={self.stopped!r}, seconds={self.seconds:.2f})")


class SearchArgumentError(ValueError):
    """A search argument out of range; the message names it: ``max_ballots: must be ...``."""

    def __init__(self, argument: str, problem: str) -> None:
        self.argument, self.problem = argument, problem
        super().__init__(f"{argument}: {problem}")


def integer_argument(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise SearchArgumentError(name, f"must be an integer, got {value!r}")
    return int(value)


def count_argument(name: str, value: Any, none_ok: bool = True) -> int | None:
    """A positive integer (``None``: no bound, where ``none_ok``)."""
    if value is None and none_ok:
        return None
    number = integer_argument(name, value)
    if number < 1:
        bound = " (leave it out for no bound)" if none_ok else ""
        raise SearchArgumentError(name, f"must be at least 1{bound}, got {number}")
    return number


def seconds_argument(value: Any) -> float | None:
    """A finite number of seconds above 0, or ``None`` (no time limit)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) \
            or value <= 0:
        raise SearchArgumentError("max_seconds", "must be a finite number of seconds above 0 "
                                  f"(leave it out for no limit), got {value!r}")
    return float(value)


def memory_argument(value: Any) -> int | None:
    """``max_memory``: megabytes above 0, ``"auto"`` or ``None``; the bound in bytes."""
    if value is None:
        return None
    if isinstance(value, str) and value == "auto":
        return automatic_bound()
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) \
            or value <= 0:
        raise SearchArgumentError("max_memory", "must be a number of megabytes above 0, 'auto' "
                                  f"or None (no bound), got {value!r}")
    return int(value * 2**20)


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def counterexample_file(name: str) -> str:
    """Where the command line writes a counterexample by default: a plain file name in the
    working directory, from the last part of the scenario's name.

    >>> counterexample_file("search-basic-paxos")
    'search-basic-paxos-counterexample.json'
    >>> counterexample_file("../../etc/x y")
    'x-y-counterexample.json'
    >>> counterexample_file("..")
    'scenario-counterexample.json'
    """
    base = re.split(r"[/\\]", str(name))[-1]
    base = _UNSAFE.sub("-", base).strip(".-")[:80] or "scenario"
    return f"{base}-counterexample.json"
