"""Multi-Paxos searched breadth-first: each bug found with a shortest counterexample that
replays, bug-free configurations exhausted clean, the reductions held to ``reduce=False``.

The scenarios are the ``data/scenarios/multi-paxos-search-*.json`` ones (elections,
client commands, crashes and recoveries are scenario actions that may happen between any
two deliveries); where one takes more than a few seconds, a cut-down version is used here
and the full one is timed in ``benchmarks/search.py``.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from types import SimpleNamespace

import pytest

import paxoslab as pl
from paxoslab.protocols.multi_paxos import BUGS, MultiPaxosNode
from paxoslab.search import explored_worlds, search

#: the property each bug's search scenario breaks first
PROPERTY = {
    "vote-twice-in-term": "election-safety",
    "vote-forgotten-on-crash": "election-safety",
    "vote-without-log-check": "leader-completeness",
    "append-without-consistency-check": "log-matching",
    "commit-old-term-by-count": "leader-completeness",
}
#: the length of the shortest counterexample BFS finds for each
SHORTEST = {
    "vote-twice-in-term": 6,
    "vote-forgotten-on-crash": 8,
    "vote-without-log-check": 9,
    "append-without-consistency-check": 15,
    "commit-old-term-by-count": 28,
}


def scenario(bug: str, bugs: list[str] | None = None) -> dict:
    data = pl.load_scenario(f"data/scenarios/multi-paxos-search-{bug}.json")
    data["options"]["bugs"] = [bug] if bugs is None else bugs
    data.pop("expect", None)
    return data


@functools.cache
def bfs(bug: str):
    return search(scenario(bug), max_ballots=3, progress=False)


def test_every_bug_has_a_search_scenario():
    assert set(PROPERTY) == set(BUGS) == set(SHORTEST)


@pytest.mark.parametrize("bug", sorted(set(BUGS) - {"commit-old-term-by-count"}))
def test_bfs_finds_each_bug_with_a_shortest_counterexample_that_replays(bug):
    result = bfs(bug)
    assert not result.ok and result.property == PROPERTY[bug]
    cx = result.counterexample
    assert len(cx.scenario["schedule"]) == SHORTEST[bug]
    replay = pl.run_scenario(json.loads(json.dumps(cx.scenario)))  # as saved and read back
    assert replay.violations and replay.violations[0].property == PROPERTY[bug]
    assert [v.to_dict() for v in replay.violations] == [v.to_dict() for v in cx.violations]
    assert replay.summary()["digest"] == cx.summary()["digest"]


def test_bfs_finds_figure_8_and_the_counterexample_replays():
    """The Raft paper's Figure 8 on three servers (``commit-old-term-by-count``): the
    longest counterexample of these searches (about 57,000 states); ``benchmarks/search.py``
    times it too."""
    result = bfs("commit-old-term-by-count")
    assert not result.ok and result.property == "leader-completeness"
    cx = result.counterexample
    assert len(cx.scenario["schedule"]) == SHORTEST["commit-old-term-by-count"]
    replay = pl.run_scenario(json.loads(json.dumps(cx.scenario)))
    assert [v.to_dict() for v in replay.violations] == [v.to_dict() for v in cx.violations]


@pytest.mark.parametrize("bug", ["vote-twice-in-term", "vote-forgotten-on-crash"])
def test_without_the_bug_the_same_configuration_is_exhausted_clean(bug):
    result = search(scenario(bug, []), max_ballots=3, progress=False)
    assert result.ok and result.complete and result.stopped == "complete"
    assert all(result.goals.values()), result.goals


def test_random_walks_find_a_bug_and_replay_it():
    found = search(scenario("vote-forgotten-on-crash"), strategy="random", max_ballots=3,
                   max_states=20_000, max_depth=40, seed=0, progress=False)
    assert not found.ok and found.property == "election-safety"
    replayed = pl.run_scenario(found.counterexample.scenario).violations
    assert replayed[0].property == "election-safety"


# ---- the reductions, held to the unreduced search on small scenarios ---------------------
#: a link cut both ways (a network rule that drops every message on it)
CUT13 = [{"from": "S1", "to": "S3", "drop": True}, {"from": "S3", "to": "S1", "drop": True}]
CUT12 = [{"from": "S1", "to": "S2", "drop": True}, {"from": "S2", "to": "S1", "drop": True}]


def small(bug: str, bugs: list[str], cut: list | None = None, heartbeat: float | None = None,
          events: int = 2) -> dict:
    """The bug's scenario with its first ``events`` actions (and, for
    ``vote-forgotten-on-crash``, S3's crash and recovery between the two elections), a
    link cut: small enough to search without reductions."""
    data = scenario(bug, bugs)
    if bug == "vote-forgotten-on-crash":
        data["events"] = [data["events"][0], {"at": 5, "crash": "S3"}, {"at": 6, "recover": "S3"},
                          data["events"][1]]
    else:
        data["events"] = data["events"][:events]
    data["network"]["rules"] = cut or []
    data["options"]["heartbeat"] = heartbeat
    return data


def outcome(result) -> tuple:
    steps = result.counterexample.scenario["schedule"] if result.counterexample else []
    return result.ok, result.property, result.complete, len(steps), result.goals


SMALL = {
    "two elections": small("vote-twice-in-term", [], CUT13),
    "an election, heartbeats": small("vote-twice-in-term", [], heartbeat=50, events=1),
    "two elections, vote-twice-in-term": small("vote-twice-in-term", ["vote-twice-in-term"], CUT13),
    "two elections and a crash": small("vote-forgotten-on-crash", [], CUT13),
    "two elections and a crash, vote-forgotten-on-crash, heartbeats": small(
        "vote-forgotten-on-crash", ["vote-forgotten-on-crash"], CUT12, heartbeat=50),
    "an election and a command, heartbeats": small("vote-without-log-check", [], CUT13, heartbeat=50),
    "append-without-consistency-check, partitioned": small(
        "append-without-consistency-check", ["append-without-consistency-check"], events=7),
}


@pytest.mark.parametrize("name", sorted(SMALL))
def test_reduced_search_finds_what_the_unreduced_one_finds_at_the_same_depth(name):
    reduced = search(SMALL[name], max_ballots=3, progress=False)
    full = search(SMALL[name], max_ballots=3, progress=False, reduce=False)
    assert outcome(reduced) == outcome(full)
    assert full.complete or full.counterexample is not None
    assert reduced.states < full.states


def test_heartbeats_leave_the_space_finite():
    """A leader's heartbeat is taken only once its earlier exchanges have settled: with
    heartbeats on, the bug-free space is still exhausted, reduced or not."""
    data = small("vote-twice-in-term", [], heartbeat=50, events=1)
    for reduce in (True, False):
        result = search(data, max_ballots=3, progress=False, reduce=reduce, max_seconds=60)
        assert result.complete and result.ok, reduce
    timers = [step for step in search(scenario("vote-twice-in-term"), max_ballots=3, progress=False)
              .counterexample.scenario["schedule"] if "timer" in step]
    assert timers == []  # heartbeats are off in the search scenarios


class SameNode(MultiPaxosNode):
    """The protocol's node with a rule rewritten to what it was: the search cannot tell, so
    it takes no word from it on which messages it ignores for good or keys alike."""

    def decide_commit(self, match, log, term, commit):
        return super().decide_commit(match, log, term, commit)


@pytest.mark.parametrize("name", sorted(set(SMALL) - {"append-without-consistency-check, partitioned"}))
def test_messages_ignored_for_good_or_keyed_alike_change_no_outcome(name, monkeypatch):
    from paxoslab.protocols import PROTOCOLS
    from paxoslab.protocols.multi_paxos import SPEC

    seen = []

    def checked(sim, src, dst, msg, spent) -> bool:
        """The protocol's own answer, verified: delivered now, the message changes nothing
        of its receiver and sends nothing."""
        if not SPEC.search.ignored_for_good(sim, src, dst, msg, spent):
            return False
        node = sim.nodes[dst]
        twin = node.fork()
        twin.handler_for(msg)(msg, src)
        assert twin.state() == node.state(), msg
        assert [e for e in twin.take_effects() if e[0] != "note"] == [], msg
        seen.append(type(msg).__name__)
        return True

    def alike_checked(sim, src, dst, msg):
        """The protocol's own answer, verified: the two have the same effect now."""
        alike = SPEC.search.same_effect_as(sim, src, dst, msg)
        if alike is not msg:
            twins = [sim.nodes[dst].fork(), sim.nodes[dst].fork()]
            for twin, delivered in zip(twins, (msg, alike), strict=True):
                twin.handler_for(delivered)(delivered, src)
            assert twins[0].state() == twins[1].state(), msg
            assert twins[0].take_effects() == twins[1].take_effects(), msg
            seen.append(f"{type(msg).__name__} as stale")
        return alike

    monkeypatch.setitem(PROTOCOLS, "multi-paxos", dataclasses.replace(SPEC, search=dataclasses.replace(
        SPEC.search, ignored_for_good=checked, same_effect_as=alike_checked)))
    data = SMALL[name]
    kept = search(data, max_ballots=3, progress=False, node_class=SameNode)
    result = search(data, max_ballots=3, progress=False)
    assert outcome(result) == outcome(kept) and result.states <= kept.states
    if not data["options"]["bugs"]:
        assert result.states < kept.states and "AppendEntriesReply" in seen


def test_nothing_is_dropped_or_keyed_alike_when_terms_may_go_back():
    from paxoslab.protocols.multi_paxos import SPEC, AppendEntries, AppendEntriesReply

    node = MultiPaxosNode("S1", ["S1", "S2", "S3"], {"bugs": ["vote-forgotten-on-crash"]})
    node.current_term = 3
    world = SimpleNamespace(node={"S1": node}.get)
    assert not SPEC.search.ignored_for_good(world, "S2", "S1", AppendEntriesReply(1, True, 1),
                                            frozenset())
    stale = AppendEntries(1, "S2", 0, 0, (), 0)
    assert SPEC.search.same_effect_as(world, "S2", "S1", stale) is stale


def covers(big, small_, actions: int) -> bool:
    """World ``big`` can do all ``small_`` can: the same but more messages and timers
    pending, and the same scenario actions left or, where ``small_`` has none, more."""
    (nodes, flight, groups, action, monitors), ballots = big
    (nodes2, flight2, groups2, action2, monitors2), ballots2 = small_
    if (groups, monitors, ballots) != (groups2, monitors2, ballots2):
        return False
    if action != action2 and action2 != actions:
        return False
    pending = dict(flight)
    return (all(a[:2] == b[:2] and b[2] <= a[2] for a, b in zip(nodes, nodes2, strict=True))
            and all(pending.get(m, 0) >= n for m, n in flight2))


@pytest.mark.parametrize("name", ["an election and a command, heartbeats", "two elections and a crash"])
def test_every_world_of_the_unreduced_search_is_covered_as_early_by_the_reduced_one(name):
    data = SMALL[name]
    # dropping what nodes ignore for good is checked on its own above
    full = explored_worlds(data, reduce=False, max_depth=9, max_ballots=3, node_class=SameNode)
    reduced = explored_worlds(data, max_depth=9, max_ballots=3, node_class=SameNode)
    assert set(reduced) <= set(full) and len(reduced) < len(full)
    by_nodes: dict = {}
    for world, depth in reduced.items():
        by_nodes.setdefault((world[0][2], world[0][4], world[1]), []).append((world, depth))
    actions = len(data["events"])
    for world, depth in full.items():
        assert reduced.get(world, depth + 1) <= depth or any(
            covers(w, world, actions) and d <= depth
            for w, d in by_nodes.get((world[0][2], world[0][4], world[1]), [])), world
