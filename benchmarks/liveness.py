"""Liveness of the default Basic Paxos options (DESIGN §5) on every network the lessons offer.

The workload (``data/scenarios/basic-paxos-liveness.json``): five nodes, three
proposers asking within the first 5 ms, 15% loss, 15% duplication, and S2
crashing in the first 100 ms and recovering between 150 and 400 ms.  Default
options; each row runs it over many seeds with one delay model and reports how
many seeds decided by t = 20,000 ms and the median / 90th percentile / worst time
to decide (``decided_at``), plus whether every node that is up at the end has
learned the value.

Rows: the issue's network (delay Uniform(1, 30)) and the delay ranges the
lessons' explorers offer — lesson 01 (a link of 0-30 ms on 1-4 ms), lesson 02
(1 ms, one link up to 10 ms), lesson 03 (its delay-range menu) — plus lesson 02's
explorer itself (every slider position of case 2) and lesson 03's explorer with
default options (every delay range x number of proposers, to the explorer's
t = 1000 ms).

Targets: every row decides in at least 295 of 300 seeds (98.3%); the issue's
network with a median under 500 ms.  Exit status 1 if a target is missed.

    python benchmarks/liveness.py               # 300 seeds per row (about 10 s on 2 cores)
    python benchmarks/liveness.py --seeds 50 --workers 1
    python benchmarks/liveness.py --json
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import paxoslab as pl

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "data" / "scenarios"
UNTIL = 20_000
MEDIAN_TARGET_MS = 500.0
DECIDED_SHARE_TARGET = 295 / 300

#: (row label, delay model): the issue's network, then every explorer's delay range
NETWORKS: list[tuple[str, dict[str, Any]]] = [
    ("issue: U(1,30)", {"uniform": [1, 30]}),
    ("lesson 01: U(0,30)", {"uniform": [0, 30]}),
    ("lesson 01: U(1,4)", {"uniform": [1, 4]}),
    ("lesson 02: fixed 1", {"fixed": 1}),
    ("lesson 02: fixed 10", {"fixed": 10}),
    ("lesson 02: U(1,10)", {"uniform": [1, 10]}),
    ("fixed 5", {"fixed": 5}),
    ("lesson 03: U(1,5)", {"uniform": [1, 5]}),
    ("lesson 03: U(10,50)", {"uniform": [10, 50]}),
    ("wider than any lesson: U(1,100)", {"uniform": [1, 100]}),
]

#: lesson 03's explorer menus (keep in step with notebooks/03_livelock.ipynb)
LESSON03_DELAYS = [[1, 5], [4, 6], [1, 10], [1, 30], [10, 50]]
LESSON03_PROPOSERS = [1, 2, 3, 4, 5]
LESSON03_ORDER = ["S1", "S3", "S5", "S2", "S4"]
LESSON03_UNTIL = 1000  # the explorer runs to t=1000 ms


def decided_row(label: str, table) -> dict[str, Any]:
    decided = table["decided"].notna()
    times = table.loc[decided, "decided_at"]
    return {
        "network": label,
        "runs": len(table),
        "decided": int(decided.sum()),
        "median_ms": round(float(times.median()), 1) if len(times) else None,
        "p90_ms": round(float(times.quantile(0.9)), 1) if len(times) else None,
        "max_ms": round(float(times.max()), 1) if len(times) else None,
        "violations": int(table["n_violations"].sum()),
        "all_live_learned": bool(table["all_live_learned"].all()) if "all_live_learned" in table else None,
    }


def faulty_run(job: tuple[dict[str, Any], int]) -> dict[str, Any]:
    """One run of the faulty workload; also checks that every live node learned."""
    scenario, seed = job
    result = pl.run_scenario(scenario, seed=seed, detailed=False)
    s = result.summary()
    live = [n for n in result.nodes if result.sim.is_up(n)]
    return {"seed": seed, "decided": s["decided"], "decided_at": s["decided_at"],
            "n_violations": len(s["violations"]),
            "all_live_learned": s["decided"] is not None and all(s["learned"][n] == s["decided"]
                                                                 for n in live)}


def main(argv: list[str] | None = None) -> int:
    import pandas as pd

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=300)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    base = pl.load_scenario(SCENARIOS / "basic-paxos-liveness.json")
    base["until"] = UNTIL
    rows = []
    pool = ProcessPoolExecutor(args.workers) if args.workers > 1 else None
    try:
        run_map = pool.map if pool else map
        for label, delay in NETWORKS:
            scenario = copy.deepcopy(base)
            scenario["network"]["delay"] = delay
            table = pd.DataFrame(list(run_map(faulty_run, [(scenario, s) for s in range(args.seeds)])))
            rows.append(decided_row(label + " +loss/dup/crash", table))

        # lesson 02's explorer: every slider position of case 2, default options
        grid = pl.experiments.sweep(SCENARIOS / "basic-paxos-case-2.json",
                                    grid={"events[1].at": range(0, 11),
                                          "network.rules[0].delay": range(1, 11)},
                                    executor=pool, progress=False)
        rows.append(decided_row("lesson 02 explorer: all 110 positions", grid))

        # lesson 03's explorer with default options: each delay range x number of proposers
        contention = pl.load_scenario(SCENARIOS / "basic-paxos-contention.json")
        contention["options"] = {"bugs": []}
        contention["until"] = LESSON03_UNTIL
        per_point = max(1, args.seeds // (len(LESSON03_DELAYS) * len(LESSON03_PROPOSERS)))
        frames = []
        for n in LESSON03_PROPOSERS:
            events = [{"at": 0, "propose": {"node": node, "value": "XYZVW"[i]}}
                      for i, node in enumerate(LESSON03_ORDER[:n])]
            frames.append(pl.experiments.sweep(
                contention, grid={"events": [events], "network.delay.uniform": LESSON03_DELAYS},
                seeds=range(per_point), executor=pool, progress=False))
        rows.append(decided_row("lesson 03 explorer: defaults, all menus, by t=1000", pd.concat(frames)))
    finally:
        if pool:
            pool.shutdown()

    table = pd.DataFrame(rows)
    ok = bool((table["decided"] >= DECIDED_SHARE_TARGET * table["runs"]).all()
              and table.loc[0, "median_ms"] < MEDIAN_TARGET_MS and table["violations"].sum() == 0
              and table["all_live_learned"].dropna().all())
    if args.json:
        print(json.dumps({"rows": rows, "targets_met": ok}))
    else:
        print(table.to_string(index=False))
        print(f"\ntargets (>= {DECIDED_SHARE_TARGET:.1%} decided by t={UNTIL} ms in every row, "
              f"median < {MEDIAN_TARGET_MS:g} ms on the issue's network, no violations, every live "
              f"node learned): {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
