"""Plain-text reports of a run's summary (the CLI prints these; so do the lessons).

>>> print(describe({"scenario": "s", "protocol": "basic-paxos", "seed": 0, "end_time": 4.0,
...   "messages": {"sent": 3, "delivered": 3, "dropped": 0, "by_type": {"Prepare": 3}},
...   "violations": [], "learned": {"S1": "X"}, "learned_at": {"S1": 5.0}, "decided": "X",
...   "ballots": ["1.1"], "decided_at": 3.0, "expect": {"ok": True, "failed": []}, "digest": "ab"}))
s  (basic-paxos, seed 0, ran to t=4)
messages   3 sent, 3 delivered, 0 dropped  (Prepare 3)
decided    X  (chosen at t=3)
learned    S1=X (t=5)
ballots    1.1
violations none
expect     ok
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .wording import ms, show

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


def describe(summary: Mapping[str, Any], expectations: bool = True) -> str:
    """A few aligned lines: what happened, what was decided, what went wrong.

    ``expectations=False`` leaves out the ``expect`` line (a run that had none).
    """
    m = summary["messages"]
    types = ", ".join(f"{t} {n}" for t, n in m["by_type"].items())
    lines = [
        f"{summary['scenario']}  ({summary['protocol']}, seed {summary['seed']}, "
        f"ran to t={ms(summary['end_time'])})",
        f"messages   {m['sent']} sent, {m['delivered']} delivered, {m['dropped']} dropped"
        + (f"  ({types})" if types else ""),
    ]
    from .protocols import PROTOCOLS

    if summary["protocol"] in PROTOCOLS:
        lines += PROTOCOLS[summary["protocol"]].story.describe(summary)
    violations = summary["violations"]
    lines.append("violations " + ("none" if not violations else f"{len(violations)}"))
    lines += [f"  t={ms(v['time'])} {v['property']}: {v['detail']}" for v in violations]
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
    (``protocol``, or the Result's; for a bare Trace, every protocol's).  Moments the protocol derives
    from the run (Basic Paxos: ``>> X is chosen: a majority (S3, S4, S5) has now accepted (4.5, X)``)
    follow the event that completed them; ``kinds`` may name them (``"chosen"``).
    """
    from .protocols import merged

    protocol = protocol or getattr(trace, "protocol", None)
    cluster = cluster_of(trace)
    trace = getattr(trace, "trace", trace)
    sentences = {**COMMON_SENTENCES, **merged("sentences", protocol)}
    after: dict[int, list[dict[str, Any]]] = {}
    for moment in moments(trace, cluster, protocol):
        after.setdefault(moment["seq"], []).append(moment)
    lines = []
    for e in trace.events:
        if until is not None and e.time > until:
            break
        kind = f"send:{e.msg_type}" if e.kind == "send" else e.kind
        if (kind in sentences and (nodes is None or e.node in nodes)
                and (kinds is None or kind in kinds)):
            lines.append(f"t={ms(e.time):<5} {sentences[kind](e, e.payload or {})}")
        for moment in after.get(e.seq, []):
            if kinds is None or moment["kind"] in kinds:
                lines.append(f"t={ms(moment['time']):<5} >> {moment['text']}")
    return "\n".join(lines)


def cluster_of(result_or_trace: Any) -> list[str]:
    """The run's node names: a Result's own, or every node a bare Trace mentions (sorted)."""
    nodes = list(getattr(result_or_trace, "nodes", []) or [])
    if not nodes:
        trace = getattr(result_or_trace, "trace", result_or_trace)
        nodes = sorted({name for e in trace.events for name in (e.node, e.src, e.dst) if name})
    return nodes


def moments(trace: Any, cluster: Sequence[str], protocol: str | None) -> list[dict[str, Any]]:
    """The protocol's derived moments of a run (Basic Paxos: when a value is chosen)."""
    from .protocols import PROTOCOLS

    specs = [PROTOCOLS[protocol]] if protocol in PROTOCOLS else list(PROTOCOLS.values())
    found = [m for spec in specs for m in spec.story.moments(trace, cluster)]
    return sorted(found, key=lambda m: m["seq"])


def state_changes(result: Any) -> list[tuple[float, int, str, dict[str, Any]]]:
    """Every change of a node's state in a run, ``(time, seq, node, state)`` in order.

    From the protocol's ``state_changes`` hook; empty if it declares none.
    """
    from .protocols import PROTOCOLS

    spec = PROTOCOLS.get(getattr(result, "protocol", None))
    if spec is None or spec.story.state_changes is None:
        return []
    return spec.story.state_changes(result.trace, cluster_of(result))


def state_table(result: Any, nodes: Sequence[str] | None = None,
                fields: Sequence[str] | None = None) -> pd.DataFrame:
    """Each node's state after every event that changed it, as a table (one row per change).

    One column per node (``nodes`` narrows them down); a cell joins the state's
    ``fields`` (default: all) with `` / `` in that order, ``-`` for nothing, or
    reads ``down`` while the node is crashed.  ``time`` and ``event`` (the
    protocol's sentence for what happened) come first.  Rows whose cells did not
    change are left out.  A moment the protocol derives (``>> X is chosen ...``)
    gets its own row after the change that completed it.
    """
    import pandas as pd

    from .protocols import merged

    nodes = list(nodes or cluster_of(result))
    sentences = {**COMMON_SENTENCES, **merged("sentences", getattr(result, "protocol", None))}
    current = dict.fromkeys(nodes, "-")
    events = {e.seq: e for e in result.trace.events}
    reached: dict[int, list[dict[str, Any]]] = {}
    for moment in moments(result.trace, cluster_of(result), getattr(result, "protocol", None)):
        reached.setdefault(moment["seq"], []).append(moment)
    rows = []
    for time, seq, node, state in state_changes(result):
        shown = [k for k in (fields or state) if k != "down"]
        cell = "down" if state.get("down") else " / ".join(show(state.get(k)) for k in shown)
        if node in current and cell != current[node]:
            current[node] = cell
            e = events[seq]
            event = (sentences[e.kind](e, e.payload or {}) if e.kind in sentences
                     else f"{node} {e.kind}")
            rows.append({"time": time, "event": event, **current})
        rows += [{"time": m["time"], "event": f">> {m['text']}", **current}
                 for m in reached.pop(seq, [])]
    return pd.DataFrame(rows, columns=["time", "event", *nodes])
