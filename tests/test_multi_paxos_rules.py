"""Multi-Paxos: each rule a bug can break is one pure function, and each bug switch changes it.

Every test calls the rule twice on the same situation, with the bug off and on, and
fails if the switch did nothing (or the rule without it were wrong).
"""

from __future__ import annotations

import pytest

from paxoslab.protocols.multi_paxos import BUGS, MultiPaxosNode, RequestVote
from paxoslab.protocols.multi_paxos.node import (
    back_up_to,
    commit_index,
    conflict_hint,
    grant_vote,
    merge_entries,
    up_to_date,
)
from paxoslab.sim import Simulation

LOG = ((1, "set x 1"), (1, "set y 2"), (2, "set z 3"))


def test_vote_twice_in_term_grants_a_second_vote_in_one_term():
    # S2 voted for S3 in this term; S1, as up to date, asks too
    assert grant_vote("S3", "S1", LOG, 3, 2) is False
    assert grant_vote("S3", "S1", LOG, 3, 2, frozenset({"vote-twice-in-term"})) is True
    assert grant_vote("S1", "S1", LOG, 3, 2) is True  # the same candidate asking again: yes


def test_vote_without_log_check_grants_a_vote_to_a_candidate_that_lacks_entries():
    # the candidate's log ends at #2 of term 1: it lacks #3 (term 2), maybe committed
    assert grant_vote(None, "S1", LOG, 2, 1) is False
    assert grant_vote(None, "S1", LOG, 2, 1, frozenset({"vote-without-log-check"})) is True


@pytest.mark.parametrize(("last_index", "last_term", "ok"), [
    (3, 2, True), (4, 2, True), (2, 2, False), (1, 3, True), (9, 1, False),
])
def test_up_to_date_compares_last_terms_first_then_lengths(last_index, last_term, ok):
    assert up_to_date(LOG, last_index, last_term) is ok


def test_append_without_consistency_check_merges_after_a_mismatched_previous_entry():
    # the leader's previous entry is #2 of term 3; the follower holds #2 of term 1
    assert merge_entries(LOG, 2, 3, ((3, "set w 4"),)) is None
    bug = frozenset({"append-without-consistency-check"})
    assert merge_entries(LOG, 2, 3, ((3, "set w 4"),), bug) == (
        ((1, "set x 1"), (1, "set y 2"), (3, "set w 4")), 3, ((3, "set w 4"),))
    assert merge_entries(LOG, 5, 3, (), bug) is None  # too short is refused even so


def test_merge_keeps_what_a_stale_append_already_holds():
    merged = merge_entries(LOG, 0, 0, ((1, "set x 1"),))
    assert merged is not None and merged[0] is LOG and merged[1:] == (0, ())


def test_commit_old_term_by_count_commits_an_earlier_terms_entry_on_replicas_alone():
    # leader of term 3 with LOG; two of four followers store #3 (term 2): a majority of five
    match = [3, 3, 0, 0]
    assert commit_index(match, LOG, 3, 0) == 0
    assert commit_index(match, LOG, 3, 0, frozenset({"commit-old-term-by-count"})) == 3
    # through an entry of its own term, the earlier ones commit with it
    assert commit_index([4, 4, 0, 0], LOG + ((3, "set v 5"),), 3, 0) == 4


def test_the_hint_and_the_back_up_skip_a_whole_term():
    assert conflict_hint(LOG, 2) == (1, 1) and conflict_hint(LOG, 7) == (4, None)
    leader = ((1, "set x 1"), (3, "set a 1"), (3, "set b 2"))
    assert back_up_to(leader, 1, 1) == 2 and back_up_to(leader, 2, 2) == 2


def voter_after_a_crash(bugs: frozenset[str] = frozenset()) -> tuple[dict, int, str | None]:
    """S3 votes for S1 in term 1, crashes and recovers: (its disk before the crash, and the
    term and vote it comes back with)."""
    sim = Simulation(["S3"], make_node=lambda n: MultiPaxosNode(n, ["S1", "S2", "S3"],
                                                                {"bugs": sorted(bugs)}))
    sim.start()
    sim.invoke("S3", "on_request_vote", RequestVote(1, "S1", 0, 0), "S1")
    disk = dict(sim.stable["S3"])
    sim.crash("S3")
    sim.recover("S3")
    back = sim.node("S3")
    return disk, back.current_term, back.voted_for


def test_vote_forgotten_on_crash_answers_before_writing_the_vote():
    disk, term, vote = voter_after_a_crash()
    assert (disk["current_term"], disk["voted_for"], term, vote) == (1, "S1", 1, "S1")
    disk, term, vote = voter_after_a_crash(frozenset({"vote-forgotten-on-crash"}))
    assert "voted_for" not in disk and (term, vote) == (0, None)
    # back in term 0 with no vote, it grants S2 a vote in term 1 too
    again = MultiPaxosNode("S3", ["S1", "S2", "S3"], {"bugs": ["vote-forgotten-on-crash"]})
    again.on_request_vote(RequestVote(1, "S2", 0, 0), "S2")
    assert again.voted_for == "S2"


def test_every_bug_has_its_rule_test():
    tested = {"vote-twice-in-term", "vote-without-log-check", "append-without-consistency-check",
              "commit-old-term-by-count", "vote-forgotten-on-crash"}
    assert set(BUGS) == tested


#: configuration: from the node's id and options, never changed by a handler
CONFIGURATION = {"options", "bugs"}
#: derived: the key-value state machine is the log's first ``last_applied`` entries replayed
DERIVED = {"machine"}


def test_state_names_every_public_field():
    node = MultiPaxosNode("S1", ["S1", "S2", "S3"])
    fields = {k for k in vars(node) if not k.startswith("_")}
    assert fields <= set(node.STATE) | CONFIGURATION | DERIVED, fields - set(node.STATE)
    assert set(node.STATE) <= fields
    assert not hasattr(MultiPaxosNode, "PERSISTENT")
