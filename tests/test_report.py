"""The text report the CLI and the lessons print."""

from __future__ import annotations

import paxoslab as pl
from paxoslab.report import describe, narrate


def paxos_summary(**changes):
    summary = {
        "scenario": "s", "protocol": "basic-paxos", "seed": 0, "end_time": 4.0,
        "messages": {"sent": 3, "delivered": 2, "dropped": 1, "by_type": {"Prepare": 3}},
        "violations": [], "learned": {"S1": "X", "S2": None},
        "learned_at": {"S1": 4.0, "S2": None}, "decided": "X",
        "ballots": ["1.1", "2.1"], "decided_at": 3.5, "expect": {"ok": True, "failed": []},
        "digest": "ab",
    }
    summary.update(changes)
    return summary


def test_basic_paxos_report_lines():
    assert describe(paxos_summary()).splitlines() == [
        "s  (basic-paxos, seed 0, ran to t=4)",
        "messages   3 sent, 2 delivered, 1 dropped  (Prepare 3)",
        "decided    X  (chosen at t=3.5)",
        "learned    S1=X (t=4)  S2=-",
        "ballots    1.1, 2.1",
        "violations none",
        "expect     ok",
    ]


def test_nothing_decided_nothing_sent():
    text = describe(paxos_summary(
        decided=None, decided_at=None, ballots=[], learned={"S1": None}, learned_at={"S1": None},
        messages={"sent": 0, "delivered": 0, "dropped": 0, "by_type": {}}))
    lines = text.splitlines()
    assert lines[1] == "messages   0 sent, 0 delivered, 0 dropped"
    assert "decided    -" in lines
    assert "ballots    -" in lines


def test_violations_and_failed_expectations_are_spelled_out():
    text = describe(paxos_summary(
        violations=[{"property": "agreement", "time": 7.0, "detail": "S3 learned Y"}],
        expect={"ok": False, "failed": [{"key": "decided", "expected": "X", "actual": None},
                                        {"key": "ballots", "expected": ["1.1"],
                                         "actual": ["1.1", "2.1"]}]}))
    lines = text.splitlines()
    assert "violations 1" in lines
    assert "  t=7 agreement: S3 learned Y" in lines
    assert "expect     FAILED" in lines
    assert "  decided: expected X, got -" in lines
    assert '  ballots: expected ["1.1"], got ["1.1", "2.1"]' in lines


def test_smr_report_shows_state_per_replica(scenario):
    result = pl.run_scenario(scenario("smr-nondeterministic"))
    text = result.describe()
    assert text.splitlines()[0].startswith("smr-nondeterministic  (smr, seed 0")
    assert "state" in text.splitlines()
    for node in ("S1", "S2", "S3"):
        assert any(line.startswith(f"  {node}") and '"x": "3"' in line
                   for line in text.splitlines())
    assert "consistent no" in text
    assert "replica-consistency" in text


def test_report_of_a_real_run(scenario):
    text = pl.run_scenario(scenario("basic-paxos-case-3")).describe()
    assert "decided    Y  (chosen at t=6)" in text
    assert "ballots    3.1, 4.5" in text
    assert text == describe(pl.run_scenario(scenario("basic-paxos-case-3")).summary())


# ---- narrate ------------------------------------------------------------------------------
def test_narrate_tells_case_3_step_by_step(scenario):
    result = pl.run_scenario(scenario("basic-paxos-case-3"))
    story = result.narrate()
    lines = story.splitlines()
    assert lines[0] == "t=0     S1 is asked to propose X"
    assert any("S3 rejects S1's ballot 3.1: it promised 4.5" in line for line in lines)
    assert any("S5 has promises from a majority for 4.5: sends Accept 4.5 Y" in line
               for line in lines)
    times = [float(line.split()[0][2:]) for line in lines]
    assert times == sorted(times)
    assert story == narrate(result.trace) == narrate(result)


def test_narrate_can_be_narrowed(scenario):
    result = pl.run_scenario(scenario("basic-paxos-case-2"))
    s5 = result.narrate(nodes={"S5"}, kinds={"phase2"})
    assert s5.splitlines() == [
        "t=5     S5 has promises from a majority for 4.5: sends Accept 4.5 X "
        "(adopted from ballot 3.1)"]
    early = result.narrate(until=1)
    assert early and all(float(line.split()[0][2:]) <= 1 for line in early.splitlines())


def test_narrate_works_on_an_undetailed_trace(scenario):
    result = pl.run_scenario(scenario("basic-paxos-crash-recover"), detailed=False)
    story = result.narrate()
    assert "S3 crashes" in story and "S3 recovers from its disk" in story
    assert "rejects" not in story
