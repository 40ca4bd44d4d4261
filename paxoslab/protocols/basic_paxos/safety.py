"""Basic Paxos's safety properties, checked after every step of a run or a search.

*Paxos Made Simple* §2.1 asks for: only a proposed value may be chosen
(:class:`Validity`), only one value is chosen, and a process never learns a
value unless it has been chosen (:class:`Agreement`).  The monitors read a
world through :class:`~paxoslab.world.World` only.  ``GOALS`` are what the
search shows *can* happen (that the checks are not vacuous).
"""

from __future__ import annotations

from typing import Any

from ...checks import Monitor, Violation
from ...node import read_field
from ...world import World
from .node import LEARNED, Accepted


def _votes_of(world: World) -> list[tuple[Any, Any, str]]:
    """The (ballot, value, acceptor) votes visible in the last step: the stepping
    node's accepted proposal and every Accepted message sent."""
    sent = world.step_sent
    votes = [(msg.ballot, msg.value, src) for src, _, msg in sent
             if isinstance(msg, Accepted)] if sent else []
    node = world.node(world.step_node) if world.step_node is not None else None
    if node is not None and getattr(node, "accepted_ballot", None) is not None:
        votes.append((node.accepted_ballot, node.accepted_value, world.step_node))
    return votes


class Agreement(Monitor):
    """At most one value is chosen, and no learner learns a value that was not chosen.

    A value is chosen once a majority of acceptors has accepted it under one
    ballot.  What an acceptor accepted is read from its state
    (``accepted_ballot``, ``accepted_value``) and from the ``Accepted``
    messages it sends; what a learner learned from its ``learned`` field.
    """

    property = "agreement"

    def __init__(self, node_ids, options) -> None:
        super().__init__(node_ids, options)
        self.majority = len(self.node_ids) // 2 + 1
        #: (ballot, value) -> the acceptors that accepted it
        self.votes: dict[tuple[Any, Any], frozenset[str]] = {}
        #: (value, ballot, acceptors, time) for each value chosen, in order
        self.chosen: tuple[tuple[Any, Any, tuple[str, ...], float], ...] = ()
        self.reported: frozenset[tuple[str, Any]] = frozenset()
        self._key: frozenset | None = None

    def key(self):
        """The values chosen, and the votes for the others: votes for a chosen value can
        change no verdict, so worlds that differ only by them are alike."""
        if self._key is None:
            chosen = frozenset(c[0] for c in self.chosen)
            self._key = (chosen, frozenset(item for item in self.votes.items()
                                           if item[0][1] not in chosen))
        return self._key

    def fork(self) -> Agreement:
        twin = object.__new__(Agreement)
        twin.__dict__ = self.__dict__.copy()
        twin.votes = dict(self.votes)
        return twin

    def after_step(self, world: World) -> list[Violation]:
        found = []
        for ballot, value, acceptor in _votes_of(world):
            voters = self.votes.get((ballot, value), frozenset())
            if acceptor in voters:
                continue
            voters = self.votes[ballot, value] = voters | {acceptor}
            self._key = None
            if len(voters) < self.majority or any(c[0] == value for c in self.chosen):
                continue
            voters = tuple(sorted(voters))
            self.chosen += ((value, ballot, voters, world.now),)
            if len(self.chosen) > 1:
                first = self.chosen[0]
                found.append(Violation(
                    self.property, world.now,
                    f"two values chosen: {first[0]!r} (ballot {first[1]}, accepted by "
                    f"{', '.join(first[2])} at t={first[3]:g}) and {value!r} (ballot "
                    f"{ballot}, accepted by {', '.join(voters)})",
                    tuple(sorted(set(first[2]) | set(voters))),
                ))
        node_id = world.step_node
        node = world.node(node_id) if node_id is not None else None
        learned = read_field(node, "learned", LEARNED) if node is not None else None
        if (learned is not None and (node_id, learned) not in self.reported
                and not any(c[0] == learned for c in self.chosen)):
            self.reported = self.reported | {(node_id, learned)}
            chosen = ", ".join(repr(c[0]) for c in self.chosen) or "nothing"
            found.append(Violation(
                self.property, world.now,
                f"{node_id} learned {learned!r}, which no majority accepted under one ballot "
                f"(chosen so far: {chosen})",
                (node_id,),
            ))
        return found


class Validity(Monitor):
    """Only a value that some client proposed can be learned."""

    property = "validity"

    def __init__(self, node_ids, options) -> None:
        super().__init__(node_ids, options)
        self.proposed: frozenset[Any] = frozenset()
        self.reported: frozenset[tuple[str, Any]] = frozenset()

    def key(self):
        return self.proposed

    def after_step(self, world: World) -> list[Violation]:
        node_id = world.step_node
        node = world.node(node_id) if node_id is not None else None
        if node is None:
            return []
        value = read_field(node, "value", "the value a client asked it to propose, or None")
        if value is not None and value not in self.proposed:
            self.proposed = self.proposed | {value}
        learned = read_field(node, "learned", LEARNED)
        if learned is None or learned in self.proposed or (node_id, learned) in self.reported:
            return []
        self.reported = self.reported | {(node_id, learned)}
        return [Violation(self.property, world.now,
                          f"{node_id} learned {learned!r}, which nobody proposed", (node_id,))]


def a_value_is_chosen(world: World) -> bool:
    """The goal "a value can be chosen": in this world a majority accepted one proposal."""
    return any(m.chosen for m in world.monitors if isinstance(m, Agreement))


#: "sometimes" properties: the search reports whether some world reaches each
GOALS = {"a value can be chosen": a_value_is_chosen}


