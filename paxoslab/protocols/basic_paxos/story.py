"""How a Basic Paxos run is told: its summary, its sentences, colours and marks, the
acceptors' state tables and the moments a value is chosen.

Everything here reads a finished run (its trace, and the nodes at the end); none
of it changes what a run does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ...node import read_field
from ...wording import ms, per_node, show
from ..spec import Mark
from .node import LEARNED, PHASE

if TYPE_CHECKING:
    from ...sim import Simulation


def chosen_moments(trace, acceptors: int) -> list[dict[str, Any]]:
    """Each ``{ballot, value, at, seq, acceptors}`` a majority of ``acceptors`` accepted, by time.

    A value is **chosen** at the moment a majority of acceptors has accepted it
    under one ballot: ``at`` (and ``seq``) is that majority's last acceptance.
    This reads the acceptors' ``accepted`` events (what the run recorded), so it
    holds whether or not anybody has found out yet; *learning* it comes later.

    >>> from paxoslab.trace import Trace
    >>> t = Trace()
    >>> for time, node in [(3, "S3"), (6, "S4"), (6, "S5"), (10, "S1")]:
    ...     t.add(time, "accepted", node=node, payload={"ballot": "4.5", "value": "X"})
    >>> chosen_moments(t, acceptors=5)
    [{'ballot': '4.5', 'value': 'X', 'at': 6, 'seq': 2, 'acceptors': ['S3', 'S4', 'S5']}]
    """
    majority = acceptors // 2 + 1
    votes: dict[tuple[str, Any], set[str]] = {}
    moments = []
    for e in trace.of_kind("accepted"):
        key = (e.payload["ballot"], e.payload["value"])
        voters = votes.setdefault(key, set())
        if e.node not in voters:
            voters.add(e.node)
            if len(voters) == majority:
                moments.append({"ballot": key[0], "value": key[1], "at": e.time, "seq": e.seq,
                                "acceptors": sorted(voters)})
    return moments


def summarize(sim: Simulation) -> dict[str, Any]:
    """``learned``/``learned_at`` per node; ``decided``, and ``decided_at`` = its chosen moment.

    ``learned`` is what each node knows was chosen at the end (read from the
    node, or from its disk if it is down) and ``learned_at`` when it first
    learned that value.  ``decided`` is the value the run decided: the value
    the nodes learned (null if no node learned one, or if nodes learned
    different values, which only a bug can cause).  ``decided_at`` is the
    moment that value was *chosen* — a majority of acceptors accepted it under
    one ballot — which comes before anyone can learn it.  A value can be chosen
    without anybody finding out for a long time (a duel that keeps pre-empting
    the proposers, lesson 03): ``decided`` stays null until somebody learns it.
    """
    learned = {}
    for node_id in sim.node_ids:
        node = sim.node(node_id)
        learned[node_id] = (read_field(node, "learned", LEARNED) if node is not None
                            else sim.stored(node_id).get("learned"))
    learned_at: dict[str, float | None] = dict.fromkeys(sim.node_ids)
    for e in sim.trace.of_kind("learned"):
        if learned_at.get(e.node) is None and e.payload["value"] == learned.get(e.node):
            learned_at[e.node] = e.time
    values = {v for v in learned.values() if v is not None}
    decided = values.pop() if len(values) == 1 else None
    moments = [m for m in chosen_moments(sim.trace, len(sim.node_ids)) if m["value"] == decided]
    return {
        "learned": learned,
        "learned_at": learned_at,
        "decided": decided,
        "ballots": [e.payload["ballot"] for e in sim.trace.of_kind("ballot")],
        "decided_at": moments[0]["at"] if decided is not None and moments else None,
        **liveness(sim, decided),  # ballots_per_node, preemptions, livelocked
    }


def liveness(sim: Simulation, decided: Any) -> dict[str, Any]:
    """How hard the proposers tried: ballots started and pre-emptions per node, and
    ``livelocked``: nothing decided by the end while some live proposer was still trying."""
    ballots = dict.fromkeys(sim.node_ids, 0)
    preemptions = dict.fromkeys(sim.node_ids, 0)
    for event in sim.trace.of_kind("ballot", "preempted"):
        (ballots if event.kind == "ballot" else preemptions)[event.node] += 1
    nodes = [sim.node(node_id) for node_id in sim.node_ids]
    trying = any(node is not None and read_field(node, "phase", PHASE) in ("prepare", "accept", "backoff")
                 for node in nodes)
    return {"ballots_per_node": ballots, "preemptions": preemptions,
            "livelocked": decided is None and trying}


def describe_summary(summary: Mapping[str, Any]) -> list[str]:
    """The protocol's lines of ``describe``: what was decided and when, who learned what,
    the ballots started."""
    at = summary["decided_at"]
    when = {n: t for n, t in summary["learned_at"].items() if t is not None}
    learned = "  ".join(
        f"{node}={show(v)}" + (f" (t={ms(when[node])})" if node in when else "")
        for node, v in summary["learned"].items())
    return [
        f"decided    {show(summary['decided'])}"
        + (f"  (chosen at t={ms(at)})" if at is not None else ""),
        f"learned    {learned if when else per_node(summary['learned'])}",
        f"ballots    {', '.join(summary['ballots']) or '-'}",
    ]


def _ballot_key(ballot: str | None) -> tuple[int, int]:
    """``"4.5"`` -> ``(4, 5)`` (None sorts lowest), to compare ballots as the trace writes them."""
    if ballot is None:
        return (-1, -1)
    round_, node = str(ballot).split(".")
    return (int(round_), int(node))


def state_changes(trace, nodes) -> list[tuple[float, int, str, dict[str, Any]]]:
    """Each node's ``promised`` / ``accepted`` / ``learned`` after every change, from the trace.

    Follows the acceptor's rules as the run recorded them: a promise raises
    ``promised``; accepting ``(b, v)`` sets ``accepted`` and raises ``promised``
    to ``b`` if it was lower; a crash leaves the node ``down``; a recovery
    restores what it had written to disk (the ``recover`` event carries it).
    """
    blank = {"promised": None, "accepted": None, "learned": None, "down": False}
    state = {n: dict(blank) for n in nodes}
    changes = []
    for e in trace.events:
        if e.node not in state or e.kind not in ("promised", "accepted", "learned", "crash",
                                                   "recover"):
            continue
        s, p = dict(state[e.node]), e.payload or {}
        if e.kind == "promised":
            s["promised"] = p["ballot"]
        elif e.kind == "accepted":
            s["accepted"] = f"({p['ballot']}, {p['value']})"
            if _ballot_key(p["ballot"]) > _ballot_key(s["promised"]):
                s["promised"] = p["ballot"]
        elif e.kind == "learned":
            s["learned"] = p["value"]
        elif e.kind == "crash":
            s["down"] = True
        else:  # recover: back from the disk, nothing else
            ballot = p.get("accepted_ballot")
            s = {"promised": p.get("promised"),
                 "accepted": f"({ballot}, {p.get('accepted_value')})" if ballot else None,
                 "learned": p.get("learned"), "down": False}
        state[e.node] = s
        changes.append((e.time, e.seq, e.node, s))
    return changes


def moments(trace, nodes) -> list[dict[str, Any]]:
    """The chosen moment(s): ``kind="chosen"`` with the ballot, value and the majority."""
    out, first = [], {}
    for m in chosen_moments(trace, len(nodes)):
        majority = ", ".join(m["acceptors"])
        again = m["value"] in first
        if again:
            text = (f"({m['ballot']}, {m['value']}) now has a majority too ({majority}); "
                    f"{m['value']} was already chosen at t={ms(first[m['value']])}")
        else:
            first[m["value"]] = m["at"]
            text = (f"{m['value']} is chosen: a majority ({majority}) has now accepted "
                    f"({m['ballot']}, {m['value']})")
        out.append({"kind": "chosen", "time": m["at"], "seq": m["seq"], "value": m["value"],
                    "ballot": m["ballot"], "again": again, "text": text})
    return out


def _ballot_source(payload: Mapping[str, Any]) -> str:
    """Where phase 2's value came from, as the note says ("" for a note read off a node's
    state, :mod:`.notes`, which cannot say)."""
    if "adopted_from" not in payload:
        return ""
    source = payload.get("adopted_from")
    if source:
        return f"adopted from ballot {source}"
    if payload.get("ignored"):
        return (f"its own value, though a promise carried a proposal accepted under ballot "
                f"{payload['ignored']}: the bug proposer-ignores-accepted")
    return "its own value: no promise carried one"


def _retry(payload: Mapping[str, Any]) -> str:
    """", retries in 12 ms" when the note says how long the back-off is."""
    return f", retries in {payload['wait']:.3g} ms" if "wait" in payload else ""


SENTENCES = {
    "propose": lambda e, p: f"{e.node} is asked to propose {p['value']}",
    "ballot": lambda e, p: f"{e.node} starts ballot {p['ballot']} and sends Prepare {p['ballot']}",
    "promised": lambda e, p: f"{e.node} promises {p['ballot']}",
    "phase2": lambda e, p: f"{e.node} has promises from a majority for {p['ballot']}: "
                           f"sends Accept {p['ballot']} {p['value']}"
                           + (f" ({_ballot_source(p)})" if _ballot_source(p) else ""),
    "accepted": lambda e, p: f"{e.node} accepts ({p['ballot']}, {p['value']})",
    "learned": lambda e, p: (f"{e.node} has Accepted {p['ballot']} from a majority: it learns "
                             f"{p['value']} was chosen and sends Learn {p['value']} to the other learners"
                             if p.get("counted") else
                             f"{e.node} learns {p['value']} from a Learn (now it knows {p['value']} "
                             f"was chosen)" if "counted" in p else
                             f"{e.node} learns that {p['value']} was chosen"),
    "preempted": lambda e, p: f"{e.node} abandons {p['ballot']}"
                              + (f" (higher ballot {p['by']} seen)" if "by" in p else "")
                              + _retry(p),
    "timeout": lambda e, p: f"{e.node} hears no majority for {p['ballot']}"
                            + (f" within {p['waited']:.3g} ms" if "waited" in p else "")
                            + ": gives it up" + _retry(p),
    "ask": lambda e, p: f"{e.node} has not learned the outcome yet: asks its peers",
    "send:Reject": lambda e, p: f"{e.src} rejects {e.dst}'s ballot {p['ballot']}: "
                                f"it promised {p['promised']}",
}

COLORS = {
    "Prepare": "#1f77b4", "Promise": "#0f9aaa", "Accept": "#2ca02c", "Accepted": "#8c564b",
    "Reject": "#d62728", "Learn": "#9467bd",
    "Ask": "#bcbd22",
}

MARKS = {
    "accepted": Mark("|", "#2ca02c", lambda p: "", "accepted"),
    "learned": Mark("*", "#9467bd", lambda p: f"learned {p['value']}",
                    "learned (knows the\nchosen value)"),
}

MOMENT_LEGEND = {"chosen": "chosen (a majority\naccepted one ballot)"}

#: the keys :func:`summarize` returns
SUMMARY_KEYS = frozenset({"learned", "learned_at", "decided", "ballots", "decided_at",
                          "ballots_per_node", "preemptions", "livelocked"})
