"""Exercise 05: the leader's commit rule in Raft (lessons 04 and 06; Raft §5.3, §5.4.2, Figure 8).

The student writes the rule in two steps, in the shape of the library's
:func:`~paxoslab.protocols.multi_paxos.node.commit_index`:

1. ``stored_on_majority(match, index)`` — is the entry at ``index`` stored by a majority of
   the cluster?  ``match`` holds, for each follower, the highest index it is known to
   store; the leader stores its whole log, so it counts once, itself;
2. ``commit_index(match, log, term, commit)`` — the leader's new commit index: the highest
   index stored by a majority whose entry is of the leader's own ``term`` (every entry
   before it commits with it), else ``commit``, the commit index so far.  An entry of an
   earlier term is never committed by counting its replicas (the Raft paper's Figure 8).

Each question plugs its function into a subclass of :class:`MultiPaxosNode` through
:meth:`MultiPaxosNode.decide_commit`; everything else is the library's.  For question 1
the subclass runs the library's rule with the student's count; for question 2 the
student's whole rule (which calls the student's ``stored_on_majority``).

The presets (``data/scenarios/homework-commit-*.json``) are small on purpose: a student's
node is searched without the library's protocol-specific reductions, so each preset
scripts the elections and cuts the links its story does not need.  Together they catch the
mistakes ``tests/test_homework_commit.py`` lists, each with its property, on every attempt:

* ``homework-commit-ahead`` (3 servers): a leader that commits an entry only it stores
  (counting itself twice, or moving the commit index to the end of its log);
* ``homework-commit-five`` (5 servers): a leader that commits an entry two of five store
  (the highest follower's match index instead of the majority's);
* ``homework-commit-figure-8`` (3 servers, the Raft paper's Figure 8, with a command
  of the new leader's term after the old entry): a leader that commits an entry of an
  earlier term by counting its replicas, or checks the term of its last entry instead of
  the one it commits (the most expensive preset: about 16,000 worlds);
* ``homework-commit-progress`` (timed, 10 seeds): one follower is down for the whole run,
  so the leader must commit with the other; a rule that never moves, or that waits for
  every follower (the leader not counting itself), is "no progress".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..node import Node
from ..protocols.multi_paxos.node import MultiPaxosNode
from . import RAFT_PROPERTIES, Exercise, Preset, StudentError, record

__all__ = ["EXERCISE", "MultiPaxosNode", "bind", "library_rule", "node_class", "show_log"]


class CommitExerciseNode(MultiPaxosNode):
    """The library's server; the student's rule replaces :meth:`MultiPaxosNode.decide_commit`
    (see :func:`node_class`)."""


def show_log(log: Sequence[tuple]) -> str:
    """A leader's log as the commit rule reads it: the term of each entry, index 1 first.

    >>> show_log(((1, "set x 1"), (3, "no-op"))), show_log(())
    ('log terms [1, 3]', 'an empty log')
    """
    return f"log terms [{', '.join(str(e[0]) for e in log)}]" if log else "an empty log"


def library_rule(match: Sequence[int], log: Sequence[tuple], term: int, commit: int,
                 on_majority: Callable[[Sequence[int], int], Any]) -> int:
    """The library's commit rule (:func:`~paxoslab.protocols.multi_paxos.node.commit_index`),
    with the count of replicas asked of ``on_majority(match, index)``.

    >>> count = lambda match, index: 1 + sum(m >= index for m in match) >= (len(match) + 1) // 2 + 1
    >>> log = ((1, "a"), (2, "b"))
    >>> library_rule((1, 0), log, 2, 0, count), library_rule((2, 0), log, 2, 0, count)
    (0, 2)
    """
    for n in range(len(log), commit, -1):
        if log[n - 1][0] == term and on_majority(match, n):
            return n
    return commit


def _checked_index(answer: Any, log: Sequence[tuple]) -> int:
    """The student's commit index, if it is one (an int from 0 to the log's length)."""
    if isinstance(answer, bool) or not isinstance(answer, int):
        raise StudentError(f"commit_index returned {answer!r}: it must return an index (an int)")
    if not 0 <= answer <= len(log):
        raise StudentError(f"commit_index returned {answer}, outside the leader's log "
                           f"(indexes 1 to {len(log)}; 0 before the first)")
    return answer


def node_class(functions: Mapping[str, Callable]) -> type[Node]:
    """A subclass of :class:`MultiPaxosNode` whose commit rule calls the given student
    functions (by name: ``stored_on_majority``, ``commit_index``)."""
    body: dict[str, Any] = {"__module__": __name__}
    if "commit_index" in functions:
        fn_c = functions["commit_index"]

        def decide_commit(self: MultiPaxosNode, match: Sequence[int], log: Sequence[tuple], term: int,
                          commit: int) -> int:
            answer = _checked_index(fn_c(match, log, term, commit), log)
            record(lambda: f"commit_index(match={match}, {show_log(log)}, term={term}, commit={commit}) "
                           f"returned {answer}")
            return answer
        body["decide_commit"] = decide_commit
    elif "stored_on_majority" in functions:
        fn_m = functions["stored_on_majority"]

        def on_majority(match: Sequence[int], index: int) -> bool:
            answer = bool(fn_m(match, index))
            record(lambda: f"stored_on_majority(match={match}, index={index}) returned {answer}")
            return answer

        def decide_commit_with_count(self: MultiPaxosNode, match: Sequence[int], log: Sequence[tuple],
                                     term: int, commit: int) -> int:
            """The library's rule with the student's count of replicas."""
            return library_rule(match, log, term, commit, on_majority)
        body["decide_commit"] = decide_commit_with_count
    return type("StudentLeader", (CommitExerciseNode,), body)


_LOG = ((1, "set x 1"), (2, "set y 2"), (2, "set z 3"))


def _probe_stored_on_majority(fn: Callable) -> None:
    fn((2, 0), 2)
    fn((3, 1, 0, 0), 1)


def _probe_commit_index(fn: Callable) -> str | None:
    for args in (((1, 0), _LOG, 2, 0), ((3, 3), _LOG, 2, 1), ((), (), 1, 0)):
        answer = fn(*args)
        if isinstance(answer, bool) or not isinstance(answer, int):
            return (f"commit_index{args!r} returned {answer!r}: it must return an index (an int), "
                    "the new commit index")
    return None


EXERCISE = Exercise(
    number="05",
    notebook="05_commit.ipynb",
    presets=[Preset("homework-commit-ahead.json"), Preset("homework-commit-five.json", max_ballots=2),
             Preset("homework-commit-figure-8.json", max_ballots=2),
             Preset("homework-commit-progress.json", kind="runs", seeds=range(10))],
    build=node_class,
    probes={"stored_on_majority": _probe_stored_on_majority, "commit_index": _probe_commit_index},
    properties={**RAFT_PROPERTIES, "leader-completeness": RAFT_PROPERTIES["leader-completeness"]
                + " The commit index covered an entry that was not committed."},
    correct_words="a leader's commit index covers only committed entries and still moves on",
    progress_words="applied 'set x 1' and 'set y 2' on both servers that were up, with one "
                   "follower down",
    no_progress_words="the commands did not reach the state machines of the two servers that were up",
)

q1 = EXERCISE.question(["stored_on_majority"], "a majority stores it", [
    "The cluster has len(match) + 1 servers: the followers in match, and the leader. A "
    "majority is more than half of them.",
    "A follower stores the entry at index if its match index is at least index. The leader "
    "stores its whole log: count it once.",
    "Count 1 (the leader) plus the followers with m >= index, and compare with "
    "(len(match) + 1) // 2 + 1. The highest match index is not enough: in a cluster of five, "
    "the leader and one follower are two servers, not three.",
])
q2 = EXERCISE.question(["commit_index"], "the commit index", [
    "Look for the highest index n above commit that a majority stores (use your "
    "stored_on_majority): every entry up to n commits with it.",
    "Only an entry of the leader's own term may be committed by counting: skip every n whose "
    "entry log[n - 1] is of an earlier term. An earlier entry then commits through a later "
    "entry of this term.",
    "The Raft paper's Figure 8 (and lesson 06) shows why: an entry of term 1 stored by a "
    "majority in term 3 can still be replaced by a leader of term 4 whose last entry is of "
    "term 2. If nothing qualifies, return commit unchanged.",
])


def bind(namespace: Mapping[str, Any]):
    """``q1, q2 = bind(globals())``: the checkers read your functions from there."""
    return EXERCISE.bind(namespace)
