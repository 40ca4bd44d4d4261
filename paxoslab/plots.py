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
