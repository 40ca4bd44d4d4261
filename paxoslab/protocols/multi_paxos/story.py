"""Multi-Paxos told: the run's summary, its narration, colours and marks, and the state tables.

Everything here is rebuilt from the run's notes (``role``, ``appended``, ``truncated``,
``committed``, ``applied``, ...) and the simulator's ``crash``/``recover`` events; the
logs are replayed from them once, by :func:`replay_logs`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from ...statemachine import NOOP
from ...wording import ms, show
from ..spec import Mark
from .node import CANDIDATE, FOLLOWER, LEADER, Entry


# ---- the logs, replayed from the notes ----------------------------------------------------
def replay_logs(trace: Any, nodes: Sequence[str]) -> Iterator[tuple[Any, dict[str, list[tuple[int, Any]]]]]:
    """Every event of ``trace`` with each server's log right after it, as ``(event, logs)``.

    ``logs`` maps each of ``nodes`` to its log, a list of ``(term, command)`` (index 1
    first): ``appended`` puts an entry at its index (deleting any after it), ``truncated``
    deletes from its index on, and ``recover`` restarts a server with the log its event
    says was on disk (a crash keeps the log: it is on disk).  The same ``logs`` dict is
    yielded each time and changed in place: copy what you keep.

    >>> from paxoslab.trace import Trace
    >>> t = Trace()
    >>> t.add(1, "appended", node="S1", payload={"index": 1, "term": 1, "command": "set x 1"})
    >>> t.add(2, "appended", node="S1", payload={"index": 2, "term": 1, "command": "set y 2"})
    >>> t.add(3, "truncated", node="S1", payload={"index": 2})
    >>> [(e.time, list(logs["S1"])) for e, logs in replay_logs(t, ["S1", "S2"])]
    [(1, [(1, 'set x 1')]), (2, [(1, 'set x 1'), (1, 'set y 2')]), (3, [(1, 'set x 1')])]
    """
    logs: dict[str, list[tuple[int, Any]]] = {n: [] for n in nodes}
    for e in getattr(trace, "trace", trace).events:
        log = logs.get(e.node) if e.node is not None else None
        if log is not None:
            kind = e.kind
            if kind == "appended":
                p = e.payload
                index = p["index"]
                del log[index - 1:]
                if len(log) < index - 1:  # never in a run: a note after a lost prefix
                    log.extend([(0, None)] * (index - 1 - len(log)))
                log.append((p["term"], p["command"]))
            elif kind == "truncated":
                del log[e.payload["index"] - 1:]
            elif kind == "recover":
                log[:] = [(entry[0], entry[1]) for entry in (e.payload or {}).get("log") or ()]
        yield e, logs


# ---- summary ---------------------------------------------------------------------------
def _log_of(sim, node_id: str) -> tuple[Entry, ...]:
    """A server's log: the live one, or what a crashed server has on disk."""
    node = sim.node(node_id)
    if node is not None:
        return node.log
    return tuple(tuple(e) for e in sim.stored(node_id).get("log", ()))


def committed_moments(trace: Any, nodes: Sequence[str]) -> dict[tuple[int, int, Any], float]:
    """When each entry ``(index, term, command)`` was committed (Raft 5.3): the moment the
    leader of its term had it stored on a majority -- its own copy and the copies its
    ``AppendEntries`` of that term placed -- which also commits every entry before it in
    that log.  A fact about the cluster, true before any server knows it; copies a later
    leader places do not count (Raft Figure 8: an old-term entry on a majority can still
    be overwritten).  This is the paper's definition, a sufficient condition: an old-term
    entry that later leaders copied to *every* server can no longer be lost either (§5.4.2
    says so), yet it counts as committed only once an entry after it is.

    >>> from paxoslab.trace import Trace
    >>> t = Trace()
    >>> for at, node, by in ((1, "S1", 1), (2, "S2", 2), (3, "S3", 1)):
    ...     t.add(at, "appended", node=node, payload={"index": 1, "term": 1, "command": "x",
    ...                                               "by_term": by})
    >>> committed_moments(t, ["S1", "S2", "S3"])
    {(1, 1, 'x'): 3}
    """
    majority = len(nodes) // 2 + 1
    by_term: dict[str, list[int]] = {n: [] for n in nodes}  # parallel to each log
    moments: dict[tuple[int, int, Any], float] = {}
    for e, logs in replay_logs(trace, nodes):
        node = e.node
        if node not in by_term or e.kind not in ("appended", "truncated", "recover"):
            continue
        placed = by_term[node]
        if e.kind != "appended":  # the log lost its tail: so did what placed it
            del placed[len(logs[node]):]
            continue
        p = e.payload
        index, term = p["index"], p["term"]
        del placed[index - 1:]
        placed.extend([0] * (index - 1 - len(placed)))
        placed.append(p.get("by_term", 0))
        key = (index, term, p["command"])
        if key in moments or placed[-1] != term:
            continue
        holders = sum(1 for n in nodes if len(logs[n]) >= index and logs[n][index - 1] == (term, key[2])
                      and len(by_term[n]) >= index and by_term[n][index - 1] == term)
        if holders >= majority:
            for i, (t, command) in enumerate(logs[node][:index], start=1):
                moments.setdefault((i, t, command), e.time)
    return moments


def commands(sim) -> list[dict[str, Any]]:
    """One record per client request: where it went, whether and when it was committed and
    when a server first knew it, when each server applied it, and the answer.  Rebuilt
    from the run's notes, replaying each server's log over time (an entry is known by
    index, term and command).  A new leader's no-op is no client's request and has no
    record.

    ``committed`` and ``committed_at`` are the fact (:func:`committed_moments`): the
    leader of the entry's term had it stored on a majority -- no server can see that
    when it happens.  ``known_committed_at`` is the first moment a server's commit index
    covered the entry: a leader's, once the acknowledgements showed it a majority storing
    an entry of its own term at or after this one (the followers learn it later, from
    the leader's ``AppendEntries``).  ``status`` is ``"committed"``, ``"not committed"``
    (in a log, not committed), ``"rolled back"`` (deleted from every log, never
    committed), ``"lost"`` (never taken into a log), ``"no leader"`` or ``"rejected"``.
    Only a bug makes a server's commit index cover an entry that is not committed
    (``known_committed_at`` set, ``committed`` false).

    ``result`` is the state machine's answer to the client (``'ok'``, ``'missing'``,
    a read's value; None before the command is applied anywhere and for a read of a
    missing key); ``executed`` is False for a retry the client session answered
    without executing it again (None before it is applied).
    """
    committed: dict[str, int] = {n: 0 for n in sim.node_ids}
    known_at: dict[tuple[int, int, str], float] = {}
    applied_at: dict[tuple[int, int, str], dict[str, float]] = {}
    answers: dict[tuple[int, int, str], tuple[Any, bool]] = {}  # the first application's
    records: dict[int, dict[str, Any]] = {}
    for e, logs in replay_logs(sim.trace, sim.node_ids):
        kind = e.kind
        if kind == "submit":
            p = e.payload
            records[p["request"]] = {
                "request": p["request"], "command": p["command"], "submitted_at": e.time,
                "to": e.node, "status": "lost", "index": None, "term": None,
                "committed": False, "committed_at": None, "known_committed_at": None,
                "applied_on": {}, "client": p.get("client"), "seq": p.get("seq"), "result": None,
                "executed": None,
            }
        elif kind == "no_leader":
            records[e.payload["request"]]["status"] = "no leader"
        elif kind == "rejected" and e.payload.get("request") in records:
            records[e.payload["request"]]["status"] = "rejected"
        elif kind == "request" and e.payload.get("request") in records:
            p = e.payload
            records[p["request"]].update(index=p["index"], term=p["term"], status="not committed")
        elif kind == "crash":
            committed[e.node] = 0
        elif kind == "committed":
            log, index = logs[e.node], e.payload["index"]
            for i in range(committed[e.node] + 1, min(index, len(log)) + 1):
                known_at.setdefault((i, *log[i - 1]), e.time)
            committed[e.node] = max(committed[e.node], index)
        elif kind == "applied":
            log, p = logs[e.node], e.payload
            if p["index"] <= len(log):
                key = (p["index"], *log[p["index"] - 1])
                applied_at.setdefault(key, {}).setdefault(e.node, e.time)
                answers.setdefault(key, (p.get("answer"), p.get("executed", True)))
    facts = committed_moments(sim.trace, sim.node_ids)
    final = {n: _log_of(sim, n) for n in sim.node_ids}
    out = []
    for record in records.values():
        if record["index"] is not None:
            i, entry = record["index"], (record["term"], record["command"])
            key = (i, *entry)
            record["known_committed_at"] = known_at.get(key)
            if key in facts:
                record.update(committed=True, committed_at=facts[key], status="committed")
            elif not any(len(log) >= i and tuple(log[i - 1][:2]) == entry for log in final.values()):
                record["status"] = "rolled back"
            record["applied_on"] = applied_at.get(key, {})
            if key in answers:
                record["result"], record["executed"] = answers[key]
        out.append(record)
    return out


def state_changes(trace, nodes) -> list[tuple[float, int, str, dict[str, Any]]]:
    """Each server's role, term, log, commit index and last applied index after every
    change, replayed from the run's notes (for the replay player and state tables).

    ``log`` reads ``<last index> (term <last term>)``; a crash leaves the server
    ``down`` (its disk keeps term, vote and log); a recovery restarts it as a
    follower with the log the ``recover`` event says it had persisted.
    """
    blank = {"role": FOLLOWER, "term": 0, "log": "empty", "commit": 0, "applied": 0, "down": False}
    state = {n: dict(blank) for n in nodes}
    changes = []
    kinds = ("role", "appended", "truncated", "committed", "applied", "crash", "recover")
    for e, logs in replay_logs(trace, nodes):
        if e.node not in state or e.kind not in kinds:
            continue
        s, p = dict(state[e.node]), e.payload or {}
        if e.kind == "role":
            s["role"], s["term"] = p["role"], p["term"]
        elif e.kind == "committed":
            s["commit"] = p["index"]
        elif e.kind == "applied":
            s["applied"] = p["index"]
        elif e.kind == "crash":
            s["down"] = True
        elif e.kind == "recover":  # back from the disk as a follower, nothing committed or applied yet
            s = {**blank, "term": p.get("current_term", 0)}
        if e.kind in ("appended", "truncated", "recover"):
            log = logs[e.node]
            s["log"] = f"{len(log)} (term {log[-1][0]})" if log else "empty"
        state[e.node] = s
        changes.append((e.time, e.seq, e.node, s))
    return changes


def _entry_record(index: int, entry: Entry) -> dict[str, Any]:
    """A log entry in the summary: index, term, command (``"no-op"`` for a leader's
    no-op) and, for a request sent with a session, its client and seq."""
    record = {"index": index, "term": entry[0], "command": entry[1]}
    if len(entry) > 2:
        record.update(client=entry[2], seq=entry[3])
    return record


def summarize(sim) -> dict[str, Any]:
    """The run's summary keys: leaders, logs, commit indexes, key-value states, what each
    server applied, one record per client command (:func:`commands`), converged."""
    state: dict[str, Any] = {}
    applied: dict[str, Any] = {}
    commit_index: dict[str, int] = {}
    for node_id in sim.node_ids:
        node = sim.node(node_id)
        state[node_id] = node.machine.snapshot() if node is not None else None
        applied[node_id] = [e[1] for e in node.log[:node.last_applied]] if node is not None else None
        commit_index[node_id] = node.commit_index if node is not None else 0
    live = [a for a in applied.values() if a is not None]
    return {
        "leaders": [{"term": e.payload["term"], "node": e.node, "at": e.time}
                    for e in sim.trace.of_kind("role") if e.payload["role"] == LEADER],
        "logs": {n: [_entry_record(i, e) for i, e in enumerate(_log_of(sim, n), start=1)]
                 for n in sim.node_ids},
        "commit_index": commit_index,
        "state": state,
        "applied": applied,
        "commands": commands(sim),
        "converged": all(a == live[0] for a in live),
    }


def describe_summary(summary: Mapping[str, Any]) -> list[str]:
    """The summary's lines of ``Result.describe()``: leaders, logs, states, commands."""
    leaders = ", ".join(f"{x['node']}@t{x['term']} (t={ms(x['at'])})" for x in summary["leaders"])
    lines = [f"leaders    {leaders or '-'}", "logs       (term:command, | after the commit index)"]
    for node, log in summary["logs"].items():
        cut = summary["commit_index"][node]
        cells = [f"{e['term']}:{e['command']}" for e in log]
        cells.insert(min(cut, len(cells)), "|")
        if len(cells) > 12:  # long logs: the first entries and the last ones
            cells = cells[:3] + [f"... {len(cells) - 11} more ..."] + cells[-8:]
        lines.append(f"  {node:<8} {'  '.join(cells)}")
    lines.append("state")
    lines += [f"  {node:<8} {show(s) if s is not None else 'down'}" for node, s in summary["state"].items()]
    for c in summary["commands"]:
        where = f" #{c['index']} t{c['term']}" if c["index"] is not None else ""
        when = f" at t={ms(c['committed_at'])}" if c["committed"] else ""
        if c["known_committed_at"] is not None:
            when += f", first covered by a commit index at t={ms(c['known_committed_at'])}"
        answer = ""
        if c["executed"] is False:
            answer = f", a retry answered {c['result']!r} from the client session"
        elif c["command"].startswith("get ") and c["executed"]:
            answer = f", answer {c['result']!r}"
        lines.append(f"command    {c['command']!r}: {c['status']}{where}{when}{answer}")
    lines.append(f"converged  {'yes' if summary['converged'] else 'no'}")
    return lines


# ---- narration, colours, marks ---------------------------------------------------------
def _said(p: Mapping[str, Any]) -> str:
    """A command as narration quotes it: with its client session, if it has one."""
    return f"{p['command']!r}" + (f" ({p['client']}'s request {p['seq']})" if p.get("client") else "")


def _appended(e, p) -> str:
    if p["command"] == NOOP:
        return f"{e.node} appends #{p['index']} (term {p['term']}), a no-op"
    return f"{e.node} appends #{p['index']} (term {p['term']}) {p['command']!r}"


def _applied(e, p) -> str:
    if p["command"] == NOOP:
        return f"{e.node} applies #{p['index']}, a no-op: nothing changes"
    if "answer" not in p:  # read off a node's state (notes.py): the answer is not known
        return f"{e.node} applies #{p['index']} {_said(p)}"
    if p.get("executed") is False:
        return (f"{e.node} applies #{p['index']} {_said(p)}: executed already, answered "
                f"{p['answer']!r} from the session, not again")
    if p["command"].startswith("get "):
        return f"{e.node} applies #{p['index']} {p['command']!r} = {p['answer']!r}"
    if "key" not in p:
        return f"{e.node} applies #{p['index']} {p['command']!r}: nothing changes"
    change = f"{p['key']} deleted" if p["value"] is None else f"{p['key']} = {p['value']!r}"
    return f"{e.node} applies #{p['index']} {p['command']!r} -> {change}"


def _committed(e, p) -> str:
    """A server's commit index moves: the entries up to it are what it now takes as committed.

    With every rule on, that is knowledge: the entries were committed earlier, when the
    leader of their term had them stored on a majority (Raft 5.3), and this is the moment
    one server learns it, as a Basic Paxos node learns a value chosen before.  With a rule
    switched off (``commit-old-term-by-count``) a commit index can cover an entry that is
    not committed, so the sentence says only what is true in every run.

    >>> from types import SimpleNamespace
    >>> _committed(SimpleNamespace(node="S1"), {"index": 2})
    'S1 advances its commit index to 2: it takes #1-#2 as committed'
    >>> _committed(SimpleNamespace(node="S4"), {"index": 1})
    'S4 advances its commit index to 1: it takes #1 as committed'
    """
    index = p["index"]
    entries = "#1" if index == 1 else f"#1-#{index}"
    return f"{e.node} advances its commit index to {index}: it takes {entries} as committed"


SENTENCES = {
    "role": lambda e, p: (f"{e.node} becomes leader of term {p['term']}" if p["role"] == LEADER
                          else f"{e.node} starts an election for term {p['term']}"
                          if p["role"] == CANDIDATE
                          else f"{e.node} is a follower in term {p['term']}"),
    "voted": lambda e, p: f"{e.node} votes for {p['candidate']} in term {p['term']}",
    "leader": lambda e, p: f"{e.node} hears from leader {p['leader']} of term {p['term']}",
    "appended": _appended,
    "truncated": lambda e, p: f"{e.node} deletes its entries from #{p['index']} on",
    "committed": _committed,
    "applied": _applied,
    "backup": lambda e, p: f"{e.node} backs up {p['follower']} to #{p['next_index']}",
    "submit": lambda e, p: (f"a client submits {_said(p)} to {e.node}"
                            + ("" if p.get("to") else " (the leader of the highest term)")
                            if e.node else f"a client submits {_said(p)} for the leader"),
    "no_leader": lambda e, p: f"a client's {p['command']!r} finds no leader: nobody takes it",
    "redirected": lambda e, p: f"{e.node} is not the leader: passes {p['command']!r} on to {p['to']}",
    "rejected": lambda e, p: f"{e.node} rejects {p['command']!r}: {p['reason']}",
    "duplicate_request": lambda e, p: f"{e.node} has taken {p['command']!r} already: ignores the copy",
    "timeout_ignored": lambda e, p: f"{e.node} is the leader: an election timeout means nothing to it",
}

COLORS = {
    "RequestVote": "#ff7f0e", "RequestVoteReply": "#ffbb78", "AppendEntries": "#1f77b4",
    "AppendEntriesReply": "#aec7e8", "Forward": "#7f7f7f",
}

MARKS = {
    "role": Mark("D", "#d62728", lambda p: f"{p['role'][0].upper()}{p['term']}", "role and term"),
    "committed": Mark("|", "#2ca02c", lambda p: f"c{p['index']}", "commit index advances"),
    "truncated": Mark("x", "#8c564b", lambda p: f"cut #{p['index']}", "entries deleted"),
    "request": Mark(">", "#9467bd", lambda p: p["command"], "leader takes a client command"),
}


