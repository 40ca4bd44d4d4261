"""Interactive explorers for the lessons (ipywidgets): controls -> scenario -> run -> plot.

An :class:`Explorer` binds each control (a slider, a dropdown...) to one field
of a scenario, named by a path such as ``"events[1].at"`` or
``"network.rules[0].delay"``.  Moving a control copies the base scenario, sets
the field, re-runs it and redraws the diagram with the outcome printed below.
Nothing here decides an outcome: every redraw is a simulation of the current settings
(the last runs are kept, so that moving a slider back to a value shows its run again
without redoing it — the same scenario always gives the same run).  While a run takes
time the status line says "running…"; then it names the run ("run 7") and echoes the
settings, so a new setting that leads to the same outcome still visibly changes the
widget.  Pictures are rendered at most :data:`SHOWN_WIDTH` pixels wide and shown at
their own size, never stretched.

The diagram is rendered to a PNG held by an ``Image`` widget and the outcome
text by an ``HTML`` widget, so a redraw only updates widget state and never
writes cell output — the same in JupyterLab, under nbconvert and under nbval.
The diagram keeps one time axis for all runs (it only grows if a run is
longer) and its legend sits beside it, so what moves is the run, not the frame.  If
a run fails (a bad value, a student's handler raising), the error is one line
in the widget and the last good diagram is shown struck through as *stale*.

:func:`player` replays a finished run: a Play button and a time slider, the
diagram up to time t with the messages in flight highlighted, and each node's
state at t (the protocol's ``state_changes`` hook, read once; stepping never
re-runs the simulation).  Its slider counts steps from 1, as its clock does (a search's
counterexample: from 0, the start, to its last step); a panel (e.g. the log grid) and the
state table sit side by side below the diagram.

:func:`search_explorer` searches a scenario chosen from a menu, with a bug chosen from its
protocol's, in a background thread (a progress bar, and a Stop button that ends the search
with what it saw so far), then shows the verdict, ``explain()``'s steps and a player on the
counterexample.
"""

from __future__ import annotations

import bisect
import copy
import html
import io
import json
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import matplotlib.pyplot as plt

from .plots import NOTE, sequence_diagram
from .report import cluster_of, state_changes
from .runner import Result, run_scenario
from .scenario import load, set_path
from .wording import show

#: Widest picture a widget shows (pixels): about a notebook's width on a laptop.  Pictures are
#: rendered at most this wide and shown at their own size, never stretched.
SHOWN_WIDTH = 960
#: Tallest picture an explorer shows (pixels), so that its controls, picture and outcome fit
#: one laptop screen.
SHOWN_HEIGHT = 540
#: Resolution of widget pictures (dots per inch) when the figure is narrow enough.
DPI = 90
#: A player's panel (beside the state table, below the diagram) is at most this big.
PANEL_WIDTH, PANEL_HEIGHT = 560, 330


def render_png(drawn: Any, max_width: int = SHOWN_WIDTH, max_height: int | None = None) -> bytes:
    """PNG bytes of the figure behind ``drawn`` (a Figure or Axes; None: the current
    figure), at most ``max_width`` (and ``max_height``) pixels; closes it."""
    figure = getattr(drawn, "figure", drawn) if drawn is not None else plt.gcf()
    width, height = figure.get_size_inches()
    dpi = min(DPI, max_width / width, (max_height or math.inf) / height)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, pil_kwargs={"compress_level": 1})  # fast to encode
    plt.close(figure)
    return buffer.getvalue()


class FrameCache:
    """Renders a sequence diagram's PNG drawing only what changes between an explorer's runs.

    An explorer's diagrams share their frame: the axes, ticks, lanes and title; and most
    runs share their legend.  Drawing those takes about half the time of a diagram (tick
    labels and legend text are glyphs to render).  So the frame is drawn once and kept as
    pixels, and so is each legend (beside the axes, where nothing else is drawn); a run's
    diagram starts from a copy of them, and only its arrows, marks and labels are drawn on
    top.  A run whose frame (a longer time axis) or legend differs gets its own, drawn
    once (a few of each are kept).
    """

    def __init__(self, size: int = 8) -> None:
        self.size = size
        self.frames: OrderedDict[tuple, Any] = OrderedDict()
        self.legends: OrderedDict[tuple, tuple[int, int, Any]] = OrderedDict()

    @staticmethod
    def changing(ax: Any) -> list[Any]:
        """The artists a run draws: everything on the axes but its lanes, and the note above
        it on the right (how many labels were left out)."""
        artists = [*ax.patches, *ax.texts, *ax.collections,
                   *(line for line in ax.lines if line.get_gid() != "lane")]
        notes = [a for a in ax.get_children() if a.get_gid() == NOTE]
        return sorted(artists, key=lambda a: a.get_zorder()) + notes

    @staticmethod
    def key(ax: Any, dpi: float) -> tuple:
        """What the frame's pixels depend on."""
        return (tuple(ax.figure.get_size_inches()), dpi, ax.get_xlim(), ax.get_ylim(),
                tuple(ax.get_position().bounds), ax.get_title(loc="left"),
                tuple(t.get_text() for t in ax.get_yticklabels()))

    @staticmethod
    def legend_key(ax: Any, dpi: float) -> tuple:
        """What the legend's pixels depend on."""
        legend = ax.get_legend()
        entries = tuple(
            (text.get_text(), type(handle).__name__, str(getattr(handle, "get_color", str)()))
            for text, handle in zip(legend.get_texts(), legend.legend_handles, strict=False))
        return (tuple(ax.figure.get_size_inches()), dpi, tuple(ax.get_position().bounds), entries)

    @staticmethod
    def _keep(store: OrderedDict, key: tuple, value: Any, size: int) -> None:
        store[key] = value
        if len(store) > size:
            store.popitem(last=False)

    def render(self, ax: Any, max_width: int = SHOWN_WIDTH, max_height: int = SHOWN_HEIGHT
               ) -> bytes:
        """PNG bytes of the figure behind ``ax`` (as :func:`render_png`, which it closes)."""
        import numpy as np
        from PIL import Image

        figure = ax.figure
        dpi = min(DPI, max_width / figure.get_figwidth(), max_height / figure.get_figheight())
        figure.set_dpi(dpi)
        canvas = figure.canvas
        legend = ax.get_legend()
        artists = self.changing(ax)
        key = self.key(ax, dpi)
        frame = self.frames.get(key)
        if frame is None:
            hidden = [a for a in [*artists, legend] if a is not None and a.get_visible()]
            for artist in hidden:
                artist.set_visible(False)
            canvas.draw()
            frame = np.asarray(canvas.buffer_rgba()).copy()
            for artist in hidden:
                artist.set_visible(True)
            self._keep(self.frames, key, frame, self.size)
        else:
            self.frames.move_to_end(key)
        renderer = canvas.get_renderer()
        pixels = np.asarray(renderer.buffer_rgba())
        pixels[...] = frame
        if legend is not None and legend.get_visible():
            legend_key = self.legend_key(ax, dpi)
            kept = self.legends.get(legend_key)
            if kept is None:
                legend.draw(renderer)
                box = legend.get_window_extent(renderer)
                height = pixels.shape[0]
                top = max(int(math.floor(height - box.y1)) - 2, 0)
                left = max(int(math.floor(box.x0)) - 2, 0)
                bottom = min(int(math.ceil(height - box.y0)) + 2, height)
                right = min(int(math.ceil(box.x1)) + 2, pixels.shape[1])
                kept = (top, left, pixels[top:bottom, left:right].copy())
                self._keep(self.legends, legend_key, kept, self.size)
            else:
                self.legends.move_to_end(legend_key)
                top, left, patch = kept
                pixels[top:top + patch.shape[0], left:left + patch.shape[1]] = patch
        for artist in artists:
            if artist.get_visible():
                artist.draw(renderer)
        image = Image.frombuffer("RGBA", (pixels.shape[1], pixels.shape[0]),
                                 bytes(renderer.buffer_rgba()), "raw", "RGBA", 0, 1)
        buffer = io.BytesIO()
        image.save(buffer, format="png", compress_level=1)
        plt.close(figure)
        return buffer.getvalue()


def veiled(pixels: Any) -> Any:
    """``pixels`` (RGB) behind the player's veil over what has not happened yet."""
    return (pixels * 0.07 + 255 * 0.93).astype(pixels.dtype)


def png_size(png: bytes) -> tuple[int, int]:
    """Width and height in pixels of a PNG, from its header."""
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def show_png(image: widgets.Image, png: bytes) -> None:
    """Put ``png`` in ``image`` at its own size (scaled down, never up, to fit the page)."""
    width, _ = png_size(png)
    image.layout.width = f"{width}px"
    image.value = png


def picture(**layout: Any) -> widgets.Image:
    """An Image widget that shows its PNG at the PNG's own width: a flex box stretches
    its children to its width unless told not to (810 px pictures were shown 964 px wide)."""
    return widgets.Image(format="png", layout={"max_width": "100%", "height": "auto",
                                               "align_self": "flex-start",
                                               "object_fit": "contain", **layout})


def ms(t: float) -> str:
    """A time for reading: at most two decimals (``4.11034`` -> ``4.11``, ``5.0`` -> ``5``).

    >>> ms(4.11034), ms(5.0), ms(1052.4769), ms(0.004)
    ('4.11', '5', '1052.48', '0')
    """
    text = f"{t:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _text_bundle(widget: widgets.Widget, text: str) -> None:
    """Display ``widget`` with ``text`` as its plain-text form (what a notebook shows before
    the widget runs, instead of the widget's ``VBox(children=...`` repr)."""
    from IPython.display import display

    bundle = widget._repr_mimebundle_() or {}
    bundle = dict(bundle[0] if isinstance(bundle, tuple) else bundle)
    bundle["text/plain"] = text
    display(bundle, raw=True)


class Explorer:
    """Controls bound to scenario fields, a diagram and the run's outcome."""

    #: how many recent runs are kept (their result, picture and report)
    CACHE = 64

    def __init__(
        self,
        scenario: Mapping[str, Any] | str,
        controls: Mapping[str, tuple[str, widgets.ValueWidget]],
        report: Callable[[Result], str] | None = None,
        draw: Callable[[Result], Any] | None = None,
        xlim: tuple[float, float] | None = None,
    ) -> None:
        self.base = load(scenario)
        self.controls = {label: widget for label, (_, widget) in controls.items()}
        self.paths = {label: path for label, (path, _) in controls.items()}
        for label, widget in self.controls.items():
            widget.description = label
            widget.style = {"description_width": "initial"}
            if not widget.layout.width:  # room for a long label and a usable track
                widget.layout.width = "560px"
            widget.observe(self._changed, names="value")
        self.report = report or (lambda result: result.describe())
        #: the time axis every diagram shares: ``xlim``, or set by the first run and grown
        #: (never shrunk) when a run is longer
        self.frame: tuple[float, float] | None = xlim
        self._fixed = xlim is not None
        self.draw = draw or self._diagram
        self.image = picture()
        self.text = widgets.HTML().add_class("paxoslab-outcome")
        self.status = widgets.HTML().add_class("paxoslab-status")
        self.result: Result | None = None
        self.error: str | None = None
        #: runs shown so far; the status line names the run and its settings, so that a new
        #: setting with the same outcome still visibly changes something
        self.runs = 0
        #: (scenario, frame) -> (result, picture, report) of recent runs: a run is a pure
        #: function of its scenario, so dragging a slider back to a value redraws nothing
        self._cache: OrderedDict[str, tuple[Result, bytes, str]] = OrderedDict()
        self._frames = FrameCache()  # the default diagram's frame and legend, drawn once
        self.widget = widgets.VBox([*self.controls.values(), self.status, self.image, self.text])
        self.run()

    def _diagram(self, result: Result) -> Any:
        end = max((e.time for e in result.trace.events), default=1.0)
        right = max(10.0, math.ceil(end * 1.25 / 5) * 5)
        if not self._fixed and (self.frame is None or right > self.frame[1]):
            self.frame = (-0.3, right)
        return sequence_diagram(result, xlim=self.frame)

    def scenario(self) -> dict[str, Any]:
        """The base scenario with every control's current value filled in.

        The base's ``expect`` is left out: it describes the base settings, not
        the ones a student is trying.
        """
        data = copy.deepcopy(self.base)
        data.pop("expect", None)
        for label, widget in self.controls.items():
            set_path(data, self.paths[label], widget.value)
        return data

    def run(self) -> Result | None:
        """Re-run the scenario and redraw; returns the result (None if it failed).

        Any error — a bad value (``ScenarioError``) or an exception from inside
        the run, such as a student's handler — becomes one line above the
        diagram, and the last good diagram is shown marked *stale*.
        """
        settings = self.settings()
        self.status.value = f"<pre style='color:#555555'>running… ({html.escape(settings)})</pre>"
        try:
            scenario = self.scenario()
            key = json.dumps([scenario, self.frame], sort_keys=True, default=str)
            if key in self._cache:
                self._cache.move_to_end(key)
                result, png, report = self._cache[key]
            else:
                result = run_scenario(scenario)
                drawn = self.draw(result)
                png = (self._frames.render(drawn) if self.draw == self._diagram
                       else render_png(drawn, max_height=SHOWN_HEIGHT))
                report = self.report(result)
                # the frame may have grown for this run: file it under the frame it was drawn in
                key = json.dumps([scenario, self.frame], sort_keys=True, default=str)
                self._cache[key] = (result, png, report)
                if len(self._cache) > self.CACHE:
                    self._cache.popitem(last=False)
        except Exception as exc:  # shown to the student, not raised into the log console
            plt.close("all")
            self.error = f"{type(exc).__name__}: {exc}".splitlines()[0]
            self.status.value = (f"<pre style='color:#b00020'>cannot run: "
                                 f"{html.escape(self.error)}</pre>")
            self.text.value = "<pre>(stale: the diagram shows the last run that worked)</pre>"
            if self.result is not None:
                show_png(self.image, render_png(stale(self.draw(self.result)),
                                                max_height=SHOWN_HEIGHT))
            self.result = None
            return None
        self.runs += 1
        self.result, self.error = result, None
        self.status.value = (f"<pre style='color:#555555'>run {self.runs}: "
                             f"{html.escape(settings)}</pre>")
        show_png(self.image, png)
        self.text.value = f"<pre>{html.escape(report)}</pre>"
        return result

    def settings(self) -> str:
        """The controls' current values, as the status line echoes them."""
        def value(widget: widgets.ValueWidget) -> str:
            v = widget.value
            label = getattr(widget, "label", None)  # a dropdown's option as it reads
            if label is not None and not isinstance(v, str | int | float):
                return str(label)
            return ms(v) if isinstance(v, float) else str(v)

        return ", ".join(f"{label} = {value(widget)}" for label, widget in self.controls.items())

    def set(self, **values: Any) -> Result | None:
        """Move controls by label (``set(**{"S5 starts at": 4})``) and run once."""
        for label, value in values.items():
            widget = self.controls[label]
            widget.unobserve(self._changed, names="value")
            try:
                widget.value = value
            finally:
                widget.observe(self._changed, names="value")
        return self.run()

    def _changed(self, change: dict[str, Any]) -> None:
        self.run()

    def _ipython_display_(self) -> None:
        _text_bundle(self.widget, f"(an explorer of {self.base.get('name', 'a scenario')}: "
                                  "run the notebook to use its controls)")


def explorer(
    scenario: Mapping[str, Any] | str,
    controls: Mapping[str, tuple[str, widgets.ValueWidget]],
    report: Callable[[Result], str] | None = None,
    draw: Callable[[Result], Any] | None = None,
    xlim: tuple[float, float] | None = None,
) -> Explorer:
    """Build an :class:`Explorer`; display it as the last expression of a cell.

    ``xlim`` fixes the diagram's time axis for every run (default: set by the
    first run, grown when a later run is longer).
    """
    return Explorer(scenario, controls, report=report, draw=draw, xlim=xlim)


def stale(drawn: Any) -> Any:
    """Mark a figure (or the axes in it) as not showing the current settings."""
    figure = getattr(drawn, "figure", drawn) if drawn is not None else plt.gcf()
    figure.patch.set_facecolor("#eeeeee")
    figure.text(0.42, 0.5, "STALE: the last run that worked,\nnot the current settings",
                ha="center", va="center", fontsize=20, color="#b00020", alpha=0.8,
                fontweight="bold", bbox={"fc": "white", "ec": "#b00020", "alpha": 0.85})
    return figure


class Player:
    """Replay a finished run: Play button + time slider, diagram up to t, state at t.

    The steps are the distinct times at which something happened.  The whole
    run is drawn once; a step is that picture with everything after t veiled,
    a "now" line at t and the messages in flight at t highlighted from their
    sender to where they are — pixel work on the stored picture, not a new
    matplotlib drawing.  A label shows whole or not at all: whole once the time
    of its anchor (a broadcast's send, a mark, a point on its arrow) has come,
    even where it reads on past the now line (which it interrupts), else veiled
    whole.  The node states come from the protocol's
    ``state_changes`` hook, computed once.  So stepping never re-runs the
    simulation, and a step costs a few milliseconds (``benchmarks/player_roundtrip.py``).

    ``panel`` adds a second picture drawn for each step's time, e.g.
    ``panel=pl.plots.log_grid`` (called as ``panel(result, at=t)``); each step's
    panel is drawn once, the first time it is shown.

    A run of a ``schedule`` (a search's counterexample: step k happens at time k) is
    replayed step by step: the slider runs from 0 (the start) to the last step, so its
    value is the number of the step in ``explain()``, and the clock reads "after step k",
    not milliseconds.
    """

    def __init__(self, result: Result, fields: Sequence[str] | None = None,
                 interval_ms: int = 900, until: float | None = None,
                 panel: Callable[..., Any] | None = None) -> None:
        self.result = result
        self.panel = panel
        self._panels: dict[int, bytes] = {}
        self.nodes = cluster_of(result)
        self.lane = {n: i for i, n in enumerate(self.nodes)}
        self.fields = fields
        events = [e for e in result.trace.events if until is None or e.time <= until]
        schedule = result.scenario.get("schedule") if isinstance(result.scenario, Mapping) else None
        #: a schedule's run: one step per time unit, numbered from 1 (0 is the start)
        self.stepped = schedule is not None
        if self.stepped:
            last = len(schedule) if until is None else min(len(schedule), int(until))
            self.times = [float(k) for k in range(last + 1)]
        else:
            self.times = sorted({0.0, *(e.time for e in events)})
        #: the slider's first value: a schedule's step 0 (the start); else 1, as the clock counts
        self.first = 0 if self.stepped else 1
        self.messages = result.trace.message_rows()
        self.changes = state_changes(result)
        self._change_times = [c[0] for c in self.changes]
        self._base, self._to_pixels, self._box, self.labels = self._draw_once(until)
        # the slider counts steps from 1, as the clock does ("step 4 of 41" at 4); a schedule's
        # from 0, so that its value is the step's number
        first, last = self.first, self.first + len(self.times) - 1
        self.slider = widgets.IntSlider(value=first, min=first, max=last,
                                        description="step", continuous_update=True,
                                        layout={"width": "480px"})
        self.play = widgets.Play(value=first, min=first, max=last, interval=interval_ms,
                                 description="Play")
        widgets.jslink((self.play, "value"), (self.slider, "value"))
        self.clock = widgets.HTML()
        self.image = picture()
        self.table = widgets.HTML(layout={"margin": "0 0 0 12px"})
        self.panel_image = picture()
        self.slider.observe(lambda change: self.show(change["new"] - self.first), names="value")
        # the diagram on top, the panel and the state table side by side below it: all three
        # on one screen
        below = widgets.HBox([self.panel_image, self.table] if panel else [self.table],
                             layout={"align_items": "flex-start", "flex_flow": "row wrap"})
        self.widget = widgets.VBox([widgets.HBox([self.play, self.slider, self.clock]),
                                    self.image, below])
        self.show(0)

    def _draw_once(self, until: float | None
                   ) -> tuple[Any, Callable, tuple[int, int, int, int], list[tuple[int, ...]]]:
        """The whole run's diagram as pixels, the data -> pixel mapping, the plot box and each
        label's box in pixels with the time of its anchor, ``(x0, y0, x1, y1, when)``."""
        import numpy as np

        ax = sequence_diagram(self.result, until=until,
                              title=f"{self.result.scenario.get('name', '')}  (replay)")
        figure = ax.figure
        figure.set_dpi(min(DPI, SHOWN_WIDTH / figure.get_figwidth()))  # shown at its own width
        figure.canvas.draw()
        pixels = np.asarray(figure.canvas.buffer_rgba())[..., :3].copy()
        height = pixels.shape[0]
        transform = ax.transData.frozen()

        def to_pixels(t: float, y: float) -> tuple[float, float]:
            x, up = transform.transform((t, y))
            return float(x), float(height - up)

        renderer = figure.canvas.get_renderer()
        labels = []
        for text in ax.texts:  # a label (its ground reaches a point beyond it; labels are 3 px apart)
            if not (text.get_visible() and text.get_text().strip()) or not hasattr(text, "xy"):
                continue
            box = text.get_window_extent(renderer)
            labels.append((max(int(box.x0) - 2, 0), max(int(height - box.y1) - 1, 0),
                           int(math.ceil(box.x1)) + 2, int(math.ceil(height - box.y0)) + 1,
                           float(text.xy[0])))
        x0, y0, x1, y1 = ax.bbox.extents
        plt.close(figure)
        return pixels, to_pixels, (int(x0), int(height - y1), int(x1), int(height - y0)), labels

    def state_at(self, t: float) -> dict[str, dict[str, Any]]:
        """Each node's state after everything that happened up to and including ``t``."""
        states: dict[str, dict[str, Any]] = {n: {} for n in self.nodes}
        for _, _, node, state in self.changes[:bisect.bisect_right(self._change_times, t)]:
            states[node] = state
        return states

    def in_flight(self, t: float) -> list[dict[str, Any]]:
        """The messages sent by ``t`` and neither delivered nor lost by ``t``."""
        return [m for m in self.messages
                if m["sent_at"] <= t and not m["dropped"]
                and (m["delivered_at"] is None or m["delivered_at"] > t)]

    def picture(self, step: int) -> bytes:
        """PNG of the diagram at step ``step``."""
        from PIL import Image, ImageDraw

        t = self.times[step]
        left, top, right, bottom = self._box
        now_x = int(round(self._to_pixels(t, 0)[0]))
        frame = self._base.copy()
        start = max(now_x + 2, left)
        veil = frame[top:bottom, start:right]
        veil[:] = veiled(veil)  # what has not happened yet
        # a label shows whole or not at all: whole once its anchor's time has come (a label
        # starting at its send reads on into the future), else veiled to its left edge too
        gaps = []
        for x0, y0, x1, y1, when in self.labels:
            if when <= t and x1 > start:
                frame[y0:y1, x0:x1] = self._base[y0:y1, x0:x1]
                if x0 <= now_x <= x1:
                    gaps.append((y0, y1))
            elif when > t and x0 < start:
                part = frame[y0:y1, x0:start]
                part[:] = veiled(self._base[y0:y1, x0:start])
        image = Image.fromarray(frame)
        overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
        pen = ImageDraw.Draw(overlay)
        for m in self.in_flight(t):
            y0, y1 = self.lane[m["src"]], self.lane[m["dst"]]
            arrive = m["delivered_at"] if m["delivered_at"] is not None else t + 1
            frac = (t - m["sent_at"]) / (arrive - m["sent_at"]) if arrive > m["sent_at"] else 1
            start = self._to_pixels(m["sent_at"], y0)
            here = self._to_pixels(t, y0 + (y1 - y0) * frac)
            pen.line([start, here], fill=(255, 127, 14, 150), width=7)
            pen.ellipse([here[0] - 5, here[1] - 5, here[0] + 5, here[1] + 5],
                        fill=(255, 127, 14, 230))
        # the now line, broken where a label it would cross is shown
        y = top
        for y0, y1 in sorted(gaps):
            if y0 > y:
                pen.line([(now_x, y), (now_x, y0)], fill=(40, 40, 40, 255), width=2)
            y = max(y, y1)
        if y < bottom:
            pen.line([(now_x, y), (now_x, bottom)], fill=(40, 40, 40, 255), width=2)
        self.clock_box = self._clock_text(pen, self.moment(t), now_x, t)
        image = Image.alpha_composite(image.convert("RGBA"), overlay).convert("RGB")
        buffer = io.BytesIO()
        image.save(buffer, format="png", compress_level=1)
        return buffer.getvalue()

    def _clock_text(self, pen: Any, text: str, now_x: int, t: float) -> tuple[int, int, int, int]:
        """Write ``text`` beside the now line, at the top of the plot, on white, where it
        covers no label shown at ``t`` (it covered "Y chosen (4.5)" in case 3's replay):
        right of the line, else left of it, else lower down.  Returns its box."""
        left, top, right, bottom = self._box
        x0, y0, x1, y1 = pen.textbbox((0, 0), text)
        width, height = x1 - x0 + 4, y1 - y0 + 4
        shown = [box[:4] for box in self.labels if box[4] <= t]
        spots = [(x, top + 2 + k * (height + 2)) for k in range(0, 6)
                 for x in (now_x + 3, now_x - 3 - width)]
        box = (now_x + 3, top + 2, now_x + 3 + width, top + 2 + height)
        for x, y in spots:
            here = (x, y, x + width, y + height)
            if left <= here[0] and here[2] <= right and here[3] <= bottom and not any(
                    here[0] < b[2] and b[0] < here[2] and here[1] < b[3] and b[1] < here[3]
                    for b in shown):
                box = here
                break
        pen.rectangle(box, fill=(255, 255, 255, 230))
        pen.text((box[0] + 2 - x0, box[1] + 2 - y0), text, fill=(40, 40, 40, 255))
        return box

    def moment(self, t: float) -> str:
        """What the now line is labelled: ``now t=4.11``, or for a schedule ``after step 3``."""
        if not self.stepped:
            return f"now t={ms(t)}"
        return f"after step {int(t)}" if t else "the start"

    def show(self, step: int) -> None:
        """Show step ``step`` (what the slider does: its value minus :attr:`first`)."""
        t = self.times[step]
        if self.stepped:
            last = len(self.times) - 1
            self.clock.value = (f"<b>after step {step}</b> of {last}" if step
                                else f"<b>the start</b>, before step 1 of {last}")
        else:
            self.clock.value = f"<b>t = {ms(t)} ms</b> (step {step + 1} of {len(self.times)})"
        show_png(self.image, self.picture(step))
        if self.panel is not None:
            if step not in self._panels:
                self._panels[step] = render_png(self.panel(self.result, at=t),
                                                max_width=PANEL_WIDTH, max_height=PANEL_HEIGHT)
            show_png(self.panel_image, self._panels[step])
        self.table.value = self.state_html(t)

    def state_html(self, t: float) -> str:
        """Each node's state at ``t`` as an HTML table, and the messages in flight."""
        states = self.state_at(t)
        # the columns of every step, the first included (before anything happened)
        fields = list(self.fields or next((list(c[3]) for c in self.changes if c[3]), []))
        fields = [f for f in fields if f != "down"]
        cell = "style='padding:2px 12px;text-align:left'"
        head = "".join(f"<th {cell}>{html.escape(f)}</th>" for f in fields)
        rows = []
        for node in self.nodes:
            state = states[node]
            cells = (f"<td {cell} colspan='{len(fields)}'>down (crashed)</td>"
                     if state.get("down") else
                     "".join(f"<td {cell}>{html.escape(show(state.get(f)))}</td>" for f in fields))
            rows.append(f"<tr><th {cell}>{node}</th>{cells}</tr>")
        flying = ", ".join(f"{m['src']}→{m['dst']} {(m['payload'] or {}).get('label', m['msg_type'])}"
                           for m in self.in_flight(t)) or "none"
        when = (f"step {int(t)}" if self.stepped else f"t={ms(t)}")
        return (f"<table><tr><th {cell}>{when}</th>{head}</tr>{''.join(rows)}</table>"
                f"<div>in flight (orange): {html.escape(flying)}</div>")

    def _ipython_display_(self) -> None:
        _text_bundle(self.widget, f"(a replay of {self.result.scenario.get('name', 'a run')}: "
                                  "run the notebook to step through it)")


def player(result: Result, **options: Any) -> Player:
    """A :class:`Player` over ``result``; display it as the last expression of a cell.

    ``options``: ``fields`` (which state fields to show, default all the
    protocol declares), ``interval_ms`` (Play speed), ``until`` (stop there),
    ``panel`` (a second picture per step, e.g. ``pl.plots.log_grid``).
    """
    return Player(result, **options)


# ---- the search explorer -----------------------------------------------------------------------
#: the scenarios a search explorer offers: file name patterns in ``data/scenarios``
SEARCH_SCENARIOS = ("search-*.json", "multi-paxos-search-*.json", "multi-paxos-figure-8*.json")
#: the bug menu's entry for the protocol as written (every rule on)
NO_BUG = "none"
#: the ``max_ballots`` a search explorer starts from, per protocol: one ballot per proposer
#: (Basic Paxos); up to three terms per server, as two elections and a third need (Multi-Paxos)
BALLOTS = {"basic-paxos": 1, "multi-paxos": 3}
#: the strategy menu's entries
STRATEGY_LABELS = {"bfs": "bfs: breadth-first (a shortest counterexample)",
                   "random": "random: seeded random walks"}
#: seconds between two updates of a running search's progress bar
PROGRESS_EVERY = 0.25


def scenario_folder() -> Path | None:
    """``data/scenarios`` of the course: beside the package (a clone, an editable install),
    or under the working directory or its parent (a notebook in ``notebooks/``)."""
    here = Path(__file__).resolve().parent.parent
    for root in (here, Path.cwd(), Path.cwd().parent):
        folder = root / "data" / "scenarios"
        if folder.is_dir():
            return folder
    return None


def verdict(result: Any) -> str:
    """A search's outcome in one line, saying what it proves and what it does not.

    >>> from types import SimpleNamespace as S
    >>> print(verdict(S(stopped="stopped", states=4601, seconds=0.52, property=None,
    ...                 strategy="bfs")))  # doctest: +ELLIPSIS
    stopped after 0.5 s: no violation among the 4,601 states seen; a stopped search proves nothing ...
    """
    seen = f"{result.states:,} states seen"
    if result.stopped == "violation":
        v = result.violation
        steps = len(result.counterexample.scenario["schedule"])
        how = ("a shortest counterexample (breadth-first)" if result.strategy == "bfs"
               else "found by a random walk: not necessarily the shortest")
        detail = f": {v.detail}" if v is not None else ""
        return f"{result.property} violated after {steps} steps{detail} — {how}"
    if result.property is not None:  # a goal never reached in a complete search
        return f"not ok: every interleaving was searched and '{result.property}' is never reached"
    if result.stopped == "complete":
        return (f"no violation: every interleaving within the bounds was searched "
                f"({result.states:,} states)")
    if result.stopped == "stopped":
        return (f"stopped after {result.seconds:.1f} s: no violation among the {seen}; "
                "a stopped search proves nothing about the rest")
    if result.stopped == "interrupted":
        return f"interrupted: no violation among the {seen}; nothing is proved"
    why = {"max_seconds": "time budget reached", "max_states": "state budget reached",
           "max_memory": "memory bound reached", "max_depth": "depth bound reached"}
    if result.strategy == "random":
        return (f"{why.get(result.stopped, result.stopped)}: no violation in {result.states:,} "
                "random steps; random walks prove nothing about the steps not taken")
    return (f"{why.get(result.stopped, result.stopped)}: no violation among the {seen}; "
            "not every interleaving was searched, so this is not a proof")


class SearchExplorer:
    #: how many ended searches are kept (their result and player)
    KEEP = 8

    """Pick a scenario and a bug, search it in the background, replay the counterexample.

    The search runs in a thread, so the notebook stays usable while it runs (on
    Binder's one CPU too: the thread gives the kernel its turn every few
    milliseconds); a progress bar shows the time spent out of ``max_seconds``, the
    states kept and the depth, and Stop ends it within one world's expansion (BFS)
    or one walk (random), with what it saw so far (``stopped == "stopped"``: it
    proves nothing beyond that).  When the search ends the widget shows a verdict,
    ``explain()``'s numbered steps and a :class:`Player` on the counterexample, with
    the log grid beside the state table for Multi-Paxos.  The same choices always
    give the same result (BFS is deterministic; random walks follow ``seed``); only
    the seconds differ.  So the last searches that ended (at a violation or complete)
    are kept, and running one of them again shows it at once, saying so.

    A bad choice (a scenario not offered, a bug the protocol does not have, a
    strategy or a budget out of range, Run while a search runs) is one line in the
    widget, never an exception.
    """

    def __init__(self, scenario: str | None = None, bug: str | None = None, strategy: str = "bfs",
                 max_ballots: int | None = None, seed: int = 0, max_seconds: int = 120,
                 folder: str | Path | None = None) -> None:
        from .protocols import PROTOCOLS
        from .search import STRATEGIES

        self.protocols = PROTOCOLS
        where = Path(folder) if folder is not None else scenario_folder()
        if where is None or not where.is_dir():
            raise FileNotFoundError(f"no folder of scenarios at {where}: pass folder='…/data/scenarios'")
        names = sorted({p.stem for pattern in SEARCH_SCENARIOS for p in where.glob(pattern)})
        if not names:
            raise FileNotFoundError(f"no search scenario ({', '.join(SEARCH_SCENARIOS)}) in {where}")
        #: scenario name -> its data as the file has it
        self.scenarios = {name: load(where / f"{name}.json") for name in names}
        wide = {"description_width": "initial"}
        self.scenario_menu = widgets.Dropdown(options=names, description="scenario", style=wide,
                                              layout={"width": "470px"})
        self.bug_menu = widgets.Dropdown(description="bug", style=wide, layout={"width": "390px"})
        self.strategy_menu = widgets.Dropdown(options=[(STRATEGY_LABELS.get(s, s), s) for s in STRATEGIES],
                                              description="strategy", style=wide,
                                              layout={"width": "390px"})
        self.ballots = widgets.BoundedIntText(value=1, min=1, max=9, description="max_ballots",
                                              style=wide, layout={"width": "140px"})
        self.seed = widgets.IntText(value=0, description="seed", style=wide, layout={"width": "120px"})
        self.seconds = widgets.BoundedIntText(value=120, min=1, max=3600, description="at most (s)",
                                              style=wide, layout={"width": "150px"})
        self.run_button = widgets.Button(description="Run", button_style="primary", icon="play")
        self.stop_button = widgets.Button(description="Stop", button_style="warning", icon="stop",
                                          disabled=True)
        self.bar = widgets.FloatProgress(value=0, min=0, max=1, layout={"width": "240px"})
        self.progress = widgets.HTML()
        self.about = widgets.HTML(layout={"max_width": "960px"})
        self.status = widgets.HTML().add_class("paxoslab-status")
        self.steps = widgets.HTML(layout={"max_height": "320px", "overflow": "auto",
                                          "max_width": "960px"})
        self.replay = widgets.VBox()
        #: the last search's result (None while one runs, or if it failed), its player, an error
        self.result: Any = None
        self.player: Player | None = None
        self.error: str | None = None
        self.thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._shown_at = 0.0
        #: (scenario, choices) -> (result, player, steps) of searches that ended on their own
        self._kept: OrderedDict[str, tuple[Any, Player | None, str]] = OrderedDict()
        self.scenario_menu.observe(self._scenario_changed, names="value")
        self.strategy_menu.observe(lambda change: setattr(self.seed, "disabled", change["new"] != "random"),
                                   names="value")
        self.seed.disabled = True  # only random walks have a seed
        self.run_button.on_click(lambda _: self.run())
        self.stop_button.on_click(lambda _: self.stop())
        self.widget = widgets.VBox([
            widgets.HBox([self.scenario_menu, self.bug_menu]),
            widgets.HBox([self.strategy_menu, self.ballots, self.seed, self.seconds]),
            self.about,
            widgets.HBox([self.run_button, self.stop_button, self.bar, self.progress],
                         layout={"align_items": "center"}),
            self.status, self.steps, self.replay])
        self._scenario_changed({"new": names[0]})
        self.set(scenario=scenario, bug=bug, strategy=strategy, max_ballots=max_ballots, seed=seed,
                 max_seconds=max_seconds)

    # ---- choices ----------------------------------------------------------------------------
    def _scenario_changed(self, change: dict[str, Any]) -> None:
        """A new scenario: its protocol's bugs in the bug menu (its own bug chosen), its
        protocol's max_ballots, and its description."""
        data = self.scenarios[change["new"]]
        bugs = list(self.protocols[data["protocol"]].core.bugs)
        own = (data.get("options") or {}).get("bugs") or []
        self.bug_menu.options = [("none (every rule on)", NO_BUG), *((b, b) for b in bugs)]
        self.bug_menu.value = own[0] if own and own[0] in bugs else NO_BUG
        self.ballots.value = BALLOTS.get(data["protocol"], 1)
        self.about.value = (f"<div style='color:#555555;font-size:90%;line-height:1.35'>{data['protocol']}: "
                            f"{html.escape(data.get('description', ''))}</div>")

    def set(self, scenario: str | None = None, bug: str | None = None, strategy: str | None = None,
            max_ballots: int | None = None, seed: int | None = None,
            max_seconds: int | None = None) -> bool:
        """Choose (``None`` leaves a choice as it is; ``bug="none"``: every rule on);
        False, with one line in the widget, if a choice is not possible (the others are
        still made)."""
        problems = []
        if scenario is not None:
            if scenario in self.scenarios:
                self.scenario_menu.value = scenario
            else:
                problems.append(f"no search scenario {scenario!r} (the scenario menu lists the "
                                f"{len(self.scenarios)} there are)")
        if bug is not None:
            offered = [value for _, value in self.bug_menu.options]
            if bug in offered:
                self.bug_menu.value = bug
            else:
                protocol = self.scenarios[self.scenario_menu.value]["protocol"]
                problems.append(f"{protocol} has no bug {bug!r} (choose one of: {', '.join(offered)})")
        for widget, name, value in ((self.strategy_menu, "strategy", strategy),
                                    (self.ballots, "max_ballots", max_ballots),
                                    (self.seed, "seed", seed), (self.seconds, "max_seconds", max_seconds)):
            if value is None:
                continue
            problem = self._check(widget, name, value)
            if problem:
                problems.append(problem)
            else:
                widget.value = value
        if problems:
            self._say("cannot choose: " + "; ".join(problems), error=True)
            return False
        return True

    @staticmethod
    def _check(widget: widgets.ValueWidget, name: str, value: Any) -> str | None:
        """Why ``value`` cannot be ``widget``'s (None if it can)."""
        if name == "strategy":
            options = [option for _, option in widget.options]
            if value not in options:
                return f"strategy must be one of {', '.join(options)}, got {value!r}"
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            return f"{name} must be a whole number, got {value!r}"
        low, high = getattr(widget, "min", None), getattr(widget, "max", None)
        if low is not None and not low <= value <= high:
            return f"{name} must be from {low} to {high}, got {value}"
        return None

    def scenario(self) -> dict[str, Any]:
        """The chosen scenario with the chosen bug switched on (and no other), without its
        ``expect`` (it describes the file's own bug); named after the bug when it is not the
        file's."""
        name = self.scenario_menu.value
        data = copy.deepcopy(self.scenarios[name])
        data.pop("expect", None)
        bug = self.bug_menu.value
        options = dict(data.get("options") or {})
        own = options.get("bugs") or []
        options["bugs"] = [] if bug == NO_BUG else [bug]
        data["options"] = options
        if list(own) != options["bugs"]:
            data["name"] = f"{name} ({'every rule on' if bug == NO_BUG else 'bug ' + bug})"
        return data

    def choices(self) -> dict[str, Any]:
        """The search's arguments, as chosen (``pl.search(explorer.scenario(), **choices())``
        runs the same search).  Random walks also stop after ``RANDOM_STATES`` steps, as
        ``pl.search`` does without a time limit: an outcome that does not depend on the
        machine's speed, unless the time limit comes first."""
        from .search import RANDOM_STATES

        chosen = {"strategy": self.strategy_menu.value, "max_ballots": self.ballots.value,
                  "seed": self.seed.value, "max_seconds": self.seconds.value}
        if chosen["strategy"] == "random":
            chosen["max_states"] = RANDOM_STATES
        return chosen

    # ---- running ----------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def run(self) -> bool:
        """Start the search in a background thread (what Run does); False, with one line in
        the widget, if it cannot start."""
        if self.running:
            self._say("a search is running: press Stop (or wait for it) before starting another",
                      error=True)
            return False
        try:
            data, choices = self.scenario(), self.choices()
        except Exception as exc:  # a scenario that does not load: one line, as for a run
            self._say(f"cannot search: {one_line(exc)}", error=True)
            return False
        key = json.dumps([data, choices], sort_keys=True, default=str)
        if key in self._kept:  # the same choices give the same result: show it again
            self._kept.move_to_end(key)
            self.result, self.player, self.steps.value = self._kept[key]
            self.error, self.bar.max = None, choices["max_seconds"]
            self.replay.children = (self.player.widget,) if self.player is not None else ()
            self._ended(self.result)
            self._say(verdict(self.result) + " (shown again: the same choices give the same result)",
                      error=not self.result.ok)
            return True
        self._stop = threading.Event()
        self.result, self.player, self.error = None, None, None
        self.steps.value, self.replay.children = "", ()
        self.bar.value, self.bar.max, self.bar.bar_style = 0, choices["max_seconds"], "info"
        self.progress.value = "starting…"
        self._say(f"searching {data['name']} ({self._settings(choices)})…")
        self.run_button.disabled, self.stop_button.disabled = True, False
        self._shown_at = 0.0
        self.thread = threading.Thread(target=self._search, args=(data, choices), daemon=True,
                                       name="paxoslab-search")
        self.thread.start()
        return True

    def stop(self) -> None:
        """Ask a running search to stop (what Stop does); it ends within one world's
        expansion or one walk, and the widget says "stopped"."""
        if self.running:
            self._stop.set()
            self.progress.value += " — stopping…"

    def wait(self, timeout: float | None = None) -> Any:
        """Wait for the search (and its replay) to be ready; returns its result (None if it
        failed or is still running after ``timeout`` seconds)."""
        if self.thread is not None:
            self.thread.join(timeout)
        return None if self.running else self.result

    def _watch(self, states: int, depth: int, seconds: float) -> bool:
        """The search's ``should_stop``: shows its progress a few times a second, and says
        whether Stop was pressed."""
        if seconds - self._shown_at >= PROGRESS_EVERY:
            self._shown_at = seconds
            self.bar.value = min(seconds, self.bar.max)
            self.progress.value = self._progress_line(states, depth, seconds)
        return self._stop.is_set()

    def _progress_line(self, states: int, depth: int, seconds: float) -> str:
        return (f"{states:,} states, depth {depth}, {seconds:.1f} s "
                f"(of at most {self.bar.max:g} s)")

    def _ended(self, result: Any) -> None:
        """The progress bar and line of a search that ended."""
        self.bar.value = self.bar.max if result.stopped in ("violation", "complete") \
            else min(result.seconds, self.bar.max)
        self.bar.bar_style = ("danger" if not result.ok and result.stopped != "interrupted"
                              else "success" if result.stopped == "complete" else "warning")
        self.progress.value = self._progress_line(result.states, result.depth, result.seconds)

    def _search(self, data: dict[str, Any], choices: dict[str, Any]) -> None:
        """The thread's work: search, then the verdict, the steps and the replay."""
        from .search import search

        try:
            result = search(data, progress=False, should_stop=self._watch, **choices)
            self.stop_button.disabled = True  # the search is over: drawing cannot be stopped
            self._ended(result)
            self._say(verdict(result) + (" — drawing the counterexample…"
                                         if result.counterexample is not None else ""),
                      error=not result.ok)
            explained = result.explain().splitlines()
            self.steps.value = (f"<pre style='font-size:85%'>"
                                f"{html.escape(chr(10).join(explained[1:]))}</pre>")
            if result.counterexample is not None:
                cx = result.counterexample
                panel = logs_after_step if data["protocol"] == "multi-paxos" else None
                self.player = Player(cx, until=len(cx.scenario["schedule"]), panel=panel)
                self.replay.children = (self.player.widget,)
            self.result = result
            if result.stopped in ("violation", "complete"):
                key = json.dumps([data, choices], sort_keys=True, default=str)
                self._kept[key] = (result, self.player, self.steps.value)
                if len(self._kept) > self.KEEP:
                    self._kept.popitem(last=False)
            self._say(verdict(result), error=not result.ok)
        except Exception as exc:  # shown in the widget, not raised into the log console
            plt.close("all")
            self.error = one_line(exc)
            self.bar.bar_style = "danger"
            self._say(f"cannot search: {self.error}", error=True)
        finally:
            self.run_button.disabled, self.stop_button.disabled = False, True

    def _settings(self, choices: dict[str, Any]) -> str:
        shown = {k: v for k, v in choices.items()
                 if k not in ("seed", "max_states") or choices["strategy"] == "random"}
        shown["bug"] = self.bug_menu.value
        return ", ".join(f"{k} = {v}" for k, v in shown.items())

    def _say(self, text: str, error: bool = False) -> None:
        colour = "#b00020" if error else "#333333"
        self.status.value = f"<pre style='color:{colour};white-space:pre-wrap'>{html.escape(text)}</pre>"

    def _ipython_display_(self) -> None:
        _text_bundle(self.widget, "(a search explorer: run the notebook, pick a scenario and a bug, "
                                  "and press Run)")


def logs_after_step(result: Result, at: float) -> Any:
    """A counterexample's log grid after step ``at`` (the player's panel for Multi-Paxos)."""
    from .plots import log_grid

    return log_grid(result, at=at, title=f"the logs after step {int(at)}" if at else "the logs at the start")


def one_line(exc: BaseException) -> str:
    """``Type: message``, first line only."""
    return f"{type(exc).__name__}: {exc}".splitlines()[0]


def search_explorer(scenario: str | None = None, bug: str | None = None, strategy: str = "bfs",
                    max_ballots: int | None = None, seed: int = 0, max_seconds: int = 120,
                    folder: str | Path | None = None) -> SearchExplorer:
    """A :class:`SearchExplorer` over the course's search scenarios; display it as the last
    expression of a cell, pick, and press Run.

    ``scenario``: a file name without ``.json`` among those :data:`SEARCH_SCENARIOS` matches
    in ``folder`` (default: the course's ``data/scenarios``); ``bug``: one of its protocol's
    bugs, or ``"none"`` (every rule on), default the scenario's own; ``max_ballots``
    default: :data:`BALLOTS` for its protocol.  A bad choice is one line in the widget.
    """
    return SearchExplorer(scenario, bug, strategy, max_ballots, seed, max_seconds, folder)
