"""Temporary: run state-based safety monitors after every step of today's timed run.

Interface 2 (``Monitor.after_step(sim)`` after every step) needs a step hook the
simulator does not have yet.  :func:`attach` wraps one simulation's effect,
crash and recovery methods so the monitors look at the nodes after each of
them.  Drop this module (and its two lines in ``runner``) once the simulator
calls monitors itself.
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

    def wrap(method):
        def wrapped(*args):
            result = method(*args)
            after_step()
            return result
        return wrapped

    for name in ("_apply", "crash", "recover"):
        setattr(sim, name, wrap(getattr(sim, name)))
    return found
