"""Safety checks over traces: agreement, validity, replica consistency."""

from __future__ import annotations

import pytest

from paxoslab.checks import Violation, check
from paxoslab.protocols import PROTOCOLS
from paxoslab.protocols.basic_paxos import agreement, validity
from paxoslab.protocols.smr import replica_consistency
from paxoslab.trace import Trace


def trace_of(*events) -> Trace:
    t = Trace()
    for time, kind, node, payload in events:
        t.add(time, kind, node=node, payload=payload)
    return t


def test_agreement_holds_when_every_learner_learns_the_same_value():
    t = trace_of((0, "propose", "S1", {"value": "X"}),
                 (3, "learned", "S1", {"value": "X"}),
                 (4, "learned", "S2", {"value": "X"}))
    assert agreement(t) == []
    assert validity(t) == []
    assert check(t, "basic-paxos") == []


def test_agreement_violation_names_both_learners_and_points_at_events():
    t = trace_of((0, "propose", "S1", {"value": "X"}),
                 (1, "propose", "S5", {"value": "Y"}),
                 (3, "learned", "S1", {"value": "X"}),
                 (5, "learned", "S5", {"value": "Y"}))
    (v,) = agreement(t)
    assert v.property == "agreement"
    assert v.time == 5
    assert "S1" in v.detail and "S5" in v.detail and "'X'" in v.detail and "'Y'" in v.detail
    assert v.events == (2, 3)


def test_agreement_reports_each_disagreeing_learner_once():
    t = trace_of((1, "learned", "S1", {"value": "X"}),
                 (2, "learned", "S2", {"value": "Y"}),
                 (3, "learned", "S2", {"value": "Y"}),
                 (4, "learned", "S3", {"value": "Y"}))
    assert [(v.time, v.events) for v in agreement(t)] == [(2, (0, 1)), (4, (0, 3))]


def test_a_learner_changing_its_mind_breaks_agreement():
    t = trace_of((1, "learned", "S1", {"value": "X"}),
                 (2, "learned", "S1", {"value": "Y"}))
    assert [v.property for v in agreement(t)] == ["agreement"]


def test_validity_flags_a_value_nobody_proposed():
    t = trace_of((0, "propose", "S1", {"value": "X"}),
                 (3, "learned", "S2", {"value": "Z"}))
    (v,) = validity(t)
    assert v.property == "validity" and v.time == 3 and "'Z'" in v.detail
    assert v.events == (1,)


def test_validity_needs_the_proposal_before_the_learning():
    t = trace_of((3, "learned", "S2", {"value": "X"}),
                 (4, "propose", "S1", {"value": "X"}))
    assert [v.property for v in validity(t)] == ["validity"]


def test_replica_consistency_reports_divergence_once_per_replica():
    t = trace_of(
        (1, "applied", "S1", {"index": 1, "command": "set x 1", "state": {"x": "1"}}),
        (2, "applied", "S2", {"index": 1, "command": "set x 1", "state": {"x": "1"}}),
        (3, "applied", "S1", {"index": 2, "command": "set t 5", "state": {"t": "5", "x": "1"}}),
        (4, "applied", "S2", {"index": 2, "command": "set t 7", "state": {"t": "7", "x": "1"}}),
        (5, "applied", "S2", {"index": 3, "command": "set y 1",
                              "state": {"t": "7", "x": "1", "y": "1"}}),
        (6, "applied", "S1", {"index": 3, "command": "set y 1",
                              "state": {"t": "5", "x": "1", "y": "1"}}),
    )
    found = replica_consistency(t)
    assert [(v.property, v.time) for v in found] == [("replica-consistency", 4), ("replica-consistency", 6)]
    assert "#2" in found[0].detail and "S2" in found[0].detail


def test_replica_consistency_allows_lagging_replicas():
    t = trace_of(
        (1, "applied", "S1", {"index": 1, "command": "set x 1", "state": {"x": "1"}}),
        (2, "applied", "S1", {"index": 2, "command": "set x 2", "state": {"x": "2"}}),
        (9, "applied", "S2", {"index": 1, "command": "set x 1", "state": {"x": "1"}}),
    )
    assert replica_consistency(t) == []


def test_check_runs_the_protocols_checks_in_time_order():
    t = trace_of((0, "propose", "S1", {"value": "X"}),
                 (1, "learned", "S1", {"value": "Q"}),
                 (2, "learned", "S2", {"value": "X"}))
    assert [(v.property, v.time) for v in check(t, "basic-paxos")] == [
        ("validity", 1), ("agreement", 2),
    ]
    with pytest.raises(KeyError):
        check(t, "no-such-protocol")  # an unknown protocol never passes unchecked
    assert all(spec.properties or spec.monitors for spec in PROTOCOLS.values())


def test_violation_to_dict_is_the_summary_form():
    v = Violation("agreement", 2.5, "S1 vs S2", (1, 2))
    assert v.to_dict() == {"property": "agreement", "time": 2.5, "detail": "S1 vs S2"}


def test_violations_are_frozen():
    with pytest.raises(AttributeError):
        Violation("agreement", 1, "x").time = 2


def test_checks_work_on_an_undetailed_trace():
    t = Trace(detailed=False)
    t.add(0, "send", node="S1")
    t.add(1, "learned", node="S1", payload={"value": "X"})
    t.add(2, "learned", node="S2", payload={"value": "Y"})
    assert [v.property for v in check(t, "basic-paxos")] == ["validity", "agreement", "validity"]
