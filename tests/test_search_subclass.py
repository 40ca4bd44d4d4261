"""A subclass that rewrites nothing, or only when things happen, is searched as the protocol's
own class: with every hint, so as fast and over the same worlds; one that rewrites a rule
is searched without them (a rule may behave otherwise)."""

from __future__ import annotations

from pathlib import Path

import pytest

from paxoslab.protocols import PROTOCOLS
from paxoslab.protocols.basic_paxos.node import PaxosNode
from paxoslab.protocols.multi_paxos.node import MultiPaxosNode
from paxoslab.search import search

SCENARIOS = Path(__file__).resolve().parents[1] / "data" / "scenarios"


class Same(PaxosNode):
    """Rewrites nothing."""


class Patient(PaxosNode):
    """Rewrites only how long it backs off."""

    def backoff_delay(self) -> float:
        return 250.0


class Rewritten(PaxosNode):
    """Rewrites a rule (to what it was: the search cannot know that)."""

    def may_accept(self, ballot):
        return super().may_accept(ballot)


class SameServer(MultiPaxosNode):
    """Rewrites nothing."""


class Sender:
    def send(self, dst, msg):
        super().send(dst, msg)


class MixedIn(PaxosNode, Sender):
    """Rewrites a method of Node that PaxosNode does not: not the protocol's class any more."""


def test_which_classes_get_the_hints():
    hints, own = PROTOCOLS["basic-paxos"].search, PaxosNode
    assert [hints.hold_for(c, own) for c in (None, own, Same, Patient)] == [True] * 4
    assert not hints.hold_for(Rewritten, own) and not hints.hold_for(MixedIn, own)
    assert not hints.hold_for(MultiPaxosNode, own)
    assert PROTOCOLS["multi-paxos"].search.hold_for(SameServer, MultiPaxosNode)


@pytest.mark.parametrize("cls", [Same, Patient])
def test_a_subclass_that_changes_no_rule_is_searched_over_the_same_worlds(cls):
    scenario = SCENARIOS / "search-proposer-ignores-accepted.json"
    library = search(scenario, progress=False)
    mine = search(scenario, node_class=cls, progress=False)
    assert (mine.ok, mine.property, mine.states) == (library.ok, library.property, library.states)
    assert mine.depth == library.depth


def test_a_rewritten_rule_is_searched_without_the_hints():
    scenario = SCENARIOS / "search-proposer-ignores-accepted.json"
    library = search(scenario, progress=False)
    mine = search(scenario, node_class=Rewritten, progress=False)
    assert (mine.ok, mine.property) == (library.ok, library.property)
    assert mine.states > library.states  # the hints took worlds out


def test_a_server_subclass_is_searched_over_the_same_worlds():
    scenario = SCENARIOS / "multi-paxos-figure-8.json"
    library = search(scenario, progress=False)
    mine = search(scenario, node_class=SameServer, progress=False)
    assert (mine.ok, mine.property, mine.states) == (library.ok, library.property, library.states)
