"""The Basic Paxos notes a node that leaves them out gets from its state (:class:`DerivedNotes`).

A node class of one's own (a homework answer, a handler rewritten from scratch) changes
its fields and sends its messages; the summary (``decided_at``, ``learned_at``,
``ballots``, ``preemptions``), the diagrams' marks and the narration read the notes
``promised``, ``accepted``, ``learned``, ``ballot``, ``phase2``, ``preempted`` and
``timeout``.  Each is read off the fields a handler changed; the runtime keeps those of
the kinds the handler did not note itself (:meth:`DerivedNotes.missing`).  What the state
does not say (why a value was adopted, how long the back-off is) is left out of the
payload, and the narration says only what it knows.

>>> from paxoslab.protocols.basic_paxos.node import Ballot, PaxosNode, Prepare
>>> node = PaxosNode("S3", ["S1", "S2", "S3"])
>>> before = observe(node)
>>> node.promised = Ballot(2, 1)
>>> derive(before, node, Prepare(Ballot(2, 1)))
[('promised', {'ballot': Ballot(round=2, node=1)})]
>>> NOTES.missing(before, node, frozenset({"promised"}), Prepare(Ballot(2, 1)))
[]
"""

from __future__ import annotations

from typing import Any, NamedTuple

from ...node import Node
from ..spec import DerivedNotes

TRYING = ("prepare", "accept")


class Seen(NamedTuple):
    """The fields the notes are read from (None where a node has no such field)."""

    value: Any
    ballot: Any
    phase: Any
    proposal: Any
    promised: Any
    accepted: tuple[Any, Any]
    learned: Any
    learned_ballot: Any


def observe(node: Node) -> Seen:
    """What the notes are read from, now."""
    def get(name: str) -> Any:
        return getattr(node, name, None)
    return Seen(get("value"), get("ballot"), get("phase"), get("proposal"), get("promised"),
                (get("accepted_ballot"), get("accepted_value")), get("learned"), get("learned_ballot"))


def derive(before: Seen, node: Node, trigger: Any) -> list[tuple[str, dict[str, Any]]]:
    """The notes the change from ``before`` to ``node``'s fields makes, in the order the
    library's node writes them."""
    after = observe(node)
    out: list[tuple[str, dict[str, Any]]] = []
    if after.value != before.value and after.value is not None:
        out.append(("propose", {"value": after.value}))
    if before.phase in TRYING and before.ballot is not None and (
            after.phase not in TRYING or after.ballot != before.ballot) and after.learned is None:
        by = getattr(trigger, "promised", None) or getattr(trigger, "ballot", None)
        if type(trigger).__name__ == "PhaseTimeout":
            out.append(("timeout", {"ballot": before.ballot}))
        else:
            out.append(("preempted", {"ballot": before.ballot} if by is None else
                        {"ballot": before.ballot, "by": by}))
    if after.ballot != before.ballot and after.ballot is not None:
        out.append(("ballot", {"ballot": after.ballot}))
    if after.accepted != before.accepted and after.accepted[0] is not None:
        out.append(("accepted", {"ballot": after.accepted[0], "value": after.accepted[1]}))
    elif after.promised != before.promised and after.promised is not None:
        out.append(("promised", {"ballot": after.promised}))  # accepting raises it: told as accepted
    if after.phase == "accept" and (before.phase != "accept" or after.ballot != before.ballot):
        out.append(("phase2", {"ballot": after.ballot, "value": after.proposal}))
    if after.learned != before.learned and after.learned is not None:
        out.append(("learned", {"value": after.learned, "ballot": after.learned_ballot}))
    return out


#: a ballot given up is told once, as pre-empted or as timed out
NOTES = DerivedNotes(observe=observe, derive=derive, together=(frozenset({"preempted", "timeout"}),))
