"""Basic Paxos's rules one at a time, each with its bug switch off and on.

Every rule of ``node.py`` is one named function; a bug lives inside the rule it
breaks.  Each test below calls the rule with the bug off and on and shows that
the switch changes what the rule answers (it fails if the switch did nothing).
"""

from __future__ import annotations

import pytest

from paxoslab.protocols.basic_paxos import (
    BUGS,
    Accept,
    Ballot,
    PaxosNode,
    Prepare,
    Promise,
    choose_value,
    exponential_window,
)
from paxoslab.sim import Simulation

NODES = ["S1", "S2", "S3"]


def node(node_id="S3", bugs=(), **options) -> PaxosNode:
    return PaxosNode(node_id, NODES, {"bugs": list(bugs), **options})


# ---- one test per bug switch -------------------------------------------------------------
def test_promise_for_reports_the_accepted_proposal_unless_promise_omits_accepted():
    answers = []
    for bugs in ((), ("promise-omits-accepted",)):
        a = node(bugs=bugs)
        a.accepted_ballot, a.accepted_value = Ballot(3, 1), "X"
        answers.append(a.promise_for(Ballot(4, 2)))
    assert answers == [Promise(Ballot(4, 2), Ballot(3, 1), "X"), Promise(Ballot(4, 2), None, None)]


def test_may_accept_refuses_below_the_promise_unless_accept_below_promise():
    answers = []
    for bugs in ((), ("accept-below-promise",)):
        a = node(bugs=bugs)
        a.promised = Ballot(4, 2)
        answers.append([a.may_accept(b) for b in (Ballot(3, 1), Ballot(4, 2), Ballot(5, 1))])
    assert answers == [[False, True, True], [True, True, True]]


def test_accepting_below_the_promise_under_the_bug_keeps_the_promise():
    a = node(bugs=["accept-below-promise"])
    a.on_prepare(Prepare(Ballot(4, 2)), "S2")
    a.on_accept(Accept(Ballot(3, 1), "X"), "S1")
    assert (a.promised, a.accepted_ballot) == (Ballot(4, 2), Ballot(3, 1))


def test_choose_value_adopts_the_highest_accepted_unless_proposer_ignores_accepted():
    promises = [(None, None), (Ballot(2, 5), "Y"), (Ballot(3, 1), "X")]
    assert choose_value(promises, "Z") == (Ballot(3, 1), "X")
    assert choose_value(promises, "Z", ignore_accepted=True) == (None, "Z")


@pytest.mark.parametrize("bugs, sent", [((), "X"), (("proposer-ignores-accepted",), "Z")])
def test_the_proposer_sends_what_choose_value_picks(bugs, sent):
    p = node("S1", bugs=bugs)
    p.propose("Z")
    p.on_promise(Promise(p.ballot, None, None), "S1")
    p.on_promise(Promise(p.ballot, Ballot(0, 3), "X"), "S3")
    assert (p.phase, p.proposal) == ("accept", sent)


def recovered_promise(bugs) -> Ballot | None:
    """What S3 promised, after promising 3.1, crashing and coming back."""
    sim = Simulation(NODES, make_node=lambda n: node(n, bugs=bugs))
    sim.start()
    sim.invoke("S3", "on_prepare", Prepare(Ballot(3, 1)), "S1")
    sim.crash("S3")
    sim.recover("S3")
    return sim.node("S3").promised


def test_save_keeps_the_promise_across_a_crash_unless_acceptor_forgets_on_crash():
    assert recovered_promise(()) == Ballot(3, 1)
    assert recovered_promise(("acceptor-forgets-on-crash",)) is None


def test_every_bug_has_a_rule_test_above():
    tested = {"promise-omits-accepted", "accept-below-promise", "proposer-ignores-accepted",
              "acceptor-forgets-on-crash"}
    assert set(BUGS) == tested


# ---- rules without a bug switch -------------------------------------------------------------
def test_may_promise_answers_only_ballots_above_the_promise():
    a = node()
    assert a.may_promise(Ballot(1, 1))  # nothing promised yet
    a.promised = Ballot(3, 2)
    assert [a.may_promise(b) for b in (Ballot(3, 1), Ballot(3, 2), Ballot(3, 3))] == [False, False, True]


def test_backoff_delay_draws_within_the_exponential_window_and_stops_at_max():
    p = node(backoff={"policy": "exponential", "base": 0, "jitter": 10, "multiplier": 2, "max": 50})
    for failures in range(1, 12):
        p.failures = failures
        window = exponential_window(10, 2, failures, 50)
        assert 0 <= p.backoff_delay() <= min(window, 50)
    assert exponential_window(10, 2, 3, 50) == 40


# ---- declared state --------------------------------------------------------------------
def test_state_names_every_public_field():
    p = node()
    public = {k for k in vars(p) if not k.startswith("_")}
    assert public == set(p.STATE) | set(p.CONFIG)
    assert not set(p.STATE) & set(p.CONFIG) and set(p.TIMING) <= set(p.STATE)


def test_state_stays_declared_after_the_node_has_worked():
    p = node("S1")
    p.propose("X")
    p.on_prepare(Prepare(Ballot(2, 2)), "S2")
    assert {k for k in vars(p) if not k.startswith("_")} <= set(p.STATE) | set(p.CONFIG)
