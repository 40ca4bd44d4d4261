"""Lesson 06's Figure 8 scenarios do what the lesson says of them."""

from __future__ import annotations

from pathlib import Path

import pytest

import paxoslab as pl

SCENARIOS = Path(__file__).resolve().parent.parent / "data" / "scenarios"
FIGURE_8 = ["multi-paxos-figure-8", "multi-paxos-figure-8-safe", "multi-paxos-figure-8-crashes-only"]


def scenario(name: str) -> str:
    return str(SCENARIOS / f"{name}.json")


@pytest.mark.parametrize("name", FIGURE_8)
def test_a_timed_run_stays_safe(name):
    # the timing is the script's: only a search finds the order that breaks the bug's scenarios
    summary = pl.run_scenario(scenario(name)).summary()
    assert summary["expect"]["ok"] and summary["violations"] == []


def test_random_walks_find_figure_8_with_the_bug_and_it_replays():
    result = pl.search(scenario("multi-paxos-figure-8"), strategy="random", max_ballots=3, seed=0,
                       max_states=20_000, progress=False)
    assert result.property == "leader-completeness"
    replayed = pl.run_scenario(result.counterexample.scenario).summary()["violations"]
    assert "leader-completeness" in {v["property"] for v in replayed}


def test_the_same_walks_find_nothing_with_the_rule_on():
    result = pl.search(scenario("multi-paxos-figure-8-safe"), strategy="random", max_ballots=3, seed=0,
                       max_states=5_000, progress=False)
    assert result.ok and result.stopped == "max_states"


def test_the_timed_run_applies_an_entry_that_was_never_committed():
    # section 4: with the bug, a commit index covers 'set x 1' (and servers apply it) although it
    # is never committed; a later leader lacks it, and 'set x 2' is applied at the same index
    summary = pl.run_scenario(scenario("multi-paxos-bug-commit-old-term-by-count")).summary()
    first = summary["commands"][0]
    assert first["command"] == "set x 1" and not first["committed"]
    assert first["known_committed_at"] is not None and "S1" in first["applied_on"]
    properties = [v["property"] for v in summary["violations"]]
    assert properties[:2] == ["leader-completeness", "state-machine-safety"]
