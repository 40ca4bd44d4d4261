"""Widget round trip (DESIGN §5): move a slider of a lesson's explorer, re-run, redraw.

Builds lesson 02's explorer on ``basic-paxos-case-2`` (S5's start time and the
delay of S1's accept to S3), then moves the sliders through a fixed sequence of
values.  Each move is what a student's drag costs: copy the scenario, run the
simulation, draw the sequence diagram, render it to PNG, format the outcome.
Prints the median and 90th percentile in milliseconds against the 250 ms target.

    python benchmarks/widget_roundtrip.py            # 40 moves
    python benchmarks/widget_roundtrip.py -n 100 --json
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import ipywidgets as widgets  # noqa: E402

import paxoslab as pl  # noqa: E402

SCENARIO = Path(__file__).resolve().parents[1] / "data" / "scenarios" / "basic-paxos-case-2.json"
TARGET_MS = 250.0


def measure(moves: int) -> list[float]:
    """Milliseconds per slider move, one per move."""
    explorer = pl.widgets.explorer(SCENARIO, controls={
        "S5 starts at (ms)": ("events[1].at", widgets.IntSlider(value=3, min=0, max=10)),
        "S1's Accept to S3 takes (ms)": ("network.rules[0].delay",
                                         widgets.IntSlider(value=1, min=1, max=10)),
    })
    slider = explorer.controls["S1's Accept to S3 takes (ms)"]
    timings = []
    for move in range(moves):
        start = time.perf_counter()
        slider.value = 1 + move % 10  # the observer re-runs and redraws, as in the browser
        timings.append((time.perf_counter() - start) * 1000)
    return timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--moves", type=int, default=40, help="slider moves to time")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    timings = measure(args.moves)
    median = statistics.median(timings)
    p90 = statistics.quantiles(timings, n=10)[-1]
    if args.json:
        print(json.dumps({"moves": args.moves, "median_ms": median, "p90_ms": p90,
                          "target_ms": TARGET_MS, "met": median <= TARGET_MS}))
    else:
        print(f"widget round trip over {args.moves} slider moves (lesson 02 explorer, case 2)")
        print(f"  median {median:6.1f} ms   p90 {p90:6.1f} ms   "
              f"(target median <= {TARGET_MS:.0f} ms: {'met' if median <= TARGET_MS else 'NOT met'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
