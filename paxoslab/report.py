"""Plain-text reports of a run's summary (the CLI prints these; so do the lessons).

>>> print(describe({"scenario": "s", "protocol": "basic-paxos", "seed": 0, "end_time": 4.0,
...   "messages": {"sent": 3, "delivered": 3, "dropped": 0, "by_type": {"Prepare": 3}},
...   "violations": [], "chosen": {"S1": "X"}, "decided": "X", "ballots": ["1.1"],
...   "decided_at": 3.0, "expect": {"ok": True, "failed": []}, "digest": "ab"}))
s  (basic-paxos, seed 0, ran to t=4)
messages   3 sent, 3 delivered, 0 dropped  (Prepare 3)
chosen     S1=X
decided    X at t=3
ballots    1.1
violations none
expect     ok
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def _value(v: Any) -> str:
    return "-" if v is None else v if isinstance(v, str) else json.dumps(v)


def _per_node(mapping: Mapping[str, Any]) -> str:
    return "  ".join(f"{node}={_value(v)}" for node, v in mapping.items())


def describe(summary: Mapping[str, Any], expectations: bool = True) -> str:
    """A few aligned lines: what happened, what was decided, what went wrong.

    ``expectations=False`` leaves out the ``expect`` line (a run that had none).
    """
    m = summary["messages"]
    types = ", ".join(f"{t} {n}" for t, n in m["by_type"].items())
    lines = [
        f"{summary['scenario']}  ({summary['protocol']}, seed {summary['seed']}, "
        f"ran to t={summary['end_time']:g})",
        f"messages   {m['sent']} sent, {m['delivered']} delivered, {m['dropped']} dropped"
        + (f"  ({types})" if types else ""),
    ]
    if summary["protocol"] == "basic-paxos":
        at = summary["decided_at"]
        lines += [
            f"chosen     {_per_node(summary['chosen'])}",
            f"decided    {_value(summary['decided'])}" + (f" at t={at:g}" if at is not None else ""),
            f"ballots    {', '.join(summary['ballots']) or '-'}",
        ]
    elif "state" in summary:
        lines.append("state")
        lines += [f"  {node:<8} {_value(state)}" for node, state in summary["state"].items()]
        if "consistent" in summary:
            lines.append(f"consistent {'yes' if summary['consistent'] else 'no'}")
    violations = summary["violations"]
    lines.append("violations " + ("none" if not violations else f"{len(violations)}"))
    lines += [f"  t={v['time']:g} {v['property']}: {v['detail']}" for v in violations]
    expect = summary["expect"]
    if expectations:
        lines.append("expect     " + ("ok" if expect["ok"] else "FAILED"))
        lines += [f"  {f['key']}: expected {_value(f['expected'])}, got {_value(f['actual'])}"
                  for f in expect["failed"]]
    return "\n".join(lines)


def _ballot_source(payload: Mapping[str, Any]) -> str:
    source = payload.get("adopted_from")
    return f"adopted from ballot {source}" if source else "its own value: no promise carried one"


#: How each protocol event reads as a sentence.
SENTENCES = {
    "propose": lambda e, p: f"{e.node} is asked to propose {p['value']}",
    "ballot": lambda e, p: f"{e.node} starts ballot {p['ballot']} and sends Prepare {p['ballot']}",
    "promised": lambda e, p: f"{e.node} promises {p['ballot']}",
    "phase2": lambda e, p: f"{e.node} has promises from a majority for {p['ballot']}: "
                           f"sends Accept {p['ballot']} {p['value']} ({_ballot_source(p)})",
    "accepted": lambda e, p: f"{e.node} accepts ({p['ballot']}, {p['value']})",
    "chosen": lambda e, p: f"{e.node} hears a majority accepted {p['ballot']}: "
                           f"{p['value']} is chosen",
    "learned": lambda e, p: f"{e.node} learns {p['value']}",
    "preempted": lambda e, p: f"{e.node} abandons {p['ballot']} (higher ballot {p['by']} seen), "
                              f"retries in {p['wait']:.3g} ms",
    "timeout": lambda e, p: f"{e.node} hears no majority for {p['ballot']} in time: retries",
    "applied": lambda e, p: f"{e.node} applies #{p['index']} {p['command']!r} -> {p['state']}",
    "crash": lambda e, p: f"{e.node} crashes",
    "recover": lambda e, p: f"{e.node} recovers from its disk",
    "partition": lambda e, p: "the network splits into "
                              + " | ".join("{" + ",".join(g) + "}" for g in p["groups"]),
    "heal": lambda e, p: "the network heals",
}


def narrate(trace: Any, nodes: Any = None, kinds: Any = None, until: float | None = None) -> str:
    """The run told as one sentence per protocol step (and each rejection), in time order.

    ``nodes`` and ``kinds`` narrow it down; ``until`` stops the story early.
    """
    trace = getattr(trace, "trace", trace)
    lines = []
    for e in trace.events:
        if until is not None and e.time > until:
            break
        if nodes is not None and e.node not in nodes:
            continue
        if e.kind == "send" and e.msg_type == "Reject":
            kind, text = "rejected", (f"{e.src} rejects {e.dst}'s ballot {e.payload['ballot']}: "
                                      f"it promised {e.payload['promised']}")
        elif e.kind in SENTENCES:
            kind, text = e.kind, SENTENCES[e.kind](e, e.payload or {})
        else:
            continue
        if kinds is None or kind in kinds:
            lines.append(f"t={e.time:<5g} {text}")
    return "\n".join(lines)
