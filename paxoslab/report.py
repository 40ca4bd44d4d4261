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


def describe(summary: Mapping[str, Any]) -> str:
    """A few aligned lines: what happened, what was decided, what went wrong."""
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
    lines.append("expect     " + ("ok" if expect["ok"] else "FAILED"))
    lines += [f"  {f['key']}: expected {_value(f['expected'])}, got {_value(f['actual'])}"
              for f in expect["failed"]]
    return "\n".join(lines)
