"""The search: shortest counterexamples that replay, exhausted bug-free spaces, random walks.

The scenarios here are the ``data/scenarios/search-*.json`` ones with a few
links and message kinds cut (rules that drop them), so that each search takes
seconds: the monitors judge "chosen" from the acceptors' state, so dropping
``Accepted``/``Learn``/``Reject`` messages hides no violation.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from types import SimpleNamespace

import pytest

import paxoslab as pl
from paxoslab.__main__ import main
from paxoslab.protocols.basic_paxos import BUGS, PaxosNode
from paxoslab.search import explored_worlds, search

CUT = [{"type": ["Accepted", "Learn", "Reject"], "drop": True},
       {"from": "S1", "to": "S3", "drop": True}, {"from": "S3", "to": "S1", "drop": True}]


def small(name: str) -> dict:
    """A search scenario with S1-S3 cut and only the messages that decide a vote."""
    data = pl.load_scenario(f"data/scenarios/search-{name}.json")
    data["network"]["rules"] = CUT
    propose_x, propose_y = [e for e in data["events"] if "propose" in e]
    data["events"] = [propose_x, propose_y]
    if name == "acceptor-forgets-on-crash":  # S2 must forget: S3 is cut off from S1's ballot
        data["events"] = [propose_x, {"at": 5, "crash": "S2"}, {"at": 6, "recover": "S2"},
                          propose_y]
    data["expect"] = {}
    return data


@functools.cache
def bfs(bug: str):
    return search(small(bug), progress=False)


@pytest.mark.parametrize("bug", sorted(BUGS))
def test_bfs_finds_each_bug_with_a_counterexample_that_replays(bug):
    result = bfs(bug)
    assert not result.ok and result.property == "agreement"
    cx = result.counterexample
    assert cx.scenario["schedule"] and cx.violations[0].property == "agreement"
    replay = pl.run_scenario(json.loads(json.dumps(cx.scenario)))  # as saved and read back
    assert [v.to_dict() for v in replay.violations] == [v.to_dict() for v in cx.violations]
    assert replay.summary()["digest"] == cx.summary()["digest"]
    assert set(result.violation.witnesses) <= {"S1", "S2", "S3"}


@pytest.mark.parametrize("bug", ["promise-omits-accepted", "proposer-ignores-accepted"])
def test_bfs_counterexample_is_no_longer_than_any_random_walk_one(bug):
    shortest = len(bfs(bug).counterexample.scenario["schedule"])
    assert shortest == 14  # propose, 2 prepares, 2 promises, 2 accepts, then the same for Y
    for seed in range(3):
        walk = search(small(bug), strategy="random", seed=seed, max_states=20_000, progress=False)
        assert not walk.ok
        assert len(walk.counterexample.scenario["schedule"]) >= shortest


def test_bug_free_configuration_is_exhausted_clean_and_a_value_can_be_chosen():
    result = bfs("basic-paxos")
    assert result.ok and result.complete and result.counterexample is None
    assert result.goals == {"a value can be chosen": True}
    assert "no violation found" in result.explain()
    per_depth = result.worlds_per_depth
    assert per_depth[0] == 1 and sum(per_depth) == result.states
    assert len(per_depth) - 1 <= result.depth and 0 not in per_depth


def test_a_node_that_refuses_everything_is_safe_but_not_ok():
    class Refuser(PaxosNode):
        def on_prepare(self, msg, src):
            pass

    result = search(small("basic-paxos"), progress=False, node_class=Refuser)
    assert result.complete and not result.ok
    assert result.property == "a value can be chosen" and result.counterexample is None


def test_random_walks_are_seeded():
    runs = [search(small("promise-omits-accepted"), strategy="random", seed=5, max_states=5000,
                   progress=False) for _ in range(2)]
    assert runs[0].counterexample.scenario == runs[1].counterexample.scenario


def test_budgets_stop_the_search_incomplete():
    result = search("data/scenarios/search-basic-paxos.json", max_states=200, progress=False)
    assert result.ok and not result.complete and result.states >= 200
    shallow = search(small("promise-omits-accepted"), max_depth=5, progress=False)
    assert shallow.ok and not shallow.complete and shallow.depth == 5


def test_explain_numbers_steps_shows_diffs_and_the_replay_command(tmp_path):
    result = search(small("proposer-ignores-accepted"), progress=False)
    path = result.save(tmp_path / "cx.json")
    text = result.explain()
    assert "  1. scenario: propose" in text
    assert " 14. " in text and " 15. " not in text
    assert "S2  proposal: null -> \"Y\"" in text
    assert "agreement violated: two values chosen: 'X'" in text and "witnesses: S1, S2" in text
    assert f"replay: python -m paxoslab run {path}" in text
    assert pl.run_scenario(path).violations


def test_a_schedule_step_that_cannot_happen_is_a_scenario_error():
    data = small("basic-paxos")
    data["schedule"] = [{"action": 0}, {"deliver": 99}]
    with pytest.raises(pl.ScenarioError, match=r"schedule\[1\]: message 99 is not in flight"):
        pl.run_scenario(data)
    data["schedule"] = [{"deliver": 0, "lose": 0}]
    with pytest.raises(pl.ScenarioError, match=r"schedule\[0\]: must name exactly one"):
        pl.run_scenario(data)


def test_cli_search_exits_1_with_a_saved_counterexample_and_0_when_clean(tmp_path, capsys):
    buggy, clean = tmp_path / "buggy.json", tmp_path / "clean.json"
    buggy.write_text(json.dumps(small("accept-below-promise")))
    clean.write_text(json.dumps(small("basic-paxos")))
    out = tmp_path / "cx.json"
    assert main(["search", str(buggy), "--save", str(out)]) == 1
    assert "replay: python -m paxoslab run" in capsys.readouterr().out
    assert main(["run", str(out), "--json"]) == 1  # a property is violated
    assert json.loads(capsys.readouterr().out)["violations"][0]["property"] == "agreement"
    assert main(["search", str(clean), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["ok"] and summary["complete"] and summary["counterexample"] is None
    assert main(["search", str(clean), "--strategy", "random", "--max-states", "300"]) == 0


# ---- the reductions against the unreduced search (reduce=False) -------------------
def lossless(name: str) -> dict:
    """``small(name)`` without losses, so that the unreduced search ends in seconds."""
    data = small(name)
    data["network"]["drop"] = 0
    return data


def outcome(result) -> tuple:
    steps = result.counterexample.scenario["schedule"] if result.counterexample else []
    return result.ok, result.property, result.complete, len(steps), result.goals


@pytest.mark.parametrize("name", ["basic-paxos", "promise-omits-accepted"])
def test_reduced_search_finds_what_the_unreduced_one_finds_at_the_same_depth(name):
    reduced = search(lossless(name), progress=False)
    full = search(lossless(name), progress=False, reduce=False)
    assert outcome(reduced) == outcome(full)
    assert reduced.states < full.states and reduced.transitions < full.transitions
    for result in (reduced, full):
        if result.counterexample is not None:
            replay = pl.run_scenario(json.loads(json.dumps(result.counterexample.scenario)))
            assert [v.to_dict() for v in replay.violations] == \
                [v.to_dict() for v in result.counterexample.violations]


def test_pruned_losses_hide_nothing_on_a_lossy_network():
    data = pl.load_scenario("data/scenarios/search-promise-omits-accepted.json")
    data["events"], data["expect"] = data["events"][:1], {}  # one proposer: a small space
    reduced = search(data, progress=False)
    full = search(data, progress=False, reduce=False)
    assert outcome(reduced) == outcome(full) == (True, None, True, 0,
                                                 {"a value can be chosen": True})
    assert reduced.states < full.states
    deep = search(small("promise-omits-accepted"), progress=False, reduce=False, max_depth=6)
    assert deep.ok and deep.depth == 6 and not deep.complete


def test_leaving_timing_fields_out_of_world_keys_changes_no_outcome():
    class EveryField(PaxosNode):
        TIMING = ()  # compare worlds by every field, time-outs and counters too

    for name in ("basic-paxos", "promise-omits-accepted"):
        keyed_by_all = search(lossless(name), node_class=EveryField, progress=False)
        result = search(lossless(name), progress=False)
        assert outcome(result) == outcome(keyed_by_all)
        assert result.states < keyed_by_all.states


class SameNode(PaxosNode):
    """The protocol's node with a rule rewritten to what it was: the search cannot tell, so
    it takes no word from it on which messages it ignores for good
    (``SearchHints.ignored_for_good``)."""

    def may_accept(self, ballot):
        return super().may_accept(ballot)


@pytest.mark.parametrize("name", ["basic-paxos", "promise-omits-accepted",
                                  "acceptor-forgets-on-crash", "basic-paxos, asking"])
def test_messages_ignored_for_good_or_keyed_alike_change_no_outcome(
        name, monkeypatch):
    from paxoslab.protocols import PROTOCOLS
    from paxoslab.protocols.basic_paxos import SPEC

    dropped = []

    def checked(sim, src, dst, msg, spent) -> bool:
        """The protocol's own answer, verified: delivered now, the message changes nothing
        but a round no ballot will start from, and sends only what is ignored for good."""
        if not SPEC.search.ignored_for_good(sim, src, dst, msg, spent):
            return False
        node = sim.nodes[dst]
        twin = node.fork()
        twin.handler_for(msg)(msg, src)
        before, after = node.state(), twin.state()
        if after.pop("highest_round_seen") != before.pop("highest_round_seen"):
            assert dst in spent or twin.highest_round_seen <= twin.round, msg
        assert after == before, msg
        effects = [e for e in twin.take_effects() if e[0] != "note"]
        assert all(e[0] == "send" for e in effects), msg
        world = SimpleNamespace(node={**sim.nodes, dst: twin}.get)
        assert all(SPEC.search.ignored_for_good(world, dst, e[1], e[2], spent) for e in effects), msg
        dropped.append(type(msg).__name__)
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
            dropped.append(f"{type(msg).__name__} as {type(alike).__name__}")
        return alike

    monkeypatch.setitem(PROTOCOLS, "basic-paxos", dataclasses.replace(SPEC, search=dataclasses.replace(
        SPEC.search, ignored_for_good=checked, same_effect_as=alike_checked)))

    data = small(name) if not name.startswith("basic-paxos") else lossless("basic-paxos")
    if name.endswith("asking"):  # learn_retry on, nothing cut, one proposer: asks and answers
        data = pl.load_scenario("data/scenarios/search-basic-paxos.json")
        del data["options"]["learn_retry"], data["network"]["drop"]
        data["events"] = [e for e in data["events"] if e.get("propose", {}).get("node") != "S2"]
    kept = search(data, progress=False, node_class=SameNode)
    result = search(data, progress=False)
    assert outcome(result) == outcome(kept) and result.states < kept.states
    assert "Promise" in dropped
    if name.endswith("asking"):
        assert {"Ask", "Learn"} <= set(dropped)
    if name == "promise-omits-accepted":  # the small ones cut Accepted and Reject: check here
        search("data/scenarios/search-promise-omits-accepted.json", max_depth=11, progress=False)
        assert {"Accepted", "Reject", "Prepare", "Accept", "Accept as Prepare"} <= set(dropped)


@pytest.mark.parametrize("name", ["basic-paxos", "acceptor-forgets-on-crash"])
def test_redoing_remembered_steps_reaches_the_same_worlds_as_running_every_handler(
        name, monkeypatch):
    from paxoslab.search import SearchWorld

    data = small(name)
    hits = []
    replay_known = SearchWorld._replay_known

    def counted(self, *args):
        hit = replay_known(self, *args)
        hits.append(hit is not None)
        return hit

    monkeypatch.setattr(SearchWorld, "_replay_known", counted)
    remembered = explored_worlds(data, max_depth=12)
    assert sum(hits) > len(hits) / 2  # most steps are redone, not run
    monkeypatch.setattr(SearchWorld, "_replay_known", lambda self, *args: None)
    assert explored_worlds(data, max_depth=12) == remembered


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


@pytest.mark.parametrize("name", ["basic-paxos", "acceptor-forgets-on-crash"])
def test_every_world_of_the_unreduced_search_is_covered_as_early_by_the_reduced_one(name):
    data = lossless(name)
    if name == "acceptor-forgets-on-crash":  # one proposer; S2 crashes and recovers
        data["events"] = data["events"][:3]
        data["network"]["rules"] = CUT[:1]
    # dropping what nodes ignore for good is checked on its own above
    full = explored_worlds(data, reduce=False, max_depth=10, node_class=SameNode)
    reduced = explored_worlds(data, max_depth=10, node_class=SameNode)
    assert set(reduced) <= set(full) and len(reduced) < len(full)
    by_nodes: dict = {}
    for world, depth in reduced.items():
        by_nodes.setdefault((world[0][2], world[0][4], world[1]), []).append((world, depth))
    actions = len(data["events"])
    for world, depth in full.items():
        assert reduced.get(world, depth + 1) <= depth or any(
            covers(w, world, actions) and d <= depth
            for w, d in by_nodes.get((world[0][2], world[0][4], world[1]), [])), world


def test_anonymous_messages_have_the_same_effect_from_any_sender():
    """Basic Paxos keys Reject and Learn without their sender: their handlers never read it."""
    from paxoslab.protocols.basic_paxos import SPEC, Ballot, Learn, Reject

    assert SPEC.search.anonymous == {Reject, Learn}
    node = PaxosNode("S1", ["S1", "S2", "S3"])
    node.propose("X")
    for msg in (Reject(node.ballot, Ballot(1, 2)), Reject(node.ballot, Ballot(0, 3)),
                Learn(Ballot(1, 2), "Y")):
        twins = [node.fork() for _ in node.cluster]
        for twin, src in zip(twins, node.cluster, strict=True):
            twin.handler_for(msg)(msg, src)
        assert len({repr(t.state()) for t in twins}) == 1, msg
        assert len({repr(t.take_effects()) for t in twins}) == 1, msg


def test_equal_messages_from_different_senders_are_one_choice_only_if_anonymous():
    data = "data/scenarios/search-basic-paxos.json"
    own = explored_worlds(data, max_depth=8)
    flights = [dict(world[0][1]) for world in own]
    assert any(key[0] is None for flight in flights for key in flight)  # Rejects, sender-less
    other = explored_worlds(data, max_depth=8, node_class=SameNode)
    assert all(key[0] is not None for world in other for key, _ in world[0][1])


def test_a_partition_keeps_senders_in_keys_and_the_search_finds_what_the_unreduced_one_finds():
    """A partition drops a message by who sent it, so no message is sender-less then."""
    data = lossless("basic-paxos")
    data["network"]["rules"] = CUT[1:]  # Rejects and Learns kept: the sender-less kinds
    data["events"] = data["events"][:2] + [{"at": 3, "partition": [["S1"], ["S2", "S3"]]},
                                           {"at": 4, "heal": True}]
    worlds = explored_worlds(data, max_depth=7)
    assert any(key[2].__class__.__name__ == "Reject" for w in worlds for key, _ in w[0][1])
    assert all(key[0] is not None for w in worlds for key, _ in w[0][1])
    reduced = search(data, progress=False, max_depth=9)
    full = search(data, progress=False, max_depth=9, reduce=False)
    assert outcome(reduced) == outcome(full) and reduced.states < full.states


# ---- searches refuse nonsense, end, and say why they stopped (issue 19) ---------------
@pytest.mark.parametrize("argument, value", [
    ("max_ballots", 0), ("max_ballots", -1), ("max_ballots", None), ("max_states", 0),
    ("max_depth", 0), ("max_depth", -3), ("max_seconds", float("nan")), ("max_seconds", -1.0),
    ("max_seconds", float("inf")), ("max_seconds", 0), ("seed", "abc"), ("seed", 1.5),
    ("max_states", 2.5), ("max_ballots", True)])
def test_search_refuses_nonsense_naming_the_argument(argument, value):
    with pytest.raises(ValueError, match=rf"^{argument}: must be"):
        search(small("basic-paxos"), progress=False, **{argument: value})


def test_search_accepts_numpy_integers_as_integers():
    np = pytest.importorskip("numpy")
    result = search(small("basic-paxos"), strategy="random", seed=np.int64(3),
                    max_states=np.int64(50), max_ballots=np.int32(1), progress=False)
    assert result.ok and result.stopped == "max_states"


@pytest.mark.parametrize("flag, value", [
    ("--max-ballots", "0"), ("--max-ballots", "-1"), ("--max-seconds", "nan"),
    ("--max-seconds", "-5"), ("--max-depth", "0"), ("--max-depth", "-3"), ("--max-states", "0")])
def test_cli_search_refuses_nonsense_with_one_line_and_exit_2(tmp_path, capsys, flag, value):
    path = tmp_path / "s.json"
    path.write_text(json.dumps(small("basic-paxos")))
    assert main(["search", str(path), "--strategy", "random", flag, value]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and f"{flag}: must be" in err


def nothing_to_do() -> dict:
    data = small("basic-paxos")
    data["events"] = []
    return data


def test_a_random_search_with_nothing_to_do_ends_complete_like_bfs():
    walked = search(nothing_to_do(), strategy="random", progress=False)
    exhausted = search(nothing_to_do(), progress=False)
    for result in (walked, exhausted):
        assert result.complete and result.stopped == "complete" and result.transitions == 0
        assert not result.ok and result.property == "a value can be chosen"


def test_a_random_walk_depth_is_its_own_bound_not_replaced_by_the_default():
    result = search(small("basic-paxos"), strategy="random", max_depth=1, max_states=30,
                    progress=False)
    assert result.depth == 1 and result.stopped == "max_states"


def test_the_headline_says_why_the_search_stopped():
    found = bfs("promise-omits-accepted")
    assert found.stopped == "violation" and "(stopped at a violation)" in found.explain()
    assert "budget reached" not in found.explain()
    assert bfs("basic-paxos").stopped == "complete"
    assert "(complete)" in bfs("basic-paxos").explain().splitlines()[0]
    by_states = search(small("basic-paxos"), max_states=20, progress=False)
    assert by_states.stopped == "max_states" and "(budget reached: max_states)" in by_states.explain()
    shallow = search(small("basic-paxos"), max_depth=3, progress=False)
    assert shallow.stopped == "max_depth" and not shallow.complete
    assert shallow.summary()["stopped"] == "max_depth"


def interrupt_soon(seconds: float = 0.3):
    """A real Ctrl-C (SIGINT to this process) after ``seconds``."""
    import os
    import signal
    import threading

    timer = threading.Timer(seconds, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    return timer


def test_an_interrupted_search_says_so_and_is_not_ok():
    timer = interrupt_soon()
    try:
        result = search("data/scenarios/search-basic-paxos.json", max_seconds=60, progress=False)
    finally:
        timer.join()
    assert result.interrupted and result.stopped == "interrupted"
    assert not result.ok and not result.complete and result.property is None
    text = result.explain()
    assert "(interrupted)" in text.splitlines()[0] and "nothing is proved" in text
    assert "no violation found" not in text


class CtrlCOnWrite:
    """A stream that sends this process a Ctrl-C at every write (a user pressing it again
    and again while the outcome is printed)."""

    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> int:
        import signal

        signal.raise_signal(signal.SIGINT)
        self.text += text
        return len(text)

    def flush(self) -> None:
        pass


def test_cli_interrupted_search_prints_one_line_and_exits_130(monkeypatch):
    out, err = CtrlCOnWrite(), CtrlCOnWrite()
    monkeypatch.setattr("sys.stdout", out)
    monkeypatch.setattr("sys.stderr", err)
    timer = interrupt_soon()
    try:
        code = main(["search", "data/scenarios/search-basic-paxos.json", "--max-seconds", "60"])
    finally:
        timer.join()
    assert code == 130
    lines = [line for line in err.text.splitlines() if line.startswith("paxoslab:")]
    assert len(lines) == 1 and "interrupted, nothing is proved" in lines[0]
    assert out.text == ""


def test_cli_counterexample_file_stays_in_the_working_directory(tmp_path, monkeypatch, capsys):
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    data = small("accept-below-promise")
    data["name"] = "../../x"
    scenario = work / "s.json"
    scenario.write_text(json.dumps(data))
    monkeypatch.chdir(work)
    assert main(["search", str(scenario)]) == 1
    assert (work / "x-counterexample.json").exists()
    assert sorted(p.name for p in tmp_path.rglob("*.json")) == ["s.json", "x-counterexample.json"]
    assert "replay: python -m paxoslab run x-counterexample.json" in capsys.readouterr().out


def test_a_rewritten_node_must_declare_what_its_handlers_change():
    """Worlds are told apart by declared state: a field left out would merge worlds that
    differ in it, and the search could report 'no violation' it did not earn."""
    from paxoslab.protocols.basic_paxos import PaxosNode
    from paxoslab.search import UndeclaredState

    class Counting(PaxosNode):
        def __init__(self, *args):
            super().__init__(*args)
            self.seen = 0

        def on_promise(self, msg, src):
            self.seen += 1
            super().on_promise(msg, src)

    with pytest.raises(UndeclaredState, match=r"field 'seen' changed while handling Promise .*"
                                               r"STATE = PaxosNode\.STATE \+ \('seen',\)"):
        pl.search("data/scenarios/search-accept-below-promise.json", node_class=Counting, max_seconds=30,
                  progress=False)

    class Declared(Counting):
        STATE = (*PaxosNode.STATE, "seen")

    result = pl.search("data/scenarios/search-accept-below-promise.json", node_class=Declared,
                       max_seconds=30, progress=False)
    assert result.stopped == "violation"


def test_a_search_stops_a_handler_that_never_returns():
    from paxoslab.protocols.basic_paxos import PaxosNode
    from paxoslab.sim import HandlerError

    class Loops(PaxosNode):
        def on_accept(self, msg, src):
            while True:
                pass

    with pytest.raises(HandlerError, match="failed while handling Accept .* did not return within 0.5 s"):
        pl.search("data/scenarios/search-accept-below-promise.json", node_class=Loops,
                  max_handler_seconds=0.5, progress=False)


def test_a_counterexample_of_a_rewritten_node_is_replayed_with_that_node():
    """The command line would run the library's node and show no violation."""
    from paxoslab.protocols.basic_paxos import PaxosNode

    class Mine(PaxosNode):
        def may_accept(self, ballot):
            return True  # accepts below its promise

    result = pl.search("data/scenarios/search-basic-paxos.json", node_class=Mine, max_seconds=60,
                       progress=False)
    text = result.explain()
    assert "python -m paxoslab run" not in text
    assert text.endswith("replay with your node: pl.run_scenario(result.counterexample.scenario, "
                         "node_class=Mine).narrate()")
    replayed = pl.run_scenario(result.counterexample.scenario, node_class=Mine).summary()
    assert [v["property"] for v in replayed["violations"]][:1] == [result.property]


def test_a_search_with_learning_retried_ends():
    """learn_retry on (the default): each LearnTimeout asks again, and its doubling wait is
    timing only (PaxosNode.TIMING), so a re-ask that changes nothing else is a re-send the
    search bounds (MAX_RESENDS per node) instead of an endless supply of Ask messages."""
    data = pl.load_scenario("data/scenarios/search-basic-paxos.json")
    del data["options"]["learn_retry"]
    data["events"] = [e for e in data["events"] if e.get("propose", {}).get("node") != "S2"]
    data["network"].pop("drop")
    result = pl.search(data, max_seconds=120, progress=False)
    assert result.complete and result.ok
    data["options"]["learn_retry"] = None
    without = pl.search(data, max_seconds=120, progress=False)
    assert without.complete and without.states < result.states  # the asks are explored


def test_the_result_says_which_bounds_cut_steps():
    """A complete bounded search covers only what its bounds allowed: it says so."""
    result = search("data/scenarios/search-basic-paxos.json", progress=False)
    assert result.complete and result.bounded["max_ballots"] > 0 and result.bounded["re-sends"] == 0
    assert "bounded: not taken" in result.explain().splitlines()[1]


def test_a_goal_is_never_reached_only_when_every_world_was_seen():
    """A search that stopped early says a goal was not reached in the states it saw; only a
    complete one says NEVER."""
    data = pl.load_scenario("data/scenarios/search-basic-paxos.json")
    data["events"] = []  # nobody proposes: nothing can be chosen
    complete = search(data, progress=False)
    assert complete.complete and "goal 'a value can be chosen': NEVER reached" in complete.explain()
    data["events"] = pl.load_scenario("data/scenarios/search-basic-paxos.json")["events"][:1]
    cut = search(data, progress=False, max_depth=1)
    assert not cut.complete and not cut.goals["a value can be chosen"]
    assert "goal 'a value can be chosen': not reached in the states seen" in cut.explain()


def test_asking_at_once_finds_what_asking_at_any_moment_finds():
    """learn_retry on: the search fires a LearnTimeout that only re-sends in the step that
    arms it (SearchHints.eager_resends), not at every later moment; the outcome is the
    unreduced search's, the counterexample as short, and it keeps no ask it does not need."""
    data = lossless("promise-omits-accepted")
    del data["options"]["learn_retry"]
    reduced = search(data, progress=False)
    full = search(data, progress=False, reduce=False)
    assert outcome(reduced) == outcome(full)
    assert reduced.states < full.states
    schedule = reduced.counterexample.scenario["schedule"]
    assert not any(entry.get("type") == "LearnTimeout" for entry in schedule)
    replay = pl.run_scenario(json.loads(json.dumps(reduced.counterexample.scenario)))
    assert [v.property for v in replay.violations][:1] == ["agreement"]


def test_a_default_options_search_is_exhausted():
    """Default options (learn_retry on) on the bug-free configuration, cut down to one
    crash-free proposer: complete, with the asks fired at once and their answers ignored."""
    data = pl.load_scenario("data/scenarios/search-basic-paxos.json")
    data["options"] = {"bugs": []}
    data["events"] = data["events"][:1]
    result = search(data, progress=False, max_seconds=60)
    assert result.complete and result.ok and result.bounded["re-sends"] > 0
