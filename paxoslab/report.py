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


def show(v: Any) -> str:
    """A value as the reports write it (``-`` for nothing)."""
    return "-" if v is None else v if isinstance(v, str) else json.dumps(v)


def per_node(mapping: Mapping[str, Any]) -> str:
    return "  ".join(f"{node}={show(v)}" for node, v in mapping.items())


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
    from .protocols import PROTOCOLS

    if summary["protocol"] in PROTOCOLS:
        lines += PROTOCOLS[summary["protocol"]].describe(summary)
    violations = summary["violations"]
    lines.append("violations " + ("none" if not violations else f"{len(violations)}"))
    lines += [f"  t={v['time']:g} {v['property']}: {v['detail']}" for v in violations]
    expect = summary["expect"]
    if expectations:
        lines.append("expect     " + ("ok" if expect["ok"] else "FAILED"))
        lines += [f"  {f['key']}: expected {show(f['expected'])}, got {show(f['actual'])}"
                  for f in expect["failed"]]
    return "\n".join(lines)


#: Sentences for the events every protocol shares; protocols add their own.
COMMON_SENTENCES = {
    "crash": lambda e, p: f"{e.node} crashes",
    "recover": lambda e, p: f"{e.node} recovers from its disk",
    "partition": lambda e, p: "the network splits into "
                              + " | ".join("{" + ",".join(g) + "}" for g in p["groups"]),
    "heal": lambda e, p: "the network heals",
}


def narrate(trace: Any, nodes: Any = None, kinds: Any = None, until: float | None = None,
            protocol: str | None = None) -> str:
    """The run told as one sentence per protocol step (and each rejection), in time order.

    ``trace`` is a Result or a Trace; ``nodes`` and ``kinds`` narrow it down;
    ``until`` stops the story early.  A message is narrated when it is sent,
    under the kind ``"send:<MessageType>"`` (e.g. ``"send:Reject"``).  The sentences are the protocol's own
    (``protocol``, or the Result's; for a bare Trace, every protocol's).
    """
    from .protocols import merged

    protocol = protocol or getattr(trace, "protocol", None)
    trace = getattr(trace, "trace", trace)
    sentences = {**COMMON_SENTENCES, **merged("sentences", protocol)}
    lines = []
    for e in trace.events:
        if until is not None and e.time > until:
            break
        if nodes is not None and e.node not in nodes:
            continue
        kind = f"send:{e.msg_type}" if e.kind == "send" else e.kind
        if kind not in sentences:
            continue
        if kinds is None or kind in kinds:
            lines.append(f"t={e.time:<5g} {sentences[kind](e, e.payload or {})}")
    return "\n".join(lines)
