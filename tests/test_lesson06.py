"""Lesson 06's Figure 8 scenarios do what the lesson and their descriptions say of them."""

from __future__ import annotations

from pathlib import Path

import pytest

import paxoslab as pl

SCENARIOS = Path(__file__).resolve().parent.parent / "data" / "scenarios"
FIGURE_8 = ["multi-paxos-figure-8", "multi-paxos-figure-8-safe", "multi-paxos-figure-8-crashes-only"]
BUG = "commit-old-term-by-count"


def scenario(name: str) -> str:
    return str(SCENARIOS / f"{name}.json")


def step(kind: str, n: int, src: str = "", dst: str = "", msg: str = "") -> dict:
    return {"action": n} if kind == "action" else {"deliver": n, "from": src, "to": dst, "type": msg}


@pytest.mark.parametrize("name", FIGURE_8)
def test_a_timed_run_stays_safe(name):
    # the timing is the script's: only a search finds the order that breaks the bug's scenarios
    summary = pl.run_scenario(scenario(name)).summary()
    assert summary["expect"]["ok"] and summary["violations"] == []


def test_the_three_scripts_are_one_story():
    # -safe is the same script without the bug; -crashes-only crashes S1 where the others cut it off
    main, safe, crashes = (pl.load_scenario(scenario(name)) for name in FIGURE_8)
    assert safe["events"] == main["events"] and safe["options"] == {**main["options"], "bugs": []}
    assert main["options"]["bugs"] == crashes["options"]["bugs"] == [BUG]
    assert not main["options"]["noop"] and not crashes["options"]["noop"]
    kept = [e for e in main["events"] if not {"partition", "heal"} & e.keys()]
    assert [{k: v for k, v in e.items() if k != "at"} for e in kept] == [
        {k: v for k, v in e.items() if k != "at"} for e in crashes["events"]
        if e not in ({"at": 20, "crash": "S1"}, {"at": 60, "recover": "S1"})]


def test_breadth_first_search_finds_figure_8_with_the_bug_and_it_replays():
    result = pl.search(scenario("multi-paxos-figure-8"), max_ballots=3, progress=False)
    assert result.property == "leader-completeness" and result.depth == 28
    assert len(result.counterexample.scenario["schedule"]) == 28
    replayed = pl.run_scenario(result.counterexample.scenario).summary()["violations"]
    assert "leader-completeness" in {v["property"] for v in replayed}


def test_breadth_first_search_exhausts_it_with_the_rule_on_and_nothing_can_be_applied():
    # section 4.2: no violation in any order; no leader has an entry of its own term to count
    result = pl.search(scenario("multi-paxos-figure-8-safe"), max_ballots=3, progress=False)
    assert result.complete and result.stopped == "complete" and result.counterexample is None
    assert result.goals == {"a leader can be elected": True, "a command can be applied": False}
    assert result.property == "a command can be applied" and not result.ok


def test_with_the_noop_the_bug_changes_nothing_within_a_bound():
    # section 4.3: bug on and bug off, with the no-op, reach the same worlds (cut down from the lesson's)
    base = pl.load_scenario(scenario("multi-paxos-figure-8"))
    found = []
    for bugs in ([BUG], []):
        searched = dict(base, options={**base["options"], "noop": True, "bugs": bugs})
        result = pl.search(searched, max_ballots=3, max_states=3_000, progress=False)
        assert result.ok and result.stopped == "max_states"
        found.append((result.states, result.transitions, result.depth, result.worlds_per_depth))
    assert found[0] == found[1]


def test_the_crashes_only_variant_has_the_counterexample_its_description_names():
    # 27 steps: S1's crash and recovery in place of the partitions; replayed, it breaks leader completeness
    data = pl.load_scenario(scenario("multi-paxos-figure-8-crashes-only"))
    rv, rvr, ae, aer = "RequestVote", "RequestVoteReply", "AppendEntries", "AppendEntriesReply"
    schedule = [
        step("action", 0), step("deliver", 1, "S1", "S5", rv), step("deliver", 2, "S5", "S1", rvr),
        step("action", 1), step("action", 2), step("action", 3), step("deliver", 8, "S5", "S3", rv),
        step("deliver", 9, "S3", "S5", rvr), step("action", 4), step("action", 5), step("action", 6),
        step("deliver", 0, "S1", "S3", rv), step("deliver", 14, "S3", "S1", rvr), step("action", 7),
        step("deliver", 15, "S1", "S3", rv), step("deliver", 3, "S1", "S3", ae),
        step("deliver", 17, "S3", "S1", rvr), step("deliver", 18, "S3", "S1", aer),
        step("deliver", 21, "S1", "S3", ae), step("deliver", 22, "S3", "S1", aer), step("action", 8),
        step("deliver", 11, "S5", "S3", ae), step("action", 9), step("deliver", 25, "S3", "S5", aer),
        step("action", 10), step("deliver", 27, "S5", "S3", rv), step("deliver", 28, "S3", "S5", rvr),
    ]
    assert len(schedule) == 27 and "27-step counterexample exists" in data["description"]
    violations = pl.run_scenario(dict(data, schedule=schedule)).summary()["violations"]
    assert [v["property"] for v in violations] == ["leader-completeness"]
    assert violations[0]["detail"].startswith("S5 leads term 4 without #1 (term 1) 'set x 1'")


def test_the_timed_run_applies_an_entry_that_was_never_committed():
    # section 4: with the bug, a commit index covers 'set x 1' (and servers apply it) although it
    # is never committed; a later leader lacks it, and 'set x 2' is applied at the same index
    summary = pl.run_scenario(scenario("multi-paxos-bug-commit-old-term-by-count")).summary()
    first = summary["commands"][0]
    assert first["command"] == "set x 1" and not first["committed"]
    assert first["known_committed_at"] is not None and "S1" in first["applied_on"]
    properties = [v["property"] for v in summary["violations"]]
    assert properties[:2] == ["leader-completeness", "state-machine-safety"]
