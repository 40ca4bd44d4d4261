"""Plots of runs (matplotlib only): pure functions of a Result or a Trace.

``sequence_diagram`` draws the space-time diagram the course reads step by
step: one horizontal lane per node, time to the right, an arrow per message
from its send to its delivery, labelled the way the course writes them
(``P3.1``, ``Promise 3.1 (2.1,X)``, ``A3.1 X``).  A broadcast is labelled once,
at its sender.  Every other label sits beside its own arrow, within a third of
a lane of the sender or the receiver, so it never reads as belonging to a lane
in between; labels that would overlap are moved along their arrow or stacked.
A lost message's dashed arrow runs along its own path towards its destination
and ends in a red ✗ half a lane short of it.  The legend lists every message
type of the protocol and every mark in a fixed order, so that diagrams of
different runs (an explorer's, a player's) share one frame.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from statistics import median
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, Patch
from matplotlib.text import Annotation
from matplotlib.transforms import Bbox

from .protocols import merged
from .report import cluster_of, moments
from .trace import Trace

#: Colours for message types the protocol does not colour itself.
FALLBACK_COLORS = ["#ff7f0e", "#8c564b", "#e377c2", "#bcbd22", "#7f7f7f"]
#: Smallest font on a diagram (points); the course's figures are read at notebook width.
FONT = 9
LOST = "#d62728"
CHOSEN = "#e6550d"
IN_FLIGHT = "#ff7f0e"


def _trace_of(result_or_trace: Any) -> tuple[Trace, list[str]]:
    return getattr(result_or_trace, "trace", result_or_trace), cluster_of(result_or_trace)


def _color(msg_type: str, colors: Mapping[str, str], extra: dict[str, str]) -> str:
    if msg_type in colors:
        return colors[msg_type]
    if msg_type not in extra:
        extra[msg_type] = FALLBACK_COLORS[len(extra) % len(FALLBACK_COLORS)]
    return extra[msg_type]


def _label(m: Mapping[str, Any]) -> str:
    return (m["payload"] or {}).get("label", m["msg_type"])


def sequence_diagram(
    result_or_trace: Any,
    ax: Axes | None = None,
    until: float | None = None,
    title: str | None = None,
    xlim: tuple[float, float] | None = None,
    now: float | None = None,
) -> Axes:
    """Draw one lane per node and an arrow per message; returns the axes.

    ``until`` shows the run up to that time only: messages sent by then, marks
    made by then; a message still travelling at ``until`` is drawn up to where
    it is and highlighted.  ``now`` additionally draws a vertical "now" line
    (the replay player uses both).  ``xlim`` fixes the time axis (explorers keep
    it fixed so that moving a slider moves the run, not the frame).

    Marks: an acceptor's vote (protocol marks such as ``accepted``/``learned``),
    the moment a value is chosen (a vertical line across all lanes), a lost
    message (✗), a crashed node (grey band); the legend explains each.
    """
    trace, nodes = _trace_of(result_or_trace)
    protocol = getattr(result_or_trace, "protocol", None)
    colors, marks = merged("colors", protocol), merged("marks", protocol)
    lane = {n: i for i, n in enumerate(nodes)}
    end_of_run = max((e.time for e in trace.events), default=1.0)
    horizon = until if until is not None else end_of_run
    own_figure = ax is None
    if ax is None:
        _, ax = plt.subplots(figsize=(12, 0.8 * len(nodes) + 1.7))
    if xlim is None:
        xlim = (-0.02 * max(horizon, 1), max(horizon, 1) * 1.08 + 1)
    ax.set_xlim(*xlim)
    ax.set_ylim(len(nodes) - 0.4, -1.0)
    extra_colors: dict[str, str] = {}
    rows = [m for m in trace.message_rows() if m["sent_at"] <= horizon]
    delays = [m["delivered_at"] - m["sent_at"] for m in rows if m["delivered_at"] is not None]
    typical = median(delays) if delays else 1.0
    senders: dict[tuple, int] = {}
    for m in rows:
        key = (m["src"], m["sent_at"], _label(m))
        senders[key] = senders.get(key, 0) + 1
    broadcasts = {key for key, count in senders.items() if count > 1}
    labelled: set[tuple] = set()
    placed: list[Annotation] = []
    renderer = ax.figure.canvas.get_renderer()
    pending: list[tuple[Annotation, list[tuple[float, float]]]] = []
    any_lost = any_in_flight = False

    for m in rows:
        color = _color(m["msg_type"], colors, extra_colors)
        y0, y1 = lane[m["src"]], lane[m["dst"]]
        t0 = m["sent_at"]
        arrived = m["delivered_at"]
        lost = m["dropped"]
        if lost:  # along its own path, ending half a lane (or less) short of its destination
            t1 = m.get("dropped_at", t0)
            if t1 == t0:
                t1 = t0 + typical
            short = 0.5 if abs(y1 - y0) > 1 else 0.3 * abs(y1 - y0)
            frac = 1 - short / abs(y1 - y0) if y1 != y0 else 0.7
            t1, y1 = t0 + (t1 - t0) * frac, y0 + (y1 - y0) * frac
        elif arrived is None or arrived > horizon:  # in flight at the end of what is shown
            t1 = arrived if arrived is not None else horizon + typical
            frac = (horizon - t0) / (t1 - t0) if t1 > t0 else 1.0
            frac = min(max(frac, 0.0), 1.0)
            t1, y1 = t0 + (t1 - t0) * frac, y0 + (y1 - y0) * frac
        else:
            t1 = arrived
        flying = not lost and (arrived is None or arrived > horizon)
        any_in_flight |= flying and until is not None
        any_lost |= lost
        # a node's message to itself: a low arc along its own lane
        style = (f"arc3,rad={-min(0.4, 0.5 / max(t1 - t0, 0.1)):.3f}"
                 if y0 == y1 and not flying else "arc3")
        if flying and until is not None:
            ax.add_patch(FancyArrowPatch(
                (t0, y0), (t1, y1), arrowstyle="-", color=IN_FLIGHT, lw=6, alpha=0.35,
                shrinkA=0, shrinkB=0, zorder=2))
        ax.add_patch(FancyArrowPatch(
            (t0, y0), (t1, y1), arrowstyle="-|>" if not lost else "-", mutation_scale=10,
            color=color, lw=1.1, linestyle="--" if lost else "-", shrinkA=0, shrinkB=0,
            connectionstyle=style, alpha=0.85, gid=f"message-{m['msg_id']}", zorder=3))
        if lost:
            ax.plot(t1, y1, marker="x", color=LOST, markersize=8, mew=2, zorder=4)
        label = _label(m)
        key = (m["src"], t0, label)
        if key in broadcasts:
            if key in labelled:
                continue
            labelled.add(key)  # one label per broadcast, at its sender, above the lane
            spots = [(t0, y, side) for y in (y0 - 0.22, y0 - 0.42, y0 + 0.22, y0 + 0.42)
                     for side in ("right", "left")]
            text = ax.annotate(label, spots[0][:2], ha="right", va="center", fontsize=FONT,
                               color=color, fontweight="bold", xytext=(-3, 0),
                               textcoords="offset points")
        elif lost:
            continue  # a lost unicast is named by its ✗; its label would crowd the lane
        else:
            spots = _spots_beside(t0, y0, t1, y1)
            text = ax.annotate(label, spots[0][:2], fontsize=FONT, color=color, ha="center",
                               va="center", fontweight="bold", xytext=(0, 0),
                               textcoords="offset points",
                               bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none",
                                     "alpha": 0.8})
        pending.append((text, spots))

    mark_kinds: list[str] = []
    stacked: dict[tuple[float, str], int] = {}
    for e in trace.events:
        if e.time > horizon or e.node not in lane or e.kind not in marks or e.payload is None:
            continue
        mark = marks[e.kind]
        if e.kind not in mark_kinds:
            mark_kinds.append(e.kind)
        ax.plot(e.time, lane[e.node], marker=mark.marker, color=mark.color, markersize=10,
                mew=2, zorder=5)
        words = mark.text(e.payload)
        if words:
            below = stacked.get((e.time, e.node), 0)
            stacked[(e.time, e.node)] = below + 1
            y = lane[e.node] + 0.24 + 0.2 * below
            text = ax.annotate(words, (e.time, y), xytext=(4, 0), textcoords="offset points",
                               fontsize=FONT, color=mark.color, fontweight="bold", va="center")
            pending.append((text, [(e.time, y), (e.time, y + 0.2), (e.time, y - 0.48)]))

    chosen = [m for m in moments(trace, nodes, protocol)
              if m["kind"] == "chosen" and not m.get("again") and m["time"] <= horizon]
    headline: list[tuple[Annotation, list[tuple]]] = []  # placed first: they name the outcome
    for m in chosen:
        ax.axvline(m["time"], color=CHOSEN, lw=1.6, ls=(0, (4, 2)), zorder=1)
        text = ax.annotate(f"{m['value']} chosen ({m['ballot']})", (m["time"], -0.78),
                           xytext=(4, 0), textcoords="offset points", fontsize=FONT,
                           color=CHOSEN, fontweight="bold", va="center")
        spots = [(m["time"], y, side) for y in (-0.78, -0.56) for side in ("left", "right")]
        headline.append((text, spots))
    if now is not None:
        ax.axvline(now, color="#333333", lw=1.2, zorder=1)

    _place(headline + pending, placed, renderer, ax)
    down = _shade_faults(ax, trace, lane, horizon)

    ax.set_yticks(range(len(nodes)), nodes, fontsize=10)
    ax.tick_params(axis="x", labelsize=FONT)
    ax.set_xlabel("simulated time (ms)", fontsize=10)
    for i in range(len(nodes)):
        ax.axhline(i, color="#cccccc", lw=0.8, zorder=0)
    _legend(ax, protocol, trace, colors, extra_colors, marks, mark_kinds, bool(chosen),
            any_lost, down, any_in_flight or until is not None and now is not None)
    if title is None and hasattr(result_or_trace, "scenario"):
        title = result_or_trace.scenario.get("name")
    if title:
        ax.set_title(title, loc="left", fontsize=11)
    ax.grid(axis="x", color="#eeeeee")
    if own_figure:  # fixed margins: cheaper to draw than a layout engine, room for the legend
        height = ax.figure.get_figheight()
        ax.figure.subplots_adjust(left=0.05, right=0.79, top=1 - 0.45 / height,
                                  bottom=0.6 / height)
    return ax


def _spots_beside(t0: float, y0: float, t1: float, y1: float) -> list[tuple[float, float, str]]:
    """Candidate label anchors beside the arrow (t0, y0) -> (t1, y1): points on it near an
    end (never farther than a third of a lane from the sender's or the receiver's lane),
    with the label to the right (``"left"`` aligned) or to the left of the arrow."""
    dy = y1 - y0
    if dy == 0:  # to itself: just above or below its own lane
        mid = (t0 + t1) / 2
        return [(mid, y0 - 0.22, "center"), (mid, y0 + 0.22, "center"),
                (mid, y0 - 0.42, "center")]
    spots = []
    reach = min(0.33, abs(dy) / 2)
    for away in (reach, abs(dy) - reach, reach * 0.55, abs(dy) - reach * 0.55):
        frac = away / abs(dy)
        point = (t0 + (t1 - t0) * frac, y0 + dy * frac)
        spots += [(*point, "left"), (*point, "right")]
    return spots


def _place(pending: Sequence[tuple[Annotation, list[tuple]]], placed: list[Annotation],
           renderer: Any, ax: Axes) -> None:
    """Put each label at its first candidate spot inside the plot that overlaps no label
    placed before it; if none is free, try the spots again nudged up and down a little.

    A spot is ``(t, y)`` or ``(t, y, side)``: ``side`` ``"left"`` puts the label to the
    right of the point, ``"right"`` to its left.  Each label is measured once; its box at
    every candidate spot is then plain arithmetic (fast enough for the explorer).
    """
    boxes: list[Bbox] = []
    frame = ax.get_window_extent(renderer)
    to_pixels = ax.transData.transform
    points = ax.figure.dpi / 72

    def box_at(text: Annotation, width: float, height: float, spot: tuple, ha: str) -> Bbox:
        x, y = to_pixels(spot[:2])
        offset = {"left": 4, "right": -4}.get(spot[2], 0) if len(spot) > 2 else text.xyann[0]
        x += offset * points
        x0 = x if ha == "left" else x - width if ha == "right" else x - width / 2
        return Bbox.from_bounds(x0 - 3, y - height / 2 - 1.5, width + 6, height + 3)

    def free(box: Bbox) -> bool:
        inside = box.x0 >= frame.x0 and box.x1 <= frame.x1 and box.y0 >= frame.y0 and box.y1 <= frame.y1
        return inside and not any(box.overlaps(other) for other in boxes)

    for text, spots in pending:
        size = text.get_window_extent(renderer)
        width, height = size.width, size.height
        ha = text.get_ha()
        chosen, box = spots[0], None
        # each candidate as it is, then each nudged up or down a little (at most 0.36 of a
        # lane, and never so far that another lane is nearer): still beside its own arrow
        nudges = [0.0] + [0.06 * k * sign for k in range(1, 7) for sign in (-1, 1)]
        tries = [(spot[0], spot[1] + nudge, *spot[2:]) for nudge in nudges for spot in spots
                 if abs(spot[1] + nudge - round(spot[1])) < 0.49]  # never nearer another lane
        for spot in tries:
            box = box_at(text, width, height, spot, spot[2] if len(spot) > 2 else ha)
            if free(box):
                chosen = spot
                break
        else:
            box = box_at(text, width, height, chosen, chosen[2] if len(chosen) > 2 else ha)
        text.xy = chosen[:2]
        if len(chosen) > 2:
            text.set_ha(chosen[2])
            text.xyann = {"left": (4, 0), "right": (-4, 0)}.get(chosen[2], (0, 0))
        boxes.append(box)
        placed.append(text)


def _legend(ax: Axes, protocol: str | None, trace: Trace, colors: Mapping[str, str],
            extra: Mapping[str, str], marks: Mapping[str, Any], mark_kinds: Sequence[str],
            chosen: bool, lost: bool, down: bool, flying: bool) -> None:
    """Every message type and mark of the protocol, in a fixed order (the frame stays put).

    For a bare trace of unknown protocol only what occurs is listed.
    """
    known = protocol is not None and bool(colors)
    seen = {m["msg_type"] for m in trace.message_rows()}
    types = [t for t in colors if known or t in seen] + [t for t in extra if t not in colors]
    handles: list[Any] = [Line2D([], [], color=_color(t, colors, dict(extra)), lw=2, label=t)
                          for t in types]
    for kind, mark in marks.items():
        if known or kind in mark_kinds:
            handles.append(Line2D([], [], color=mark.color, marker=mark.marker, ls="none",
                                  markersize=9, mew=2, label=mark.legend))
    legend = merged("moment_legend", protocol).get("chosen")
    if legend and (known or chosen):
        handles.append(Line2D([], [], color=CHOSEN, lw=1.6, ls=(0, (4, 2)), label=legend))
    if known or lost:
        handles.append(Line2D([], [], color=LOST, marker="x", ls="--", markersize=8, mew=2,
                              label="message lost"))
    if known or down:
        handles.append(Patch(color="#bbbbbb", alpha=0.6, label="node down (crashed)"))
    if flying:
        handles.append(Line2D([], [], color=IN_FLIGHT, lw=6, alpha=0.35, label="in flight now"))
    if handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=FONT,
                  frameon=False)


def _shade_faults(ax: Axes, trace: Trace, lane: dict[str, int], horizon: float) -> bool:
    """Grey out a lane while its node is down; tint the background while partitioned.

    Returns whether any node was down.
    """
    down: dict[str, float] = {}
    cut_since: float | None = None
    any_down = False
    for e in trace.events:
        if e.time > horizon:
            break
        if e.kind == "crash" and e.node in lane:
            down[e.node] = e.time
            any_down = True
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
    return any_down


def _down_band(ax: Axes, y: int, start: float, end: float) -> None:
    ax.fill_between([start, end], y - 0.18, y + 0.18, color="#bbbbbb", alpha=0.6, zorder=1)
    ax.annotate("down", (start, y), xytext=(2, -11), textcoords="offset points", fontsize=FONT,
                color="#555555")


def overlapping_labels(ax: Axes) -> list[tuple[str, str]]:
    """Pairs of texts on ``ax`` whose drawn boxes overlap (the figure is drawn first).

    The lesson figures must give an empty list (tests/test_plots.py checks them).
    """
    figure = ax.figure
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    texts = [t for t in ax.texts if t.get_visible() and t.get_text().strip()]
    boxes = [t.get_window_extent(renderer) for t in texts]
    pairs = []
    for i, a in enumerate(boxes):
        for j in range(i + 1, len(boxes)):
            if a.overlaps(boxes[j]):
                pairs.append((texts[i].get_text(), texts[j].get_text()))
    return pairs
