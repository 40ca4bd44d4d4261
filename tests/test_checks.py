"""Safety monitors: agreement, validity, replica consistency — judged on state and sends."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import pytest

import paxoslab as pl
from paxoslab.checks import Monitor, Violation
from paxoslab.protocols import PROTOCOLS
from paxoslab.protocols.basic_paxos import Accepted, Agreement, Ballot, PaxosNode, Validity
from paxoslab.protocols.smr import ReplicaConsistency
from paxoslab.statemachine import KeyValueStore

NODES = ["S1", "S2", "S3"]


def world(**nodes):
    """A stand-in for :class:`paxoslab.world.World` whose nodes a test may replace."""
    w = SimpleNamespace(nodes=dict.fromkeys(NODES) | nodes, stable={}, now=0.0,
                        step_sent=[], step_node=None, monitors=[])
    w.node_ids, w.node, w.stored = tuple(NODES), w.nodes.get, w.stable.get
    return w


def step(monitor, sim, time, node=None, sent=()):
    sim.now, sim.step_node, sim.step_sent = time, node, list(sent)
    return monitor.after_step(sim)


def paxos(node_id, accepted=None, learned=None, value=None):
    node = PaxosNode(node_id, NODES)
    if accepted:
        node.accepted_ballot, node.accepted_value = accepted
    node.learned, node.value = learned, value
    return node


def test_agreement_holds_when_one_value_is_chosen_and_learned():
    sim, m = world(), Agreement(NODES, {})
    b = Ballot(1, 1)
    assert step(m, sim, 1, "S1", [("S1", "S1", Accepted(b, "X"))]) == []
    assert step(m, sim, 2, "S2", [("S2", "S1", Accepted(b, "X"))]) == []
    assert m.chosen and m.chosen[0][:3] == ("X", b, ("S1", "S2"))
    sim.nodes["S3"] = paxos("S3", learned="X")
    assert step(m, sim, 3, "S3") == []


def test_two_values_chosen_is_reported_with_both_majorities_as_witnesses():
    sim, m = world(), Agreement(NODES, {})
    for t, node in enumerate(["S1", "S2"]):
        sim.nodes[node] = paxos(node, accepted=(Ballot(1, 1), "X"))
        assert step(m, sim, t, node) == []
    sim.nodes["S3"] = paxos("S3", accepted=(Ballot(1, 2), "Y"))
    assert step(m, sim, 5, "S3") == []
    (v,) = step(m, sim, 6, "S2", [("S2", "S2", Accepted(Ballot(1, 2), "Y"))])
    assert v.property == "agreement" and v.time == 6
    assert "'X'" in v.detail and "'Y'" in v.detail and "1.1" in v.detail and "1.2" in v.detail
    assert v.witnesses == ("S1", "S2", "S3")


def test_a_learner_that_learns_an_unchosen_value_breaks_agreement_once():
    sim, m = world(), Agreement(NODES, {})
    sim.nodes["S1"] = paxos("S1", accepted=(Ballot(1, 1), "X"), learned="X")
    (v,) = step(m, sim, 1, "S1")  # one vote is no majority
    assert v.property == "agreement" and "S1 learned 'X'" in v.detail and v.witnesses == ("S1",)
    assert step(m, sim, 2, "S1") == []


def test_agreement_ignores_what_a_node_says_and_keeps_votes_after_a_crash():
    sim, m = world(), Agreement(NODES, {})
    sim.nodes["S1"] = paxos("S1", accepted=(Ballot(1, 1), "X"))
    step(m, sim, 1, "S1")
    sim.nodes["S1"] = None  # crashed: the vote it cast still counts
    step(m, sim, 2, None, [("S2", "S1", Accepted(Ballot(1, 1), "X"))])
    assert [c[0] for c in m.chosen] == ["X"]
    assert m.votes == {(Ballot(1, 1), "X"): frozenset({"S1", "S2"})}
    # its key: the values chosen, and the votes for the others (these may still count)
    assert m.key() == (frozenset({"X"}), frozenset())
    step(m, sim, 3, None, [("S3", "S2", Accepted(Ballot(1, 2), "Y"))])
    assert m.key() == (frozenset({"X"}), frozenset({((Ballot(1, 2), "Y"), frozenset({"S3"}))}))


def test_validity_flags_a_value_nobody_proposed():
    sim, m = world(), Validity(NODES, {})
    sim.nodes["S1"] = paxos("S1", value="X")
    assert step(m, sim, 0, "S1") == []
    sim.nodes["S2"] = paxos("S2", learned="Z")
    (v,) = step(m, sim, 3, "S2")
    assert v.property == "validity" and v.time == 3 and "'Z'" in v.detail
    sim.nodes["S3"] = paxos("S3", learned="X")
    assert step(m, sim, 4, "S3") == []


def replica(node_id, *commands):
    node = PROTOCOLS["smr"].core.node_class(node_id, NODES)
    node.machine = KeyValueStore()
    for c in commands:
        node.machine.apply(c)
        node.applied.append(c)
    return node


def test_replica_consistency_reports_divergence_once_per_replica():
    m2, sim2, found = ReplicaConsistency(NODES, {}), world(), []
    for t, (node, cmds) in enumerate([("S1", ["set x 1"]), ("S2", ["set x 1"]),
                                      ("S1", ["set x 1", "set t 5"]),
                                      ("S2", ["set x 1", "set t 7"]),
                                      ("S2", ["set x 1", "set t 7", "set y 1"]),
                                      ("S1", ["set x 1", "set t 5", "set y 1"])], start=1):
        sim2.nodes[node] = replica(node, *cmds)
        found += step(m2, sim2, t, node)
    assert [(v.property, v.time) for v in found] == [("replica-consistency", 4),
                                                     ("replica-consistency", 6)]
    assert "#2" in found[0].detail and "S2" in found[0].detail


def test_replica_consistency_allows_lagging_replicas():
    sim, m = world(), ReplicaConsistency(NODES, {})
    sim.nodes["S1"] = replica("S1", "set x 1", "set x 2")
    assert step(m, sim, 2, "S1") == []
    sim.nodes["S2"] = replica("S2", "set x 1")
    assert step(m, sim, 9, "S2") == []


def test_every_protocol_declares_monitors_and_an_unknown_one_is_refused():
    assert all(spec.core.monitors for spec in PROTOCOLS.values())
    with pytest.raises(ValueError, match="no safety monitors"):
        dataclasses.replace(PROTOCOLS["smr"],
                            core=dataclasses.replace(PROTOCOLS["smr"].core, monitors=()))
    with pytest.raises(pl.ScenarioError, match="unknown protocol"):
        pl.run_scenario({"name": "x", "protocol": "no-such-protocol", "nodes": ["S1"]})


def test_monitor_fork_shares_nothing_mutable():
    class Counting(Monitor):
        property = "counting"

        def __init__(self, node_ids, options):
            super().__init__(node_ids, options)
            self.seen = {"steps": 0}

    m = Counting(NODES, {})
    twin = m.fork()
    twin.seen["steps"] += 1
    assert m.seen == {"steps": 0}


def test_violation_to_dict_is_the_summary_form():
    v = Violation("agreement", 2.5, "S1 vs S2", ("S1", "S2"))
    assert v.to_dict() == {"property": "agreement", "time": 2.5, "detail": "S1 vs S2"}


def test_violations_are_frozen():
    with pytest.raises(AttributeError):
        Violation("agreement", 1, "x").time = 2
