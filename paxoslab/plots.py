"""Plots of runs (matplotlib only): pure functions of a Result or a Trace.

``sequence_diagram`` draws the space-time diagram the course reads step by
step: one horizontal lane per node, time to the right, an arrow per message
from its send to its delivery, labelled the way the course writes them
(``P3.1``, ``Promise 3.1 (2.1,X)``, ``A3.1 X``).  A broadcast is labelled once,
at its sender.  Every other label sits beside its own arrow, within a third of
a lane of the sender or the receiver, so it never reads as belonging to a lane
in between; a broadcast's label starts at its send, above the lane.  Labels
that would overlap are moved along their arrow or stacked; the marks' words are
placed first, and a message label that finds no free spot is left out (the
figure says how many) rather than drawn over another label.  No label is
crossed by a chosen line or lies on a mark's symbol, two labels on one line
stand at least :data:`GAP` apart, a message label keeps clear of other arrows
where it can, and every label lies on a white ground above all arrows.  A lost message's
dashed arrow runs along its own path towards its destination and ends in a red
✗ half a lane short of it.  The legend lists the message types and marks that
occur in the figure, in the protocol's order.  A long run (more than
:data:`MAX_LABELS` labels) labels only every k-th message, where there is room,
and says so above the plot; label placement takes time in proportion to the
labels.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from statistics import median
from types import SimpleNamespace
from typing import Any, NamedTuple

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, Patch
from matplotlib.text import Annotation
from matplotlib.transforms import Bbox

from .protocols import merged
from .protocols.multi_paxos import replay_logs
from .report import cluster_of, moments
from .trace import Trace

#: Colours for message types the protocol does not colour itself.
FALLBACK_COLORS = ["#ff7f0e", "#8c564b", "#e377c2", "#bcbd22", "#7f7f7f"]
#: Smallest font on a diagram (points); the course's figures are read at notebook width.
FONT = 9
LOST = "#d62728"
#: The background of a time a partition splits the network (sequence diagram, role timeline).
PARTITION = "#fde0dd"
CHOSEN = "#e6550d"
IN_FLIGHT = "#ff7f0e"
#: Most message labels on one diagram: a longer run labels every k-th message (and says so).
MAX_LABELS = 400
#: The gid of a sequence diagram's note above the plot, on the right, on labels left out.
NOTE = "labels-note"
#: Labels are drawn above every arrow, line and mark, on a white ground, so that nothing drawn
#: later runs through them.
LABEL_Z = 6
#: The white ground under every label of a sequence diagram (all drawn as one artist).
#: gid prefix of a message's label, followed by the message's send time
LABEL_OF = "label of a message sent at "
GROUND = {"facecolor": "white", "edgecolor": "none", "alpha": 0.85}
#: Least space between two labels on one line (pixels at 100 dpi): a word space is about 4 px,
#: so two labels 9 px apart still read as one phrase ("set token 989 set x 3").
GAP = 10.0
#: Least space between a label and a mark's symbol or a chosen line (pixels at 100 dpi).
CLEAR = 3.0
#: Least space between two labels one above the other (pixels at 100 dpi).
LEAD = 3.0
#: Least space between two labels of one colour on one line (pixels at 100 dpi): "AE t1 #1" and
#: "AE t1 #1-2" 12 px apart read as one run of words (lesson 06, 3.6).
KIN_GAP = 20.0


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


def label_every(labels: int, most: int = MAX_LABELS) -> int:
    """Label every k-th of ``labels`` message labels so that at most ``most`` are drawn.

    >>> label_every(261), label_every(400), label_every(401), label_every(12_000)
    (1, 1, 2, 30)
    """
    return max(1, -(-labels // most))


def ordinal(k: int) -> str:
    """``1st``, ``2nd``, ``3rd``, ``4th``, ``11th``, ``21st``.

    >>> [ordinal(k) for k in (1, 2, 3, 4, 11, 12, 13, 21, 102)]
    ['1st', '2nd', '3rd', '4th', '11th', '12th', '13th', '21st', '102nd']
    """
    suffix = "th" if k % 100 in (11, 12, 13) else {1: "st", 2: "nd", 3: "rd"}.get(k % 10, "th")
    return f"{k}{suffix}"


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
    if ax is None:
        _, ax = plt.subplots(figsize=(12, 0.8 * len(nodes) + 1.7))
        # the final margins before any label is placed: placing labels in one frame and then
        # narrowing it moves them closer together ("set token 873set x 3")
        height = ax.figure.get_figheight()
        ax.figure.subplots_adjust(left=0.05, right=0.79, top=1 - 0.45 / height,
                                  bottom=0.6 / height)
    if xlim is None:
        xlim = (-0.02 * max(horizon, 1), max(horizon, 1) * 1.08 + 1)
    ax.set_xlim(*xlim)
    ax.set_ylim(len(nodes) - 0.4, -1.0)
    extra_colors: dict[str, str] = {}
    rows = [m for m in trace.message_rows() if m["sent_at"] <= horizon]
    delays = [m["delivered_at"] - m["sent_at"] for m in rows if m["delivered_at"] is not None]
    typical = median(delays) if delays else 1.0
    # only what the time axis shows is drawn, labelled, counted and put in the legend
    lo, hi = min(xlim), max(xlim)
    rows = [m for m in rows if m["sent_at"] <= hi and _message_end(m, typical) >= lo]
    senders: dict[tuple, int] = {}
    for m in rows:
        key = (m["src"], m["sent_at"], _label(m))
        senders[key] = senders.get(key, 0) + 1
    broadcasts = {key for key, count in senders.items() if count > 1}
    # one label per broadcast and per delivered unicast; a long run labels every k-th of them
    every = label_every(len(broadcasts) + sum(
        1 for m in rows if (m["src"], m["sent_at"], _label(m)) not in broadcasts and not m["dropped"]))
    labels = 0
    labelled: set[tuple] = set()
    placed: list[Annotation] = []
    renderer = ax.figure.canvas.get_renderer()
    pending: list[tuple[Annotation, list[tuple[float, float]]]] = []
    any_lost = any_in_flight = False
    crosses: list[tuple[float, float]] = []  # one line of ✗ marks: one artist, not one per loss
    # what labels keep clear of: arrows (t0, y0, t1, y1, bend, whose) where there is room,
    # the marks' symbols and the chosen lines always
    paths: list[tuple[float, float, float, float, float, Any]] = []

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
        bend = -min(0.4, 0.5 / max(t1 - t0, 0.1)) if y0 == y1 and not flying else 0.0
        style = f"arc3,rad={bend:.3f}" if bend else "arc3"
        paths.append((t0, y0, t1, y1, bend, (m["src"], t0, _label(m))))
        # add_artist, not add_patch: the limits are set above, and measuring each arrow's
        # path to widen them costs more than drawing it on a long run
        if flying and until is not None:
            ax.add_artist(FancyArrowPatch(
                (t0, y0), (t1, y1), arrowstyle="-", color=IN_FLIGHT, lw=6, alpha=0.35,
                shrinkA=0, shrinkB=0, zorder=2))
        ax.add_artist(FancyArrowPatch(
            (t0, y0), (t1, y1), arrowstyle="-|>" if not lost else "-", mutation_scale=10,
            color=color, lw=1.1, linestyle="--" if lost else "-", shrinkA=0, shrinkB=0,
            connectionstyle=style, alpha=0.85, gid=f"message-{m['msg_id']}", zorder=3))
        if lost:
            crosses.append((t1, y1))
        label = _label(m)
        key = (m["src"], t0, label)
        if key in broadcasts:
            if key in labelled:
                continue
            labelled.add(key)  # one label per broadcast, at its sender, above the lane
        elif lost:
            continue  # a lost unicast is named by its ✗; its label would crowd the lane
        labels += 1
        if (labels - 1) % every:
            continue  # a long run: only every k-th message is labelled
        if key in broadcasts:  # starting at its send, read left to right from its own mark
            spots = [(t0, y, side) for side in ("left", "right")
                     for y in (y0 - 0.25, y0 - 0.45, y0 + 0.25, y0 + 0.45)]
            text = ax.annotate(label, spots[0][:2], ha="left", va="center", fontsize=FONT,
                               color=color, fontweight="bold", xytext=(4, 0),
                               textcoords="offset points", zorder=LABEL_Z)
        else:
            spots = _spots_beside(t0, y0, t1, y1)
            text = ax.annotate(label, spots[0][:2], fontsize=FONT, color=color, ha="center",
                               va="center", fontweight="bold", xytext=(0, 0),
                               textcoords="offset points", zorder=LABEL_Z)
        text.set_gid(f"{LABEL_OF}{t0!r}")
        pending.append((text, spots, key))

    if crosses:
        ax.plot(*zip(*crosses, strict=True), ls="none", marker="x", color=LOST, markersize=8,
                mew=2, zorder=4)
    message_labels = len(pending)  # the marks' words come after them
    mark_points: dict[str, list[tuple[float, float]]] = {}  # kind -> its marks: one line each
    mark_kinds: list[str] = []
    stacked: dict[tuple[float, str], int] = {}
    for e in trace.events:
        if (e.time > horizon or not lo <= e.time <= hi or e.node not in lane or e.kind not in marks
                or e.payload is None):
            continue
        mark = marks[e.kind]
        if e.kind not in mark_kinds:
            mark_kinds.append(e.kind)
        mark_points.setdefault(e.kind, []).append((e.time, lane[e.node]))
        words = mark.text(e.payload)
        if words:
            below = stacked.get((e.time, e.node), 0)
            stacked[(e.time, e.node)] = below + 1
            y = lane[e.node] + 0.24 + 0.2 * below
            # italic, not bold: what a node did, not a message travelling (01's "set x 3")
            text = ax.annotate(words, (e.time, y), xytext=(4, 0), textcoords="offset points",
                               fontsize=FONT, color=mark.color, fontstyle="italic", va="center",
                               zorder=LABEL_Z)
            spots = [(e.time, y), (e.time, y + 0.2), (e.time, y - 0.48)]
            pending.append((text, spots + [(*spot, "right") for spot in spots], None))

    for kind, points in mark_points.items():
        ax.plot(*zip(*points, strict=True), ls="none", marker=marks[kind].marker,
                color=marks[kind].color, markersize=10, mew=2, zorder=5, gid=f"mark-{kind}")
    # (time, lane, half the symbol's size in points): a ✗ is 8 points wide, a mark 10, plus edges
    symbols = [(t, y, 5.0) for t, y in crosses]
    symbols += [(t, y, 6.0) for points in mark_points.values() for t, y in points]
    chosen = [m for m in moments(trace, nodes, protocol)
              if m["kind"] == "chosen" and not m.get("again") and m["time"] <= horizon
              and lo <= m["time"] <= hi]
    headline: list[tuple[Annotation, list[tuple], Any]] = []  # placed first: they name the outcome
    for m in chosen:
        ax.axvline(m["time"], color=CHOSEN, lw=1.6, ls=(0, (4, 2)), zorder=1, gid="chosen")
        text = ax.annotate(f"{m['value']} chosen ({m['ballot']})", (m["time"], -0.78),
                           xytext=(4, 0), textcoords="offset points", fontsize=FONT,
                           color=CHOSEN, fontweight="bold", va="center", zorder=LABEL_Z)
        spots = [(m["time"], y, side) for y in (-0.78, -0.56) for side in ("left", "right")]
        headline.append((text, spots, None))
    verticals = [m["time"] for m in chosen]
    if now is not None:
        ax.axvline(now, color="#333333", lw=1.2, zorder=1)
        verticals.append(now)

    # a message label that finds no free spot is left out, never drawn over another label or
    # cut off at the edge ("HB t1 c1HB t1 c2", "Reject 13.5<14." in a long Multi-Paxos replay)
    # the marks' words first (each has only a few spots beside its mark), then the message
    # labels that find room
    optional = {text for text, *_ in pending[:message_labels]}
    # a broadcast's label before the unicasts' labels: it names several arrows and has room only
    # at its send ("Learn X" lost its place to an "Accepted 4.5" arriving there in case 2)
    messages = sorted(pending[:message_labels], key=lambda item: item[2] not in broadcasts)
    down, faults, partitioned = _shade_faults(ax, trace, lane, horizon, lo)
    _place(headline + faults + pending[message_labels:] + messages, placed, renderer, ax,
           optional=optional, paths=paths, symbols=symbols, verticals=verticals)
    left_out = sum(1 for text in optional if text not in placed)

    ax.set_yticks(range(len(nodes)), nodes, fontsize=10)
    ax.tick_params(axis="x", labelsize=FONT)
    scenario = getattr(result_or_trace, "scenario", None)
    stepped = isinstance(scenario, Mapping) and "schedule" in scenario
    ax.set_xlabel("step of the schedule (one time unit each)" if stepped else "simulated time (ms)",
                  fontsize=10)
    # the lanes: one line across the axes' width at every node (one artist, not one per lane)
    ax.add_line(Line2D([0, 1, math.nan] * len(nodes), [y for i in range(len(nodes)) for y in (i, i, i)],
                       transform=ax.get_yaxis_transform(), color="#cccccc", lw=0.8, zorder=0,
                       gid="lane"))
    _legend(ax, protocol, {m["msg_type"] for m in rows}, colors, extra_colors, marks, mark_kinds,
            bool(chosen), any_lost, down, any_in_flight or until is not None and now is not None,
            partitioned)
    if title is None and hasattr(result_or_trace, "scenario"):
        title = result_or_trace.scenario.get("name")
    if title:
        ax.set_title(title, loc="left", fontsize=11)
    if every > 1:  # a long run: say that most messages go unlabelled
        note = ax.set_title(f"labels on every {ordinal(every)} message where there is room",
                            loc="right", fontsize=FONT, color="#555555")
        note.set_gid(NOTE)
    elif left_out:  # say that some are
        note = ax.set_title(f"{left_out} of {message_labels} message labels left out: no room",
                            loc="right", fontsize=FONT, color="#555555")
        note.set_gid(NOTE)
    ax.grid(axis="x", color="#eeeeee")
    return ax


class _At(NamedTuple):
    """Where a "down" label belongs: the crash's time and lane.  Passed to :func:`_place` as
    the label's ``whose``: it keeps clear of every arrow but those that start or end there
    (the marks' words do not: moved off the arrows of a crowded run, 05's partition, they
    scattered round their marks and took each other's places)."""

    time: float
    lane: float


def _message_end(m: Mapping[str, Any], typical: float) -> float:
    """When a message row ends on the time axis: delivered, lost, or (in flight) a typical
    delay after its send."""
    if m["delivered_at"] is not None:
        return m["delivered_at"]
    return m.get("dropped_at") or m["sent_at"] + typical


def _spots_beside(t0: float, y0: float, t1: float, y1: float) -> list[tuple[float, float, str]]:
    """Candidate label anchors beside the arrow (t0, y0) -> (t1, y1): points on it near an
    end (never farther than a third of a lane from the sender's or the receiver's lane),
    with the label to the right (``"left"`` aligned) or to the left of the arrow; then just
    after its arrival, off the lane.  Never wholly before its send: a label there reads as
    an earlier event (case 2's "Promise 4.5 (3.1,X)" beside S3's acceptance of 3.1)."""
    dy = y1 - y0
    if dy == 0:  # to itself: just above or below its own lane
        mid = (t0 + t1) / 2
        return [(mid, y, side) for y in (y0 - 0.22, y0 + 0.22, y0 - 0.42)
                for side in ("center", "left", "right")]
    spots = []
    reach = min(0.33, abs(dy) / 2)
    for away in (reach, abs(dy) - reach, reach * 0.55, abs(dy) - reach * 0.55):
        frac = away / abs(dy)
        point = (t0 + (t1 - t0) * frac, y0 + dy * frac)
        spots += [(*point, "left"), (*point, "right")]
    # where the arrow is boxed in (a chosen line on either side, 02's case 3): just after its
    # arrival, off the lane
    spots += [(t1, y1 - 0.25, "left"), (t1, y1 + 0.25, "left")]
    return spots


class _Boxes:
    """Placed label boxes (pixel ``(x0, y0, x1, y1)``), found by the columns they cover, so
    that asking whether a box is free looks only at its neighbours, not at every label
    placed before (a long run's thousands of labels stay near-linear).  Two boxes overlap
    when they share a point, edges included (as :meth:`matplotlib.transforms.Bbox.overlaps`)."""

    WIDTH = 64.0  # pixels per column: about one label

    def __init__(self) -> None:
        self.columns: dict[int, list[tuple[float, float, float, float]]] = {}

    def _span(self, box: tuple[float, float, float, float]) -> range:
        return range(math.floor(box[0] / self.WIDTH), math.floor(box[2] / self.WIDTH) + 1)

    def add(self, box: tuple[float, float, float, float]) -> None:
        for column in self._span(box):
            self.columns.setdefault(column, []).append(box)

    def near(self, x0: float, x1: float) -> list[tuple]:
        """The boxes filed in the columns from ``x0`` to ``x1`` (a box may come more than once)."""
        found: list[tuple] = []
        for column in range(math.floor(x0 / self.WIDTH), math.floor(x1 / self.WIDTH) + 1):
            found += self.columns.get(column, ())
        return found

    def overlaps(self, box: tuple[float, float, float, float]) -> bool:
        x0, y0, x1, y1 = box
        for column in self._span(box):
            for a0, b0, a1, b1 in self.columns.get(column, ()):
                if x0 <= a1 and a0 <= x1 and y0 <= b1 and b0 <= y1:
                    return True
        return False


def _pixel_paths(ax: Axes, paths: Sequence[tuple[float, float, float, float, float, Any]]
                 ) -> tuple[Any, list[Any]]:
    """The arrows as straight pixel segments ``(x0, y0, x1, y1)`` (an arc to itself as four
    chords of its curve, as ``arc3`` bends it) and whose each one is."""
    import numpy as np

    if not paths:
        return np.zeros((0, 4)), []
    ends = ax.transData.transform([(p[0], p[1]) for p in paths] + [(p[2], p[3]) for p in paths])
    starts, stops = ends[:len(paths)], ends[len(paths):]
    segments, owners = [], []
    for (a, b), (c, d), path in zip(starts, stops, paths, strict=True):
        bend = path[4]
        if not bend:
            segments.append((a, b, c, d))
            owners.append(path[5])
            continue
        # arc3: a quadratic curve whose control point lies ``bend`` times the chord off its middle
        cx, cy = (a + c) / 2 + bend * (d - b), (b + d) / 2 - bend * (c - a)
        curve = [((1 - u) ** 2 * a + 2 * (1 - u) * u * cx + u * u * c,
                  (1 - u) ** 2 * b + 2 * (1 - u) * u * cy + u * u * d) for u in (0, 0.25, 0.5, 0.75, 1)]
        for (x0, y0), (x1, y1) in zip(curve, curve[1:], strict=False):
            segments.append((x0, y0, x1, y1))
            owners.append(path[5])
    return np.asarray(segments, dtype=float), owners


def _crossing(boxes: Any, segments: Any) -> Any:
    """Which of ``boxes`` (n × 4: x0, y0, x1, y1) any of ``segments`` (m × 4) runs through."""
    import numpy as np

    if not len(segments):
        return np.zeros(len(boxes), dtype=bool)
    bx0, by0, bx1, by1 = (boxes[:, k, None] for k in range(4))
    sx0, sy0, sx1, sy1 = (segments[None, :, k] for k in range(4))
    near = ((np.minimum(sx0, sx1) <= bx1) & (np.maximum(sx0, sx1) >= bx0)
            & (np.minimum(sy0, sy1) <= by1) & (np.maximum(sy0, sy1) >= by0))
    dx, dy = sx1 - sx0, sy1 - sy0
    sides = [dx * (cy - sy0) - dy * (cx - sx0) for cx, cy in ((bx0, by0), (bx0, by1), (bx1, by0), (bx1, by1))]
    apart = ((sides[0] > 0) & (sides[1] > 0) & (sides[2] > 0) & (sides[3] > 0)) | (
        (sides[0] < 0) & (sides[1] < 0) & (sides[2] < 0) & (sides[3] < 0))
    return (near & ~apart).any(axis=1)


def _overlapping(boxes: Any, others: Any) -> Any:
    """Which of ``boxes`` (n × 4) overlaps any of ``others`` (m × 4), edges included."""
    import numpy as np

    if not len(others):
        return np.zeros(len(boxes), dtype=bool)
    return ((boxes[:, 0, None] <= others[None, :, 2]) & (others[None, :, 0] <= boxes[:, 2, None])
            & (boxes[:, 1, None] <= others[None, :, 3]) & (others[None, :, 1] <= boxes[:, 3, None])
            ).any(axis=1)


def _place(pending: Sequence[tuple[Annotation, list[tuple], Any]], placed: list[Annotation],
           renderer: Any, ax: Axes, optional: Collection[Annotation] = (),
           paths: Sequence[tuple[float, float, float, float, float, Any]] = (),
           symbols: Sequence[tuple[float, float, float]] = (),
           verticals: Sequence[float] = ()) -> None:
    """Put each label ``(text, spots, whose)`` at its first candidate spot inside the plot
    that overlaps no label placed before it (nor stands within :data:`GAP` of one on its
    line), no mark's symbol and no chosen line (``verticals``), and that no arrow of
    ``paths`` but its own (``whose``) runs through; if none is free, try the spots again
    nudged up and down a little.  Where every spot has some arrow through it, the first that
    is otherwise free is taken: the label lies over the arrow on its white ground.  A "down"
    label (``whose`` an :class:`_At`, the crash's point) looks for a spot clear of every
    arrow but those that start or end there.  A label whose ``whose`` is None (a mark's
    words, a chosen value) does not look for a spot clear of arrows: it keeps the place its
    kind has on every lane.  A label
    that still finds no spot stays at its first one, overlapping, unless it is ``optional``
    (a message label): then it is left out.  A message label (``whose`` is ``(sender, send
    time, text)``) never has its middle before the send: it would read as an earlier event.

    A spot is ``(t, y)`` or ``(t, y, side)``: ``side`` ``"left"`` puts the label to the
    right of the point, ``"right"`` to its left.  Each label is measured once; its boxes at
    every candidate spot are then arithmetic on arrays, compared only with what lies in the
    same columns (:class:`_Boxes`), so the time grows with the number of labels, not its
    square.
    """
    import numpy as np

    boxes = _Boxes()
    kin: dict[Any, _Boxes] = {}  # placed labels by colour: two of one colour side by side read as one
    wide = (KIN_GAP - GAP) / 2 * (ax.figure.dpi / 100)
    frame = ax.get_window_extent(renderer)
    to_pixels = ax.transData.transform
    points = ax.figure.dpi / 72
    scale = ax.figure.dpi / 100
    pad_x, pad_y, clear = (GAP / 2 + 1) * scale, LEAD / 2 * scale, CLEAR * scale
    segments, owners = _pixel_paths(ax, paths)
    touching: dict[tuple[float, float], set[Any]] = {}  # a point -> the arrows that start or end there
    for t0, y0, t1, y1, _, owner in paths:
        touching.setdefault((t0, y0), set()).add(owner)
        touching.setdefault((t1, y1), set()).add(owner)
    arrows = _Boxes()  # each arrow segment filed by the columns it spans, as a box
    for i, (x0, y0, x1, y1) in enumerate(segments):
        arrows.add((min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1), i))
    marks = _Boxes()
    if symbols:
        centres = to_pixels([(t, y) for t, y, _ in symbols])
        for (x, y), (_, _, half) in zip(centres, symbols, strict=True):
            size = half * points + clear
            marks.add((x - size, y - size, x + size, y + size))
    lines = np.sort(to_pixels([(t, 0) for t in verticals])[:, 0]) if verticals else np.zeros(0)
    nudges = np.array([0.0] + [0.06 * k * sign for k in range(1, 7) for sign in (-1, 1)])
    offsets = {"left": 4.0, "right": -4.0, "center": 0.0}
    matrix = ax.transData.get_affine().get_matrix()  # linear axes: data -> pixels is affine
    grounds: list[tuple[tuple[float, float], Any]] = []

    for text, spots, whose in pending:
        size = text.get_window_extent(renderer)
        width, height = size.width, size.height
        # each candidate as it is, then each nudged up or down a little (at most 0.36 of a
        # lane, and never so far that another lane is nearer): still beside its own arrow
        base = np.array([spot[:2] for spot in spots], dtype=float)
        sides = [spot[2] if len(spot) > 2 else None for spot in spots]
        t = np.tile(base[:, 0], len(nudges))
        y = (base[:, 1][None, :] + nudges[:, None]).ravel()
        which = np.tile(np.arange(len(spots)), len(nudges))
        nudge = np.repeat(nudges, len(spots))
        lanes = np.round(base[which, 1])
        keep = np.abs(y - lanes) < 0.49  # never nearer another lane
        keep &= np.sign(y - lanes) * np.sign(base[which, 1] - lanes) >= 0  # nor across its own
        t, y, which, nudge = t[keep], y[keep], which[keep], nudge[keep]
        xy = np.column_stack([t, y, np.ones_like(t)]) @ matrix[:2].T  # to pixels
        ha = [side or text.get_ha() for side in sides]
        shift = np.array([(offsets[side] if side else text.xyann[0]) * points for side in sides])
        left = np.array([0.0 if h == "left" else -width if h == "right" else -width / 2 for h in ha])
        x0 = xy[:, 0] + shift[which] + left[which]
        y0 = xy[:, 1] - height / 2
        inner = np.column_stack([x0, y0, x0 + width, y0 + height])
        outer = np.column_stack([x0 - pad_x, y0 - pad_y, x0 + width + pad_x, y0 + height + pad_y])
        lo, hi = float(outer[:, 0].min()), float(outer[:, 2].max())
        free = ((outer[:, 0] >= frame.x0) & (outer[:, 2] <= frame.x1)
                & (outer[:, 1] >= frame.y0) & (outer[:, 3] <= frame.y1))
        message = whose is not None and not isinstance(whose, _At)
        if message:  # a message's label: its middle no earlier than the send
            free &= (inner[:, 0] + inner[:, 2]) / 2 >= to_pixels([(whose[1], 0)])[0][0]
        free &= ~_overlapping(outer, np.asarray(boxes.near(lo, hi)).reshape(-1, 4))
        colour = str(text.get_color())
        if colour in kin:
            wider = outer + np.array([-wide, 0.0, wide, 0.0])
            free &= ~_overlapping(wider, np.asarray(kin[colour].near(lo - wide, hi + wide)).reshape(-1, 4))
        free &= ~_overlapping(inner, np.asarray(marks.near(lo, hi)).reshape(-1, 4))
        if len(lines):
            for x in lines[(lines >= lo - clear) & (lines <= hi + clear)]:
                free &= ~((inner[:, 0] - clear <= x) & (x <= inner[:, 2] + clear))
        # a message label keeps clear of other arrows where it can; so does "down", of every
        # arrow but those that start or end at the crash (S1's "down" lay on its own in-flight
        # heartbeats in lesson 06's Figure 8); a mark's words keep their place beside the mark
        # (below it, as on every lane), over any arrow there
        if message:
            others = sorted({int(b[4]) for b in arrows.near(lo, hi) if owners[int(b[4])] != whose})
        elif isinstance(whose, _At):
            own = touching.get((whose.time, whose.lane), set())
            others = sorted({int(b[4]) for b in arrows.near(lo, hi) if owners[int(b[4])] not in own})
        else:
            others = []
        # clear of arrows only a little off its spot: farther, it would read as another's label
        found = np.flatnonzero(free & (np.abs(nudge) < 0.13))
        if others and len(found):
            found = found[~_crossing(inner[found], segments[others])]
        if not len(found):
            found = np.flatnonzero(free)
        if not len(found) and text in optional:
            text.remove()
            continue
        k = int(found[0]) if len(found) else 0  # the first spot as it is, overlapping
        text.xy = (float(t[k]), float(y[k]))
        side = sides[int(which[k])]
        if side:
            text.set_ha(side)
            text.xyann = (offsets[side], 0)
        boxes.add(tuple(float(v) for v in outer[k]))
        kin.setdefault(colour, _Boxes()).add(tuple(float(v) for v in outer[k]))
        placed.append(text)
        # its ground: the box around the text in points from its anchor, a point wider
        grounds.append(((float(t[k]), float(y[k])),
                        (inner[k] - np.tile(xy[k], 2)) / points + (-1, -1, 1, 1)))
    if grounds:
        _draw_grounds(ax, grounds)


def _draw_grounds(ax: Axes, grounds: Sequence[tuple[tuple[float, float], Any]]) -> None:
    """The white ground under each placed label, as one artist: a box in points around each
    label's anchor (so it stays under its label at any dpi), just below the labels and above
    every arrow and mark."""
    from matplotlib.collections import PolyCollection
    from matplotlib.transforms import Affine2D

    boxes = [[(x0, y0), (x1, y0), (x1, y1), (x0, y1)] for _, (x0, y0, x1, y1) in grounds]
    ax.add_collection(PolyCollection(
        boxes, offsets=[anchor for anchor, _ in grounds], offset_transform=ax.transData,
        transform=Affine2D().scale(1 / 72) + ax.figure.dpi_scale_trans, zorder=LABEL_Z - 0.5,
        gid="ground", **GROUND), autolim=False)


#: Longest line of a legend entry (characters): the legend sits in the figure's right margin.
LEGEND_LINE = 22


def _legend_text(text: str) -> str:
    r"""A legend entry broken into lines that fit the right margin (an entry already broken
    is kept as it is): "leader takes a client command" ran past the figure's edge in the
    player and in pictures saved without a tight bounding box.

    >>> _legend_text("leader takes a client command"), _legend_text("role and term")
    ('leader takes a client\ncommand', 'role and term')
    """
    import textwrap

    if "\n" in text or len(text) <= LEGEND_LINE:
        return text
    return "\n".join(textwrap.wrap(text, LEGEND_LINE))


def _legend(ax: Axes, protocol: str | None, seen: Collection[str], colors: Mapping[str, str],
            extra: Mapping[str, str], marks: Mapping[str, Any], mark_kinds: Sequence[str],
            chosen: bool, lost: bool, down: bool, flying: bool, partitioned: bool = False) -> None:
    """The message types and marks that occur in the figure, in the protocol's order.

    Only what is drawn is explained: a legend entry for a message type or a mark the run
    never shows (a Reject in a run without one) would send the reader looking for it.
    """
    types = [t for t in colors if t in seen] + [t for t in extra if t not in colors]
    handles: list[Any] = [Line2D([], [], color=_color(t, colors, dict(extra)), lw=2, label=t)
                          for t in types]
    for kind, mark in marks.items():
        if kind in mark_kinds:
            handles.append(Line2D([], [], color=mark.color, marker=mark.marker, ls="none",
                                  markersize=9, mew=2, label=_legend_text(mark.legend)))
    legend = merged("moment_legend", protocol).get("chosen")
    if legend and chosen:
        handles.append(Line2D([], [], color=CHOSEN, lw=1.6, ls=(0, (4, 2)), label=legend))
    if lost:
        handles.append(Line2D([], [], color=LOST, marker="x", ls="--", markersize=8, mew=2,
                              label="message lost"))
    if down:
        handles.append(Patch(color="#bbbbbb", alpha=0.6, label="node down (crashed)"))
    if flying:
        handles.append(Line2D([], [], color=IN_FLIGHT, lw=6, alpha=0.35, label="in flight now"))
    if partitioned:  # the band behind the lanes, as role_timeline's legend names it
        handles.append(Patch(facecolor=PARTITION, alpha=0.5, label="network partitioned"))
    if handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=FONT,
                  frameon=False)


def _shade_faults(ax: Axes, trace: Trace, lane: dict[str, int], horizon: float, lo: float = -math.inf
                  ) -> tuple[bool, list[tuple[Annotation, list[tuple], _At]], bool]:
    """Grey out a lane while its node is down; tint the background while partitioned.

    Returns whether any node was down, the "down" labels with the spots they may take
    (placed with the other labels): at the crash, or at ``lo`` (the left edge of the time
    axis) for a node down since before it, and whether a partition band was drawn on the
    time axis shown.
    """
    labels = []
    down: dict[str, float] = {}
    cut_since: float | None = None
    any_down = shown = False
    hi = max(ax.get_xlim())
    for e in trace.events:
        if e.time > horizon:
            break
        if e.kind == "crash" and e.node in lane:
            down[e.node] = e.time
            any_down = True
        elif e.kind == "recover" and e.node in down:
            labels.append(_down_band(ax, lane[e.node], down.pop(e.node), e.time, lo))
        elif e.kind == "partition":
            cut_since = e.time if cut_since is None else cut_since
        elif e.kind == "heal" and cut_since is not None:
            ax.axvspan(cut_since, e.time, color=PARTITION, alpha=0.5, zorder=0, gid="partition")
            shown |= e.time >= lo and cut_since <= hi
            cut_since = None
    for node, since in down.items():
        labels.append(_down_band(ax, lane[node], since, horizon, lo))
    if cut_since is not None:
        ax.axvspan(cut_since, horizon, color=PARTITION, alpha=0.5, zorder=0, gid="partition")
        shown |= horizon >= lo and cut_since <= hi
    return any_down, [label for label in labels if label is not None], shown


def _down_band(ax: Axes, y: int, start: float, end: float, lo: float = -math.inf
               ) -> tuple[Annotation, list[tuple], _At] | None:
    ax.fill_between([start, end], y - 0.18, y + 0.18, color="#bbbbbb", alpha=0.6, zorder=1)
    if end < lo:
        return None  # over before the time axis begins: no label
    start = max(start, lo)
    text = ax.annotate("down", (start, y + 0.3), xytext=(2, 0), textcoords="offset points",
                       fontsize=FONT, color="#555555", va="center", zorder=LABEL_Z)
    spots = [(start, y + dy, side) for side in ("left", "right") for dy in (0.3, -0.3, 0.45, -0.45)]
    return text, spots, _At(start, y)


def _shown_texts(ax: Axes) -> list[Any]:
    """The texts on ``ax`` that are drawn (an annotation whose point is off the axes is not)."""
    return [t for t in ax.texts if t.get_visible() and t.get_text().strip()
            and not (isinstance(t, Annotation) and t.xycoords == "data"
                     and not ax.viewLim.contains(*t.xy))]


def overlapping_labels(ax: Axes, gap: float = 10.0, lead: float = 2.0) -> list[tuple[str, str]]:
    """Pairs of texts on ``ax`` that overlap, or stand side by side on one line closer than
    ``gap`` pixels, or one above the other closer than ``lead`` pixels (at 100 dpi); the
    figure is drawn first.

    Not overlapping is not enough: two labels on one line a few pixels apart read as one
    phrase ("set token 873set x 3", "set token 989 set x 3": a word space is about 4 px), so
    each box is widened by half the gap on either side; two labels one above the other
    need only a little space between their lines (that is how lines are set).
    The lesson figures must give an empty list (tests/test_plots.py checks them).
    """
    figure = ax.figure
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    texts = _shown_texts(ax)
    half, rise = gap / 2 * figure.dpi / 100, lead / 2 * figure.dpi / 100
    boxes = []
    for t in texts:
        box = t.get_window_extent(renderer)
        boxes.append(Bbox.from_extents(box.x0 - half, box.y0 - rise, box.x1 + half, box.y1 + rise))
    pairs = []
    for i, a in enumerate(boxes):
        for j in range(i + 1, len(boxes)):
            if a.overlaps(boxes[j]):
                pairs.append((texts[i].get_text(), texts[j].get_text()))
    return pairs


def obstructed_labels(ax: Axes) -> list[tuple[str, str]]:
    """Labels on ``ax`` crossed by a vertical line across the plot (a value chosen, "now") or
    lying over a mark's symbol (a vote, a ✗, an applied command): ``(label, what)`` pairs,
    ``what`` being ``"line at t=3"`` or ``"mark at t=4"``.  The figure is drawn first.

    The lesson figures must give an empty list (tests/test_plots.py checks them).
    """
    figure = ax.figure
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    points = figure.dpi / 72
    lines, symbols = [], []
    for line in ax.lines:
        x, y = line.get_xdata(), line.get_ydata()
        marker = line.get_marker() not in (None, "None", "none", "", " ")
        if (not marker and len(x) == 2 and x[0] == x[1] and list(y) == [0, 1]) or line.get_gid() == "chosen":
            lines.append((float(x[0]), ax.transData.transform((x[0], 0))[0],
                          line.get_linewidth() * points / 2))
        elif marker and line.get_gid() != "lane":
            half = (line.get_markersize() / 2 + line.get_markeredgewidth() / 2) * points
            for px, py in zip(x, y, strict=True):
                cx, cy = ax.transData.transform((px, py))
                symbols.append((float(px), Bbox.from_extents(cx - half, cy - half, cx + half, cy + half)))
    found = []
    for t in _shown_texts(ax):
        box = t.get_window_extent(renderer)
        for when, x, width in lines:
            if box.x0 - width < x < box.x1 + width:
                found.append((t.get_text(), f"line at t={when:g}"))
        for when, symbol in symbols:
            if box.overlaps(symbol):
                found.append((t.get_text(), f"mark at t={when:g}"))
    return found


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

    Replays the notes up to and including ``at`` (the end when None): the logs as
    :func:`~paxoslab.protocols.multi_paxos.replay_logs` rebuilds them (``appended``,
    ``truncated``, ``recover``), ``committed`` moves the commit index, ``role`` sets
    role and term.  A
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
    until = SimpleNamespace(events=[e for e in trace.events if at is None or e.time <= at])
    final: dict[str, list] = {n: [] for n in nodes}
    for e, logs in replay_logs(until, nodes):
        final = logs  # the same dict each time, changed in place
        s = state.get(e.node) if e.node is not None else None
        if s is None:
            continue
        p = e.payload or {}
        if e.kind == "committed":
            s["commit_index"] = int(p["index"])
        elif e.kind == "role":
            s["role"], s["term"] = p.get("role", s["role"]), int(p.get("term", s["term"]))
        elif e.kind == "crash":
            s["up"] = False
        elif e.kind == "recover":
            s.update(up=True, role="follower", commit_index=int(p.get("commit_index", 0) or 0))
            if "current_term" in p:
                s["term"] = int(p["current_term"])
    for node in nodes:
        state[node]["log"] = list(final[node])
    return state


#: The log grid's legend: what a solid and a hatched cell say about one server's commit index
#: (what that server takes as committed; with every rule on, what it knows to be committed).
KNOWN_COMMITTED = ("filled in its term's colour:\nwithin this server's\ncommit index (taken as\n"
                   "committed here)")
NOT_KNOWN_COMMITTED = ("hatched: beyond this\nserver's commit index\n(not taken as committed\n"
                       "here; it may already\nbe committed)")


def _short(command: Any, width: int) -> str:
    text = "" if command is None else str(command)
    return text if len(text) <= width else text[: width - 1] + "…"


def log_grid(result_or_trace: Any, at: float | None = None, ax: Axes | None = None,
             title: str | None = None, legend: bool = True) -> Axes:
    """Servers × log index at time ``at``: one cell per entry, coloured by its term.

    A solid cell is an entry within that server's commit index: the server takes it as
    committed (with every rule on it is, and the server knows it; with
    ``commit-old-term-by-count`` a commit index can cover an entry that is not).  A pale
    cell, hatched with a dashed border, lies beyond that server's commit index: the
    server does not take it as committed — which does not mean it is not.  In Raft an
    entry is committed once the leader of its term has stored it on a majority (§5.3), a
    fact about the cluster; each server learns it later (the leader on counting the
    acknowledgements, a follower from the next AppendEntries' leader commit).  So between
    a majority storing an entry and the leader counting, every row shows it hatched
    although it can never be lost.  Each cell shows ``t<term>`` and the command.  The row
    label gives the server's role and term at ``at`` (a follower in term 0, which has
    heard of no term yet, too; a bare trace without role notes gives only the server's
    name); a crashed server's row is greyed out (its log is what it persisted).
    ``legend=False`` leaves the legend out (for all but one of several panels).
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
            committed = i <= s["commit_index"]  # taken as committed by this server
            color = term_color(term)
            ax.add_patch(Rectangle(
                (i - 0.46, row - 0.4), 0.92, 0.8, facecolor=color if committed else "white",
                edgecolor=color, lw=1.6, linestyle="-" if committed else "--",
                hatch=None if committed else "///", alpha=1.0 if s["up"] else 0.35,
                gid=f"entry-{node}-{i}-{'known' if committed else 'beyond'}"))
            ink = "white" if committed else "#222222"
            label = f"t{term}" + (f"\n{_short(command, text_width)}" if text_width else "")
            ax.text(i, row, label, ha="center", va="center", fontsize=9, color=ink,
                    alpha=1.0 if s["up"] else 0.5,
                    bbox=None if committed else {"boxstyle": "round,pad=0.1", "fc": "white",
                                                 "ec": "none", "alpha": 0.85})
    trace, _ = _trace_of(result_or_trace)
    roles = any(e.kind == "role" for e in trace.events)
    labels = []
    for node in nodes:
        s = state[node]
        if not s["up"]:
            labels.append(f"{node} (down)")
        elif roles or s["term"] or s["role"] != "follower":
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
    handles += [Patch(facecolor="#777777", edgecolor="#777777",
                      label=KNOWN_COMMITTED),
                Patch(facecolor="white", edgecolor="#777777", hatch="///", linestyle="--",
                      label=NOT_KNOWN_COMMITTED)]
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


class _TermLabels:
    """The term labels of one role timeline, each put in its lane's first free row when it is
    drawn: above the bar, below it, or higher above.  Deciding at draw time keeps labels
    apart at whatever time axis the figure ends up with (a lesson zooms in after drawing)."""

    def __init__(self) -> None:
        self.labels: list[_TermLabel] = []
        self.taken: dict[tuple[str, int], list[tuple[float, float]]] = {}

    def label(self, text: str, node: str, start: float, y: float, height: float) -> _TermLabel:
        label = _TermLabel(self, node, start, y, height, text)
        self.labels.append(label)
        return label


class _TermLabel(Annotation):
    def __init__(self, group: _TermLabels, node: str, start: float, y: float, height: float,
                 text: str) -> None:
        super().__init__(text, (start, y - height / 2), xytext=(1, 1.5),
                         textcoords="offset points", fontsize=9, color="#222222", va="bottom",
                         gid="term")
        self.group, self.node = group, node
        self.rows = [(y - height / 2, (1, 1.5), "bottom"), (y + height / 2, (1, -1.5), "top"),
                     (y - height / 2 - 0.22, (1, 1.5), "bottom")]

    def draw(self, renderer: Any) -> None:
        if self.group.labels and self is self.group.labels[0]:
            self.group.taken.clear()  # a new drawing of the figure
        if renderer is not None:
            left = self.axes.transData.transform((self.xy[0], self.rows[0][0]))[0]
            left += self.figure.dpi / 72
            span = (left, left + super().get_window_extent(renderer).width + 3)
            row = next((k for k in range(len(self.rows)) if all(
                span[1] <= a or b <= span[0] for a, b in self.group.taken.get((self.node, k), ()))),
                len(self.rows) - 1)
            self.group.taken.setdefault((self.node, row), []).append(span)
            anchor, self.xyann, va = self.rows[row]
            self.xy = (self.xy[0], anchor)
            self.set_va(va)
        super().draw(renderer)


#: Events that change what a role timeline shows (messages and heartbeats do not).
ROLE_EVENTS = frozenset({"role", "crash", "recover", "partition", "heal"})


def role_timeline_end(result_or_trace: Any) -> float:
    """Where a role timeline ends by default: its last change of role, crash, recovery,
    partition or heal, plus a quarter of that time (at least 10 ms) to show what held after
    it, but never past the run's last event.  A Raft run's heartbeats go on to the
    scenario's ``until``; drawing all of them leaves a long tail in which nothing changes.
    """
    trace, _ = _trace_of(result_or_trace)
    last_event = max((e.time for e in trace.events), default=1.0)
    changes = [e.time for e in trace.events if e.kind in ROLE_EVENTS and e.time > 0]
    if not changes:
        return last_event
    last = max(changes)
    return min(last_event, last + max(0.25 * last, 10.0)) if last_event > last else last_event


def role_timeline(result_or_trace: Any, ax: Axes | None = None, until: float | None = None,
                  title: str | None = None) -> Axes:
    """Each server's role over time (one lane per server) with its term written on the bar.

    Followers are a thin grey bar, candidates a medium orange one, leaders a thick
    blue one; ``t3`` marks where a server enters term 3 — every term a server enters
    is written on its lane, even a candidacy of a few milliseconds (a label that would
    run into the one before it goes below the bar, or higher up).  A crashed server's
    lane is hatched and marked ``×`` at the crash; a partition tints the background
    and names its groups.  The time axis ends at ``until``, by default at
    :func:`role_timeline_end` (shortly after the last change).
    """
    from matplotlib.patches import Patch, Rectangle

    trace, nodes = _trace_of(result_or_trace)
    horizon = until if until is not None else role_timeline_end(result_or_trace)
    horizon = max(horizon, 1e-9)
    lane = {n: i for i, n in enumerate(nodes)}
    if ax is None:
        _, ax = plt.subplots(figsize=(12, 0.6 * len(nodes) + 1.8))
        height = ax.figure.get_figheight()
        ax.figure.subplots_adjust(left=0.06, right=0.84, top=1 - 0.45 / height,
                                  bottom=0.6 / height)
    ax.set_yticks(range(len(nodes)), nodes)
    ax.set_ylim(len(nodes) - 0.4, -1.0)
    ax.set_xlim(0, horizon * 1.01)
    lane_labels = _TermLabels()
    last_term: dict[str, int] = {}
    terms: list[int] = []
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
        if not seg["term"] or last_term.get(seg["node"]) == seg["term"]:
            continue
        last_term[seg["node"]] = seg["term"]
        terms.append(seg["term"])
        term_label = ax.add_artist(lane_labels.label(f"t{seg['term']}", seg["node"], seg["start"], y,
                                                     height))
        term_label.set_clip_path(None)  # as a text: add_artist clips to the axes, a text is not
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
    ax.set_xlabel("simulated time (ms)")
    # only what the figure shows
    drawn = {p.get_gid() for p in ax.patches}
    handles: list[Any] = [Patch(facecolor=ROLE_STYLE[r][0], label=r) for r in ROLE_STYLE
                          if f"role-{r}" in drawn]
    if "down" in drawn:
        handles += [Patch(facecolor="white", edgecolor="#555555", hatch="xx", label="down (crashed)"),
                    Line2D([], [], marker="X", color="#d62728", lw=0, markersize=8, label="crash")]
    if "partition" in drawn:
        handles.append(Patch(facecolor=PARTITION, label="network partitioned"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9,
              frameon=False)
    if title is None and hasattr(result_or_trace, "scenario"):
        example = f" (t{max(terms)} = term {max(terms)})" if terms else ""
        title = f"{result_or_trace.scenario.get('name')}: roles and terms{example}"
    if title:
        ax.set_title(title, loc="left", fontsize=11)
    return ax


def _partition_band(ax: Axes, start: float, end: float, groups: Any) -> None:
    ax.axvspan(start, end, color=PARTITION, alpha=0.7, zorder=0, gid="partition")
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


#: How each of the paper's failover statistics is marked on a CDF (marker, its legend text).
PAPER_MARKS = {"median": ("o", "paper: median"), "max": ("^", "paper: worst trial"),
               "mean": ("|", "paper: mean"), "over": (">", "paper: every trial longer")}


def paper_failover_marks(ax: Axes, ranges: Sequence[str] | None = None,
                         colors: Mapping[str, str] | None = None,
                         paper: Sequence[Mapping[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Mark on a failover CDF (``ax``) what the Raft paper's text gives for ``ranges``.

    A median sits at 50 %, a worst trial at 100 %, a mean as a vertical bar at
    50 %, and "every trial longer than x" as ▶ at (x, 0 %).  Each mark takes its
    range's colour from ``colors`` (black without one) and is annotated with its
    number; the legend gets one black entry per kind of mark.  ``paper``
    defaults to :data:`paxoslab.experiments.PAPER_FAILOVER`.  Returns the marks
    drawn.
    """
    if paper is None:
        from .experiments import PAPER_FAILOVER as paper
    heights = {"median": 50.0, "max": 100.0, "mean": 50.0, "over": 0.0}
    drawn = []
    for point in paper:
        label = point["election_timeout"]
        if ranges is not None and label not in ranges:
            continue
        kind = point["statistic"]
        x, y = point["ms"], heights[kind]
        color = (colors or {}).get(label, "black")
        marker, _ = PAPER_MARKS[kind]
        ax.plot([x], [y], marker=marker, markersize=11 if kind == "mean" else 8, color=color,
                markeredgecolor=color if kind == "mean" else "black",  # a tick is all edge
                markeredgewidth=2.2 if kind == "mean" else 0.8,
                linestyle="none", zorder=5, clip_on=False)
        left = kind == "over"  # at the far right of the axis: write to the left
        ax.annotate(f"{label}: {point.get('text', f'{x:g} ms')}", (x, y),
                    xytext=(-6 if left else 5, 4 if y < 100 else -12), ha="right" if left else "left",
                    textcoords="offset points", fontsize=FONT - 1, color=color)
        drawn.append(dict(point))
    kinds = list(dict.fromkeys(p["statistic"] for p in drawn))
    if kinds:
        handles, labels = ax.get_legend_handles_labels()
        for kind in kinds:
            marker, text = PAPER_MARKS[kind]
            handles.append(Line2D([], [], marker=marker, color="black", linestyle="none"))
            labels.append(text)
        old = ax.get_legend()
        title = old.get_title().get_text() if old is not None else None
        # beside the axes: on a failover CDF every corner may hold a curve or a mark
        ax.legend(handles, labels, fontsize=FONT, frameon=False, loc="center left",
                  bbox_to_anchor=(1.01, 0.5), title=title or None, title_fontsize=FONT)
        ax.figure.tight_layout()
    return drawn


def failover_cdf(frame: Any, ax: Axes | None = None, colors: Mapping[str, str] | None = None,
                 paper: bool = True, logx: bool = True) -> Axes:
    """The failover experiment's CDFs (one line per ``election_timeout`` of ``frame``) with the
    paper's numbers for those ranges marked on them (:func:`paper_failover_marks`).

    Only trials that crashed a leader count (a cluster that never had one to crash is no
    failover); one whose cluster then elected nobody counts, below the curve's end.
    """
    note = frame["note"].fillna("").astype(str) if "note" in frame else None
    if note is not None:
        frame = frame[~note.str.startswith("no leader to crash")]
    ranges = list(dict.fromkeys(frame["election_timeout"]))
    if colors is None:
        colors = {name: TERM_COLORS[i % len(TERM_COLORS)] for i, name in enumerate(ranges)}
    ax = cdf(frame, "downtime_ms", by="election_timeout", ax=ax, logx=logx, colors=colors,
             xlabel="time without a leader after the crash (ms)")
    if paper:
        paper_failover_marks(ax, ranges, colors)
    if ax.get_legend() is not None:
        ax.get_legend().set_title("election timeout (ms)")
    return ax


def failover_sensitivity(frame: Any, ax: Any = None,
                         paper: Sequence[Mapping[str, Any]] | None = None) -> Any:
    """How the failover answer depends on the round trip / disk split and the write order.

    ``frame``: :func:`paxoslab.experiments.failover_sensitivity` (or
    ``data/failover/sensitivity.csv``).  Two panels, the candidate writing
    first and sending first; x = round trip (the disk write is the rest of the
    broadcast time), y = for each range the statistic the paper reports for it
    (median, worst trial or mean; log scale), one line per range, the paper's
    value a dashed line of the same colour.  Where the frame has the column
    ``vote_timer_after_write``, its ``false`` rows (a voter's timer restarts as
    the RequestVote arrives) are dotted with open markers.  A median that is
    endless (most trials elected nobody within the cap) is drawn as ▲ at the
    top.  Returns the two axes.
    """
    import numpy as np

    if paper is None:
        from .experiments import PAPER_FAILOVER as paper
    stat_of: dict[str, tuple[str, float]] = {}
    for point in paper:  # the first statistic the paper gives for each range
        column = {"over": "median", "median": "median", "max": "max", "mean": "mean"}[point["statistic"]]
        stat_of.setdefault(point["election_timeout"], (column, point["ms"]))
    if ax is None:
        _, ax = plt.subplots(1, 2, figsize=(10, 4.2), sharey=True)
    ranges = list(dict.fromkeys(frame["election_timeout"]))
    top = 20_000.0
    timers = (True, False) if "vote_timer_after_write" in frame else (True,)
    for panel, writes_first in zip(ax, (True, False), strict=True):
        for i, label in enumerate(ranges):
            column, paper_ms = stat_of.get(label, ("median", float("nan")))
            color = TERM_COLORS[i % len(TERM_COLORS)]
            for vote_timer in timers:
                rows = frame[(frame["candidate_writes_first"] == writes_first)
                             & (frame["election_timeout"] == label)]
                if "vote_timer_after_write" in frame:
                    rows = rows[rows["vote_timer_after_write"] == vote_timer]
                rows = rows.sort_values("rtt_ms")
                x = rows["rtt_ms"].to_numpy(dtype=float)
                y = rows[f"{column}_ms"].to_numpy(dtype=float)
                shown = np.where(np.isfinite(y), y, top)
                style = ({"ls": "-", "mfc": color} if vote_timer
                         else {"ls": ":", "mfc": "white"})
                panel.plot(x, shown, marker="o", color=color, lw=1.6,
                           label=f"{label}: {column}" if vote_timer else None, **style)
                endless = ~np.isfinite(y)
                if endless.any():
                    panel.plot(x[endless], shown[endless], marker="^", markersize=10, color=color,
                               linestyle="none", mfc=style["mfc"])
            if paper_ms == paper_ms:
                panel.axhline(paper_ms, color=color, lw=1, ls="--")
        panel.set_yscale("log")
        panel.set_ylim(10, top * 1.5)
        panel.set_xlabel("network round trip (ms); the disk write is the rest of 15 ms")
        panel.set_title("candidate writes, then sends" if writes_first
                        else "candidate sends, its write overlaps", fontsize=FONT + 1)
        panel.grid(color="#eeeeee")
    ax[0].set_ylabel("time without a leader (ms)")
    handles, labels = ax[0].get_legend_handles_labels()
    handles += [Line2D([], [], color="gray", ls="--"),
                Line2D([], [], marker="^", color="gray", linestyle="none")]
    labels += ["the paper's value", "no leader in most trials"]
    if len(timers) == 2:
        handles += [Line2D([], [], color="gray", marker="o"),
                    Line2D([], [], color="gray", marker="o", ls=":", mfc="white")]
        labels += ["voter's timer from when its vote leaves (default)",
                   "voter's timer from the RequestVote's arrival"]
    ax[0].figure.legend(handles, labels, fontsize=FONT, frameon=False, loc="lower center", ncol=3)
    ax[0].figure.tight_layout(rect=(0, 0.14, 1, 1))
    return ax
