"""How fast the search is: states per second, and the targets of DESIGN §5.

* the bug-free configuration (``data/scenarios/search-basic-paxos.json``: three
  nodes, two proposers, one ballot each, a lossy network, a crash and a
  recovery) searched to completion — target <= 30 s;
* each of the four Basic Paxos bugs (``search-<bug>.json``) found with a
  shortest counterexample — target <= 20 s each;
* with ``--without-bugs``, each of those scenarios with its bug switched off,
  searched to completion with no violation (held to the 30 s of the first);
* the same with *default options* (``learn_retry`` on: every node that took part asks
  what was chosen; the re-send bound of the search applies) — target <= 30 s;
* the Raft paper's Figure 8 (``multi-paxos-figure-8.json``: the script names who times
  out, crashes and recovers and when the network splits, not the order of deliveries)
  found by BFS with a shortest counterexample — target <= 30 s;
* Multi-Paxos (``multi-paxos-search-<bug>.json``: three servers whose elections,
  client commands, crashes and recoveries are scenario actions, up to three terms
  per server): each bug found by BFS with a shortest counterexample — target
  <= 30 s; with ``--random``, by seeded random walks — target <= 10 s; with
  ``--without-bugs``, the same configuration without the bug exhausted clean —
  target <= 60 s and <= 1 GB of peak memory (the process's, so run one at a time
  with ``--only`` to read each search's own).

Each search has a budget (``--max-seconds``); one that runs out is reported as
such, with how far it got.  Run it on an idle machine: the figures are seconds
on one core.

    python benchmarks/search.py                 # every scenario, 120 s budget each
    python benchmarks/search.py --only search-accept-below-promise --json
    python benchmarks/search.py --unreduced     # the same without the reductions
    python benchmarks/search.py --levels        # and how many new worlds each depth adds
    python benchmarks/search.py --without-bugs  # each bug scenario with its bug off, to exhaust
    python benchmarks/search.py --random        # the bug scenarios by random walks (seed 0)
    python benchmarks/search.py --subclass same # a student's class: rewrites nothing ("same"),
                                                # only when things happen ("timing"), or a rule
                                                # to what it was ("rule": the search cannot tell)
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
from pathlib import Path

import paxoslab as pl
from paxoslab.protocols import PROTOCOLS

ROOT = Path(__file__).resolve().parent.parent / "data" / "scenarios"
CASES = {
    "search-basic-paxos": 30.0,
    "search-basic-paxos (default options)": 30.0,
    "search-promise-omits-accepted": 20.0,
    "search-accept-below-promise": 20.0,
    "search-proposer-ignores-accepted": 20.0,
    "search-acceptor-forgets-on-crash": 20.0,
    "multi-paxos-search-vote-twice-in-term": 30.0,
    "multi-paxos-search-vote-forgotten-on-crash": 30.0,
    "multi-paxos-search-vote-without-log-check": 30.0,
    "multi-paxos-search-append-without-consistency-check": 30.0,
    "multi-paxos-search-commit-old-term-by-count": 30.0,
    "multi-paxos-figure-8": 30.0,
}
#: a case's scenario is a file's with changed options: name -> (file, options to set)
VARIANTS = {"search-basic-paxos (default options)": ("search-basic-paxos", {"learn_retry": 50})}
#: terms (ballots) each server may start: the bug scenarios need up to three elections of one server
MAX_BALLOTS = {name: 3 for name in CASES if name.startswith("multi-paxos")}
#: the bug-free Multi-Paxos configurations: exhausted within this, and within 1 GB
MULTI_PAXOS_CLEAN = 60.0
#: random walks find each bug within this
RANDOM = 10.0
#: targets for breadth-first search only: random walks need about 900,000 steps (over a
#: minute) to stumble on Figure 8's 28-step interleaving, which BFS finds in seconds
BFS_ONLY = {"multi-paxos-figure-8"}


def student_class(protocol: str, kind: str) -> type:
    """A subclass of the protocol's node as a student writes one (see ``--subclass``)."""
    own = PROTOCOLS[protocol].core.node_class
    timing, rule = {"basic-paxos": ("backoff_delay", "may_accept"),
                    "multi-paxos": ("election_delay", "decide_commit")}[protocol]
    name = {"same": None, "timing": timing, "rule": rule}[kind]
    body = {} if name is None else {name: lambda self, *args: getattr(own, name)(self, *args)}
    return type(f"Student{kind.title()}", (own,), body)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-seconds", type=float, default=120.0, help="budget per search")
    parser.add_argument("--only", action="append", help="run only this scenario (repeatable)")
    parser.add_argument("--json", action="store_true", help="print one JSON object per line")
    parser.add_argument("--unreduced", action="store_true",
                        help="search without the reductions (search(reduce=False)), to compare")
    parser.add_argument("--without-bugs", action="store_true",
                        help="search each bug scenario with its bug off, to completion")
    parser.add_argument("--random", action="store_true",
                        help="search each bug scenario by seeded random walks (seed 0)")
    parser.add_argument("--subclass", choices=("same", "timing", "rule"),
                        help="search with a subclass of the protocol's node (see above)")
    parser.add_argument("--levels", action="store_true",
                        help="also print how many new worlds each depth added (how the space grows)")
    args = parser.parse_args(argv)
    for name, target in CASES.items():
        if args.only and name not in args.only:
            continue
        file, changed = VARIANTS.get(name, (name, {}))
        scenario = pl.load_scenario(ROOT / f"{file}.json")
        scenario["options"].update(changed)
        buggy = bool(scenario["options"]["bugs"])
        multi = name in MAX_BALLOTS
        if args.without_bugs:
            if not buggy:
                continue
            scenario["options"]["bugs"], buggy = [], False
            scenario["name"] = name = f"{name} without the bug"
            target = MULTI_PAXOS_CLEAN if multi else CASES["search-basic-paxos"]
        strategy = "bfs"
        if args.random:
            if not buggy or name in BFS_ONLY:
                continue
            strategy, target = "random", RANDOM
        node_class = student_class(scenario["protocol"], args.subclass) if args.subclass else None
        result = pl.search(scenario, strategy=strategy, max_seconds=args.max_seconds, progress=False,
                           reduce=not args.unreduced, max_ballots=MAX_BALLOTS.get(name.split(" ")[0], 1),
                           node_class=node_class)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # MB, so far in this process
        steps = (len(result.counterexample.scenario["schedule"])
                 if result.counterexample is not None else None)
        # a bug must be found; a bug-free space exhausted with no violation (a goal may stay
        # unreached: Figure 8 with the rule on commits nothing, as the lesson shows)
        found = result.counterexample is not None
        done = found if buggy else result.complete and not found
        row = {
            "scenario": name, "reduced": not args.unreduced, "subclass": args.subclass, "ok": result.ok,
            "property": result.property,
            "states": result.states, "transitions": result.transitions,
            "seconds": round(result.seconds, 2), "complete": result.complete,
            "counterexample_steps": steps,
            "states_per_second": round(result.states / max(result.seconds, 1e-9)),
            "target_seconds": target, "peak_mb": round(peak),
            "target_met": done and result.seconds <= target and (not multi or buggy or peak <= 1024),
            "worlds_per_depth": result.worlds_per_depth,
        }
        if args.json:
            print(json.dumps(row))
            continue
        what = (f"violation of {result.property} in {steps} steps" if steps
                else "exhausted, no violation, every goal reached" if result.complete and result.ok
                else f"exhausted, but goal '{result.property}' never reached" if result.complete
                else f"budget of {args.max_seconds:g} s ran out at depth {result.depth}")
        verdict = "met" if row["target_met"] else "NOT met"
        label = (name + (" (unreduced)" if args.unreduced else "") + (" (random)" if args.random else "")
                 + (f" ({args.subclass} subclass)" if args.subclass else ""))
        memory = f", peak {peak:,.0f} MB" if multi else ""
        print(f"{label:<46} {what}; {result.states:,} states, {result.transitions:,} transitions, "
              f"{result.seconds:.1f} s, {row['states_per_second']:,} states/s{memory} "
              f"(target <= {target:g} s{' and 1 GB' if multi and not buggy else ''}: {verdict})")
        if args.levels:
            growth = [f"{d}:{n:,}" for d, n in enumerate(result.worlds_per_depth)]
            print(f"{'':<46} new worlds per depth  {'  '.join(growth)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
