"""Multi-Paxos (Raft formulation): the rules one handler at a time, the course's stories,
the situations a well-known Raft lab test suite checks, the bugs, and many generated runs.

Message-count bounds checked here (n servers, quiet network, no loss):

* an election that one candidate wins in its first term costs exactly 2(n-1) messages
  (one RequestVote and one reply per other server); the initial election of a 3-server
  cluster with random timeouts stays under 30 messages (the lab's bound);
* with a stable leader, each client command costs at most 4(n-1) messages beyond the
  heartbeats: AppendEntries + reply to every follower to replicate it, and once more to
  tell them the new commit index.  A command submitted to a follower adds one Forward.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st

import paxoslab as pl
from paxoslab.protocols.multi_paxos import (
    BUGS,
    AppendEntries,
    AppendEntriesReply,
    ElectionTimeout,
    Heartbeat,
    MultiPaxosNode,
    RequestVote,
    RequestVoteReply,
    current_leader,
)
from paxoslab.statemachine import NOOP

THREE = ["S1", "S2", "S3"]
FIVE = ["S1", "S2", "S3", "S4", "S5"]


def node(node_id="S2", nodes=THREE, bugs=(), noop=True, **state) -> MultiPaxosNode:
    n = MultiPaxosNode(node_id, nodes, {"bugs": list(bugs), "noop": noop})
    for key, value in state.items():
        setattr(n, key, value)
    return n


def sends(n: MultiPaxosNode) -> list[tuple[str, object]]:
    return [(e[1], e[2]) for e in n.take_effects() if e[0] == "send"]


def effects(n: MultiPaxosNode) -> list[str]:
    return [e[0] if e[0] != "note" else f"note:{e[1]}" for e in n.take_effects()]


def scenario(events, nodes=FIVE, until=1000, network=None, **options) -> dict:
    return {
        "name": "test", "protocol": "multi-paxos", "nodes": list(nodes),
        "network": network or {"delay": {"uniform": [2, 8]}},
        "options": {"election_timeout": [150, 300], "heartbeat": 50, **options},
        "events": events, "until": until,
    }


def run(data, seed=None) -> dict:
    summary = pl.run_scenario(data, seed=seed).summary()
    assert summary["violations"] == [], summary["violations"]
    return summary


def leader_terms(summary) -> list[tuple[int, str]]:
    return [(x["term"], x["node"]) for x in summary["leaders"]]


def committed_prefix(summary, node_id) -> list[str]:
    log = summary["logs"][node_id][:summary["commit_index"][node_id]]
    return [e["command"] for e in log]


def client_commands(commands) -> list[str]:
    """The clients' commands among a log's or an ``applied`` list's (no leader's no-op)."""
    return [c for c in commands if c != NOOP]


# ---- the rules, one handler at a time ------------------------------------------------------
def test_a_vote_goes_to_the_first_candidate_of_a_term_only():
    n = node()
    n.on_request_vote(RequestVote(1, "S1", 0, 0), "S1")
    assert sends(n) == [("S1", RequestVoteReply(1, True))]
    n.on_request_vote(RequestVote(1, "S3", 0, 0), "S3")
    assert sends(n) == [("S3", RequestVoteReply(1, False))]
    n.on_request_vote(RequestVote(1, "S1", 0, 0), "S1")  # a repeated request is granted again
    assert sends(n) == [("S1", RequestVoteReply(1, True))]


def test_the_vote_is_persisted_before_the_reply():
    n = node()
    n.on_request_vote(RequestVote(1, "S1", 0, 0), "S1")
    kinds = effects(n)
    assert kinds.index("persist") < kinds.index("send")


@pytest.mark.parametrize(("last_index", "last_term", "granted"), [
    (2, 1, False),  # same last term, shorter log
    (3, 1, True),   # same last term, as long
    (1, 2, True),   # higher last term wins even if shorter
])
def test_a_vote_needs_a_log_at_least_as_up_to_date(last_index, last_term, granted):
    n = node(log=((1, "set a 1"), (1, "set b 2"), (1, "set c 3")), current_term=1)
    n.on_request_vote(RequestVote(2, "S1", last_index, last_term), "S1")
    assert sends(n) == [("S1", RequestVoteReply(2, granted))]


def test_bug_vote_without_log_check_grants_to_a_stale_log():
    n = node(bugs=["vote-without-log-check"], log=((1, "set a 1"),), current_term=1)
    n.on_request_vote(RequestVote(2, "S1", 0, 0), "S1")
    assert sends(n) == [("S1", RequestVoteReply(2, True))]


def test_bug_vote_twice_grants_a_second_candidate():
    n = node(bugs=["vote-twice-in-term"], current_term=1, voted_for="S1")
    n.on_request_vote(RequestVote(1, "S3", 0, 0), "S3")
    assert sends(n) == [("S3", RequestVoteReply(1, True))]


def test_a_higher_term_turns_a_leader_into_a_follower_of_that_term():
    n = node("S1", current_term=2)
    n.become_leader()
    n.take_effects()
    n.on_append_entries_reply(AppendEntriesReply(5, False, 0), "S2")
    assert (n.role, n.current_term, n.voted_for) == ("follower", 5, None)
    done = n.take_effects()
    assert ("cancel_timer", Heartbeat()) in done
    assert any(e[0] == "set_timer" and e[1] == ElectionTimeout() for e in done)


def test_a_stale_term_is_refused_with_the_current_term():
    n = node(current_term=3)
    n.on_append_entries(AppendEntries(2, "S1", 0, 0, ((2, "set x 1"),), 0), "S1")
    assert sends(n) == [("S1", AppendEntriesReply(3, False, 0, 0, None))]
    assert n.log == ()


def test_consistency_check_refuses_and_hints_the_first_index_of_the_conflicting_term():
    n = node(current_term=3, log=((1, "set a 1"), (2, "set b 2"), (2, "set c 3"), (2, "set d 4")))
    n.on_append_entries(AppendEntries(3, "S1", 4, 3, ((3, "set e 5"),), 0), "S1")
    assert sends(n) == [("S1", AppendEntriesReply(3, False, 0, 2, 2))]
    n.on_append_entries(AppendEntries(3, "S1", 9, 3, (), 0), "S1")  # too short: its length + 1
    assert sends(n) == [("S1", AppendEntriesReply(3, False, 0, 5, None))]


def test_only_a_real_conflict_deletes_entries():
    log = ((1, "set a 1"), (1, "set b 2"), (1, "set c 3"))
    n = node(current_term=1, log=log)
    n.on_append_entries(AppendEntries(1, "S1", 0, 0, ((1, "set a 1"),), 0), "S1")  # stale, shorter
    assert n.log == log
    assert sends(n) == [("S1", AppendEntriesReply(1, True, 1))]
    n.on_append_entries(AppendEntries(2, "S3", 1, 1, ((2, "set z 9"),), 0), "S3")
    assert n.log == ((1, "set a 1"), (2, "set z 9"))
    assert "note:truncated" in effects(n)


def test_the_follower_commits_no_further_than_what_this_message_verified():
    n = node(current_term=1, log=((1, "set a 1"), (1, "set b 2"), (1, "set c 3")))
    n.on_append_entries(AppendEntries(1, "S1", 1, 1, (), 3), "S1")
    assert n.commit_index == 1 and n.machine.snapshot() == {"a": "1"}


def test_bug_append_without_consistency_check_appends_after_a_wrong_entry():
    n = node(bugs=["append-without-consistency-check"], current_term=2, log=((1, "set a 1"),))
    n.on_append_entries(AppendEntries(2, "S1", 1, 2, ((2, "set b 2"),), 0), "S1")
    assert n.log == ((1, "set a 1"), (2, "set b 2"))


def leader_with(log, term, bugs=(), noop=False):
    n = node("S1", FIVE, bugs=bugs, noop=noop, current_term=term, log=log)
    n.become_leader()
    n.take_effects()
    return n


def test_the_leader_commits_only_entries_of_its_own_term_by_counting():
    n = leader_with(((1, "set a 1"),), term=3)
    for peer in ("S2", "S3"):
        n.on_append_entries_reply(AppendEntriesReply(3, True, 1), peer)
    assert n.commit_index == 0  # a majority stores #1, but it is of term 1
    n.submit("set b 2")
    for peer in ("S2", "S3"):
        n.on_append_entries_reply(AppendEntriesReply(3, True, 2), peer)
    assert n.commit_index == 2  # #1 commits through #2
    assert n.machine.snapshot() == {"a": "1", "b": "2"}


def test_bug_commit_old_term_by_count_commits_the_earlier_term():
    n = leader_with(((1, "set a 1"),), term=3, bugs=["commit-old-term-by-count"])
    for peer in ("S2", "S3"):
        n.on_append_entries_reply(AppendEntriesReply(3, True, 1), peer)
    assert n.commit_index == 1


def test_the_leader_backs_up_past_a_whole_conflicting_term_at_once():
    log = tuple((1, f"set k {i}") for i in range(5)) + tuple((3, f"set k {i}") for i in range(5))
    n = leader_with(log, term=4)
    n.on_append_entries_reply(AppendEntriesReply(4, False, 0, 2, 2), "S2")  # term 2 is not ours
    assert n.next_index["S2"] == 2
    n.on_append_entries_reply(AppendEntriesReply(4, False, 0, 3, 1), "S3")  # we have term 1 to #5
    assert n.next_index["S3"] == 6


def test_a_stale_success_never_moves_the_match_index_back():
    n = leader_with(((4, "set a 1"), (4, "set b 2")), term=4)
    n.on_append_entries_reply(AppendEntriesReply(4, True, 2), "S2")
    n.on_append_entries_reply(AppendEntriesReply(4, True, 1), "S2")
    n.on_append_entries_reply(AppendEntriesReply(4, False, 0, 1, None), "S2")
    assert n.match_index["S2"] == 2 and n.next_index["S2"] == 3


def test_a_crash_keeps_term_vote_and_log_and_forgets_the_rest():
    data = scenario([{"at": 0, "timeout": "S1"}, {"at": 30, "submit": {"command": "set x 1"}},
                     {"at": 100, "crash": "S2"}], until=100)
    result = pl.run_scenario(data)
    assert result.sim.nodes["S2"] is None
    assert result.sim.stable["S2"] == {"current_term": 1, "voted_for": "S1",
                                       "log": [(1, NOOP), (1, "set x 1")]}


def test_a_client_command_to_a_follower_is_forwarded_or_rejected():
    n = node(leader_id="S1")
    n.submit("set x 1", 7)
    (dst, msg), = sends(n)
    assert dst == "S1" and msg.command == "set x 1" and msg.request == 7
    n = node()
    n.submit("set x 1")
    assert "note:rejected" in effects(n)


def test_timeout_action_makes_that_server_stand_now():
    summary = run(scenario([{"at": 5, "timeout": "S4"}], until=40))
    assert leader_terms(summary) == [(1, "S4")]


def test_a_submit_without_node_goes_to_the_leader_of_the_highest_term_or_nowhere():
    summary = run(scenario([{"at": 0, "submit": {"command": "set x 1"}},
                            {"at": 0, "timeout": "S2"}, {"at": 50, "submit": {"command": "set y 2"}}],
                           until=120))
    first, second = summary["commands"]
    assert first["status"] == "no leader" and first["to"] is None
    assert second["to"] == "S2" and second["committed"]
    assert sorted(second["applied_on"]) == FIVE


def test_bad_options_and_actions_are_one_clear_line():
    for field, value, words in [
        ("options", {"election_timeout": [300, 150]}, "options.election_timeout: low must not exceed"),
        ("options", {"heartbeat": 0}, "options.heartbeat: must be at least 0.001 ms"),
        ("options", {"heartbeat": 1e-300}, "options.heartbeat: must be at least 0.001 ms"),
        ("options", {"heartbeat": -5}, "options.heartbeat: must be at least 0"),
        ("options", {"election_timeout": [1e-300, 2e-300]}, "options.election_timeout[0]: must be at least"),
        ("options", {"election_timeout": [0, 5]}, "options.election_timeout[0]: must be at least"),
        ("events", [{"at": 0, "submit": {"command": "put x 1"}}], "events[0].submit.command"),
        ("events", [{"at": 0, "submit": {"command": NOOP}}], "events[0].submit.command"),
        ("events", [{"at": 0, "submit": {"command": "get x", "client": "c1"}}],
         "events[0].submit.seq: missing"),
        ("events", [{"at": 0, "submit": {"command": "get x", "seq": 1}}],
         "events[0].submit.client: missing"),
        ("events", [{"at": 0, "submit": {"command": "get x", "client": 7, "seq": 1}}],
         "events[0].submit.client: must be a client name"),
        ("events", [{"at": 0, "submit": {"command": "get x", "client": "", "seq": 1}}],
         "events[0].submit.client: must be a non-empty"),
        ("events", [{"at": 0, "submit": {"command": "get x", "client": "c1", "seq": 0}}],
         "events[0].submit.seq: must be at least 1"),
        ("events", [{"at": 0, "submit": {"command": "get x", "client": "c1", "seq": 1.5}}],
         "events[0].submit.seq: must be a whole number"),
        ("events", [{"at": 0, "submit": {"command": "get x", "req": 1}}],
         "events[0].submit.req: unknown key"),
        ("options", {"noop": "yes"}, "options.noop: must be true or false"),
        ("events", [{"at": 0, "timeout": "S9"}], "events[0].timeout: unknown node"),
        ("options", {"bugs": ["no-such-bug"]}, "options.bugs[0]: unknown bug"),
    ]:
        data = scenario([])
        data[field] = value
        with pytest.raises(pl.ScenarioError, match=words.replace("[", r"\[").replace("]", r"\]")):
            pl.run_scenario(data)


# ---- the course's stories (data/scenarios) -------------------------------------------------
def test_the_partition_story_plays_out_as_the_course_tells_it(scenario):
    result = pl.run_scenario(scenario("multi-paxos-partition"))
    s = result.summary()
    assert s["violations"] == [] and s["expect"]["ok"]
    assert leader_terms(s) == [(1, "S1"), (2, "S3")]
    events = result.trace.events
    split = next(e.time for e in events if e.kind == "partition")
    heal = next(e.time for e in events if e.kind == "heal")
    s3_leads = next(x["at"] for x in s["leaders"] if x["node"] == "S3")
    s1_steps_down = next(e.time for e in events if e.kind == "role" and e.node == "S1"
                         and e.payload["role"] == "follower" and e.time > split)
    assert split < s3_leads < heal < s1_steps_down  # two leaders at once, until the heal
    minority = next(c for c in s["commands"] if c["command"] == "set x 2")
    assert minority["status"] == "rolled back" and minority["applied_on"] == {}
    rolled = {e.node for e in events if e.kind == "truncated"}
    assert rolled == {"S1", "S2"}
    majority = [c for c in s["commands"] if c["term"] == 2]
    assert majority and all(c["committed_at"] < heal for c in majority)
    assert s["converged"] and len({repr(v) for v in s["state"].values()}) == 1
    assert all(minority["command"] not in applied for applied in s["applied"].values())


def test_the_partition_story_holds_for_any_delays(scenario):
    data = scenario("multi-paxos-partition")
    data["network"] = {"delay": {"uniform": [1, 9]}}
    data.pop("expect")
    for seed in range(20):
        s = run(data, seed)
        assert [n for _, n in leader_terms(s)][:2] == ["S1", "S3"]
        assert s["converged"]
        assert next(c for c in s["commands"] if c["command"] == "set x 2")["status"] == "rolled back"


# ---- what a Raft lab test suite checks -------------------------------------------------------
def test_initial_election_one_leader_and_stable_terms_while_nothing_fails():
    for seed in range(10):
        s = run(scenario([], nodes=THREE, until=2000), seed)
        assert len(s["leaders"]) == 1
        assert s["messages"]["by_type"]["RequestVote"] <= 2 * 2


def test_reelection_after_the_leader_is_cut_off_and_none_without_a_majority():
    for seed in range(5):
        data = scenario([{"at": 0, "timeout": "S1"},
                         {"at": 100, "partition": [["S1"], ["S2", "S3"]]},
                         {"at": 600, "heal": True},   # the old leader rejoins: still one leader
                         {"at": 1000, "partition": [["S1"], ["S2"], ["S3"]]},
                         {"at": 2500, "heal": True}], nodes=THREE, until=3200)
        result = pl.run_scenario(data, seed=seed)
        s = result.summary()
        assert s["violations"] == []
        terms = leader_terms(s)
        assert terms[0] == (1, "S1") and terms[1][1] in ("S2", "S3")
        assert 100 < s["leaders"][1]["at"] < 600
        assert not [x for x in s["leaders"] if 1000 + 10 < x["at"] < 2500]  # no majority, no leader
        assert s["leaders"][-1]["at"] > 2500  # a leader again once a majority can talk
        assert current_leader(result.sim) is not None


def test_many_elections_under_repeated_disconnects():
    nodes = [f"S{i}" for i in range(1, 8)]
    for seed in range(3):
        r = random.Random(seed)
        events = []
        for k in range(10):
            cut = r.sample(nodes, 3)
            events += [{"at": 300 * k, "partition": [cut]}]
        events.append({"at": 3000, "heal": True})
        result = pl.run_scenario(scenario(events, nodes=nodes, until=3600), seed=seed)
        s = result.summary()
        assert s["violations"] == []
        assert len({x["term"] for x in s["leaders"]}) == len(s["leaders"])
        assert current_leader(result.sim) is not None


def test_basic_agreement():
    commands = [f"set k{i} {i}" for i in range(5)]
    s = run(scenario([{"at": 0, "timeout": "S1"}]
                     + [{"at": 30 + 20 * i, "submit": {"command": c}} for i, c in enumerate(commands)],
                     until=400))
    for n in FIVE:
        assert committed_prefix(s, n) == [NOOP] + commands == s["applied"][n]
    assert all(c["status"] == "committed" and c["index"] == i + 2  # after S1's no-op
               for i, c in enumerate(s["commands"]))


def test_agreement_despite_a_failed_follower():
    s = run(scenario([{"at": 0, "timeout": "S1"}, {"at": 20, "partition": [["S3"]]},
                      {"at": 30, "submit": {"command": "set a 1"}},
                      {"at": 60, "submit": {"command": "set b 2"}},
                      {"at": 100, "heal": True}, {"at": 200, "submit": {"command": "set c 3"}}],
                     nodes=THREE, until=400))
    assert all(c["committed_at"] < 100 for c in s["commands"][:2])
    assert client_commands(s["applied"]["S3"]) == ["set a 1", "set b 2", "set c 3"] and s["converged"]


def test_no_commit_without_a_majority():
    s = run(scenario([{"at": 0, "timeout": "S1"},
                      {"at": 20, "partition": [["S1", "S2"], ["S3"], ["S4"], ["S5"]]},
                      {"at": 30, "submit": {"command": "set a 1"}},
                      {"at": 100, "heal": True}],
                     until=300, election_timeout=[1000, 2000]))
    c, = s["commands"]
    assert c["committed"] and c["committed_at"] > 100  # only once the majority is back
    assert c["known_committed_at"] > c["committed_at"]


def test_concurrent_submits_all_commit_once_in_one_order():
    commands = [f"set k{i} {i}" for i in range(12)]
    s = run(scenario([{"at": 0, "timeout": "S1"}]
                     + [{"at": 50, "submit": {"command": c, "node": FIVE[i % 5]}}
                        for i, c in enumerate(commands)], until=400))
    assert sorted(client_commands(s["applied"]["S1"])) == sorted(commands)
    assert all(s["applied"][n] == s["applied"]["S1"] for n in FIVE)
    assert sorted(c["index"] for c in s["commands"]) == list(range(2, 14))  # #1: S1's no-op


def test_rejoin_of_a_partitioned_leader():
    s = run(scenario([{"at": 0, "timeout": "S1"}, {"at": 20, "submit": {"command": "set a 1"}},
                      {"at": 60, "partition": [["S1"], ["S2", "S3"]]},
                      {"at": 70, "submit": {"command": "set b 2", "node": "S1"}},
                      {"at": 80, "submit": {"command": "set c 3", "node": "S1"}},
                      {"at": 90, "timeout": "S2"},
                      {"at": 150, "submit": {"command": "set d 4", "node": "S2"}},
                      {"at": 200, "partition": [["S2"], ["S1", "S3"]]},
                      {"at": 210, "submit": {"command": "set e 5", "node": "S1"}},
                      {"at": 600, "heal": True},
                      {"at": 700, "submit": {"command": "set f 6"}}], nodes=THREE, until=1000))
    assert s["converged"]
    assert "set d 4" in s["applied"]["S1"] and "set b 2" not in s["applied"]["S1"]


def test_fast_backup_over_long_wrong_logs():
    """The lab's backup test: tens of uncommitted entries on both sides of a partition."""
    events = [{"at": 0, "timeout": "S1"}, {"at": 20, "submit": {"command": "set base 0"}},
              {"at": 50, "partition": [["S1", "S2"], ["S3", "S4", "S5"]]}]
    events += [{"at": 60 + i, "submit": {"command": f"set lost {i}", "node": "S1"}} for i in range(50)]
    events += [{"at": 120, "timeout": "S3"}]
    events += [{"at": 150 + i, "submit": {"command": f"set kept {i}", "node": "S3"}} for i in range(50)]
    events += [{"at": 250, "partition": [["S1", "S2", "S4"], ["S3", "S5"]]}]
    events += [{"at": 260 + i, "submit": {"command": f"set lost2 {i}", "node": "S3"}} for i in range(50)]
    events += [{"at": 400, "timeout": "S4"}]
    events += [{"at": 450 + i, "submit": {"command": f"set kept2 {i}"}} for i in range(50)]
    events += [{"at": 600, "heal": True}, {"at": 700, "submit": {"command": "set end 1"}}]
    result = pl.run_scenario(scenario(events, until=1100, election_timeout=[1000, 2000],
                                      network={"delay": {"fixed": 2}}))
    s = result.summary()
    assert s["violations"] == [] and s["converged"]
    applied = client_commands(s["applied"]["S1"])
    assert len(applied) == 1 + 50 + 50 + 1 and not any("lost" in c for c in applied)
    refusals = sum(1 for m in result.trace.message_rows()
                   if m["msg_type"] == "AppendEntriesReply" and not m["payload"]["success"])
    # without the term hint a follower 50 wrong entries away costs about 50 refusals
    assert refusals <= 12


def test_an_election_costs_two_messages_per_other_server():
    for n in (3, 5, 7):
        nodes = [f"S{i}" for i in range(1, n + 1)]
        s = run(scenario([{"at": 0, "timeout": "S1"}], nodes=nodes, until=20,
                         election_timeout=[1000, 2000]))
        by_type = s["messages"]["by_type"]
        assert by_type["RequestVote"] + by_type["RequestVoteReply"] == 2 * (n - 1)


def test_initial_election_with_random_timeouts_stays_under_the_labs_bound():
    for seed in range(20):
        s = run(scenario([], nodes=THREE, until=400), seed)
        assert s["leaders"]
        votes = s["messages"]["by_type"].get("RequestVote", 0) + s["messages"]["by_type"].get(
            "RequestVoteReply", 0)
        assert votes < 30


def test_each_command_costs_at_most_four_messages_per_follower_with_a_stable_leader():
    k, n = 10, 5
    base = scenario([{"at": 0, "timeout": "S1"}], until=400, heartbeat=1000,
                    election_timeout=[2000, 3000], network={"delay": {"fixed": 2}})
    quiet = run(base)["messages"]["sent"]
    busy = dict(base, events=base["events"] + [{"at": 20 + 30 * i, "submit": {"command": f"set k {i}"}}
                                               for i in range(k)])
    s = run(busy)
    assert all(c["committed"] for c in s["commands"])
    assert s["messages"]["sent"] - quiet <= 4 * (n - 1) * k


def test_persistence_across_crashes_of_several_servers():
    events = [{"at": 0, "timeout": "S1"}, {"at": 20, "submit": {"command": "set a 1"}}]
    events += [{"at": 60, "crash": n} for n in FIVE]          # everybody down
    events += [{"at": 80, "recover": n} for n in FIVE]
    events += [{"at": 500, "submit": {"command": "set b 2"}},
               {"at": 600, "crash": "S1"}, {"at": 600, "crash": "S2"},  # leader and a follower
               {"at": 650, "submit": {"command": "set c 3"}},
               {"at": 1100, "recover": "S1"}, {"at": 1100, "recover": "S2"},
               {"at": 1200, "submit": {"command": "set d 4"}}]
    for seed in range(5):
        s = run(scenario(events, until=1600), seed)
        assert s["converged"]
        applied = client_commands(s["applied"]["S3"])
        assert applied[:2] == ["set a 1", "set b 2"] and applied[-1] == "set d 4"
        terms = [x["term"] for x in s["leaders"]]
        assert terms == sorted(set(terms))  # one leader per term, terms only grow


def churn(seed: int, bugs=()) -> dict:
    """The lab's unreliable churn: crashes, recoveries, loss, duplication, reordering."""
    r = random.Random(seed)
    events, down = [], set()
    for k in range(40):
        at = 25 * k
        victim = r.choice(FIVE)
        if victim in down:
            events.append({"at": at, "recover": victim})
            down.discard(victim)
        elif len(down) < 2:
            events.append({"at": at, "crash": victim})
            down.add(victim)
        events.append({"at": at + 5, "submit": {"command": f"set k{k % 4} {k}",
                                                "node": r.choice(FIVE)}})
    events += [{"at": 1000, "recover": n} for n in sorted(down)]
    events.append({"at": 1500, "submit": {"command": "set end 1"}})
    return {**scenario(events, until=2600, election_timeout=[40, 80], heartbeat=10,
                       network={"delay": {"uniform": [1, 12]}, "drop": 0.1, "duplicate": 0.1}),
            "seed": seed, "options": {"election_timeout": [40, 80], "heartbeat": 10, "bugs": list(bugs)}}


@pytest.mark.parametrize("seed", range(6))
def test_churn_with_loss_and_crashes(seed):
    s = run(churn(seed))
    assert s["converged"]
    committed = [c for c in s["commands"] if c["committed"]]
    assert committed and s["commands"][-1]["committed"]
    for c in committed:
        assert all(s["applied"][n][c["index"] - 1] == c["command"] for n in FIVE)


# ---- the bugs -----------------------------------------------------------------------------
@pytest.mark.parametrize("bug", sorted(BUGS))
def test_each_bug_breaks_a_property_in_its_scenario_and_the_rule_keeps_it(bug, scenario):
    data = scenario(f"multi-paxos-bug-{bug}")
    assert data["options"]["bugs"] == [bug]
    assert pl.run_scenario(data).summary()["violations"]
    data["options"]["bugs"] = []
    data.pop("expect")
    assert pl.run_scenario(data).summary()["violations"] == []


@pytest.mark.parametrize(("bug", "property"), [
    ("vote-twice-in-term", "election-safety"),
    ("vote-without-log-check", "leader-completeness"),
    ("commit-old-term-by-count", "leader-completeness"),
    ("append-without-consistency-check", "log-matching"),
    ("vote-forgotten-on-crash", "election-safety"),
])
def test_each_bug_is_named_by_the_property_it_breaks(bug, property, scenario):
    found = {v["property"] for v in pl.run_scenario(scenario(f"multi-paxos-bug-{bug}"))
             .summary()["violations"]}
    assert property in found


# ---- many generated runs ---------------------------------------------------------------------
delays = st.one_of(
    st.builds(lambda d: {"fixed": d}, st.floats(0.5, 6, allow_nan=False)),
    st.builds(lambda lo, span: {"uniform": [lo, lo + span]},
              st.floats(0, 3, allow_nan=False), st.floats(0.1, 12, allow_nan=False)),
    st.builds(lambda m: {"exponential": m}, st.floats(0.5, 5, allow_nan=False)),
)
probabilities = st.one_of(st.just(0.0), st.floats(0, 0.3, allow_nan=False))
times = st.floats(0, 250, allow_nan=False)


@st.composite
def multi_paxos_scenarios(draw):
    n = draw(st.integers(3, 5))
    nodes = [f"S{i}" for i in range(1, n + 1)]
    node = st.sampled_from(nodes)
    events = []
    seqs = {"c1": 0, "c2": 0}
    for i in range(draw(st.integers(1, 8))):
        submit = {"command": draw(st.sampled_from([f"set k{i % 3} {i}", f"append k{i % 3} {i}",
                                                   f"get k{i % 3}"]))}
        if draw(st.booleans()):
            submit["node"] = draw(node)
        if draw(st.booleans()):  # a client session: a new request, or a retry of the last one
            client = draw(st.sampled_from(sorted(seqs)))
            seqs[client] += 1 if not seqs[client] or draw(st.booleans()) else 0
            submit.update(client=client, seq=seqs[client])
        events.append({"at": draw(times), "submit": submit})
    for _ in range(draw(st.integers(0, 4))):
        victim, down_at = draw(node), draw(times)
        events.append({"at": down_at, "crash": victim})
        if draw(st.integers(0, 4)):
            events.append({"at": down_at + draw(st.floats(0, 80, allow_nan=False)), "recover": victim})
    for _ in range(draw(st.integers(0, 2))):
        cut = draw(st.lists(node, min_size=1, max_size=n - 1, unique=True))
        start = draw(times)
        events.append({"at": start, "partition": [cut]})
        events.append({"at": start + draw(st.floats(0, 120, allow_nan=False)), "heal": True})
    for _ in range(draw(st.integers(0, 3))):
        events.append({"at": draw(times), "timeout": draw(node)})
    low = draw(st.sampled_from([10, 20, 40]))
    return {
        "name": "property", "protocol": "multi-paxos", "nodes": nodes,
        "network": {"delay": draw(delays), "drop": draw(probabilities),
                    "duplicate": draw(probabilities)},
        "options": {"election_timeout": [low, low + draw(st.sampled_from([0, 5, 20, 40]))],
                    "heartbeat": draw(st.sampled_from([3, 5, 8])),
                    "persist_ms": draw(st.sampled_from([0, 0, 2])),
                    "noop": draw(st.sampled_from([True, True, False]))},
        "events": events,
        "until": 400,
    }


@settings(max_examples=1000, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=multi_paxos_scenarios(), seed=st.integers(0, 2**32 - 1))
def test_multi_paxos_stays_safe_whatever_the_network_and_faults(data, seed):
    result = pl.run_scenario(data, seed=seed, detailed=False)
    assert result.violations == []  # (not the summary: its trace digest would double the time)
    submitted = {e["submit"]["command"] for e in data["events"] if "submit" in e}
    for node_id, live in result.sim.nodes.items():
        if live is None:
            continue
        assert {entry[1] for entry in live.log} <= submitted | {NOOP}
        stable = result.sim.stable[node_id]  # the disk holds what the server holds
        if live.current_term:
            assert (stable["current_term"], stable["voted_for"]) == (live.current_term, live.voted_for)
            assert tuple(map(tuple, stable.get("log", ()))) == live.log


@pytest.mark.parametrize("bug", ["vote-twice-in-term", "vote-without-log-check"])
def test_the_generated_runs_can_catch_a_bug(bug):
    """The property above is not vacuous: the same generator finds a broken run."""

    def broken(args):
        data, seed = args
        data = {**data, "options": {**data["options"], "bugs": [bug]}}
        return bool(pl.run_scenario(data, seed=seed, detailed=False).summary()["violations"])

    # a generator of its own: the examples must not depend on what ran before in the process
    find(st.tuples(multi_paxos_scenarios(), st.integers(0, 2**32 - 1)), broken,
         settings=settings(max_examples=400, deadline=None, database=None,
                           phases=[Phase.generate]),
         random=random.Random(f"catch {bug}"))


# ---- a seeded sweep of partitions and crashes catches three of the bugs ----------------------
def sweep_scenario(seed: int, bugs=()) -> dict:
    """Every 50 ms a random fault (cut one or two servers off, crash one for a while, or
    heal), three client commands in between, then everything heals and recovers."""
    r = random.Random(seed)
    events = []
    for k in range(12):
        at = 50 * k
        kind = r.random()
        if kind < 0.5:
            events.append({"at": at, "partition": [r.sample(FIVE, r.choice([1, 2, 2]))]})
        elif kind < 0.8:
            victim = r.choice(FIVE)
            events += [{"at": at, "crash": victim}, {"at": at + r.uniform(5, 40), "recover": victim}]
        else:
            events.append({"at": at, "heal": True})
        events += [{"at": at + r.uniform(0, 50),
                    "submit": {"command": f"set k{j} {k}", "node": r.choice(FIVE)}} for j in range(3)]
    events += [{"at": 650, "heal": True}] + [{"at": 660, "recover": n} for n in FIVE]
    return {"name": f"sweep-{seed}", "protocol": "multi-paxos", "nodes": FIVE, "seed": seed,
            "network": {"delay": {"uniform": [1, 6]}, "drop": 0.05},
            "options": {"election_timeout": [15, 30], "heartbeat": 5, "bugs": list(bugs)},
            "events": events, "until": 800}


SWEEP = range(40)


def caught(bugs) -> list[int]:
    return [seed for seed in SWEEP
            if pl.run_scenario(sweep_scenario(seed, bugs), detailed=False).summary()["violations"]]


def test_the_correct_protocol_passes_the_sweep_and_converges():
    assert caught([]) == []
    for seed in range(5):
        assert pl.run_scenario(sweep_scenario(seed), detailed=False).summary()["converged"]


@pytest.mark.parametrize("bug", ["vote-twice-in-term", "vote-without-log-check",
                                 "append-without-consistency-check"])
def test_a_seeded_sweep_catches_the_bug(bug):
    """(``commit-old-term-by-count`` needs the Figure 8 schedule: its scenario catches it.)"""
    assert caught([bug])


def test_persist_ms_delays_every_reply_that_follows_a_write():
    fast = pl.run_scenario(scenario([{"at": 0, "timeout": "S1"}], until=60,
                                    network={"delay": {"fixed": 2}})).summary()
    slow = pl.run_scenario(scenario([{"at": 0, "timeout": "S1"}], until=60, persist_ms=10,
                                    network={"delay": {"fixed": 2}})).summary()
    # the candidate writes its term and vote (10 ms) before RequestVote leaves; each voter
    # writes its vote (10 ms) before its reply leaves
    assert fast["leaders"][0]["at"] == 4 and slow["leaders"][0]["at"] == 24


def test_without_candidate_writes_first_the_requests_leave_before_the_write():
    n = MultiPaxosNode("S1", THREE, {"candidate_writes_first": False})
    n.on_election_timeout(ElectionTimeout())
    done = n.take_effects()
    kinds = [e[0] for e in done]
    assert kinds.index("send") < kinds.index("persist")
    assert all(not e[3] for e in done if e[0] == "send")  # not held back by persist_ms
    assert n.voted_for == "S1" and n.current_term == 1


# ---- the monitors on hand-made states ----------------------------------------------------------
class World:
    """Just what a monitor reads (a :class:`paxoslab.world.World`): each node, what it stored,
    the time and the node that stepped."""

    def __init__(self, **nodes):
        self.nodes = dict(nodes)
        self.node_ids = tuple(nodes)
        self.stable = {n: {"log": getattr(x, "log", ())} for n, x in nodes.items()}
        self.now = 1.0
        self.step_node = None

    def node(self, node_id):
        return self.nodes.get(node_id)

    def stored(self, node_id):
        return self.stable[node_id]

    def step(self, monitor, node_id):
        self.step_node = node_id
        return [v.property for v in monitor.after_step(self)]


def test_monitors_name_what_they_see():
    from paxoslab.protocols.multi_paxos import (
        ElectionSafety,
        LeaderCompleteness,
        LogMatching,
        StateMachineSafety,
    )

    a = node("S1", current_term=2, role="leader", log=((1, "set a 1"), (2, "set b 2")))
    b = node("S2", current_term=2, role="leader", log=((1, "set z 9"), (2, "set b 2")))
    world = World(S1=a, S2=b, S3=None)
    election = ElectionSafety(THREE, {})
    assert world.step(election, "S1") == [] and world.step(election, "S2") == ["election-safety"]
    assert election.key() == frozenset({(2, "S1"), (2, "S2")})
    assert world.step(LogMatching(THREE, {}), "S1") == ["log-matching"]
    b.log = ((1, "set a 1"),)
    assert world.step(LogMatching(THREE, {}), "S1") == []
    complete = LeaderCompleteness(THREE, {})
    a.commit_index, b.role, b.current_term = 2, "follower", 3
    assert world.step(complete, "S1") == []
    b.role = "leader"
    assert world.step(complete, "S2") == ["leader-completeness"]
    applied = StateMachineSafety(THREE, {})
    a.last_applied, b.last_applied, b.log = 1, 1, ((3, "set q 1"),)
    assert world.step(applied, "S1") == [] and world.step(applied, "S2") == ["state-machine-safety"]


class OverwritingLeader(MultiPaxosNode):
    """A broken leader: a client's command takes the place of its last entry (its no-op)."""

    def accept_command(self, command, request, client=None, seq=None):
        self.log = self.log[:-1]
        super().accept_command(command, request, client, seq)


LEADER_APPEND_ONLY = {
    "name": "leader-append-only", "protocol": "multi-paxos", "nodes": THREE,
    "network": {"delay": {"fixed": 1}},
    "options": {"election_timeout": None, "heartbeat": None},
    "events": [{"at": 0, "timeout": "S1"}, {"at": 10, "submit": {"command": "set x 1"}}],
    "until": 50,
}


def test_leader_append_only_fires_when_a_leader_overwrites_an_entry_of_its_log():
    broken = pl.run_scenario(LEADER_APPEND_ONLY, node_class=OverwritingLeader).summary()
    assert broken["violations"][0] == {
        "property": "leader-append-only", "time": 10.0,
        "detail": "S1, leader of term 1, held (1, 'no-op') at #1 and now holds (1, 'set x 1') there"}
    assert pl.run_scenario(LEADER_APPEND_ONLY).summary()["violations"] == []


def test_leader_append_only_forgets_a_leader_that_steps_down_and_lets_followers_truncate():
    from paxoslab.protocols.multi_paxos import LeaderAppendOnly

    a = node("S1", current_term=2, role="leader", log=((1, "set a 1"), (2, "set b 2")))
    world = World(S1=a, S2=node("S2"), S3=None)
    monitor = LeaderAppendOnly(THREE, {})
    assert world.step(monitor, "S1") == [] and monitor.key() == (("S1", 2, a.log),)
    a.log = a.log + ((2, "set c 3"),)
    assert world.step(monitor, "S1") == []
    a.log = a.log[:1]
    assert world.step(monitor, "S1") == ["leader-append-only"]
    a.role, a.current_term, a.log = "follower", 3, ()  # a follower's log may be cut back
    assert world.step(monitor, "S1") == [] and monitor.key() == ()
    a.role = "leader"  # leading a new term: judged from here on
    assert world.step(monitor, "S1") == [] and monitor.key() == (("S1", 3, ()),)


def test_a_duplicated_forward_is_appended_once():
    n = node("S1", current_term=1)
    n.become_leader()
    n.take_effects()
    n.on_forward(pl.protocols.multi_paxos.Forward("set x 1", 4), "S2")
    n.on_forward(pl.protocols.multi_paxos.Forward("set x 1", 4), "S2")
    assert n.log == ((1, NOOP), (1, "set x 1"))


# ---- random-walk search finds each bug from a small scenario -----------------------------------
SEARCH_PROPERTIES = {
    "vote-twice-in-term": {"election-safety"},
    "vote-without-log-check": {"leader-completeness", "state-machine-safety", "log-matching"},
    "append-without-consistency-check": {"state-machine-safety", "log-matching"},
    "commit-old-term-by-count": {"leader-completeness", "state-machine-safety"},
    "vote-forgotten-on-crash": {"election-safety"},
}


@pytest.mark.parametrize("bug", sorted(SEARCH_PROPERTIES))
def test_a_random_walk_search_finds_each_bug_and_the_rule_survives_it(bug, scenario):
    search = pl.search
    data = scenario(f"multi-paxos-search-{bug}")
    found = search(data, strategy="random", max_states=20_000, max_ballots=3, max_depth=60,
                   seed=0, progress=False)
    assert not found.ok and found.property in SEARCH_PROPERTIES[bug]
    replayed = pl.run_scenario(found.counterexample.scenario).summary()["violations"]
    assert found.property in {v["property"] for v in replayed}
    data["options"]["bugs"] = []
    data.pop("expect")
    assert search(data, strategy="random", max_states=3_000, max_ballots=3, max_depth=60,
                  seed=0, progress=False).ok


def test_null_timeouts_leave_elections_and_appends_to_the_script():
    s = run(scenario([{"at": 5, "submit": {"command": "set x 1"}}, {"at": 10, "timeout": "S2"},
                      {"at": 20, "submit": {"command": "set x 2"}}], nodes=THREE, until=500,
                     election_timeout=None, heartbeat=None))
    assert leader_terms(s) == [(1, "S2")]  # nobody stands unless told to
    assert [c["status"] for c in s["commands"]] == ["no leader", "committed"]
    # on election (carrying the no-op), the no-op's commit, the entry, its commit
    assert s["messages"]["by_type"]["AppendEntries"] == 2 * 4


# ---- the new leader's no-op (Raft section 8) ------------------------------------------------
def test_a_new_leader_appends_a_noop_of_its_term_and_sends_it_at_once():
    n = node("S1", FIVE, current_term=3, log=((1, "set a 1"),))
    n.become_leader()
    done = n.take_effects()
    assert n.log == ((1, "set a 1"), (3, NOOP))
    kinds = [e[0] for e in done]
    assert kinds.index("persist_append") < kinds.index("send")
    appends = [e[2] for e in done if e[0] == "send"]
    assert len(appends) == 4 and all(m.prev_log_index == 1 and m.entries == ((3, NOOP),) for m in appends)


@pytest.mark.parametrize(("noop", "commit"), [(True, 2), (False, 0)])
def test_the_noop_commits_an_earlier_term_without_a_client_command(noop, commit):
    n = leader_with(((1, "set a 1"),), term=3, noop=noop)
    for peer in ("S2", "S3"):
        n.on_append_entries_reply(AppendEntriesReply(3, True, n.last_log_index), peer)
    assert n.commit_index == commit
    assert n.machine.snapshot() == ({"a": "1"} if noop else {})


def leader_dies_after_its_followers_stored(noop: bool) -> dict:
    """S1 appends 'set x 1' at t=40; the followers store it at 45; S1 crashes at 47, before
    any acknowledgement (due at 50) tells it the entry is committed.  S2 leads term 2 from 60
    on, and no client sends anything more."""
    return scenario([{"at": 0, "timeout": "S1"}, {"at": 40, "submit": {"command": "set x 1"}},
                     {"at": 47, "crash": "S1"}, {"at": 55, "timeout": "S2"}],
                    until=600, network={"delay": {"fixed": 5}}, noop=noop)


def test_the_next_leader_commits_its_predecessors_last_entry_with_no_new_command():
    s = run(leader_dies_after_its_followers_stored(noop=True))
    assert leader_terms(s) == [(1, "S1"), (2, "S2")]
    c, = s["commands"]
    # committed at t=45, when S1's followers stored it (S1 crashed at 47 before it could
    # know); S2 knows it at t=75, when its no-op (t=65) is acknowledged
    assert c["committed"] and (c["committed_at"], c["known_committed_at"]) == (45, 75)
    assert all(s["state"][n] == {"x": "1"} for n in FIVE[1:])
    assert s["logs"]["S2"][-1] == {"index": 3, "term": 2, "command": NOOP}


def test_without_the_noop_the_entry_waits_for_a_client_under_a_stable_leader():
    s = run(leader_dies_after_its_followers_stored(noop=False))
    assert leader_terms(s) == [(1, "S1"), (2, "S2")]
    c, = s["commands"]
    # committed at t=45 (S1's followers stored it), but for 540 ms under leader S2 no
    # server knows it: S2 may not count copies of an earlier term's entry
    assert (c["status"], c["committed_at"], c["known_committed_at"]) == ("committed", 45, None)
    assert all(s["commit_index"][n] == 0 for n in FIVE[1:])


@pytest.mark.parametrize("seed", range(4))
def test_after_the_heal_nothing_stays_uncommitted_under_a_stable_leader(seed, scenario):
    """The issue's symptom: with {S1,S3} | {S2,S4,S5}, 'set x 2' sat on all five servers,
    uncommitted, for hundreds of ms under a stable leader.  With the no-op every server's
    log is committed to its end once a leader has been in charge for a while."""
    data = scenario("multi-paxos-partition")
    data.pop("expect")
    data["events"][2]["partition"] = [["S1", "S3"], ["S2", "S4", "S5"]]
    data["until"] = 900
    result = pl.run_scenario(data, seed=seed)
    s = result.summary()
    assert s["violations"] == [] and s["converged"]
    assert s["leaders"][-1]["at"] < 800
    assert all(s["commit_index"][n] == len(s["logs"][n]) for n in FIVE)
    data["options"]["noop"] = False  # the protocol of before: the symptom in the first seed
    if seed == 0:
        old = pl.run_scenario(data, seed=seed).summary()
        assert any(old["commit_index"][n] < len(old["logs"][n]) for n in FIVE)


def test_the_noop_is_shown_as_such_never_as_a_client_command():
    result = pl.run_scenario(leader_dies_after_its_followers_stored(noop=True))
    s = result.summary()
    assert [e["command"] for e in s["logs"]["S2"]] == [NOOP, "set x 1", NOOP]
    assert s["applied"]["S2"] == [NOOP, "set x 1", NOOP]
    assert [c["command"] for c in s["commands"]] == ["set x 1"]  # a no-op is no request
    assert s["state"]["S2"] == {"x": "1"}
    text = result.narrate(nodes=["S2"], kinds={"appended", "applied"})
    assert "S2 appends #3 (term 2), a no-op" in text
    assert "S2 applies #3, a no-op: nothing changes" in text
    assert "'no-op'" not in text
    assert "1:no-op" in result.describe()


# ---- client sessions and reads (Raft section 8) -----------------------------------------------
def test_a_retried_request_is_applied_once_and_twice_without_a_session(scenario):
    data = scenario("multi-paxos-client-retry")
    s = run(data)
    assert s["expect"]["ok"]
    first, retry, read = s["commands"]
    assert (first["client"], first["seq"]) == (retry["client"], retry["seq"]) == ("c1", 1)
    assert first["committed"] and retry["committed"] and retry["index"] > first["index"]
    assert (first["executed"], retry["executed"]) == (True, False)
    assert first["result"] == retry["result"] == "ok"
    assert read["result"] == "a"
    assert all(state == {"x": "a"} for state in s["state"].values())
    assert {"index": 4, "term": 2, "command": "append x a", "client": "c1", "seq": 1} in s["logs"]["S2"]
    for event in data["events"]:  # sessions off: the same commands, no client or seq
        event.get("submit", {}).pop("client", None)
        event.get("submit", {}).pop("seq", None)
    data.pop("expect")
    s = run(data)
    assert [c["executed"] for c in s["commands"]] == [True, True, True]
    assert all(state == {"x": "aa"} for state in s["state"].values())
    assert s["commands"][2]["result"] == "aa"


def test_a_session_travels_with_a_forwarded_request_and_survives_recovery():
    s = run(scenario([{"at": 0, "timeout": "S1"},
                      {"at": 30, "submit": {"command": "append k v", "client": "c", "seq": 1,
                                            "node": "S3"}},
                      {"at": 60, "submit": {"command": "append k v", "client": "c", "seq": 1}},
                      {"at": 90, "crash": "S4"}, {"at": 120, "recover": "S4"},
                      {"at": 300, "submit": {"command": "append k w", "client": "c", "seq": 2}}],
                     until=500))
    assert [c["executed"] for c in s["commands"]] == [True, False, True]
    assert all(state == {"k": "vw"} for state in s["state"].values())  # S4 replayed the sessions


def test_reads_go_through_the_log_and_see_every_committed_write():
    s = run(scenario([{"at": 0, "timeout": "S1"}, {"at": 20, "submit": {"command": "get x"}},
                      {"at": 40, "submit": {"command": "set x 1"}},
                      {"at": 80, "crash": "S1"}, {"at": 90, "timeout": "S2"},
                      {"at": 101, "submit": {"command": "get x", "node": "S2"}}],
                     until=300, network={"delay": {"fixed": 5}}))
    missing, write, read = s["commands"]
    assert missing["result"] is None and missing["committed"] and missing["index"] == 2
    assert write["result"] == "ok"
    # S2 leads from t=100; the read reaches it before its no-op commits, and still sees x
    assert read["committed"] and read["term"] == 2 and read["result"] == "1"
    assert sum(1 for e in s["logs"]["S2"] if e["command"] == "get x") == 2  # one entry each


def test_client_requests_are_numbered_in_order_without_a_field_on_the_simulation():
    result = pl.run_scenario(scenario([{"at": 5, "submit": {"command": "set a 1"}},
                                       {"at": 0, "timeout": "S1"},
                                       {"at": 30, "submit": {"command": "set b 2"}},
                                       {"at": 31, "submit": {"command": "set c 3"}}], until=100))
    assert [c["request"] for c in result.summary()["commands"]] == [1, 2, 3]
    assert not hasattr(result.sim, "client_requests")


def test_the_acknowledgement_that_completes_a_majority_is_not_answered_with_the_entry_again():
    """The leader records what the follower stores before it commits and tells everyone: the
    follower whose reply made the majority gets the commit index alone, not the entry again."""
    data = {"name": "ack", "protocol": "multi-paxos", "nodes": ["S1", "S2", "S3"],
            "network": {"delay": {"fixed": 5}},
            "options": {"election_timeout": None, "heartbeat": None, "noop": False},
            "events": [{"at": 0, "timeout": "S1"}, {"at": 30, "submit": {"command": "set x 1"}}],
            "until": 100}
    sent = pl.run_scenario(data).trace.messages()
    after_commit = sent[(sent["sent_at"] == 40) & (sent["msg_type"] == "AppendEntries")]
    labels = [p["label"] for p in after_commit["payload"]]
    # S2's reply (first in the instant) completes the majority; S3's is not read yet
    assert sorted(zip(after_commit["dst"], labels, strict=True)) == [
        ("S2", "HB t1 c1"), ("S3", "AE t1 #1")]


def test_the_runner_numbers_client_requests_in_the_order_they_happen():
    from paxoslab.runner import scenario_actions

    data = scenario([{"at": 30, "submit": {"command": "set b 2"}}, {"at": 5, "crash": "S5"},
                     {"at": 10, "submit": {"command": "set a 1"}}])
    actions = scenario_actions(data, 0)
    assert [a for _, a in actions if a[0] == "submit"] == [
        ("submit", {"command": "set a 1", "request": 1}),
        ("submit", {"command": "set b 2", "request": 2})]
    assert data["events"][0]["submit"] == {"command": "set b 2"}  # the scenario is not changed
    s = pl.run_scenario(data).summary()
    assert [(c["request"], c["command"]) for c in s["commands"]] == [(1, "set a 1"), (2, "set b 2")]


# ---- long runs stay linear: an applied note says what changed, not the whole state -------------
def test_an_applied_note_carries_the_change_not_the_whole_state():
    import json

    many = [{"at": 400 + i, "submit": {"command": f"set k{i} {i}"}} for i in range(300)]
    tail = [{"at": 800, "submit": {"command": "append k1 b"}}, {"at": 801, "submit": {"command": "del k2"}},
            {"at": 802, "submit": {"command": "del nothing"}}, {"at": 803, "submit": {"command": "get k1"}}]
    result = pl.run_scenario(scenario(many + tail, nodes=THREE, until=1200))
    notes = [e for e in result.trace.events if e.kind == "applied"]
    assert len(notes) >= 3 * 304
    # bounded by the command, not by the state (which grows to 300 keys)
    assert max(len(json.dumps(e.payload)) for e in notes) < 200
    # replaying the changes gives each server's state
    s = result.summary()
    for n in THREE:
        state: dict[str, str] = {}
        for e in notes:
            if e.node == n and "key" in e.payload:
                if e.payload["value"] is None:
                    state.pop(e.payload["key"])
                else:
                    state[e.payload["key"]] = e.payload["value"]
        assert state == s["state"][n] and state["k1"] == "1b" and "k2" not in state
    text = result.narrate(nodes=["S1"], kinds={"applied"}).splitlines()
    said = [line.split(" ", 1)[1].strip() for line in text[-4:]]
    assert said[0].endswith("'append k1 b' -> k1 = '1b'") and said[1].endswith("'del k2' -> k2 deleted")
    assert said[2].endswith("'del nothing': nothing changes") and said[3].endswith("'get k1' = '1b'")


def test_committed_is_the_fact_and_a_bug_can_make_servers_know_what_is_not_committed(scenario):
    """Raft 5.3/Figure 8: an entry is committed once the leader of its term has it on a
    majority; commit-old-term-by-count makes a leader's commit index cover an old-term entry
    that only a later leader copied to a majority -- known committed, not committed."""
    s = pl.run_scenario(scenario("multi-paxos-bug-commit-old-term-by-count")).summary()
    first = s["commands"][0]
    assert (first["status"], first["committed"], first["committed_at"]) == ("not committed", False, None)
    assert first["known_committed_at"] is not None
    fine = pl.run_scenario(scenario("multi-paxos-partition")).summary()["commands"]
    assert all(c["known_committed_at"] > c["committed_at"] for c in fine if c["committed"])


def test_a_node_written_from_scratch_is_told_which_field_the_checks_need(scenario):
    """Checked when the node is built, before anything runs: the monitors and the summary
    read these fields, and a missing one would fail deep inside them."""
    from paxoslab.node import MissingField, Node

    class Scratch(Node):
        STATE = ("log",)

        def __init__(self, *args):
            super().__init__(*args)
            self.log = ()

    with pytest.raises(MissingField, match=r"^S1 \(a Scratch\) has no field 'current_term', which "
                                           r"paxoslab reads as its current term: set it in __init__$"):
        pl.run_scenario(scenario("multi-paxos-partition"), node_class=Scratch)
