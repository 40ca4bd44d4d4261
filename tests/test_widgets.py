"""The scenario explorer: controls bound to scenario fields, re-run on change."""

from __future__ import annotations

import ipywidgets as widgets
import matplotlib.pyplot as plt
import pytest

import paxoslab as pl
from paxoslab.widgets import Explorer, explorer, player, render_png

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
    assert "network.rules[0].delay" in case2.error and "\n" not in case2.error
    case2.set(**{"S1->S3 accept delay": 1})
    assert case2.error is None and decided(case2) == "X"


def test_widget_holds_the_controls_the_diagram_and_the_outcome(case2):
    assert isinstance(case2.widget, widgets.VBox)
    children = case2.widget.children
    assert children[:2] == tuple(case2.controls.values())
    assert case2.image in children and case2.text in children and case2.status in children
    assert case2.controls["S5 starts at"].description == "S5 starts at"


def test_redraw_updates_the_diagram_and_the_outcome_text(case2):
    first_png, first_text = case2.image.value, case2.text.value
    assert first_png[:8] == PNG
    assert "decided    X" in first_text
    case2.set(**{"S1->S3 accept delay": 6})
    assert case2.image.value[:8] == PNG and case2.image.value != first_png
    assert "decided    Y" in case2.text.value


def test_invalid_value_is_one_line_in_the_widget_and_the_diagram_is_marked_stale(case2):
    case2.set(**{"S5 starts at": 2})
    good = case2.image.value
    case2.controls["S1->S3 accept delay"].value = -4
    assert "cannot run: ScenarioError" in case2.status.value
    assert "network.rules[0].delay" in case2.status.value
    assert "stale" in case2.text.value
    assert case2.image.value[:8] == PNG and case2.image.value != good
    case2.controls["S1->S3 accept delay"].value = 1
    assert "cannot run" not in case2.status.value and case2.error is None and case2.result is not None
    assert "S1-&gt;S3 accept delay = 1, S5 starts at = 2" in case2.status.value


def test_an_exception_inside_the_run_is_shown_not_raised(case2, monkeypatch):
    def broken(result):
        raise ZeroDivisionError("division by zero in my handler")

    monkeypatch.setattr(case2, "report", broken)
    assert case2.set(**{"S5 starts at": 4}) is None
    assert case2.error == "ZeroDivisionError: division by zero in my handler"
    assert plt.get_fignums() == []


def test_the_time_axis_and_the_plot_stay_put_across_runs(case2):
    """The frame only grows (for a longer run), never shrinks or jumps back; the legend sits
    beside the plot and lists what each run shows (a lost message only where one is lost)."""
    case2.set(**{"S1->S3 accept delay": 6})  # the longest run: S1 retries with 5.1
    frames, legends = [], []
    for delay in (1, 6, 2):
        case2.set(**{"S1->S3 accept delay": delay})
        ax = case2._diagram(case2.result)
        frames.append((ax.get_xlim(), ax.get_position().bounds))
        legends.append([t.get_text() for t in ax.get_legend().get_texts()])
        plt.close(ax.figure)
    assert frames[0] == frames[1] == frames[2]
    assert ("message lost" in legends[1]) == any(m["dropped"] for m in case2.result.trace.message_rows())


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


# ---- the replay player ------------------------------------------------------------------------
@pytest.fixture
def replay(scenario):
    import paxoslab as pl

    return player(pl.run_scenario(scenario("basic-paxos-case-2")))


def test_player_steps_through_every_moment_of_the_run(replay):
    assert replay.times[0] == 0 and replay.times[-1] == replay.result.end_time
    assert replay.slider.max == replay.play.max == len(replay.times)
    assert replay.slider.min == replay.play.min == 1
    assert replay.image.value[:8] == PNG


def test_player_shows_each_acceptors_state_at_t(replay):
    at_5 = replay.state_at(5)
    assert at_5["S3"] == {"promised": "4.5", "accepted": "(3.1, X)", "learned": None,
                          "down": False}
    assert at_5["S1"]["accepted"] is None
    assert replay.state_at(12)["S1"]["learned"] == "X"
    replay.slider.value = replay.times.index(5.0) + 1
    assert "<b>t = 5 ms</b>" in replay.clock.value
    assert "(3.1, X)" in replay.table.value


def test_player_highlights_the_messages_in_flight(replay):
    flying = replay.in_flight(5.0)
    # S5's Accept 4.5 X is on its way to S3, S4, S5; S1's slow accepts to S1 and S2 too
    assert {(m["src"], m["dst"], m["msg_type"]) for m in flying} >= {
        ("S5", "S3", "Accept"), ("S1", "S1", "Accept"), ("S1", "S2", "Accept")}
    assert all(m["sent_at"] <= 5 < (m["delivered_at"] or 99) for m in flying)


def test_player_steps_without_rerunning_or_redrawing(replay, monkeypatch):
    monkeypatch.setattr("paxoslab.widgets.run_scenario", lambda *a, **k: pytest.fail("re-ran"))
    monkeypatch.setattr("paxoslab.widgets.sequence_diagram", lambda *a, **k: pytest.fail("redrew"))
    replay.slider.value = 4
    first = bytes(replay.image.value)
    replay.slider.value = 2
    assert bytes(replay.image.value) != first
    replay.slider.value = 4
    assert bytes(replay.image.value) == first
    assert plt.get_fignums() == []


def test_player_panel_draws_the_log_grid_at_each_step_once(scenarios_dir):
    story = pl.run_scenario(scenarios_dir / "multi-paxos-partition.json")
    calls = []

    def panel(result, at):
        calls.append(at)
        return pl.plots.log_grid(result, at=at)

    replay = pl.widgets.player(story, panel=panel)
    step = replay.times.index(410.0)
    replay.show(step)
    replay.show(step)
    assert calls == [0.0, 410.0]  # the first step at construction, then 410 once
    assert bytes(replay.panel_image.value).startswith(b"\x89PNG")
    below = replay.widget.children[2]
    assert list(below.children) == [replay.panel_image, replay.table]  # side by side


def test_multi_paxos_state_at_t_follows_the_partition_story(scenarios_dir):
    story = pl.run_scenario(scenarios_dir / "multi-paxos-partition.json")
    replay = pl.widgets.player(story)
    before, after = replay.state_at(405), replay.state_at(450)
    # each leader's first entry is its no-op: S1's log is no-op, set x 1, set x 2
    assert (before["S1"]["role"], before["S1"]["term"], before["S1"]["log"]) == ("leader", 1, "3 (term 1)")
    assert before["S3"]["role"] == "leader" and before["S3"]["commit"] == 5
    assert after["S1"] == after["S4"] == {"role": "follower", "term": 2, "log": "5 (term 2)",
                                          "commit": 5, "applied": 5, "down": False}


# ---- in the browser (issue 16 §5) -------------------------------------------------------------
def test_explorer_pictures_are_shown_at_their_own_width_never_stretched(case2):
    from paxoslab.widgets import SHOWN_WIDTH, png_size

    width, _ = png_size(case2.image.value)
    assert width <= SHOWN_WIDTH
    assert case2.image.layout.width == f"{width}px"  # not the VBox's width (810 px shown at 964)
    assert case2.image.layout.align_self == "flex-start" and case2.image.layout.max_width == "100%"


def test_explorer_says_running_then_names_the_run_and_its_settings(case2):
    seen = []
    case2.status.observe(lambda change: seen.append(change["new"]), names="value")
    case2.set(**{"S1->S3 accept delay": 2})
    assert "running…" in seen[0] and "S5 starts at = 3" in seen[0]
    assert case2.status.value == seen[-1]
    assert "run 2: S1-&gt;S3 accept delay = 2, S5 starts at = 3" in case2.status.value
    before = case2.status.value
    case2.set(**{"S1->S3 accept delay": 3})  # whatever the outcome, the status line changes
    assert case2.status.value != before
    assert "run 3: S1-&gt;S3 accept delay = 3" in case2.status.value


def test_explorer_keeps_recent_runs_and_shows_them_again_without_rerunning(case2, monkeypatch):
    case2.set(**{"S1->S3 accept delay": 6})  # the longest run: the time axis grows once
    case2.set(**{"S1->S3 accept delay": 1})
    first = (case2.image.value, case2.text.value)
    case2.set(**{"S1->S3 accept delay": 6})
    monkeypatch.setattr("paxoslab.widgets.run_scenario", lambda *a, **k: pytest.fail("re-ran"))
    case2.set(**{"S1->S3 accept delay": 1})
    assert (case2.image.value, case2.text.value) == first
    assert "run 5:" in case2.status.value


def test_player_slider_and_clock_agree_and_times_are_rounded(scenario):
    import re

    data = scenario("basic-paxos-case-2")
    data["network"] = {"delay": {"uniform": [1, 3]}}
    data.pop("expect", None)
    replay = player(pl.run_scenario(data, seed=3))
    assert any(t != round(t, 2) for t in replay.times)  # times such as 4.11034
    for step in (1, 4, len(replay.times)):
        replay.slider.value = step
        assert f"(step {step} of {len(replay.times)})" in replay.clock.value
        assert not re.search(r"\d\.\d{3}", replay.clock.value + replay.table.value)


def test_player_state_table_has_its_column_headers_at_t0(replay):
    assert replay.slider.value == 1
    for field in ("promised", "accepted", "learned"):
        assert f">{field}</th>" in replay.table.value


def test_player_fits_one_screen(scenarios_dir):
    """The diagram on top, the log grid and the state table side by side below it."""
    from paxoslab.widgets import png_size

    story = pl.run_scenario(scenarios_dir / "multi-paxos-partition.json")
    replay = pl.widgets.player(story, panel=pl.plots.log_grid)
    diagram, panel = png_size(replay.image.value), png_size(replay.panel_image.value)
    assert diagram[0] <= 960 and panel[0] <= 560
    assert 40 + diagram[1] + panel[1] <= 900  # the table (5 rows) is shorter than the panel


def test_a_widget_reads_as_text_before_it_runs(case2, replay, monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda *a, **k: shown.append(a[0]))
    case2._ipython_display_()
    replay._ipython_display_()
    assert shown[0]["text/plain"].startswith("(an explorer of basic-paxos-case-2")
    assert shown[1]["text/plain"].startswith("(a replay of basic-paxos-case-2")
    assert all("application/vnd.jupyter.widget-view+json" in bundle for bundle in shown)


def test_a_tall_explorer_picture_fits_one_screen_with_its_controls(scenarios_dir):
    """05's explorer (roles above logs, 11 x 6.8 in) was 789 px tall: its outcome fell below the fold."""
    from paxoslab.widgets import SHOWN_HEIGHT, png_size

    def draw(result):
        fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 6.8))
        pl.plots.role_timeline(result, ax=top)
        pl.plots.log_grid(result, ax=bottom)
        return fig

    ex = Explorer(scenarios_dir / "multi-paxos-partition.json",
                  {"heal at": ("events[7].at", widgets.IntSlider(value=400, min=290, max=800))}, draw=draw)
    width, height = png_size(ex.image.value)
    assert height <= SHOWN_HEIGHT and width <= 960


def test_frame_cache_draws_what_savefig_draws(scenario):
    """The kept frame and legend, with a run's arrows, marks and labels drawn on them, is the
    picture savefig makes (up to the antialiasing of a few arrow pixels)."""
    import io

    import numpy as np
    from PIL import Image

    from paxoslab.plots import sequence_diagram
    from paxoslab.widgets import FrameCache

    def pixels(png):
        return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)

    cache = FrameCache()
    for delay in (1, 6, 1):  # a second legend, then the first frame and legend again
        data = scenario("basic-paxos-case-2")
        data.pop("expect")
        data["network"]["rules"][0]["delay"] = delay
        result = pl.run_scenario(data)
        kept = pixels(cache.render(sequence_diagram(result, xlim=(-0.3, 30))))
        drawn = pixels(render_png(sequence_diagram(result, xlim=(-0.3, 30))))
        assert kept.shape == drawn.shape
        assert (np.abs(kept - drawn).sum(axis=2) > 30).mean() < 0.01
    assert len(cache.frames) == 1 and len(cache.legends) == 2
    assert plt.get_fignums() == []


def straddling_labels(replay, steps) -> list[tuple[float, float, float, float]]:
    """For each label the now line runs through, at each of ``steps``: how much of it, away
    from the line and the messages in flight, looks as drawn and how much as veiled."""
    import io

    import numpy as np
    from PIL import Image

    from paxoslab.widgets import veiled

    base = replay._base.astype(int)
    found = []
    for step in steps:
        t = replay.times[step]
        shown = np.asarray(Image.open(io.BytesIO(replay.picture(step))).convert("RGB")).astype(int)
        now_x = int(round(replay._to_pixels(t, 0)[0]))
        for x0, y0, x1, y1, _ in replay.labels:
            columns = [c for c in range(x0, x1) if abs(c - now_x) > 4]
            if not x0 + 4 < now_x < x1 - 4 or not columns:
                continue
            region = shown[y0:y1, columns]
            orange = (np.abs(region - (255, 127, 14)).sum(axis=2) < 200)  # a message in flight
            drawn = (np.abs(region - base[y0:y1, columns]).sum(axis=2) < 30) | orange
            hidden = (np.abs(region - veiled(replay._base[y0:y1, columns]).astype(int)).sum(axis=2)
                      < 30) | orange
            found.append((t, x0, drawn.mean(), hidden.mean()))
    return found


def test_the_players_veil_shows_a_label_whole_or_not_at_all(scenarios_dir):
    """The veil over what has not happened yet cut labels in half ("AE t1 #3" at t=160 in 05's
    replay): a label the now line runs through is shown whole or veiled whole."""
    story = pl.run_scenario(scenarios_dir / "multi-paxos-partition.json")
    replay = pl.widgets.player(story)
    found = straddling_labels(replay, range(0, len(replay.times), 2))
    assert len(found) > 5
    for t, x0, drawn, hidden in found:
        assert drawn > 0.97 or hidden > 0.97, (t, x0, drawn, hidden)


def test_the_players_clock_covers_no_label_shown(scenario):
    """"now t=6" was written over "Y chosen (4.5)" in case 3's replay."""
    replay = player(pl.run_scenario(scenario("basic-paxos-case-3")))
    for step, t in enumerate(replay.times):
        replay.picture(step)
        x0, y0, x1, y1 = replay.clock_box
        for a0, b0, a1, b1, when in replay.labels:
            if when <= t:
                assert not (x0 < a1 and a0 < x1 and y0 < b1 and b0 < y1), (t, replay.clock_box)
