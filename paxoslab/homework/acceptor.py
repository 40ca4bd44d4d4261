"""Exercise 02: the acceptor (lesson 02, Basic Paxos).

The student writes the acceptor's rules, in the shapes of the library's
(:mod:`paxoslab.protocols.basic_paxos.node`):

1. ``may_promise(promised, ballot)`` — promise 1: answer a ``Prepare`` only if its
   ballot is above every one promised (``promised`` is None before the first);
2. ``promise_for(ballot, accepted_ballot, accepted_value)`` — the reply: a ``Promise``
   that reports the highest-numbered proposal accepted so far;
3. ``may_accept(promised, ballot)`` — promise 2: never accept a ballot below the one
   promised;
4. ``on_accept(node, msg, src)`` — phase 2b as a whole: accept (raising the promise to
   the ballot), write promise and vote to stable storage, and only then reply
   ``Accepted`` (or ``Reject``).

Each question plugs its function into a subclass of :class:`PaxosNode`; everything else
is the library's.  One thing differs from the plain simulator, so that the order of
writing and replying matters as it does on a real disk: a write a handler asks for
*after* it has sent a message is not on disk when the handler returns; it lands a moment
later (a ``LateWrite`` timer, which the search may fire or not before a crash), so a
reply can be out while its vote is not yet stored.  A handler that writes first behaves
exactly as the library's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..node import Node
from ..protocols.basic_paxos.node import Accept, Accepted, Ballot, PaxosNode, Prepare, Promise, Reject
from . import PAXOS_PROPERTIES, Exercise, Preset, StudentError, record, show

__all__ = ["Accept", "Accepted", "Ballot", "EXERCISE", "PaxosNode", "Prepare", "Promise", "Reject",
           "bind", "node_class"]


@dataclass(frozen=True, slots=True)
class LateWrite:
    """A write asked for after a reply was sent: it is on disk only when this fires."""

    fields: tuple[tuple[str, Any], ...]


class AcceptorExerciseNode(PaxosNode):
    """The library's node with a disk on which a write issued after a send lands later."""

    def persist(self, **fields: Any) -> None:
        """Write now, unless this handler already sent something: then the write lands
        when :class:`LateWrite` fires (a crash before that loses it)."""
        if any(effect[0] == "send" for effect in self._effects):
            self.set_timer(LateWrite(tuple(sorted(fields.items()))), 1.0)
        else:
            super().persist(**fields)

    def on_reject(self, msg: Reject, src: str) -> None:
        """A refusal that names no promise (an acceptor that refuses without having promised
        anything) tells the proposer nothing: it waits for its phase timeout."""
        if msg.promised is not None:
            super().on_reject(msg, src)

    def on_late_write(self, timer: LateWrite) -> None:
        """The late write is on disk now."""
        super().persist(**dict(timer.fields))


def node_class(functions: Mapping[str, Callable]) -> type[Node]:
    """A subclass of :class:`PaxosNode` that calls the given student functions (by name:
    ``may_promise``, ``promise_for``, ``may_accept``, ``on_accept``) for its rules."""
    body: dict[str, Any] = {"__module__": __name__}
    if "may_promise" in functions:
        fn = functions["may_promise"]

        def may_promise(self: PaxosNode, ballot: Ballot) -> bool:
            answer = fn(self.promised, ballot)
            record(lambda: f"may_promise(promised={show(self.promised)}, ballot={show(ballot)}) "
                           f"returned {answer!r}")
            return answer
        body["may_promise"] = may_promise
    if "promise_for" in functions:
        fn_p = functions["promise_for"]

        def promise_for(self: PaxosNode, ballot: Ballot) -> Promise:
            reply = fn_p(ballot, self.accepted_ballot, self.accepted_value)
            if not isinstance(reply, Promise):
                raise StudentError(f"promise_for returned {reply!r}, not a Promise(ballot, "
                                   "accepted_ballot, accepted_value)")
            record(lambda: f"promise_for(ballot={show(ballot)}, accepted_ballot="
                           f"{show(self.accepted_ballot)}, accepted_value={show(self.accepted_value)}) "
                           f"returned {show(reply)}")
            return reply
        body["promise_for"] = promise_for
    if "may_accept" in functions:
        fn_a = functions["may_accept"]

        def may_accept(self: PaxosNode, ballot: Ballot) -> bool:
            answer = fn_a(self.promised, ballot)
            record(lambda: f"may_accept(promised={show(self.promised)}, ballot={show(ballot)}) "
                           f"returned {answer!r}")
            return answer
        body["may_accept"] = may_accept
    if "on_accept" in functions:
        fn_h = functions["on_accept"]

        def on_accept(self: PaxosNode, msg: Accept, src: str) -> None:
            """Phase 2b by the student; the learner's bookkeeping (asking later what was
            chosen) is added here, as the library's handler does (the ``accepted`` note is
            read off the state, :mod:`paxoslab.protocols.basic_paxos.notes`)."""
            self.highest_round_seen = max(self.highest_round_seen, msg.ballot.round)
            before = (self.accepted_ballot, self.accepted_value)
            done = len(self._effects)
            fn_h(self, msg, src)
            record(lambda: f"on_accept({msg.label()} from {src}) {what_it_did(self._effects[done:])}")
            if (self.accepted_ballot, self.accepted_value) != before:
                self.start_asking()
        body["on_accept"] = on_accept
    return type("StudentAcceptor", (AcceptorExerciseNode,), body)


def what_it_did(effects: list) -> str:
    """A handler's sends and writes, in order, in words (for the counterexample's marks)."""
    done = []
    for effect in effects:
        if effect[0] == "send":
            msg = effect[2]
            done.append("sent " + (msg.label() if hasattr(msg, "label") else type(msg).__name__))
        elif effect[0] == "persist":
            done.append("wrote " + ", ".join(effect[1]))
        elif effect[0] == "set_timer" and isinstance(effect[1], LateWrite):
            done.append("asked to write " + ", ".join(k for k, _ in effect[1].fields)
                        + " AFTER sending: not on disk until its LateWrite timer fires")
    if not any(effect[0] == "persist" or (effect[0] == "set_timer" and isinstance(effect[1], LateWrite))
               for effect in effects):
        done.append("wrote nothing to disk")
    return "; ".join(done)


def _probe_may_promise(fn: Callable) -> None:
    fn(None, Ballot(1, 1))
    fn(Ballot(3, 1), Ballot(2, 5))


def _probe_promise_for(fn: Callable) -> str | None:
    reply = fn(Ballot(4, 2), Ballot(3, 1), "X")
    if not isinstance(reply, Promise):
        return (f"promise_for(Ballot(4, 2), Ballot(3, 1), 'X') returned {reply!r}: it must return "
                "a Promise(ballot, accepted_ballot, accepted_value)")
    return None


def _probe_may_accept(fn: Callable) -> None:
    fn(None, Ballot(1, 1))
    fn(Ballot(3, 1), Ballot(2, 5))


def _probe_on_accept(fn: Callable) -> None:
    node = PaxosNode("S3", ["S1", "S2", "S3"])
    node.promised = Ballot(1, 1)
    fn(node, Accept(Ballot(1, 1), "X"), "S1")


EXERCISE = Exercise(
    number="02",
    notebook="02_acceptor.ipynb",
    presets=[Preset("homework-acceptor-pivot.json"), Preset("homework-acceptor-crash.json"),
             Preset("homework-acceptor-three.json"), Preset("homework-acceptor-duel.json"),
             Preset("homework-acceptor-progress.json", kind="runs", seeds=range(10))],
    build=node_class,
    probes={"may_promise": _probe_may_promise, "promise_for": _probe_promise_for,
            "may_accept": _probe_may_accept, "on_accept": _probe_on_accept},
    properties=PAXOS_PROPERTIES,
    correct_words="Basic Paxos stays safe and decides",
    progress_words="decided a value",
    no_progress_words="no value was ever decided",
)

q1 = EXERCISE.question(["may_promise"], "promise 1", [
    "Promise 1 is about Prepare messages: once an acceptor has promised ballot n, it must "
    "not answer a Prepare numbered n or lower. Compare ballot with promised.",
    "Ballots compare like tuples (round first, then node): Ballot(3, 1) < Ballot(3, 5) < "
    "Ballot(4, 1). Before the first promise, promised is None: then any ballot may be promised.",
    "Strictly greater: a Prepare equal to the promise was already answered.",
])
q2 = EXERCISE.question(["promise_for"], "the promise", [
    "The reply carries the ballot it answers and what this acceptor has already accepted.",
    "Why it matters: a proposer that sees an accepted proposal must adopt its value (phase "
    "2a). If the promise hides it, a later proposer may pick its own value although one "
    "was already chosen.",
    "Return Promise(ballot, accepted_ballot, accepted_value): both are None if nothing "
    "was accepted yet.",
])
q3 = EXERCISE.question(["may_accept"], "promise 2", [
    "Promise 2 is about Accept messages: after promising n, never accept a ballot below n.",
    "Equal is fine: the proposer of ballot n sends Accept(n) to the acceptors that promised n.",
    "Before any promise (promised is None) every ballot may be accepted.",
])
q4 = EXERCISE.question(["on_accept"], "phase 2b", [
    "Three things, in order: decide (may_accept), remember (the node's fields and the disk), "
    "answer (node.send).",
    "Accepting ballot n also raises the promise to n if it was lower. Remember promised, "
    "accepted_ballot and accepted_value with node.persist(promised=..., "
    "accepted_ballot=..., accepted_value=...).",
    "Write before you reply: a crash after the reply but before the write would let the "
    "acceptor come back not knowing its vote, and answer the next Prepare as if it had "
    "never voted.",
])


def bind(namespace: Mapping[str, Any]):
    """``q1, q2, q3, q4 = bind(globals())``: the checkers read your functions from there."""
    return EXERCISE.bind(namespace)
