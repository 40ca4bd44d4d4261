"""Exercise 06: debugging a broken node with the search (lesson 06).

The student gets :class:`SuspectNode`, a Multi-Paxos (Raft) server with one rule broken —
subtly: it looks right, passes the course's timed Multi-Paxos scenarios, and no bug switch
names it.  They
search a given scenario with it (``pl.search(SCENARIO, node_class=SuspectNode)``), read
``explain()``, and answer:

1. ``reported_property()`` — which property the search reports broken;
2. ``broken_rule()`` — which rule of the protocol the node breaks (multiple choice,
   :data:`RULES`), after explaining the counterexample in two sentences in the notebook
   (for the instructor; not graded here);
3. optionally, the fix: ``merge(log, prev_index, entries)``, the follower's merge of the
   entries an ``AppendEntries`` brings, checked like the other exercises (searches of
   small presets and timed runs).

The answers of questions 1 and 2 are not in this module: only their SHA-256 digests
(salted with the question), so that reading the checker does not give them away, and a
wrong answer is told only that it is wrong (with what to look at again), never the right one.

The node is :class:`DebugExerciseNode`: the library's :class:`MultiPaxosNode` whose
follower merges through :meth:`DebugExerciseNode.merge` (it overrides
:meth:`MultiPaxosNode.decide_merge`: the consistency check is the library's, the merge the
exercise's).  ``tests/test_homework_debugging.py`` holds it, with the library's
merge, to the library's runs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..node import Node
from ..protocols.multi_paxos.node import (
    MultiPaxosNode,
    merge_entries,
)
from ..watchdog import handler_time_limit
from . import (
    CORRECT,
    HANDLER_SECONDS,
    INCORRECT,
    RAFT_PROPERTIES,
    Exercise,
    Preset,
    Question,
    StudentError,
    Verdict,
    _call_in_handler,
    record,
)
from .paths import SCENARIOS

__all__ = ["EXERCISE", "PROPERTIES", "RULES", "SCENARIO", "DebugExerciseNode", "SuspectNode", "bind",
           "node_class"]

#: the scenario the student searches with the suspect node
SCENARIO = str(SCENARIOS / "homework-debug-suspect.json")

#: the properties the Multi-Paxos monitors check (question 1 answers with one of them)
PROPERTIES = ("election-safety", "leader-append-only", "log-matching", "leader-completeness",
              "state-machine-safety")

#: question 2: which rule does the suspect node break?
RULES = {
    "A": "A server votes for a candidate whose log is less up to date than its own "
         "(the election restriction, Raft 5.4.1).",
    "B": "A leader commits an entry of an earlier term by counting its replicas (Raft 5.4.2).",
    "C": "A follower deletes entries of its log that do not conflict with the leader's "
         "(Raft Figure 2, AppendEntries step 3: delete only from a conflict on).",
    "D": "A follower appends entries without checking that its log holds the leader's "
         "previous entry (Raft Figure 2, AppendEntries step 2: the consistency check).",
    "E": "A server answers RequestVote before its term and vote are on stable storage.",
    "F": "A follower keeps entries of its log that conflict with the leader's (same index, another "
         "term) instead of deleting them (Raft Figure 2, AppendEntries step 3).",
    "G": "A follower appends the leader's entries after the end of its log, not from the index "
         "after the leader's previous entry on (Raft Figure 2, AppendEntries step 4).",
}


def _digest(question: int, answer: str) -> str:
    return hashlib.sha256(f"paxoslab exercise 06 q{question}: {answer}".encode()).hexdigest()


#: the digests of the right answers (normalised: stripped, lower case)
_ANSWERS = {
    1: "47fcca967b72707340ef105eec8dadb30dd80765e5f1787bb5e3450e9442b4ab",
    2: "f3001d158ff6adc1811b92e73d4497b10c29c6e29bdf9e5dda0df4603bdf97b0",
}


class DebugExerciseNode(MultiPaxosNode):
    """The library's server, whose follower merges the entries of an ``AppendEntries`` through
    :meth:`merge` (the consistency check before it is the library's)."""

    def merge(self, log: tuple, prev_index: int, entries: tuple) -> tuple:
        """The follower's log after the entries that follow ``prev_index`` (whose entry the
        consistency check found to match the leader's): the library's merge."""
        merged = merge_entries(log, prev_index, self.term_at(prev_index) if prev_index <= len(log) else 0,
                               entries)
        return log if merged is None else merged[0]

    def decide_merge(self, prev_index: int, prev_term: int, entries: tuple) -> tuple | None:
        """The library's consistency check, then :meth:`merge`; what was cut and what was
        added are read off the difference between the old log and the merged one."""
        if merge_entries(self.log, prev_index, prev_term, ()) is None:
            return None
        log = _checked_log(self.merge(self.log, prev_index, entries), self.log, prev_index, entries)
        if log == self.log:
            return self.log, 0, ()
        kept = 0
        while kept < min(len(log), len(self.log)) and log[kept] == self.log[kept]:
            kept += 1
        return log, kept + 1 if kept < len(self.log) else 0, log[kept:]


def _checked_log(log: Any, before: tuple, prev: int, entries: tuple) -> tuple:
    """The merged log, if it is one: a tuple of entries (each a tuple starting with its term)
    that keeps the prefix the consistency check matched and holds the new entries."""
    if not isinstance(log, tuple) or not all(isinstance(e, tuple) and e and isinstance(e[0], int)
                                             for e in log):
        raise StudentError(f"merge returned {log!r}: it must return the new log, a tuple of entries")
    if log[:prev] != before[:prev]:
        raise StudentError(f"merge changed an entry at or before prev_index={prev}, which matched the "
                           "leader's")
    if log[prev:prev + len(entries)] != entries:
        raise StudentError(f"merge returned a log without the leader's entries at {prev + 1} to "
                           f"{prev + len(entries)}")
    return log


def _merge_suspect(log: tuple, prev_index: int, entries: tuple) -> tuple:
    # the follower's log is the leader's up to prev_index (the consistency check passed),
    # then the leader's entries
    return log[:prev_index] + entries


class SuspectNode(DebugExerciseNode):
    """A Multi-Paxos (Raft) server. Timed runs of the course's Multi-Paxos scenarios
    (``data/scenarios/multi-paxos-*.json`` without a bug) look fine with it. Is it safe?"""

    def merge(self, log: tuple, prev_index: int, entries: tuple) -> tuple:
        return _merge_suspect(log, prev_index, entries)


def node_class(functions: Mapping[str, Callable]) -> type[Node]:
    """A :class:`DebugExerciseNode` whose merge is the student's ``merge`` (by name), if given."""
    body: dict[str, Any] = {"__module__": __name__}
    if "merge" in functions:
        fn = functions["merge"]

        def merge(self: DebugExerciseNode, log: tuple, prev_index: int, entries: tuple) -> tuple:
            answer = fn(log, prev_index, entries)
            record(lambda: f"merge({_terms(log)}, prev_index={prev_index}, {_terms(entries, 'entries')}) "
                           f"returned {_terms(answer) if isinstance(answer, tuple) else repr(answer)}")
            return answer
        body["merge"] = merge
    return type("StudentFollower", (DebugExerciseNode,), body)


def _terms(log: Sequence, what: str = "log") -> str:
    """A log (or entries) by the terms of its entries: ``log terms [1, 1, 2]``."""
    try:
        return f"{what} terms [{', '.join(str(e[0]) for e in log)}]" if log else f"no {what}"
    except (TypeError, IndexError, KeyError):
        return repr(log)


class ChoiceQuestion(Question):
    """A question answered by a function that returns a choice (a property's name, a letter):
    checked against a digest, so the right answer is in no file the student has."""

    write_it = "Make it return your answer, run the cell, then check again."

    def __init__(self, exercise: Exercise, number: int, names: Sequence[str], title: str,
                 hints: Sequence[str], choices: Sequence[str], wrong: str) -> None:
        super().__init__(exercise, number, names, title, hints)
        self.choices, self.wrong = tuple(choices), wrong

    def solution(self) -> None:
        """Not for these questions: the answer is what the search and your reading of it tell."""
        print(f"Question {self.number} has no solution to show: its answer is what you find. Run the "
              f"search, read explain(), and try q{self.number}.hint().")

    def _evaluate(self) -> Verdict:
        name = self.names[0]
        functions = self.exercise.functions()
        unready = self.unready(functions)
        if unready is not None:
            return unready
        with handler_time_limit(HANDLER_SECONDS):
            answer = _call_in_handler(functions[name])
        given = str(answer).strip().lower() if isinstance(answer, str) else None
        if given not in {c.lower() for c in self.choices}:
            return Verdict(INCORRECT, "not a choice",
                           f"✘ incorrect: {name}() returned {answer!r}, which is not one of the choices: "
                           f"{', '.join(repr(c) for c in self.choices)}.")
        if _digest(self.number, given) != _ANSWERS[self.number]:
            return Verdict(INCORRECT, "wrong choice", f"✘ incorrect: not {answer!r}. {self.wrong}")
        return Verdict(CORRECT, text=f"✔ correct: {answer!r}.")


class DebuggingExercise(Exercise):
    """Exercise 06: two choice questions, then a function checked like the other exercises."""

    def choice(self, names: Sequence[str], title: str, hints: Sequence[str], choices: Sequence[str],
               wrong: str) -> ChoiceQuestion:
        q = ChoiceQuestion(self, len(self.questions) + 1, names, title, hints, choices, wrong)
        self.questions.append(q)
        return q


def _probe_choice(fn: Callable) -> None:
    fn()


def _probe_merge(fn: Callable) -> str | None:
    log = ((1, "no-op"), (1, "set x 1"))
    for args in ((log, 1, ((1, "set x 1"),)), ((), 0, ((1, "no-op"),))):
        answer = fn(*args)
        if not isinstance(answer, tuple):
            return (f"merge{args!r} returned {answer!r}: it must return the follower's new log, a tuple "
                    "of entries")
    return None


EXERCISE = DebuggingExercise(
    number="06",
    notebook="06_debugging.ipynb",
    presets=[Preset("homework-debug-suspect.json"), Preset("homework-debug-conflict.json"),
             Preset("homework-debug-progress.json", kind="runs", seeds=range(10))],
    build=node_class,
    probes={"reported_property": _probe_choice, "broken_rule": _probe_choice, "merge": _probe_merge},
    properties=RAFT_PROPERTIES,
    correct_words="followers keep what they acknowledged and take the leader's entries",
    progress_words="applied 'set x 1' and 'set y 2' on every server",
    no_progress_words="the commands did not reach every state machine",
)

q1 = EXERCISE.choice(["reported_property"], "what the search reports", [
    "Run the search cell: the first line of explain() after the goals says 'violation of ...'.",
    "The answer is the property's name as the search writes it, e.g. 'election-safety'.",
], PROPERTIES, "Run the search with node_class=SuspectNode and read the line 'violation of ...' in "
               "explain().")
q2 = EXERCISE.choice(["broken_rule"], "the rule the node breaks", [
    "Find the step where a server's log loses an entry it had acknowledged: explain() prints "
    "each step's changes, e.g. 'S2  log: [...] -> [...]'.",
    "Which message arrives at that step, and which earlier message had brought the entry? "
    "Compare what the follower did with Raft Figure 2's AppendEntries steps 2 to 4.",
    "A message can arrive late, after a newer one from the same leader.",
], tuple(RULES), "Look again at the step where a follower's log gets shorter: which message "
                 "arrives, and what does Raft Figure 2 say a follower does with it?")
q3 = EXERCISE.question(["merge"], "the fix", [
    "The entries at prev_index + 1, prev_index + 2, ... are the leader's. Walk through them: an "
    "entry the follower already holds with the same term is the same entry (Log Matching): keep it.",
    "Only where an entry of the follower's log has another term than the leader's at that index "
    "(a conflict) delete it and every entry after it, then append the rest of the leader's.",
    "If every entry is already there, return the log unchanged: it may be longer than "
    "prev_index + len(entries), and what follows came from a later AppendEntries of the same leader.",
])


def bind(namespace: Mapping[str, Any]):
    """``q1, q2, q3 = bind(globals())``: the checkers read your answers from there."""
    return EXERCISE.bind(namespace)
