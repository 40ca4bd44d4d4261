"""The scenario explorer: controls bound to scenario fields, re-run on change."""

from __future__ import annotations

import ipywidgets as widgets
import matplotlib.pyplot as plt
import pytest

from paxoslab.widgets import Explorer, explorer, render_png

pytestmark = pytest.mark.usefixtures("close_figures")

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def case2(scenarios_dir):
    return Explorer(scenarios_dir / "basic-paxos-case-2.json", {
        "S1->S3 accept delay": ("network.rules[0].delay", widgets.FloatText(value=1)),
        "S5 starts at": ("events[1].at", widgets.FloatSlider(value=3, min=0, max=10)),
    })


def decided(ex: Explorer):
    return ex.result.summary()["decided"]


def test_explorer_runs_once_on_creation(case2):
    assert decided(case2) == "X"
    assert case2.error is None


def test_set_reruns_and_the_outcome_changes(case2):
    result = case2.set(**{"S1->S3 accept delay": 6})
    assert result is case2.result
    assert decided(case2) == "Y"
    assert case2.controls["S1->S3 accept delay"].value == 6
    case2.set(**{"S1->S3 accept delay": 1})
    assert decided(case2) == "X"


def test_moving_s5_earlier_changes_the_outcome(case2):
    case2.set(**{"S5 starts at": 1})
    assert decided(case2) == "Y"


def test_set_reruns_once_for_several_controls(case2, monkeypatch):
    runs = []
    original = case2.run
    monkeypatch.setattr(case2, "run", lambda: runs.append(1) or original())
    case2.set(**{"S1->S3 accept delay": 6, "S5 starts at": 2})
    assert len(runs) == 1


def test_moving_a_widget_reruns(case2):
    case2.controls["S1->S3 accept delay"].value = 6
    assert decided(case2) == "Y"


def test_scenario_fills_in_controls_without_touching_the_base(case2):
    case2.set(**{"S5 starts at": 7})
    data = case2.scenario()
    assert data["events"][1]["at"] == 7
    assert case2.base["events"][1]["at"] == 3


def test_invalid_value_reports_the_error_instead_of_raising(case2):
    assert case2.set(**{"S1->S3 accept delay": -1}) is None
    assert case2.result is None
    assert "network.rules[0].delay" in case2.error
    case2.set(**{"S1->S3 accept delay": 1})
    assert case2.error is None and decided(case2) == "X"


def test_widget_holds_the_controls_the_diagram_and_the_outcome(case2):
    assert isinstance(case2.widget, widgets.VBox)
    children = case2.widget.children
    assert children[:2] == tuple(case2.controls.values())
    assert case2.image in children and case2.text in children
    assert case2.controls["S5 starts at"].description == "S5 starts at"


def test_redraw_updates_the_diagram_and_the_outcome_text(case2):
    first_png, first_text = case2.image.value, case2.text.value
    assert first_png[:8] == PNG
    assert "decided    X" in first_text
    case2.set(**{"S1->S3 accept delay": 6})
    assert case2.image.value[:8] == PNG and case2.image.value != first_png
    assert "decided    Y" in case2.text.value


def test_invalid_value_is_shown_in_the_outcome_text(case2):
    case2.set(**{"S5 starts at": 2})
    case2.controls["S1->S3 accept delay"].value = -4
    assert case2.text.value.startswith("<pre>cannot run:")
    assert "network.rules[0].delay" in case2.text.value


def test_reruns_leave_no_figures_open(case2):
    for delay in (2, 3, 4):
        case2.set(**{"S1->S3 accept delay": delay})
    assert plt.get_fignums() == []


def test_render_png_accepts_axes_or_figure_and_closes_it():
    fig, ax = plt.subplots()
    assert render_png(ax)[:8] == PNG
    assert plt.get_fignums() == []
    fig = plt.figure()
    assert render_png(fig)[:8] == PNG
    assert plt.get_fignums() == []


def test_explorer_factory_with_custom_report_and_draw(scenario):
    reports, draws = [], []

    def draw(result):
        draws.append(result)
        return plt.subplots()[1]

    ex = explorer(scenario("basic-paxos-case-3"),
                  {"delay": ("network.rules[0].delay", widgets.IntSlider(value=5, max=10))},
                  report=lambda r: reports.append(r.summary()["decided"]) or "custom <text>",
                  draw=draw)
    assert isinstance(ex, Explorer)
    ex.set(delay=1)
    assert reports == ["Y", "X"]
    assert len(draws) == 2
    assert ex.text.value == "<pre>custom &lt;text&gt;</pre>"


def test_a_draw_function_that_returns_nothing_shows_the_current_figure(scenarios_dir):
    def draw(result):
        plt.figure()
        plt.plot([0, 1], [0, 1])

    ex = Explorer(scenarios_dir / "basic-paxos-case-2.json",
                  {"S5 starts at": ("events[1].at", widgets.IntSlider(value=3))}, draw=draw)
    assert ex.image.value[:8] == PNG
