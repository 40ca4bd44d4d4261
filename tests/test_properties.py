"""Properties over many generated runs.

1. Basic Paxos keeps agreement and validity whatever the network and the
   faults do (Hypothesis, 1,000 runs, derandomized so CI sees the same runs).
2. Every injected bug is caught by the checks in a seeded sweep, while the
   correct protocol passes the very same sweep.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st

import paxoslab as pl
from paxoslab.protocols.basic_paxos import BUGS

VALUES = ("X", "Y", "Z")

delays = st.one_of(
    st.builds(lambda d: {"fixed": d}, st.floats(0.2, 4, allow_nan=False)),
    st.builds(lambda lo, span: {"uniform": [lo, lo + span]},
              st.floats(0, 2, allow_nan=False), st.floats(0.1, 5, allow_nan=False)),
    st.builds(lambda m: {"exponential": m}, st.floats(0.2, 4, allow_nan=False)),
)
probabilities = st.one_of(st.just(0.0), st.floats(0, 0.4, allow_nan=False))
times = st.floats(0, 12, allow_nan=False)


@st.composite
def paxos_scenarios(draw):
    n = draw(st.integers(3, 5))
    nodes = [f"S{i}" for i in range(1, n + 1)]
    node = st.sampled_from(nodes)
    events = []
    for _ in range(draw(st.integers(1, 3)) if draw(st.integers(0, 3)) else 1):
        propose = {"node": draw(node), "value": draw(st.sampled_from(VALUES))}
        if draw(st.booleans()):
            propose["round"] = draw(st.integers(1, 5))
        events.append({"at": draw(times), "propose": propose})
    for _ in range(draw(st.integers(0, 3))):
        victim, down_at = draw(node), draw(times)
        events.append({"at": down_at, "crash": victim})
        if draw(st.integers(0, 4)):  # mostly comes back
            events.append({"at": down_at + draw(st.floats(0, 20, allow_nan=False)),
                           "recover": victim})
    if draw(st.integers(0, 3)) == 0:
        cut = draw(st.lists(node, min_size=1, max_size=n - 1, unique=True))
        start = draw(times)
        events.append({"at": start, "partition": [cut]})
        events.append({"at": start + draw(st.floats(0, 30, allow_nan=False)), "heal": True})
    rules = []
    for _ in range(draw(st.integers(0, 3))):  # slow or cut links, as the course's figures do
        rule = {"from": draw(node), "to": draw(st.lists(node, min_size=1, max_size=2, unique=True))}
        if draw(st.booleans()):
            rule["type"] = draw(st.sampled_from(["Prepare", "Promise", "Accept", "Accepted"]))
        if draw(st.booleans()):
            rule["drop"] = True
        else:
            rule["delay"] = draw(delays)
        rules.append(rule)
    return {
        "name": "property", "protocol": "basic-paxos", "nodes": nodes,
        "network": {"delay": draw(delays), "drop": draw(probabilities),
                    "duplicate": draw(probabilities), "rules": rules},
        "options": {"proposal_timeout": draw(st.sampled_from([10, 20])),
                    "backoff": {"base": 1, "jitter": draw(st.sampled_from([0, 2, 4]))}},
        "events": events,
        "until": 120,
    }


@settings(max_examples=1000, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(data=paxos_scenarios(), seed=st.integers(0, 2**32 - 1))
def test_basic_paxos_keeps_agreement_and_validity(data, seed):
    summary = pl.run_scenario(data, seed=seed, detailed=False).summary()
    assert summary["violations"] == []
    proposed = {e["propose"]["value"] for e in data["events"] if "propose" in e}
    learned = {v for v in summary["learned"].values() if v is not None}
    assert len(learned) <= 1
    assert learned <= proposed
    # a node learns only the value that was chosen (chosen may come without anyone learning)
    assert learned <= {summary["decided"]}
    if summary["decided"] is not None:
        assert summary["decided_at"] <= min(
            (t for t in summary["learned_at"].values() if t is not None), default=float("inf"))


@pytest.mark.parametrize("bug", ["promise-omits-accepted", "proposer-ignores-accepted"])
def test_the_generated_runs_can_catch_a_bug(bug):
    """The property above is not vacuous: the same generator finds a broken run."""

    def broken(args):
        data, seed = args
        data = {**data, "options": {**data["options"], "bugs": [bug]}}
        return bool(pl.run_scenario(data, seed=seed, detailed=False).summary()["violations"])

    find(st.tuples(paxos_scenarios(), st.integers(0, 2**32 - 1)), broken,
         settings=settings(max_examples=1000, deadline=None, derandomize=True, database=None,
                           phases=[Phase.generate]))


# ---- every bug is caught by a sweep --------------------------------------------------------
def sweep_scenario(i: int, bugs=()) -> dict:
    """The classic five-node set-up (S1 cannot reach S4, S5; S5 cannot reach S1, S2) with a
    random network, a random start for S5 and, half the time, a crash of S3."""
    r = random.Random(i)
    events = [{"at": 0, "propose": {"node": "S1", "value": "X"}},
              {"at": round(r.uniform(0, 10), 2), "propose": {"node": "S5", "value": "Y"}}]
    if r.random() < 0.5:
        down = round(r.uniform(1, 8), 2)
        events += [{"at": down, "crash": "S3"},
                   {"at": round(down + r.uniform(0.1, 2), 2), "recover": "S3"}]
    return {
        "name": f"sweep-{i}", "protocol": "basic-paxos", "nodes": ["S1", "S2", "S3", "S4", "S5"],
        "seed": i,
        "network": {"delay": {"uniform": [0.5, 4]},
                    "rules": [{"from": "S1", "to": ["S4", "S5"], "drop": True},
                              {"from": "S5", "to": ["S1", "S2"], "drop": True}]},
        "options": {"bugs": list(bugs)},
        "events": events,
        "until": 100,
    }


SWEEP = range(150)


def caught(bugs) -> list[int]:
    return [i for i in SWEEP
            if pl.run_scenario(sweep_scenario(i, bugs), detailed=False).summary()["violations"]]


def test_correct_protocol_passes_the_bug_sweep():
    assert caught([]) == []


@pytest.mark.parametrize("bug", sorted(BUGS))
def test_each_bug_is_caught_by_the_sweep(bug):
    hits = caught([bug])
    assert hits, f"{bug} went unnoticed in {len(SWEEP)} runs"


def test_the_sweep_exercises_each_bug_more_than_once():
    """A guard against a sweep that only catches a bug by luck."""
    for bug in sorted(BUGS):
        assert len(caught([bug])) >= 3, bug
