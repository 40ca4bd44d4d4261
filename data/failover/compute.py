"""Compute the Raft paper's failover experiment for every timeout range it reports.

    PYTHONPATH=. python data/failover/compute.py [--workers 2] [--trials 1000] [RANGE ...]
    PYTHONPATH=. python data/failover/compute.py --sensitivity [--workers 2] [--trials 300]

The first writes ``data/failover/<lo>-<hi>.csv`` (one row per trial, columns of
:func:`paxoslab.experiments.leader_failover`, with the defaults of
:func:`paxoslab.experiments.failover_scenario`).  The paper (Ongaro and
Ousterhout 2014, Figure 16) ran 1,000 trials per range, 100 for 150-150 ms;
so does this script.  Trial ``i`` of every range uses seed ``i``, so the
stored rows can be recomputed one by one (``tests/test_experiments_failover.py``
does that for a few).  Pass ranges as ``150-300`` to recompute only those.

The second writes ``data/failover/sensitivity.csv``: one row per range x
round trip x order of the candidate's write, ``--trials`` trials each (default
300), from :func:`paxoslab.experiments.failover_sensitivity`.
"""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import ProcessPoolExecutor
from contextlib import nullcontext
from pathlib import Path

import paxoslab as pl
from paxoslab.experiments import PAPER_RANGES_RANDOMNESS, PAPER_RANGES_SCALE

HERE = Path(__file__).resolve().parent
SENSITIVITY = HERE / "sensitivity.csv"

#: every range of Figure 16 once (150-300 is in both graphs), with the paper's trial counts
RANGES = {f"{lo}-{hi}": ((lo, hi), 100 if lo == hi else 1000)
          for lo, hi in dict.fromkeys(PAPER_RANGES_RANDOMNESS + PAPER_RANGES_SCALE)}


def path_of(label: str) -> Path:
    return HERE / f"{label}.csv"


def compute(label: str, trials: int | None = None, workers: int = 1):
    """The frame of one range (``"150-300"``); ``trials`` defaults to the paper's count."""
    timeout, paper_trials = RANGES[label]
    trials = paper_trials if trials is None else trials
    with ProcessPoolExecutor(workers) if workers > 1 else nullcontext() as pool:
        return pl.experiments.leader_failover(timeout, trials=trials, seed=0, executor=pool)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ranges", nargs="*", help="e.g. 150-300 (default: all)")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--trials", type=int, default=None,
                        help="default: the paper's count (300 with --sensitivity)")
    parser.add_argument("--sensitivity", action="store_true",
                        help="the grid of round trips and write orders -> sensitivity.csv")
    args = parser.parse_args(argv)
    if args.sensitivity:
        with ProcessPoolExecutor(args.workers) if args.workers > 1 else nullcontext() as pool:
            frame = pl.experiments.failover_sensitivity(trials=args.trials or 300, executor=pool)
        frame.to_csv(SENSITIVITY, index=False)
        print(frame.to_string(index=False))
        return 0
    for label in args.ranges or list(RANGES):
        if label not in RANGES:
            parser.error(f"unknown range {label!r}; known: {', '.join(RANGES)}")
        frame = compute(label, args.trials, args.workers)
        frame.to_csv(path_of(label), index=False)
        summary = pl.experiments.failover_summary(frame)
        print(f"{label}: {summary['trials']} trials, median {summary['median_ms']:.0f} ms, "
              f"mean {summary['mean_ms']:.0f} ms, max {summary['max_ms']:.0f} ms, "
              f"{summary['no_leader']} without a leader -> {path_of(label).name}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
