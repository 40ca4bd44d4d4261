"""When a search stops for want of time, states or memory, and its progress bar."""

from __future__ import annotations

import time

from .memory import resident_bytes

#: seconds between two readings of the process's memory
MEMORY_EVERY = 0.25


class Budget:
    """Stops a search at ``max_states``/``max_seconds``/``max_memory`` (bytes of resident
    memory); shows progress after a second."""

    def __init__(self, name: str, max_states: int | None, max_seconds: float | None,
                 progress: bool | None, max_memory: int | None = None) -> None:
        self.max_states, self.max_seconds, self.max_memory = max_states, max_seconds, max_memory
        self.memory_read_at = float("-inf")
        self.start = time.perf_counter()
        self.progress = progress
        self.bar = None
        self.name = name
        self.shown_at = 0.0
        self.hit: str | None = None  # the budget that ran out

    def exhausted(self, states: int) -> bool:
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
