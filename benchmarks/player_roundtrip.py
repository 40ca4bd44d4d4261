"""Replay player round trip: move the time slider of ``pl.widgets.player`` one step.

Replays lesson 02's case 2 and moves the slider over every step, forwards and
back.  The player draws the whole run once; a step veils what comes after t,
highlights the messages in flight and encodes the PNG, and looks the node
states at t up in the protocol's ``state_changes`` (read once).  No step
re-runs the simulation or makes a new matplotlib drawing.  For scale, the same script times the explorer's
round trip (re-run the scenario + redraw) on the same machine, so the printed
ratio does not depend on how busy the machine is.

    python benchmarks/player_roundtrip.py            # 3 passes over the steps
    python benchmarks/player_roundtrip.py --json
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import paxoslab as pl  # noqa: E402
from paxoslab.plots import sequence_diagram  # noqa: E402
from paxoslab.widgets import render_png  # noqa: E402

SCENARIO = Path(__file__).resolve().parents[1] / "data" / "scenarios" / "basic-paxos-case-2.json"
TARGET_MS = 150.0


def timed(action) -> float:
    start = time.perf_counter()
    action()
    return (time.perf_counter() - start) * 1000


def measure(passes: int) -> dict[str, list[float]]:
    result = pl.run_scenario(SCENARIO)
    build, step, rerun = [], [], []
    for _ in range(passes):
        start = time.perf_counter()
        player = pl.widgets.player(result)
        build.append((time.perf_counter() - start) * 1000)
        # the slider counts steps from 1 (like the clock): forwards from the second, then back
        last = len(player.times)
        steps = list(range(2, last + 1)) + list(range(last - 1, 0, -1))
        step += [timed(lambda s=s, p=player: setattr(p.slider, "value", s)) for s in steps]
        rerun += [timed(lambda: render_png(sequence_diagram(pl.run_scenario(SCENARIO))))
                  for _ in range(4)]
    return {"build": build, "step": step, "rerun": rerun}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-p", "--passes", type=int, default=3, help="passes over all steps")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    timings = measure(args.passes)
    med = {k: statistics.median(v) for k, v in timings.items()}
    out = {"steps": len(timings["step"]), "step_median_ms": med["step"],
           "step_p90_ms": statistics.quantiles(timings["step"], n=10)[-1],
           "build_median_ms": med["build"], "explorer_rerun_median_ms": med["rerun"],
           "step_vs_rerun": med["step"] / med["rerun"], "target_ms": TARGET_MS,
           "met": med["step"] <= TARGET_MS}
    if args.json:
        print(json.dumps(out))
    else:
        print(f"replay player, {out['steps']} slider steps (lesson 02, case 2)")
        print(f"  one step:        median {med['step']:6.1f} ms   p90 {out['step_p90_ms']:6.1f} ms")
        print(f"  building it:     median {med['build']:6.1f} ms   (runs nothing; draws the run once)")
        print(f"  explorer re-run + redraw, for scale: median {med['rerun']:6.1f} ms  "
              f"(a step costs {out['step_vs_rerun']:.2f}x of it)")
        print(f"  target median <= {TARGET_MS:.0f} ms per step: {'met' if out['met'] else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
