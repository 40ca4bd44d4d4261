"""The Multi-Paxos (Raft) notes a node that leaves them out gets from its state
(:class:`DerivedNotes`).

The summary (``leaders``, ``commands`` and when each was committed), the log grid, the
role timeline, the diagrams' marks and the narration read the notes ``role``, ``leader``,
``appended``, ``truncated``, ``request``, ``committed`` and ``applied``.  A node class of
one's own that changes ``role``, ``current_term``, ``log``, ``commit_index`` and
``last_applied`` without noting it gets each one read off the change, for every kind (the
log's two counting as one) the handler did not note itself (:meth:`DerivedNotes.missing`).
A log entry appended is placed ``by_term`` the server's term after the handler, as the
library's node places it (a leader's own entries, and a follower's from an
``AppendEntries`` of its term).  What an entry applied answered (and the key it changed)
is found by applying it to a copy of the server's state machine as it was before the
handler.

>>> from paxoslab.protocols.multi_paxos.node import MultiPaxosNode
>>> node = MultiPaxosNode("S2", ["S1", "S2", "S3"])
>>> before = observe(node)
>>> node.current_term, node.log, node.commit_index = 2, ((1, "set x 1"), (2, "set y 2")), 1
>>> for kind, payload in derive(before, node, None):
...     print(kind, payload)
role {'role': 'follower', 'term': 2}
appended {'index': 1, 'term': 1, 'command': 'set x 1', 'by_term': 2}
appended {'index': 2, 'term': 2, 'command': 'set y 2', 'by_term': 2}
committed {'index': 1}
"""

from __future__ import annotations

import copy
from typing import Any, NamedTuple

from ...node import Node
from ..spec import DerivedNotes
from .node import changed_key, session_of

LOG_KINDS = frozenset({"appended", "truncated"})


class Seen(NamedTuple):
    """The fields the notes are read from (None where a node has no such field)."""

    role: Any
    term: Any
    leader: Any
    log: tuple
    commit_index: Any
    last_applied: Any
    machine: Any


def observe(node: Node) -> Seen:
    """What the notes are read from, now (the log and the state machine copied: a handler
    may change them in place)."""
    def get(name: str) -> Any:
        return getattr(node, name, None)
    return Seen(get("role"), get("current_term"), get("leader_id"), tuple(get("log") or ()),
                get("commit_index"), get("last_applied"), copy.deepcopy(get("machine")))


def _applied(machine: Any, index: int, entry: tuple) -> dict[str, Any]:
    """The ``applied`` note of entry ``index``, its answer found by applying it to ``machine``
    (a copy, changed in place); without the answer if that machine cannot apply it."""
    client, seq = session_of(entry)
    session = {} if client is None else {"client": client, "seq": seq}
    try:
        answer, executed = machine.apply(entry[1], client, seq)
        key = changed_key(entry[1], answer) if executed else None
        change = {} if key is None else {"key": key, "value": machine.machine.data.get(key)}
    except Exception:  # noqa: BLE001 - a node's own machine: say what was applied, not the answer
        return {"index": index, "command": entry[1], **session}
    return {"index": index, "command": entry[1], "answer": answer, "executed": executed, **session,
            **change}


def _request_of(trigger: Any) -> tuple[Any, Any] | None:
    """``(command, request number)`` of a client request the handler ran for, else None."""
    if isinstance(trigger, tuple) and len(trigger) == 2 and trigger[0] == "submit" and len(trigger[1]) >= 2:
        return trigger[1][0], trigger[1][1]
    if type(trigger).__name__ == "Forward":
        return getattr(trigger, "command", None), getattr(trigger, "request", None)
    return None


def _grew(before: Any, after: Any) -> bool:
    return isinstance(after, int) and isinstance(before, int) and after > before


def derive(before: Seen, node: Node, trigger: Any) -> list[tuple[str, dict[str, Any]]]:
    """The notes the change from ``before`` to ``node``'s fields makes, in the order the
    library's node writes them."""
    after = observe(node)
    out: list[tuple[str, dict[str, Any]]] = []
    if (after.role, after.term) != (before.role, before.term) and after.role is not None:
        out.append(("role", {"role": after.role, "term": after.term}))
    if after.leader != before.leader and after.leader not in (None, node.id):
        out.append(("leader", {"leader": after.leader, "term": after.term}))
    if after.log != before.log:
        kept = 0
        while kept < min(len(before.log), len(after.log)) and before.log[kept] == after.log[kept]:
            kept += 1
        if len(before.log) > kept:
            out.append(("truncated", {"index": kept + 1}))
        for index in range(kept + 1, len(after.log) + 1):
            entry = after.log[index - 1]
            out.append(("appended", {"index": index, "term": entry[0], "command": entry[1],
                                     "by_term": after.term}))
    request = _request_of(trigger)
    if request is not None and len(after.log) > len(before.log) and after.log[-1][1] == request[0]:
        out.append(("request", {"request": request[1], "command": request[0], "index": len(after.log),
                                "term": after.log[-1][0]}))
    if _grew(before.commit_index, after.commit_index):
        out.append(("committed", {"index": after.commit_index}))
    if _grew(before.last_applied, after.last_applied):
        machine = before.machine
        for index in range(before.last_applied + 1, min(after.last_applied, len(after.log)) + 1):
            out.append(("applied", _applied(machine, index, after.log[index - 1])))
    return out


#: a log's cut and the entries after it are told together
NOTES = DerivedNotes(observe=observe, derive=derive, together=(LOG_KINDS,))
