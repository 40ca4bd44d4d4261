"""paxoslab: a deterministic network simulator and the consensus protocols of the course.

    import paxoslab as pl
    result = pl.run_scenario("data/scenarios/basic-paxos-case-1.json")
    result.summary()["decided"]

``pl.plots`` and ``pl.widgets`` (matplotlib, ipywidgets) and ``pl.experiments``
(pandas) are imported on first use, so ``import paxoslab`` stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

from . import quiz
from .checks import Monitor, Violation
from .network import Exponential, Fixed, Network, Rule, Uniform
from .node import MissingHandler, Node
from .report import describe, narrate
from .runner import Result, run_scenario
from .scenario import ScenarioError
from .scenario import load as load_scenario
from .sim import Simulation, rng_stream
from .trace import Event, Trace

__version__ = "0.1.0"

_LAZY_MODULES = {"plots", "widgets", "experiments"}

__all__ = [
    "Event", "Exponential", "Fixed", "MissingHandler", "Network", "Node", "Result", "Rule",
    "Monitor", "ScenarioError", "Simulation", "Trace", "Uniform", "Violation", "describe",
    "load_scenario", "narrate", "quiz",
    "rng_stream", "run_scenario", *sorted(_LAZY_MODULES),
]


def __getattr__(name: str) -> Any:
    if name in _LAZY_MODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'paxoslab' has no attribute {name!r}")
