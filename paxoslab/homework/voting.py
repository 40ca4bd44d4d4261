"""Exercise 04: voting in a Raft election (lesson 04, Multi-Paxos in the Raft formulation).

The student writes the voter's rules, in the shapes of the library's
(:mod:`paxoslab.protocols.multi_paxos.node`):

1. ``up_to_date(log, last_index, last_term)`` — the election restriction (Raft §5.4.1): is
   a candidate whose log ends at ``(last_index, last_term)`` at least as up to date as
   ``log``?  The later last term wins; with equal last terms, the longer log;
2. ``grant_vote(voted_for, candidate, log, last_index, last_term)`` — one vote per term,
   first come first served, only for an up-to-date candidate;
3. ``save_vote(node)`` — what the voter writes to stable storage before its reply leaves.

Each question plugs its function into a subclass of :class:`MultiPaxosNode`; everything
else is the library's.  The subclass answers ``RequestVote`` as
:meth:`MultiPaxosNode.on_request_vote` does, with the student's rule in place of
:func:`~paxoslab.protocols.multi_paxos.node.grant_vote` (``tests/test_homework.py``
holds the two to the same runs).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..node import Node
from ..protocols.multi_paxos.node import MultiPaxosNode, RequestVote
from . import RAFT_PROPERTIES, Exercise, Preset, record, show

__all__ = ["EXERCISE", "MultiPaxosNode", "RequestVote", "bind", "node_class"]


class VotingExerciseNode(MultiPaxosNode):
    """The library's server; the student's rules replace :meth:`MultiPaxosNode.decide_vote`
    and :meth:`MultiPaxosNode.save_vote` (see :func:`node_class`)."""


def node_class(functions: Mapping[str, Callable]) -> type[Node]:
    """A subclass of :class:`MultiPaxosNode` that calls the given student functions (by
    name: ``up_to_date``, ``grant_vote``, ``save_vote``) for its rules."""
    body: dict[str, Any] = {"__module__": __name__}
    if "grant_vote" in functions:
        fn_g = functions["grant_vote"]

        def decide_with_grant_vote(self: MultiPaxosNode, voted_for: str | None, candidate: str,
                                   log: tuple, last_index: int, last_term: int) -> bool:
            answer = fn_g(voted_for, candidate, log, last_index, last_term)
            record(lambda: f"grant_vote(voted_for={show(voted_for)}, candidate={show(candidate)}, "
                           f"{show(log)}, last_index={last_index}, last_term={last_term}) "
                           f"returned {answer!r}")
            return answer
        body["decide_vote"] = decide_with_grant_vote
    elif "up_to_date" in functions:
        fn_u = functions["up_to_date"]

        def decide_vote(self: MultiPaxosNode, voted_for: str | None, candidate: str, log: tuple,
                        last_index: int, last_term: int) -> bool:
            """The library's vote (one per term) with the student's up-to-date check."""
            free = voted_for is None or voted_for == candidate
            if not free:
                return False
            answer = fn_u(log, last_index, last_term)
            record(lambda: f"up_to_date({show(log)}, last_index={last_index}, last_term={last_term}) "
                           f"returned {answer!r}")
            return bool(answer)
        body["decide_vote"] = decide_vote
    if "save_vote" in functions:
        fn_s = functions["save_vote"]

        def save_vote(self: MultiPaxosNode) -> None:
            done = len(self._effects)
            fn_s(self)
            record(lambda: f"save_vote() in term {self.current_term}, having voted for "
                           f"{show(self.voted_for)}: " + (", ".join(
                               f"wrote {', '.join(f'{k}={v!r}' for k, v in e[1].items())}"
                               for e in self._effects[done:] if e[0] == "persist") or "wrote nothing"))
        body["save_vote"] = save_vote
    return type("StudentVoter", (VotingExerciseNode,), body)


_LOG = ((1, "set x 1"), (2, "set y 2"))


def _probe_up_to_date(fn: Callable) -> None:
    fn(_LOG, 1, 3)
    fn((), 0, 0)


def _probe_grant_vote(fn: Callable) -> None:
    fn(None, "S1", _LOG, 2, 2)
    fn("S3", "S1", _LOG, 2, 2)


def _probe_save_vote(fn: Callable) -> None:
    node = MultiPaxosNode("S3", ["S1", "S2", "S3"])
    node.current_term, node.voted_for = 1, "S1"
    fn(node)


EXERCISE = Exercise(
    number="04",
    notebook="04_voting.ipynb",
    presets=[Preset("homework-voting-pivot.json"), Preset("homework-voting-crash.json"),
             Preset("homework-voting-logs.json", max_ballots=3), Preset("homework-voting-same-term.json"),
             Preset("homework-voting-progress.json", kind="runs", seeds=range(10))],
    build=node_class,
    probes={"up_to_date": _probe_up_to_date, "grant_vote": _probe_grant_vote,
            "save_vote": _probe_save_vote},
    properties=RAFT_PROPERTIES,
    correct_words="elections stay safe and the cluster elects a leader",
    progress_words="elected a leader and applied 'set x 1' on every server",
    no_progress_words="the cluster did not elect a leader and apply 'set x 1' everywhere",
)

q1 = EXERCISE.question(["up_to_date"], "the election restriction", [
    "A log's 'last term' is the term of its last entry (0 for an empty log). Compare the "
    "candidate's last term with yours first.",
    "Only when the last terms are equal does length decide: then the candidate needs a log at "
    "least as long as yours.",
    "A longer log is not more up to date if its last entry is of an older term: the entries "
    "of the newer term may be committed, and the longer log lacks them.",
])
q2 = EXERCISE.question(["grant_vote"], "one vote per term", [
    "Two conditions: this server has not voted for someone else in this term, and the "
    "candidate is up to date (use your up_to_date).",
    "voted_for is None when this server has not voted in the current term. A repeated "
    "RequestVote from the candidate it already voted for may be granted again.",
    "Two votes in one term let two candidates each count a majority: two leaders of one term.",
])
q3 = EXERCISE.question(["save_vote"], "persist the vote", [
    "What must a voter remember after a crash, so that it cannot vote twice in a term?",
    "Both its current term and whom it voted for in that term.",
    "node.persist(current_term=node.current_term, voted_for=node.voted_for)",
])


def bind(namespace: Mapping[str, Any]):
    """``q1, q2, q3 = bind(globals())``: the checkers read your functions from there."""
    return EXERCISE.bind(namespace)
