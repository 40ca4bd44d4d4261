"""Plots of runs (matplotlib only): pure functions of a Result or a Trace.

``sequence_diagram`` draws the space-time diagram the course reads step by
step: one horizontal lane per node, time to the right, an arrow per message
from its send to its delivery, labelled the way the course writes them
(``P3.1``, ``Promise 3.1 (2.1,X)``, ``A3.1 X``).  A broadcast is labelled once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch

from .protocols import merged
from .trace import Trace

#: Colours for message types the protocol does not colour itself.
FALLBACK_COLORS = ["#ff7f0e", "#8c564b", "#e377c2", "#bcbd22", "#7f7f7f"]


def _trace_of(result_or_trace: Any) -> tuple[Trace, list[str]]:
    trace = getattr(result_or_trace, "trace", result_or_trace)
    nodes = list(getattr(result_or_trace, "nodes", []) or [])
    if not nodes:
        for e in trace.events:
            for name in (e.node, e.src, e.dst):
                if name and name not in nodes:
                    nodes.append(name)
        nodes.sort()
    return trace, nodes


def _color(msg_type: str, colors: Mapping[str, str], extra: dict[str, str]) -> str:
    if msg_type in colors:
        return colors[msg_type]
    if msg_type not in extra:
        extra[msg_type] = FALLBACK_COLORS[len(extra) % len(FALLBACK_COLORS)]
    return extra[msg_type]


def sequence_diagram(
    result_or_trace: Any,
    ax: Axes | None = None,
    until: float | None = None,
    title: str | None = None,
) -> Axes:
    """Draw one lane per node and an arrow per message; returns the axes.

    Dropped messages end in a red ``x``; learned values and applied commands are
    marked on their node's lane; crashes and partitions are shaded.
    """
    trace, nodes = _trace_of(result_or_trace)
    protocol = getattr(result_or_trace, "protocol", None)
    colors, marks = merged("colors", protocol), merged("marks", protocol)
    lane = {n: i for i, n in enumerate(nodes)}
    horizon = until if until is not None else max((e.time for e in trace.events), default=1.0)
    own_figure = ax is None
    if ax is None:
        _, ax = plt.subplots(figsize=(12, 0.75 * len(nodes) + 1.6))
    extra_colors: dict[str, str] = {}
    labelled: set[tuple] = set()
    types_seen: dict[str, str] = {}

    rows = [m for m in trace.message_rows() if m["sent_at"] <= horizon]
    senders: dict[tuple, int] = {}
    for m in rows:
        key = (m["src"], m["sent_at"], (m["payload"] or {}).get("label", m["msg_type"]))
        senders[key] = senders.get(key, 0) + 1
    broadcasts = {key for key, count in senders.items() if count > 1}
    for m in rows:
        if m["sent_at"] > horizon:
            continue
        color = _color(m["msg_type"], colors, extra_colors)
        types_seen[m["msg_type"]] = color
        y0, y1 = lane[m["src"]], lane[m["dst"]]
        end = m["delivered_at"] if not m["dropped"] else m.get("dropped_at", m["sent_at"])
        if m["dropped"] and end == m["sent_at"]:
            end = m["sent_at"] + 0.35  # lost on the wire: a stub
            y1 = y0 + (y1 - y0) * 0.3
        if end is None:  # still in flight at the end of the run
            end, y1 = horizon, y0 + (y1 - y0) * 0.5
        # a node's message to itself: a low arc along its own lane
        style = f"arc3,rad={-min(0.4, 0.5 / max(end - m['sent_at'], 0.1)):.3f}" if y0 == y1 else "arc3"
        ax.add_patch(FancyArrowPatch(
            (m["sent_at"], y0), (end, y1), arrowstyle="-|>", mutation_scale=10, color=color,
            lw=1.1, linestyle="--" if m["dropped"] else "-", shrinkA=0, shrinkB=0,
            connectionstyle=style, alpha=0.85, gid=f"message-{m['msg_id']}"))
        if m["dropped"]:
            ax.plot(end, y1, marker="x", color="#d62728", markersize=7, mew=2, zorder=4)
        label = (m["payload"] or {}).get("label", m["msg_type"])
        key = (m["src"], m["sent_at"], label)
        if key in broadcasts and key not in labelled:  # one label per broadcast
            labelled.add(key)
            ax.annotate(label, (m["sent_at"], y0), xytext=(-2, 6), ha="right",
                        textcoords="offset points", fontsize=7.5, color=color,
                        fontweight="bold")
        elif key not in broadcasts and not m["dropped"]:
            ax.annotate(label, ((m["sent_at"] + end) / 2, (y0 + y1) / 2), fontsize=7,
                        color=color, ha="center", va="center", fontweight="bold",
                        bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none",
                              "alpha": 0.75})

    stacked: dict[tuple[float, str], int] = {}  # marks at the same spot stack downwards
    for e in trace.events:
        if e.time > horizon or e.node not in lane:
            continue
        if e.kind in marks and e.payload is not None:
            mark = marks[e.kind]
            marker, color, text = mark.marker, mark.color, mark.text
            ax.plot(e.time, lane[e.node], marker=marker, color=color, markersize=9, zorder=5)
            if text(e.payload):
                below = stacked.get((e.time, e.node), 0)
                stacked[(e.time, e.node)] = below + 1
                ax.annotate(text(e.payload), (e.time, lane[e.node]), xytext=(4, -12 - 9 * below),
                            textcoords="offset points", fontsize=8, color=color,
                            fontweight="bold")
    _shade_faults(ax, trace, lane, horizon)

    ax.set_yticks(range(len(nodes)), nodes)
    ax.set_ylim(len(nodes) - 0.4, -0.7)
    ax.set_xlim(-0.02 * horizon, horizon * 1.08 + 1)  # room for the last marks' labels
    ax.set_xlabel("simulated time (ms)")
    for i in range(len(nodes)):
        ax.axhline(i, color="#cccccc", lw=0.8, zorder=0)
    handles = [Line2D([], [], color=c, lw=2, label=t) for t, c in types_seen.items()]
    if handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8,
                  frameon=False)
    if title is None and hasattr(result_or_trace, "scenario"):
        title = result_or_trace.scenario.get("name")
    if title:
        ax.set_title(title, loc="left", fontsize=11)
    ax.grid(axis="x", color="#eeeeee")
    if own_figure:  # fixed margins: cheaper to draw than a layout engine, room for the legend
        height = ax.figure.get_figheight()
        ax.figure.subplots_adjust(left=0.05, right=0.88, top=1 - 0.45 / height, bottom=0.55 / height)
    return ax


def _shade_faults(ax: Axes, trace: Trace, lane: dict[str, int], horizon: float) -> None:
    """Grey out a lane while its node is down; tint the background while partitioned."""
    down: dict[str, float] = {}
    cut_since: float | None = None
    for e in trace.events:
        if e.kind == "crash":
            down[e.node] = e.time
        elif e.kind == "recover" and e.node in down:
            _down_band(ax, lane[e.node], down.pop(e.node), e.time)
        elif e.kind == "partition":
            cut_since = e.time if cut_since is None else cut_since
        elif e.kind == "heal" and cut_since is not None:
            ax.axvspan(cut_since, e.time, color="#fde0dd", alpha=0.5, zorder=0)
            cut_since = None
    for node, since in down.items():
        _down_band(ax, lane[node], since, horizon)
    if cut_since is not None:
        ax.axvspan(cut_since, horizon, color="#fde0dd", alpha=0.5, zorder=0)


def _down_band(ax: Axes, y: int, start: float, end: float) -> None:
    ax.fill_between([start, end], y - 0.25, y + 0.25, color="#bbbbbb", alpha=0.6, zorder=1)
    ax.annotate("down", (start, y), xytext=(2, 8), textcoords="offset points", fontsize=7,
                color="#555555")


# ---- Multi-Paxos (Raft formulation): logs, roles, failover times -------------
#
# These read only the narration notes of interface 4 — ``role``, ``appended``,
# ``truncated``, ``committed`` — and the simulator's ``crash``/``recover``/
# ``partition``/``heal`` events, so they work from a Result or a bare Trace.

#: Fill colours of log cells, one per term (term 1 -> the first); cycles after ten.
TERM_COLORS = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2",
               "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"]

#: How each role is drawn on a role timeline: colour, bar height.
ROLE_STYLE = {"follower": ("#c7c7c7", 0.18), "candidate": ("#f28e2b", 0.45),
              "leader": ("#2b6a99", 0.6)}


def term_color(term: int) -> str:
    """The fill colour of log entries of ``term``."""
    return TERM_COLORS[(max(int(term), 1) - 1) % len(TERM_COLORS)]


def log_state(result_or_trace: Any, at: float | None = None) -> dict[str, dict[str, Any]]:
    """Every server's log, commit index, role, term and liveness at time ``at``.

    Replays the notes up to and including ``at`` (the end when None): ``appended``
    puts ``(term, command)`` at its index, ``truncated`` removes the suffix from its
    index on, ``committed`` moves the commit index, ``role`` sets role and term.  A
    crash marks the server down (its persisted log stays); a recovery restarts it
    from what the ``recover`` event says was persisted (commit index 0 unless it
    was persisted), as a follower.

    >>> t = Trace()
    >>> t.add(1, "appended", node="S1", payload={"index": 1, "term": 1, "command": "set x 1"})
    >>> t.add(2, "committed", node="S1", payload={"index": 1})
    >>> s = log_state(t)["S1"]
    >>> s["log"], s["commit_index"], s["up"]
    ([(1, 'set x 1')], 1, True)
    """
    trace, nodes = _trace_of(result_or_trace)
    state = {n: {"log": [], "commit_index": 0, "role": "follower", "term": 0, "up": True}
             for n in nodes}
    for e in trace.events:
        if at is not None and e.time > at:
            break
        s = state.get(e.node) if e.node is not None else None
        if s is None:
            continue
        p = e.payload or {}
        if e.kind == "appended":
            index = int(p["index"])
            del s["log"][index - 1:]
            s["log"].extend([(0, None)] * (index - 1 - len(s["log"])))
            s["log"].append((int(p["term"]), p.get("command")))
        elif e.kind == "truncated":
            del s["log"][int(p["index"]) - 1:]
        elif e.kind == "committed":
            s["commit_index"] = int(p["index"])
        elif e.kind == "role":
            s["role"], s["term"] = p.get("role", s["role"]), int(p.get("term", s["term"]))
        elif e.kind == "crash":
            s["up"] = False
        elif e.kind == "recover":
            s.update(up=True, role="follower", commit_index=int(p.get("commit_index", 0) or 0))
            if "log" in p:
                s["log"] = [(int(term), command) for term, command in p["log"]]
            if "current_term" in p:
                s["term"] = int(p["current_term"])
    return state


def _short(command: Any, width: int) -> str:
    text = "" if command is None else str(command)
    return text if len(text) <= width else text[: width - 1] + "…"


def log_grid(result_or_trace: Any, at: float | None = None, ax: Axes | None = None,
             title: str | None = None, legend: bool = True) -> Axes:
    """Servers × log index at time ``at``: one cell per entry, coloured by its term.

    A committed entry is a solid cell; an entry not (yet) committed on that server
    is pale and hatched with a dashed border.  Each cell shows ``t<term>`` and the
    command.  The row label gives the server's role and term at ``at``; a crashed
    server's row is greyed out (its log is what it persisted).  ``legend=False``
    leaves the legend out (for all but one of several panels).
    """
    from matplotlib.patches import Patch, Rectangle

    state = log_state(result_or_trace, at)
    nodes = list(state)
    length = max((len(s["log"]) for s in state.values()), default=0)
    columns = max(length, 1)
    own_figure = ax is None
    if ax is None:
        width = min(13.0, 2.2 + 1.05 * columns)
        _, ax = plt.subplots(figsize=(max(width, 6.0), 0.55 * len(nodes) + 1.5))
    text_width = 9 if columns <= 12 else 0  # long logs: terms only
    terms_seen: set[int] = set()
    for row, node in enumerate(nodes):
        s = state[node]
        for i, (term, command) in enumerate(s["log"], start=1):
            terms_seen.add(term)
            committed = i <= s["commit_index"]
            color = term_color(term)
            ax.add_patch(Rectangle(
                (i - 0.46, row - 0.4), 0.92, 0.8, facecolor=color if committed else "white",
                edgecolor=color, lw=1.6, linestyle="-" if committed else "--",
                hatch=None if committed else "///", alpha=1.0 if s["up"] else 0.35,
                gid=f"entry-{node}-{i}-{'committed' if committed else 'uncommitted'}"))
            ink = "white" if committed else "#222222"
            label = f"t{term}" + (f"\n{_short(command, text_width)}" if text_width else "")
            ax.text(i, row, label, ha="center", va="center", fontsize=9, color=ink,
                    alpha=1.0 if s["up"] else 0.5,
                    bbox=None if committed else {"boxstyle": "round,pad=0.1", "fc": "white",
                                                 "ec": "none", "alpha": 0.85})
    labels = []
    for node in nodes:
        s = state[node]
        if not s["up"]:
            labels.append(f"{node} (down)")
        elif s["term"] or s["role"] != "follower":
            labels.append(f"{node} {s['role']}, term {s['term']}")
        else:
            labels.append(node)
    ax.set_yticks(range(len(nodes)), labels, fontsize=9)
    ax.set_xticks(range(1, columns + 1))
    ax.set_xlim(0.4, columns + 0.6)
    ax.set_ylim(max(len(nodes), 1) - 0.5, -0.5)
    ax.set_xlabel("log index")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    handles = [Patch(facecolor=term_color(t), edgecolor=term_color(t), label=f"term {t}")
               for t in sorted(terms_seen)]
    handles += [Patch(facecolor="#777777", edgecolor="#777777", label="committed"),
                Patch(facecolor="white", edgecolor="#777777", hatch="///", linestyle="--",
                      label="not committed")]
    if legend:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9,
                  frameon=False)
    if title is None:
        name = getattr(result_or_trace, "scenario", {}).get("name") if hasattr(
            result_or_trace, "scenario") else None
        title = f"{name + ': ' if name else ''}logs at t = {_time_text(result_or_trace, at)} ms"
    ax.set_title(title, loc="left", fontsize=11)
    if own_figure:
        ax.figure.tight_layout()
    return ax


def _time_text(result_or_trace: Any, at: float | None) -> str:
    if at is None:
        trace, _ = _trace_of(result_or_trace)
        at = max((e.time for e in trace.events), default=0.0)
    return f"{at:g}"


def role_segments(result_or_trace: Any, until: float | None = None) -> list[dict[str, Any]]:
    """Each server's life as segments ``{node, start, end, role, term}``; role "down" while crashed.

    Every server starts as a follower in term 0 at time 0.
    """
    trace, nodes = _trace_of(result_or_trace)
    end = until if until is not None else max((e.time for e in trace.events), default=0.0)
    current = {n: ("follower", 0, 0.0) for n in nodes}
    segments: list[dict[str, Any]] = []

    def close(node: str, time: float, role: str, term: int) -> None:
        r, t, start = current[node]
        if time > start:
            segments.append({"node": node, "start": start, "end": time, "role": r, "term": t})
        current[node] = (role, term, time)

    for e in trace.events:
        if e.time > end or e.node not in current:
            continue
        p = e.payload or {}
        role, term, _ = current[e.node]
        if e.kind == "role":
            if role != "down":
                close(e.node, e.time, p.get("role", role), int(p.get("term", term)))
        elif e.kind == "crash":
            close(e.node, e.time, "down", term)
        elif e.kind == "recover":
            close(e.node, e.time, "follower", int(p.get("current_term", term) or 0))
    for node in nodes:
        close(node, end, *current[node][:2])
    segments.sort(key=lambda s: (nodes.index(s["node"]), s["start"]))
    return segments


def role_timeline(result_or_trace: Any, ax: Axes | None = None, until: float | None = None,
                  title: str | None = None) -> Axes:
    """Each server's role over time (one lane per server) with its term written on the bar.

    Followers are a thin grey bar, candidates a medium orange one, leaders a thick
    blue one; ``t3`` marks the term where a segment starts.  A crashed server's
    lane is hatched and marked ``×`` at the crash; a partition tints the
    background and names its groups.
    """
    from matplotlib.patches import Patch, Rectangle

    trace, nodes = _trace_of(result_or_trace)
    horizon = until if until is not None else max((e.time for e in trace.events), default=1.0)
    horizon = max(horizon, 1e-9)
    lane = {n: i for i, n in enumerate(nodes)}
    own_figure = ax is None
    if ax is None:
        _, ax = plt.subplots(figsize=(12, 0.6 * len(nodes) + 1.8))
    min_label = horizon * 0.03  # a segment shorter than this gets no term label
    last_label: dict[str, tuple[float, int]] = {}
    for seg in role_segments(result_or_trace, until=horizon):
        y, width = lane[seg["node"]], seg["end"] - seg["start"]
        if seg["role"] == "down":
            ax.add_patch(Rectangle((seg["start"], y - 0.3), width, 0.6, facecolor="white",
                                   edgecolor="#555555", hatch="xx", lw=0.6, gid="down"))
            ax.plot(seg["start"], y, marker="X", color="#d62728", markersize=9, zorder=5)
            continue
        color, height = ROLE_STYLE.get(seg["role"], ("#999999", 0.3))
        ax.add_patch(Rectangle((seg["start"], y - height / 2), width, height, facecolor=color,
                               edgecolor="none", gid=f"role-{seg['role']}"))
        previous = last_label.get(seg["node"])
        fresh = previous is None or previous[1] != seg["term"]
        if seg["term"] and fresh and (width >= min_label or seg["role"] == "leader"):
            if previous is None or seg["start"] - previous[0] >= min_label:
                ax.annotate(f"t{seg['term']}", (seg["start"], y - height / 2), xytext=(1, 1.5),
                            textcoords="offset points", fontsize=9, color="#222222",
                            va="bottom")
                last_label[seg["node"]] = (seg["start"], seg["term"])
    cut_since, groups = None, None
    for e in trace.events:
        if e.time > horizon:
            break
        if e.kind == "partition":
            if cut_since is not None:
                _partition_band(ax, cut_since, e.time, groups)
            cut_since, groups = e.time, (e.payload or {}).get("groups")
        elif e.kind == "heal" and cut_since is not None:
            _partition_band(ax, cut_since, e.time, groups)
            cut_since = None
    if cut_since is not None:
        _partition_band(ax, cut_since, horizon, groups)
    ax.set_yticks(range(len(nodes)), nodes)
    ax.set_ylim(len(nodes) - 0.4, -1.0)
    ax.set_xlim(0, horizon * 1.01)
    ax.set_xlabel("simulated time (ms)")
    handles = [Patch(facecolor=ROLE_STYLE[r][0], label=r) for r in ROLE_STYLE]
    handles += [Patch(facecolor="white", edgecolor="#555555", hatch="xx", label="down (crashed)"),
                Line2D([], [], marker="X", color="#d62728", lw=0, markersize=8, label="crash"),
                Patch(facecolor="#fde0dd", label="network partitioned")]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9,
              frameon=False)
    if title is None and hasattr(result_or_trace, "scenario"):
        title = f"{result_or_trace.scenario.get('name')}: roles and terms (t3 = term 3)"
    if title:
        ax.set_title(title, loc="left", fontsize=11)
    if own_figure:
        height = ax.figure.get_figheight()
        ax.figure.subplots_adjust(left=0.06, right=0.84, top=1 - 0.45 / height,
                                  bottom=0.6 / height)
    return ax


def _partition_band(ax: Axes, start: float, end: float, groups: Any) -> None:
    ax.axvspan(start, end, color="#fde0dd", alpha=0.7, zorder=0)
    if groups:
        text = " | ".join("{" + ",".join(g if isinstance(g, list) else [g]) + "}" for g in groups)
        ax.text((start + end) / 2, -0.75, text, ha="center", va="center", fontsize=9,
                color="#a50f15")


def cdf(frame: Any, column: str, by: str | None = None, ax: Axes | None = None,
        logx: bool = False, xlabel: str | None = None,
        colors: Mapping[Any, str] | None = None) -> Axes:
    """Empirical CDF of ``frame[column]``, one step line per value of ``by`` (in frame order).

    Missing values (a trial that never finished) count in the total but never
    reach the curve, so that line ends below 100 %.  The legend gives each
    group's number of trials.  ``colors`` maps group values to line colours
    (to keep one group's colour across several plots).
    """
    import numpy as np

    own_figure = ax is None
    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 4.2))
    groups = [(None, frame)] if by is None else list(frame.groupby(by, sort=False))
    for key, group in groups:
        values = group[column].to_numpy(dtype=float)
        done = np.sort(values[~np.isnan(values)])
        if len(values) == 0:
            continue
        y = np.arange(1, len(done) + 1) / len(values) * 100
        label = f"{key} (n={len(values)})" if key is not None else f"n={len(values)}"
        style = {"color": colors[key]} if colors and key in colors else {}
        if len(done):
            ax.step(np.concatenate([[done[0]], done]), np.concatenate([[0.0], y]),
                    where="post", label=label, lw=1.6, **style)
        else:
            ax.plot([], [], label=label + ", none finished", **style)
    if logx:
        ax.set_xscale("log")
    ax.set_ylim(0, 101)
    ax.set_ylabel("cumulative % of trials")
    ax.set_xlabel(xlabel or column)
    ax.grid(color="#eeeeee")
    ax.legend(fontsize=9, frameon=False, loc="lower right", title=by, title_fontsize=9)
    if own_figure:
        ax.figure.tight_layout()
    return ax
