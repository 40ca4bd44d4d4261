"""What recording and persistence cost: two ratios and one growth rate.

* **recorded vs unrecorded** — a batch of lossy three-proposer Basic Paxos runs
  (five nodes, delays U(1, 30), 15% loss and duplication) through
  ``run_scenario`` with the trace recording everything (``detailed=True``, what
  lessons use) and without (``detailed=False``, what sweeps use).  Target:
  recorded / unrecorded <= 2.  Recording keeps the message objects; their JSON
  is made when asked — by ``summary()``'s trace digest, timed separately.
* **a growing log** — one node appends 10,000 entries, each in its own handler,
  each persisted with ``persist_append``; the time per append for the first and
  the second half must stay flat (linear total).  For contrast, the same with
  ``persist(log=self.log)`` of the whole list (a copy per call: quadratic).
* **a class of one's own** — the same recorded batch, and one of lossy Multi-Paxos runs
  (``multi-paxos-partition`` on seeds, 10% loss and duplication), with a subclass of the
  protocol's node that rewrites nothing: the runtime then reads each handler's state change
  for the notes the class may leave out (``DerivedNotes``), which the library's class is
  spared.  No target; the ratio is what a student's class pays for its diagrams.

    python benchmarks/recording.py            # 60 runs, 10000 appends
    python benchmarks/recording.py --runs 20 --appends 4000 --json
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import paxoslab as pl

SCENARIO = {
    "name": "lossy-three-proposers",
    "protocol": "basic-paxos",
    "nodes": ["S1", "S2", "S3", "S4", "S5"],
    "network": {"delay": {"uniform": [1, 30]}, "drop": 0.15, "duplicate": 0.15},
    "events": [{"at": 0, "propose": {"node": "S1", "value": "X"}},
               {"at": 0, "propose": {"node": "S3", "value": "Y"}},
               {"at": 0, "propose": {"node": "S5", "value": "Z"}}],
    "until": 2000,
}
TARGET_RECORDED = 2.0


def batch(runs: int, detailed: bool, scenario: dict | None = None, node_class: type | None = None
          ) -> tuple[float, float]:
    """Seconds for ``runs`` seeded runs, and for their summaries (which make the JSON)."""
    run = summarize = 0.0
    for seed in range(runs):
        start = time.perf_counter()
        result = pl.run_scenario(scenario or SCENARIO, seed=seed, detailed=detailed, node_class=node_class)
        middle = time.perf_counter()
        result.summary()
        run += middle - start
        summarize += time.perf_counter() - middle
    return run, summarize


class Appender(pl.Node):
    """Appends one entry per ``add`` call and persists it (the whole log if ``whole``)."""

    def __init__(self, node_id, cluster, options=None):
        super().__init__(node_id, cluster, options)
        self.log: list[tuple[int, str]] = []

    def add(self, entry: tuple[int, str], whole: bool) -> None:
        self.log.append(entry)
        if whole:
            self.persist(log=self.log)
        else:
            self.persist_append("log", entry)


def appends(count: int, whole: bool) -> tuple[float, float]:
    """Seconds for the first and the second half of ``count`` persisted appends (recorded)."""
    sim = pl.Simulation(["S1"], lambda n: Appender(n, ["S1"]))
    sim.start()
    halves = []
    for half in range(2):
        start = time.perf_counter()
        for i in range(half * count // 2, (half + 1) * count // 2):
            sim.invoke("S1", "add", (1, f"set k{i} {i}"), whole)
        halves.append(time.perf_counter() - start)
    assert len(sim.stable["S1"]["log"]) == count
    return halves[0], halves[1]


def own_class_ratios(runs: int, repeats: int) -> dict[str, float]:
    """Recorded seconds with a do-nothing subclass over those with the protocol's class."""
    from paxoslab.protocols import PROTOCOLS

    multi = pl.load_scenario("data/scenarios/multi-paxos-partition.json")
    multi["network"] = {**multi.get("network", {}), "drop": 0.1, "duplicate": 0.1}
    multi["expect"] = {}
    ratios = {}
    for protocol, scenario in (("basic-paxos", SCENARIO), ("multi-paxos", multi)):
        own = PROTOCOLS[protocol].core.node_class
        mine = type("Mine", (own,), {})
        library = min(batch(runs, True, scenario)[0] for _ in range(repeats))
        student = min(batch(runs, True, scenario, mine)[0] for _ in range(repeats))
        ratios[protocol] = student / library
    return ratios


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=60, help="Basic Paxos runs per batch")
    parser.add_argument("--appends", type=int, default=10_000, help="log entries appended")
    parser.add_argument("--repeats", type=int, default=3, help="best of this many (default 3)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)

    recorded, recorded_summary = min(batch(args.runs, True) for _ in range(args.repeats))
    bare, bare_summary = min(batch(args.runs, False) for _ in range(args.repeats))
    first, second = min((appends(args.appends, whole=False) for _ in range(args.repeats)),
                        key=sum)
    whole = appends(min(args.appends, 4000), whole=True)
    own = own_class_ratios(args.runs, args.repeats)
    out = {
        "runs": args.runs, "recorded_s": recorded, "unrecorded_s": bare,
        "recorded/unrecorded": recorded / bare, "target_at_most": TARGET_RECORDED,
        "recorded_summary_s": recorded_summary, "unrecorded_summary_s": bare_summary,
        "with_summary recorded/unrecorded": (recorded + recorded_summary) / (bare + bare_summary),
        "appends": args.appends, "append_s": first + second,
        "append_us_first_half": 2e6 * first / args.appends,
        "append_us_second_half": 2e6 * second / args.appends,
        "whole_list_persist_us_first_half": 2e6 * whole[0] / min(args.appends, 4000),
        "whole_list_persist_us_second_half": 2e6 * whole[1] / min(args.appends, 4000),
        "own_class/library_class": own,
    }
    if args.json:
        print(json.dumps(out))
        return 0
    verdict = "met" if out["recorded/unrecorded"] <= TARGET_RECORDED else "NOT met"
    print(f"lossy 3-proposer Basic Paxos, {args.runs} runs: recorded {recorded:.2f} s, "
          f"unrecorded {bare:.2f} s, ratio {out['recorded/unrecorded']:.2f} "
          f"(target <= {TARGET_RECORDED:g}: {verdict})")
    print(f"  + summary(): recorded {recorded_summary:.2f} s (trace digest = every event as "
          f"JSON), unrecorded {bare_summary:.2f} s; ratio with summaries "
          f"{out['with_summary recorded/unrecorded']:.2f}")
    print(f"persist_append x {args.appends}: {out['append_s']:.2f} s, "
          f"{out['append_us_first_half']:.1f} us/append in the first half, "
          f"{out['append_us_second_half']:.1f} in the second (flat = linear)")
    print(f"persist(log=whole list) x {min(args.appends, 4000)}: "
          f"{out['whole_list_persist_us_first_half']:.1f} -> "
          f"{out['whole_list_persist_us_second_half']:.1f} us per call (grows with the log)")
    print("a subclass that rewrites nothing, recorded runs (its notes read off its state): "
          + ", ".join(f"{protocol} {ratio:.2f}x the library's class" for protocol, ratio in own.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
