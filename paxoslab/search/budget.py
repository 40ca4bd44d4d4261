"""When a search stops for want of time or states, and its progress bar."""

from __future__ import annotations

import time


class Budget:
    """Stops a search at ``max_states``/``max_seconds``; shows progress after a second."""

    def __init__(self, name: str, max_states: int | None, max_seconds: float | None,
                 progress: bool | None) -> None:
        self.max_states, self.max_seconds = max_states, max_seconds
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
        if self.max_seconds is not None and time.perf_counter() - self.start >= self.max_seconds:
            self.hit = "max_seconds"
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
