"""Exercise 03, question 2: back-off policies measured on the check's three duels, and a search
for a duel in which a growing wait without randomness stays stuck.

``table`` (the default): each policy of the table beside :data:`paxoslab.homework.proposer.DUEL_THRESHOLD`
(the reference, its variants and the usual mistakes) on each of
:data:`~paxoslab.homework.proposer.DUELS` over seeds 0-29: in how many runs a value was chosen
(in the last duel, within its 200 ms) and the median time until chosen, then the check's
verdict and how long the check took.

``scan``: random three-or-so-proposer duels with fixed per-link delays (every message of a
link takes one time), in three families: ``delays`` (per-link delays, symmetric, asymmetric
or from points in a plane, 2-5 proposers starting together or staggered), ``cuts`` (the same
with one to four links cut) and ``crashes`` (with one to three nodes crashing, most of them
recovering).  Each runs once with each growing wait without randomness (doubling from 10 ms,
capped at 2 s or not; 100 ms times the failures; doubling plus 7 ms), which runs the same on
every seed.  Where one of them gets no value chosen by t=60 s, the reference runs on seeds
0-29; where it chooses a value in at least 27 of them, the duel is reported (the reference did
better) and that policy runs on to t=600 s: *slow* if a value is chosen by then, *no proposer*
if scripted crashes took every proposer down first (a recovered node does not propose again),
else *stuck*.  The totals are compared with :data:`paxoslab.homework.proposer.SCAN`, which
exercise 03's closing section quotes.

    python benchmarks/backoff_duels.py                 # the table (about 30 s)
    python benchmarks/backoff_duels.py scan            # 2,000 duels per family (a few minutes)
    python benchmarks/backoff_duels.py scan -n 200 --family cuts
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from paxoslab.experiments import sweep  # noqa: E402
from paxoslab.homework import proposer  # noqa: E402
from paxoslab.homework.paths import SCENARIOS  # noqa: E402
from paxoslab.runner import run_scenario  # noqa: E402

WINDOW = "min(10 * 2 ** (failures - 1), 2000)"
#: name -> the body of ``backoff_delay(failures, rng)``'s return
POLICIES = {
    "reference": f"rng.uniform(0, {WINDOW})",
    "base 5 ms": "rng.uniform(0, min(5 * 2 ** (failures - 1), 2000))",
    "base 20 ms": "rng.uniform(0, min(20 * 2 ** (failures - 1), 2000))",
    "base 50 ms": "rng.uniform(0, min(50 * 2 ** (failures - 1), 2000))",
    "cap 1000 ms": "rng.uniform(0, min(10 * 2 ** (failures - 1), 1000))",
    "cap 5000 ms": "rng.uniform(0, min(10 * 2 ** (failures - 1), 5000))",
    "uniform(w/2, w)": f"rng.uniform({WINDOW} / 2, {WINDOW})",
    "expovariate(1/w)": f"rng.expovariate(1 / {WINDOW})",
    "no wait": "0",
    **{f"fixed {w}": str(w) for w in (10, 50, 120, 130, 200, 500, 520, 1000, 2000, 5000)},
    **{f"uniform(0, {w})": f"rng.uniform(0, {w})" for w in (10, 120, 150, 200, 600, 800, 1500, 3000, 6000)},
    "doubling, capped": WINDOW,
    "doubling": "10 * 2 ** (failures - 1)",
    "100 * failures": "100 * failures",
    "doubling + 7": f"{WINDOW} + 7",
}
#: the growing waits without randomness the scan tries
DETERMINISTIC = ("doubling, capped", "doubling", "100 * failures", "doubling + 7")
NODES = ["S1", "S2", "S3", "S4", "S5"]
#: how far (ms) a duel in which a growing wait chose nothing by t=60 s is run on with it
RUN_ON = 600_000


def policy(body: str):
    return eval(f"lambda failures, rng: {body}", {})  # noqa: S307 - the table's own expressions


def measure(scenario: dict, fn, seeds=range(30)) -> tuple[int, float | None]:
    """As the check's sweep: (runs with a value chosen, their median time until chosen)."""
    cls = proposer.EXERCISE.node_class({"backoff_delay": fn})
    random.seed(0)
    table = sweep(scenario, seeds=list(seeds), node_class=cls, progress=False, on_error="row")
    times = table["decided_at"].dropna()
    return len(times), (float(times.median()) if len(times) else None)


def table() -> list[dict]:
    duels = [json.loads((SCENARIOS / d.file).read_text()) for d in proposer.DUELS]
    rows = []
    for name, body in POLICIES.items():
        row: dict = {"policy": name, "code": body}
        for duel in duels:
            if name == "no wait" and duel["name"] == "homework-proposer-duel-lan":
                row[duel["name"]] = None  # a livelock on a 1 ms network: millions of messages
                continue
            row[duel["name"]] = measure(duel, policy(body))
        space: dict = {}
        exec(f"def backoff_delay(failures, rng):\n    return {body}\n", space)  # noqa: S102
        _, q2 = proposer.bind(space)
        verdict = q2.evaluate()
        row.update(verdict=verdict.status, property=verdict.property, seconds=round(verdict.seconds, 2))
        rows.append(row)
    return rows


# ---- the scan --------------------------------------------------------------------------------
def duel(rng: random.Random, family: str) -> dict:
    """One random duel of ``family`` (delays, cuts, crashes)."""
    hi = rng.choice([3, 5, 20, 100, 250, 500, 1000])
    shape = rng.choice(["symmetric", "asymmetric", "plane"])
    if shape == "plane":
        at = {n: (rng.random(), rng.random()) for n in NODES}
        delay = {(a, b): 1 + int((hi - 1) * math.dist(at[a], at[b]) / math.sqrt(2))
                 for a in NODES for b in NODES}
    else:
        delay = {(a, b): rng.randint(1, hi) for a in NODES for b in NODES}
        if shape == "symmetric":
            delay.update({(b, a): d for (a, b), d in list(delay.items()) if a < b})
    delay.update({(a, a): 0 for a in NODES})
    rules = [{"from": a, "to": b, "delay": {"fixed": d}} for (a, b), d in delay.items()]
    k = rng.choice([2, 3, 3, 4, 5])
    proposers = rng.sample(NODES, k)
    starts = [0] * k if rng.random() < 0.4 else [rng.randint(0, 2 * hi) for _ in range(k)]
    events = [{"at": t, "propose": {"node": p, "value": "V" + p}}
              for p, t in zip(proposers, starts, strict=True)]
    if family == "cuts":
        cut = [rng.sample(NODES, 2) for _ in range(rng.randint(1, 4))]
        rules = [{"from": a, "to": b, "drop": True} for a, b in cut] + rules
    if family == "crashes":
        for _ in range(rng.randint(1, 3)):
            node, at = rng.choice(NODES), round(rng.uniform(0, 6 * hi), 1)
            events.append({"at": at, "crash": node})
            if rng.random() < 0.6:
                events.append({"at": round(at + rng.uniform(0, 10 * hi), 1), "recover": node})
        events.sort(key=lambda e: e["at"])
    return {"name": f"scan-{family}", "protocol": "basic-paxos", "nodes": NODES, "seed": 0,
            "network": {"delay": {"fixed": 1}, "rules": rules},
            "options": {"learn_retry": None, "proposal_timeout": int(2.4 * max(delay.values())) + 1},
            "events": events, "until": 60_000, "expect": {}}


def run_on(data: dict, cls) -> dict:
    """A duel in which a policy chose nothing by t=60 s, run on to :data:`RUN_ON` ms with it: *slow*
    if a value is chosen by then, *no proposer* if the run ends with nobody trying (scripted
    crashes took every proposer down; a recovered node does not propose again), else *stuck*."""
    result = run_scenario({**data, "until": RUN_ON}, node_class=cls, max_handler_seconds=None)
    s = result.summary()
    if s["decided_at"] is not None:
        return {"outcome": "slow", "chosen_at": s["decided_at"]}
    return {"outcome": "stuck" if s["livelocked"] else "no proposer", "ended_at": result.end_time}


def scan(family: str, n: int, seed: int) -> dict:
    rng = random.Random(seed)
    growing = {name: policy(POLICIES[name]) for name in DETERMINISTIC}
    classes = {name: proposer.EXERCISE.node_class({"backoff_delay": fn}) for name, fn in growing.items()}
    flagged, better = [], []
    for i in range(n):
        data = duel(rng, family)
        chosen = {name: run_scenario(data, node_class=cls, max_handler_seconds=None).summary()["decided_at"]
                  for name, cls in classes.items()}
        if all(t is not None for t in chosen.values()):
            continue
        reference, _ = measure(data, policy(POLICIES["reference"]))
        entry = {"duel": i, "none by 60 s": [k for k, t in chosen.items() if t is None],
                 "reference": reference}
        flagged.append(entry)
        if reference >= proposer.DUEL_THRESHOLD:
            entry["run on"] = {k: run_on(data, classes[k]) for k in entry["none by 60 s"]}
            better.append({**entry, "scenario": data})
    outcomes = [o["outcome"] for e in better for o in e["run on"].values()]
    return {"family": family, "duels": n, "seed": seed, "a growing wait chose nothing": len(flagged),
            "reference in >= 27 of 30 of those": len(better),
            "reference counts": sorted(e["reference"] for e in flagged),
            **{outcome: outcomes.count(outcome) for outcome in ("slow", "no proposer", "stuck")},
            "slow, chosen at": [o["chosen_at"] for e in better for o in e["run on"].values()
                                if o["outcome"] == "slow"],
            "reference better": better}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", nargs="?", choices=("table", "scan"), default="table")
    parser.add_argument("-n", type=int, default=2000, help="duels per family (scan)")
    parser.add_argument("--family", choices=("delays", "cuts", "crashes"), action="append")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.what == "table":
        rows = table()
        if args.json:
            print(json.dumps(rows, indent=1))
            return 0
        names = [d.file.removesuffix(".json") for d in proposer.DUELS]
        print(f"{'policy':18s} " + " ".join(f"{n.removeprefix('homework-proposer-'):>18s}" for n in names)
              + "  verdict")
        for row in rows:
            cells = []
            for n in names:
                cell = row[n]
                cells.append("--" if cell is None else
                             f"{cell[0]:2d} {'' if cell[1] is None else f'{cell[1]:.1f} ms'}")
            print(f"{row['policy']:18s} " + " ".join(f"{c:>18s}" for c in cells)
                  + f"  {row['verdict']} {row['property'] or ''} ({row['seconds']} s)")
        return 0
    found = [scan(family, args.n, args.seed) for family in args.family or ("delays", "cuts", "crashes")]
    for f in found:
        if args.json:
            print(json.dumps(f))
            continue
        print(f"{f['family']}: {f['duels']} duels (seed {f['seed']}); a growing wait without randomness "
              f"chose nothing by 60 s in {f['a growing wait chose nothing']}, the reference in >= 27 of 30 "
              f"runs of {f['reference in >= 27 of 30 of those']} of those (its counts there: "
              f"{f['reference counts']}); run on to {RUN_ON / 1000:g} s: {f['slow']} slow "
              f"(chosen at {f['slow, chosen at']} ms), {f['no proposer']} with no proposer left, "
              f"{f['stuck']} stuck")
        for entry in f["reference better"]:
            shown = {k: v for k, v in entry.items() if k != "scenario"}
            print("  the reference did better:", json.dumps(shown))
    if not args.json:
        total = {"duels": sum(f["duels"] for f in found), "seed": args.seed,
                 "reference_better": sum(f["reference in >= 27 of 30 of those"] for f in found),
                 "slow": sum(f["slow"] for f in found), "no_proposer": sum(f["no proposer"] for f in found),
                 "stuck": sum(f["stuck"] for f in found)}
        recorded = {k: proposer.SCAN[k] for k in total}
        same = "the same as" if total == recorded else "NOT the same as"
        print(f"in all: {total}, {same} what exercise 03's closing section says "
              f"(paxoslab.homework.proposer.SCAN: {recorded})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
