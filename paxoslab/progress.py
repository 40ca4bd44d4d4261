"""A long run in slices: a progress bar after a second, and a stop at ``max_events``.

The wall clock decides only whether a bar is shown, never what the run does:
slicing a run changes none of its events (``Simulation.run`` carries its state
from one call to the next).
"""

from __future__ import annotations

import math
import sys
import time

from .sim import EventLimitReached, Simulation

#: Events per slice of a run (between progress updates; it changes no outcome).
SLICE = 50_000


def run_in_slices(sim: Simulation, until: float, max_events: int | None, progress: bool | None,
              name: str) -> float:
    """``sim.run(until)`` in slices of :data:`SLICE` events: a bar after a second, and a stop
    at ``max_events``; returns the time of the last event."""
    started = time.perf_counter()
    bar = None
    done = 0
    try:
        while True:
            step = SLICE if max_events is None else min(SLICE, max_events - done)
            end = sim.run(until=until, max_events=step)
            done += step
            if not sim.due(until):
                return end
            if max_events is not None and done >= max_events:
                raise EventLimitReached(max_events, sim.now, until)
            if bar is None and progress is not False and time.perf_counter() - started > 1.0 \
                    and (progress or sys.stderr.isatty()):
                from tqdm.auto import tqdm

                bar = tqdm(total=until if math.isfinite(until) else None, desc=f"run {name}",
                           unit=" ms", leave=False)
            if bar is not None:
                bar.n = sim.now
                bar.set_postfix(events=f"{done:,}", refresh=False)
                bar.refresh()
    finally:
        if bar is not None:
            bar.close()
