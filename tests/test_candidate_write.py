"""Multi-Paxos: the candidate's own write of its new term and self-vote.

``candidate_writes_first: true`` (the default): write, then send, so ``RequestVote``
leaves ``persist_ms`` after the timeout.  ``false``: the requests leave at once and the
write overlaps them, and the candidate counts its own vote only once the write is durable
(Ongaro's thesis, section 9.3).
"""

from __future__ import annotations

import random

import pytest

import paxoslab as pl
from paxoslab.protocols.multi_paxos import (
    DEFAULT_OPTIONS,
    ElectionTimeout,
    MultiPaxosNode,
    RequestVoteReply,
    VoteWritten,
)

THREE = ["S1", "S2", "S3"]
FIVE = ["S1", "S2", "S3", "S4", "S5"]


def scripted(nodes=THREE, persist_ms=0, delay=2, until=200, **options) -> dict:
    """S1 stands at time 0; nobody else ever times out on their own."""
    return {"name": "candidate-write", "protocol": "multi-paxos", "nodes": list(nodes),
            "network": {"delay": {"fixed": delay}},
            "options": {"election_timeout": None, "heartbeat": None, "persist_ms": persist_ms,
                        **options},
            "events": [{"at": 0, "timeout": "S1"}], "until": until}


def request_vote_arrivals(data) -> list[float]:
    frame = pl.run_scenario(data).trace.to_frame()
    return sorted(frame[(frame.kind == "deliver") & (frame.msg_type == "RequestVote")].time)


def test_the_default_is_to_write_first():
    assert DEFAULT_OPTIONS["candidate_writes_first"] is True


def test_writing_first_the_requests_wait_for_the_write():
    n = MultiPaxosNode("S1", THREE, {"persist_ms": 10})
    n.on_election_timeout(ElectionTimeout())
    done = n.take_effects()
    kinds = [e[0] for e in done]
    assert kinds.index("persist") < kinds.index("send")
    assert all(e[3] for e in done if e[0] == "send")  # held back until the write is done


def test_writing_first_request_vote_leaves_persist_ms_after_the_timeout():
    # fixed network delay 2 ms: a request that left at the timeout would arrive at 2
    assert request_vote_arrivals(scripted(persist_ms=10)) == [12.0, 12.0]
    assert request_vote_arrivals(scripted(persist_ms=0)) == [2.0, 2.0]


def test_sending_first_request_vote_leaves_at_once():
    assert request_vote_arrivals(scripted(persist_ms=10, candidate_writes_first=False)) == [2.0, 2.0]


class CachedVoter(MultiPaxosNode):
    """S2's vote reply does not wait for its disk (as behind a battery-backed cache): with
    one ``persist_ms`` for every server a vote could never arrive before the candidate's
    own write is done, which is what this test needs."""

    def on_request_vote(self, msg, src):
        super().on_request_vote(msg, src)
        if self.id == "S2":
            self._effects = [e._replace(after_persist=False) if e.kind == "send" else e
                             for e in self._effects]


def first_leader(data, node_class=None) -> tuple[str, float]:
    summary = pl.run_scenario(data, node_class=node_class).summary()
    assert summary["violations"] == []
    leader = summary["leaders"][0]
    return leader["node"], leader["at"]


def test_sending_first_the_candidate_does_not_lead_before_its_write_is_durable():
    # S2's vote is back at 4 ms (S3's at 54); with S1's own vote that is a majority of
    # three, but S1's write of its term and vote takes 50 ms
    data = scripted(persist_ms=50, candidate_writes_first=False)
    assert first_leader(data, CachedVoter) == ("S1", 50.0)
    # writing first: the requests leave at 50, the votes are back at 54
    assert first_leader(scripted(persist_ms=50), CachedVoter) == ("S1", 54.0)
    # every voter writes too (50 ms): the votes come back at 2 + 50 + 2, after the write
    assert first_leader(data) == ("S1", 54.0)
    assert first_leader(scripted(persist_ms=50)) == ("S1", 104.0)
    # no write time: the own vote counts at once, as it always did
    assert first_leader(scripted(persist_ms=0, candidate_writes_first=False)) == ("S1", 4.0)


def test_sending_first_the_own_vote_counts_when_vote_written_fires():
    n = MultiPaxosNode("S1", THREE, {"persist_ms": 50, "candidate_writes_first": False})
    n.on_election_timeout(ElectionTimeout())
    timers = [e[1:] for e in n.take_effects() if e[0] == "set_timer"]
    assert (VoteWritten(1), 50) in timers
    assert n.votes == frozenset()
    n.on_request_vote_reply(RequestVoteReply(1, True), "S2")
    assert n.role == "candidate" and n.votes == {"S2"}  # one of three: not yet
    n.on_vote_written(VoteWritten(1))
    assert n.role == "leader" and n.votes == {"S1", "S2"}


def test_a_vote_written_of_an_old_term_or_after_stepping_down_changes_nothing():
    n = MultiPaxosNode("S1", THREE, {"persist_ms": 50, "candidate_writes_first": False})
    n.on_election_timeout(ElectionTimeout())
    n.on_election_timeout(ElectionTimeout())  # split vote: term 2
    n.take_effects()
    n.on_vote_written(VoteWritten(1))
    assert n.votes == frozenset() and n.role == "candidate"
    n.on_request_vote_reply(RequestVoteReply(3, False), "S2")  # a higher term: follower
    n.on_vote_written(VoteWritten(2))
    assert n.role == "follower" and n.votes == frozenset()


def test_sending_first_the_votes_of_others_count_as_they_come():
    # five servers: three other votes are a majority without the candidate's own
    n = MultiPaxosNode("S1", FIVE, {"persist_ms": 50, "candidate_writes_first": False})
    n.on_election_timeout(ElectionTimeout())
    for peer in ("S2", "S3", "S4"):
        n.on_request_vote_reply(RequestVoteReply(1, True), peer)
    assert n.role == "leader" and "S1" not in n.votes


def test_the_option_must_be_true_or_false():
    data = scripted(candidate_writes_first="yes")
    with pytest.raises(pl.ScenarioError, match="options.candidate_writes_first"):
        pl.run_scenario(data)


def churn(seed: int, writes_first: bool) -> dict:
    """Crashes, recoveries, loss and duplication, with a slow disk."""
    r = random.Random(seed)
    events, down = [], set()
    for k in range(16):
        at = 40 + 50 * k
        victim = r.choice(FIVE)
        if victim in down:
            events.append({"at": at, "recover": victim})
            down.discard(victim)
        elif len(down) < 2:
            events.append({"at": at, "crash": victim})
            down.add(victim)
        events.append({"at": at + 5, "submit": {"command": f"set k{k % 3} {k}"}})
    events += [{"at": 900, "recover": n} for n in sorted(down)]
    events.append({"at": 1400, "submit": {"command": "set end 1"}})
    return {"name": f"churn-{seed}", "protocol": "multi-paxos", "nodes": FIVE, "seed": seed,
            "network": {"delay": {"uniform": [1, 8]}, "drop": 0.1, "duplicate": 0.1},
            "options": {"election_timeout": [40, 80], "heartbeat": 10, "persist_ms": 6,
                        "candidate_writes_first": writes_first},
            "events": events, "until": 2200}


@pytest.mark.parametrize("writes_first", [True, False])
@pytest.mark.parametrize("seed", range(5))
def test_either_order_stays_safe_and_converges_under_churn(seed, writes_first):
    summary = pl.run_scenario(churn(seed, writes_first)).summary()
    assert summary["violations"] == []
    assert summary["converged"]


# ---- the voter's election timer ---------------------------------------------------------
def granted_vote_timer(options) -> float:
    """The delay of the election timer S2 sets when it grants S1 a vote in term 1."""
    from paxoslab.protocols.multi_paxos import RequestVote

    voter = MultiPaxosNode("S2", THREE, {"election_timeout": [100, 100], **options})
    voter.on_request_vote(RequestVote(1, "S1", 0, 0), "S1")
    (delay,) = [e[2] for e in voter.take_effects() if e[0] == "set_timer" and e[1] == ElectionTimeout()]
    return delay


def test_a_voter_restarts_its_timer_when_its_written_vote_leaves():
    """By default the timer counts from the moment the vote is sent, after the write."""
    assert DEFAULT_OPTIONS["vote_timer_after_write"] is True
    assert granted_vote_timer({"persist_ms": 10}) == 110
    assert granted_vote_timer({"persist_ms": 0}) == 100


def test_with_vote_timer_after_write_false_it_restarts_as_the_request_arrives():
    assert granted_vote_timer({"persist_ms": 10, "vote_timer_after_write": False}) == 100


def test_a_repeated_request_needs_no_write_and_restarts_the_timer_at_once():
    from paxoslab.protocols.multi_paxos import RequestVote

    voter = MultiPaxosNode("S2", THREE, {"election_timeout": [100, 100], "persist_ms": 10})
    voter.on_request_vote(RequestVote(1, "S1", 0, 0), "S1")
    voter.take_effects()
    voter.on_request_vote(RequestVote(1, "S1", 0, 0), "S1")  # a duplicate: nothing to write
    effects = voter.take_effects()
    assert [e[2] for e in effects if e[0] == "set_timer"] == [100]
    assert not [e for e in effects if e[0] == "persist"]


def test_vote_timer_after_write_must_be_a_boolean():
    with pytest.raises(pl.ScenarioError, match="options.vote_timer_after_write"):
        pl.run_scenario(scripted(vote_timer_after_write="yes"))
