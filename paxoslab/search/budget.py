"""When a search stops for want of time, states or memory, or because it was asked to; and
its progress bar."""

from __future__ import annotations

import time
from collections.abc import Callable

from .memory import resident_bytes

#: seconds between two readings of the process's memory
MEMORY_EVERY = 0.25

#: ``should_stop(states, depth, seconds)``: asked at every check; True stops the search
StopCheck = Callable[[int, int, float], bool]


class Budget:
    """Stops a search at ``max_states``/``max_seconds``/``max_memory`` (bytes of resident
    memory), or when ``should_stop(states, depth, seconds)`` says so (``hit == "stopped"``:
    a Stop button, see :class:`paxoslab.widgets.SearchExplorer`); shows progress after a
    second.

    The search asks :meth:`tick`, then :meth:`exhausted`, after each world it expands
    (breadth-first) or each walk (random), so a stop is noticed within one of those.
    """

    def __init__(self, name: str, max_states: int | None, max_seconds: float | None,
                 progress: bool | None, max_memory: int | None = None,
                 should_stop: StopCheck | None = None) -> None:
        self.max_states, self.max_seconds, self.max_memory = max_states, max_seconds, max_memory
        self.should_stop = should_stop
        self.memory_read_at = float("-inf")
        self.start = time.perf_counter()
        self.progress = progress
        self.bar = None
        self.name = name
        self.shown_at = 0.0
        self.depth = 0  # the depth reached, as last ticked
        self.hit: str | None = None  # the budget that ran out, or "stopped"

    def exhausted(self, states: int) -> bool:
        if self.should_stop is not None and self.should_stop(
                states, self.depth, time.perf_counter() - self.start):
            self.hit = "stopped"
            return True
        if self.max_states is not None and states >= self.max_states:
            self.hit = "max_states"
            return True
        if self.max_seconds is None and self.max_memory is None:
            return False
        now = time.perf_counter()
        if self.max_seconds is not None and now - self.start >= self.max_seconds:
            self.hit = "max_seconds"
            return True
        if self.max_memory is not None and now - self.memory_read_at >= MEMORY_EVERY:
            self.memory_read_at = now
            resident = resident_bytes()
            if resident is not None and resident >= self.max_memory:
                self.hit = "max_memory"
                return True
        return False

    def tick(self, states: int, depth: int) -> None:
        self.depth = depth
        if self.progress is False:
            return
        now = time.perf_counter() - self.start
        if now < 1.0 or now - self.shown_at < 0.2:
            return
        self.shown_at = now
        if self.bar is None:
            from tqdm.auto import tqdm

            # initial: the rate counts from when the bar opens, not from zero states
            self.bar = tqdm(total=self.max_states, desc=f"search {self.name}", unit=" states",
                            leave=False, initial=states)
        self.bar.n = states
        self.bar.set_postfix(depth=depth, refresh=False)
        self.bar.refresh()

    def close(self) -> float:
        if self.bar is not None:
            self.bar.close()
        return time.perf_counter() - self.start
