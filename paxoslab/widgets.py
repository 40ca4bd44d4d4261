"""Interactive explorers for the lessons (ipywidgets): controls -> scenario -> run -> plot.

An :class:`Explorer` binds each control (a slider, a dropdown...) to one field
of a scenario, named by a path such as ``"events[1].at"`` or
``"network.rules[0].delay"``.  Moving a control copies the base scenario, sets
the field, re-runs it and redraws the diagram with the outcome printed below.
Nothing here decides an outcome: every redraw is a fresh simulation.

The diagram is rendered to a PNG held by an ``Image`` widget and the outcome
text by an ``HTML`` widget, so a redraw only updates widget state and never
writes cell output — the same in JupyterLab, under nbconvert and under nbval.
"""

from __future__ import annotations

import copy
import html
import io
from collections.abc import Callable, Mapping
from typing import Any

import ipywidgets as widgets
import matplotlib.pyplot as plt

from .plots import sequence_diagram
from .runner import Result, run_scenario
from .scenario import ScenarioError, load, set_path


def render_png(drawn: Any) -> bytes:
    """PNG bytes of the figure behind ``drawn`` (a Figure or Axes; None: the current
    figure); closes it."""
    figure = getattr(drawn, "figure", drawn) if drawn is not None else plt.gcf()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    plt.close(figure)
    return buffer.getvalue()


class Explorer:
    """Controls bound to scenario fields, a diagram and the run's outcome."""

    def __init__(
        self,
        scenario: Mapping[str, Any] | str,
        controls: Mapping[str, tuple[str, widgets.ValueWidget]],
        report: Callable[[Result], str] | None = None,
        draw: Callable[[Result], Any] | None = None,
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
        self.draw = draw or (lambda result: sequence_diagram(result))
        self.image = widgets.Image(format="png", layout={"max_width": "100%"})
        self.text = widgets.HTML()
        self.result: Result | None = None
        self.error: str | None = None
        self.widget = widgets.VBox([*self.controls.values(), self.image, self.text])
        self.run()

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
        """Re-run the scenario and redraw; returns the result (None if invalid)."""
        try:
            self.result, self.error = run_scenario(self.scenario()), None
        except ScenarioError as exc:
            self.result, self.error = None, str(exc)
        if self.result is None:
            self.text.value = f"<pre>cannot run: {html.escape(self.error)}</pre>"
            return None
        self.image.value = render_png(self.draw(self.result))
        self.text.value = f"<pre>{html.escape(self.report(self.result))}</pre>"
        return self.result

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
        from IPython.display import display

        display(self.widget)


def explorer(
    scenario: Mapping[str, Any] | str,
    controls: Mapping[str, tuple[str, widgets.ValueWidget]],
    report: Callable[[Result], str] | None = None,
    draw: Callable[[Result], Any] | None = None,
) -> Explorer:
    """Build an :class:`Explorer`; display it as the last expression of a cell."""
    return Explorer(scenario, controls, report=report, draw=draw)
