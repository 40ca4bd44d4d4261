"""Temporary: run state-based safety monitors after every step of today's timed run.

Interface 2 (``Monitor.after_step(sim)`` after every step) needs a step hook the
simulator does not have yet.  :func:`attach` wraps one simulation's effect,
crash and recovery methods so the monitors look at the nodes after each of
them (``sim.step_node`` names the node that changed).  Drop this module
(and its two lines in ``runner``) once the simulator calls monitors itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def attach(sim: Any, monitor_classes: Iterable[type], options: Mapping[str, Any]) -> list:
    """Install ``monitor_classes`` on ``sim``; returns the list their violations go to."""
    monitors = [cls(sim.node_ids, options) for cls in monitor_classes]
    found: list = []

    def after_step() -> None:
        for monitor in monitors:
            found.extend(monitor.after_step(sim))

    def wrap(method, stepped):
        def wrapped(arg):
            result = method(arg)
            sim.step_node = stepped(arg)
            after_step()
            return result
        return wrapped

    sim._apply = wrap(sim._apply, lambda node: node.id)
    sim.crash = wrap(sim.crash, lambda node_id: None)
    sim.recover = wrap(sim.recover, lambda node_id: node_id)
    return found
