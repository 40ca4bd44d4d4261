"""The search explorer (issue 17 §3): pick a scenario and a bug, search it in a background
thread with a progress bar and a Stop button, then replay the counterexample.

The widget's callbacks are driven directly (``set``, ``run``, ``stop``, or a button's
``click()``) and the test waits on the search's thread.  The searches are the small ones
(under a second); the long one (``search-basic-paxos`` breadth-first, ~20 s) is only ever
stopped.  The last test runs the widget in a real kernel held to one CPU, as on Binder.
"""

from __future__ import annotations

import contextlib
import html
import re
import sys
import time
from types import SimpleNamespace

import matplotlib.pyplot as plt
import pytest
from test_browser import chromium, jupyterlab  # noqa: F401  (fixtures: JupyterLab on a copy of the course)

import paxoslab as pl
from paxoslab.protocols import PROTOCOLS
from paxoslab.search import RANDOM_STATES
from paxoslab.widgets import NO_BUG, SearchExplorer, search_explorer, verdict

pytestmark = pytest.mark.usefixtures("close_figures")

PNG = b"\x89PNG\r\n\x1a\n"
#: a search that runs far longer than any test waits: it is only ever stopped
LONG = "search-basic-paxos"


@pytest.fixture
def explorer(scenarios_dir):
    ex = search_explorer(folder=scenarios_dir)
    yield ex
    ex.stop()
    ex.wait(30)


def said(ex: SearchExplorer) -> str:
    """The status line as it reads."""
    return html.unescape(re.sub(r"<[^>]+>", "", ex.status.value))


def bugs(ex: SearchExplorer) -> list[str]:
    return [value for _, value in ex.bug_menu.options]


def until_progress(ex: SearchExplorer, seconds: float = 20) -> str:
    """Wait for the progress line to count states; returns it."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if re.search(r"[\d,]+ states, depth \d+", ex.progress.value):
            return ex.progress.value
        time.sleep(0.05)
    pytest.fail(f"no progress shown in {seconds} s: {ex.progress.value!r}")


# ---- choosing ---------------------------------------------------------------------------------
def test_the_menu_offers_the_search_scenarios_and_their_protocols_bugs(explorer):
    names = list(explorer.scenario_menu.options)
    assert {"search-basic-paxos", "search-accept-below-promise", "multi-paxos-search-vote-twice-in-term",
            "multi-paxos-search-vote-forgotten-on-crash", "multi-paxos-figure-8",
            "multi-paxos-figure-8-safe"} <= set(names)
    assert not any(name.startswith(("basic-paxos-case", "homework-")) for name in names)
    explorer.set(scenario="search-accept-below-promise")
    assert bugs(explorer) == [NO_BUG, *PROTOCOLS["basic-paxos"].core.bugs]
    assert explorer.bug_menu.value == "accept-below-promise"  # the scenario's own bug
    assert explorer.ballots.value == 1
    assert "acceptor accepts S1's lower ballot" in html.unescape(explorer.about.value)
    explorer.set(scenario="multi-paxos-figure-8-safe")
    assert bugs(explorer) == [NO_BUG, *PROTOCOLS["multi-paxos"].core.bugs]
    assert explorer.bug_menu.value == NO_BUG and explorer.ballots.value == 3


def test_the_chosen_bug_is_the_only_one_switched_on(explorer):
    explorer.set(scenario="search-accept-below-promise", bug="none")
    data = explorer.scenario()
    assert data["options"]["bugs"] == [] and "expect" not in data
    assert data["name"] == "search-accept-below-promise (every rule on)"
    explorer.set(bug="promise-omits-accepted")
    assert explorer.scenario()["options"]["bugs"] == ["promise-omits-accepted"]
    assert explorer.scenario()["name"] == "search-accept-below-promise (bug promise-omits-accepted)"
    explorer.set(bug="accept-below-promise")
    assert explorer.scenario()["name"] == "search-accept-below-promise"
    assert explorer.scenario()["options"]["learn_retry"] is None  # the file's other options stay


def test_the_seed_is_for_random_walks_only(explorer):
    assert explorer.seed.disabled
    explorer.set(strategy="random")
    assert not explorer.seed.disabled


def test_bad_choices_are_one_line_in_the_widget_and_change_nothing(explorer):
    explorer.set(scenario="search-accept-below-promise")
    before = (explorer.scenario(), explorer.choices())
    menu = f"the scenario menu lists the {len(explorer.scenarios)} there are"
    for choice, words in (({"scenario": "search-nothing"}, f"no search scenario 'search-nothing' ({menu})"),
                          ({"bug": "vote-twice-in-term"}, "basic-paxos has no bug 'vote-twice-in-term'"),
                          ({"strategy": "dfs"}, "strategy must be one of bfs, random, got 'dfs'"),
                          ({"max_ballots": 0}, "max_ballots must be from 1 to 9, got 0"),
                          ({"max_seconds": 0}, "max_seconds must be from 1 to 3600, got 0"),
                          ({"seed": 1.5}, "seed must be a whole number, got 1.5")):
        assert explorer.set(**choice) is False
        assert said(explorer).startswith(f"cannot choose: {words}"), choice
        assert "\n" not in said(explorer)
        assert (explorer.scenario(), explorer.choices()) == before
    assert explorer.thread is None  # nothing ran


def test_a_bad_choice_when_building_is_one_line_too(scenarios_dir):
    ex = search_explorer("search-nothing", bug="accept-below-promise", folder=scenarios_dir)
    assert said(ex).startswith("cannot choose: no search scenario 'search-nothing'")
    assert "\n" not in said(ex)


def test_no_scenarios_is_an_error_naming_the_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="no search scenario"):
        search_explorer(folder=tmp_path)


# ---- running ----------------------------------------------------------------------------------
def test_a_multi_paxos_search_ends_in_a_counterexample_replayed_with_the_log_grid(explorer):
    assert explorer.set(scenario="multi-paxos-search-vote-twice-in-term")
    explorer.run_button.click()  # Run
    result = explorer.wait(60)
    assert result is not None and explorer.error is None
    assert (result.property, result.stopped, result.strategy) == ("election-safety", "violation", "bfs")
    steps = len(result.counterexample.scenario["schedule"])
    assert said(explorer) == (f"election-safety violated after {steps} steps: {result.violation.detail}"
                              " — a shortest counterexample (breadth-first)")
    assert explorer.bar.bar_style == "danger"
    assert re.fullmatch(rf"{result.states:,} states, depth {result.depth}, \d+\.\d s \(of at most 120 s\)",
                        explorer.progress.value)
    text = html.unescape(explorer.steps.value)
    assert re.search(r"^  1\. scenario: timeout S[12]$", text, re.M)
    assert f"violation of election-safety after {steps} steps:" in text
    player = explorer.player
    assert explorer.replay.children == (player.widget,)
    assert (player.slider.min, player.slider.max, player.slider.value) == (0, steps, 0)
    assert "the start" in player.clock.value
    assert bytes(player.panel_image.value).startswith(PNG)  # the log grid beside the table
    player.slider.value = 3
    assert f"<b>after step 3</b> of {steps}" in player.clock.value and ">step 3</th>" in player.table.value
    # the first election takes three steps: a timeout, a vote, the candidate counting it
    assert [s["role"] for s in player.state_at(3).values()].count("leader") == 1
    assert not explorer.run_button.disabled and explorer.stop_button.disabled
    assert plt.get_fignums() == []


def test_the_widget_shows_what_pl_search_returns(explorer):
    explorer.set(scenario="multi-paxos-search-vote-forgotten-on-crash")
    explorer.run()
    shown = explorer.wait(60)
    direct = pl.search(explorer.scenario(), progress=False, **explorer.choices())
    assert shown.summary() | {"seconds": 0} == direct.summary() | {"seconds": 0}


def test_random_walks_follow_the_seed_and_basic_paxos_has_no_log_grid(explorer):
    explorer.set(scenario="search-promise-omits-accepted", strategy="random", seed=0)
    # walks end after as many steps as pl.search's default, whatever the machine's speed
    assert explorer.choices()["max_states"] == RANDOM_STATES
    schedules = []
    for _ in range(2):
        explorer._kept.clear()  # search again, not show the search kept
        explorer.run()
        result = explorer.wait(60)
        schedules.append(result.counterexample.scenario["schedule"])
        assert result.property == "agreement"
        assert said(explorer).endswith("— found by a random walk: not necessarily the shortest")
        assert explorer.player.panel is None
    assert schedules[0] == schedules[1]


def test_the_same_choices_again_show_the_search_kept_without_searching(explorer, monkeypatch):
    explorer.set(scenario="multi-paxos-search-vote-twice-in-term")
    explorer.run()
    first = explorer.wait(60)
    player = explorer.player
    explorer.set(scenario="search-promise-omits-accepted", strategy="random")
    explorer.run()
    assert explorer.wait(60).property == "agreement" and explorer.player is not player

    def searched(*args, **kwargs):
        raise RuntimeError("searched again")

    monkeypatch.setattr(sys.modules["paxoslab.search"], "search", searched)
    explorer.set(scenario="multi-paxos-search-vote-twice-in-term", strategy="bfs")
    assert explorer.run()
    assert explorer.wait(1) is first and explorer.player is player
    assert explorer.replay.children == (player.widget,)
    assert said(explorer).endswith("(shown again: the same choices give the same result)")
    assert "1. scenario: timeout S" in explorer.steps.value and explorer.bar.bar_style == "danger"
    explorer.set(bug="none")  # other choices: searched afresh
    explorer.run()
    assert explorer.wait(10) is None and said(explorer) == "cannot search: RuntimeError: searched again"


def test_a_complete_search_says_so(explorer):
    explorer.set(scenario="multi-paxos-search-vote-twice-in-term", bug="none", max_ballots=1)
    explorer.run()
    result = explorer.wait(60)
    assert result.ok and result.complete
    assert said(explorer) == (f"no violation: every interleaving within the bounds was searched "
                              f"({result.states:,} states)")
    assert explorer.bar.bar_style == "success" and explorer.replay.children == ()
    assert "no violation found" in explorer.steps.value


def test_stop_ends_a_long_search_promptly_and_says_stopped(explorer):
    explorer.set(scenario=LONG)
    assert explorer.run()
    assert explorer.stop_button.disabled is False and explorer.run_button.disabled is True
    until_progress(explorer)
    pressed = time.perf_counter()
    explorer.stop_button.click()
    result = explorer.wait(10)
    assert time.perf_counter() - pressed < 2.0
    assert result is not None and result.stopped == "stopped" and not result.complete
    assert said(explorer).startswith(f"stopped after {result.seconds:.1f} s: no violation among the "
                                     f"{result.states:,} states seen; a stopped search proves nothing")
    assert explorer.bar.bar_style == "warning"
    assert not explorer.run_button.disabled and explorer.stop_button.disabled


def test_run_while_a_search_runs_is_refused_in_one_line(explorer):
    explorer.set(scenario=LONG)
    explorer.run()
    try:
        assert explorer.run() is False
        assert said(explorer) == "a search is running: press Stop (or wait for it) before starting another"
    finally:
        explorer.stop()
        assert explorer.wait(10).stopped == "stopped"


def test_a_search_that_fails_is_one_line_and_the_widget_can_run_again(explorer, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("a handler broke\nwith a second line")

    monkeypatch.setattr(sys.modules["paxoslab.search"], "search", broken)
    explorer.set(scenario="multi-paxos-search-vote-twice-in-term")
    explorer.run()
    assert explorer.wait(10) is None
    assert said(explorer) == "cannot search: RuntimeError: a handler broke"
    assert explorer.error == "RuntimeError: a handler broke"
    assert not explorer.run_button.disabled
    monkeypatch.undo()
    explorer.run()
    assert explorer.wait(60).property == "election-safety"


def test_a_search_explorer_reads_as_text_before_it_runs(explorer, monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda *a, **k: shown.append(a[0]))
    explorer._ipython_display_()
    assert shown[0]["text/plain"].startswith("(a search explorer")
    assert "application/vnd.jupyter.widget-view+json" in shown[0]


@pytest.mark.parametrize("stopped, strategy, property, words", [
    ("complete", "bfs", None, "no violation: every interleaving within the bounds was searched (10 states)"),
    ("complete", "bfs", "a value can be chosen",
     "not ok: every interleaving was searched and 'a value can be chosen' is never reached"),
    ("max_seconds", "bfs", None, "time budget reached: no violation among the 10 states seen; not every "
                                 "interleaving was searched, so this is not a proof"),
    ("max_states", "random", None, "state budget reached: no violation in 10 random steps; random walks "
                                   "prove nothing about the steps not taken"),
    ("interrupted", "bfs", None, "interrupted: no violation among the 10 states seen; nothing is proved"),
])
def test_each_verdict_says_what_is_proved(stopped, strategy, property, words):
    result = SimpleNamespace(stopped=stopped, strategy=strategy, property=property, states=10, seconds=1.0)
    assert verdict(result) == words


# ---- search(should_stop=...) ------------------------------------------------------------------
def test_should_stop_sees_the_progress_and_ends_the_search(scenarios_dir):
    seen = []

    def enough(states, depth, seconds):
        seen.append((states, depth, seconds))
        return states >= 500

    result = pl.search(scenarios_dir / f"{LONG}.json", progress=False, should_stop=enough)
    assert result.stopped == "stopped" and result.ok and not result.complete
    assert 500 <= result.states == seen[-1][0] < 600
    assert [s for s, _, _ in seen] == sorted(s for s, _, _ in seen) and seen[-1][1] > 0
    assert "(stopped when asked)" in result.headline()


def test_should_stop_that_never_stops_changes_nothing(scenarios_dir):
    path = scenarios_dir / "multi-paxos-search-vote-twice-in-term.json"
    plain = pl.search(path, max_ballots=3, progress=False)
    watched = pl.search(path, max_ballots=3, progress=False, should_stop=lambda *progress: False)
    assert watched.summary() | {"seconds": 0} == plain.summary() | {"seconds": 0}


# ---- in a kernel on one CPU (Binder) ----------------------------------------------------------
def test_a_kernel_on_one_cpu_answers_while_a_search_runs_and_stop_ends_it(scenarios_dir):
    """The search runs in a thread of a real kernel held to one CPU: the kernel keeps
    answering (a cell runs within half a second) while the search advances, and Stop
    (the button's click, run as a cell) ends it."""
    import os

    if not hasattr(os, "sched_setaffinity"):
        pytest.skip("holding a kernel to one CPU needs os.sched_setaffinity (Linux)")
    manager = pytest.importorskip("jupyter_client.manager")
    km, kc = manager.start_new_kernel(kernel_name="python3")
    try:
        cpu = min(os.sched_getaffinity(0))
        for task in os.listdir(f"/proc/{km.provisioner.process.pid}/task"):
            os.sched_setaffinity(int(task), {cpu})  # threads started later inherit it

        def run(code: str, timeout: float = 30) -> tuple[str, float]:
            started = time.perf_counter()
            out = []
            reply = kc.execute_interactive(code, timeout=timeout, output_hook=lambda msg: out.append(
                msg["content"].get("text", "")) if msg["msg_type"] == "stream" else None)
            assert reply["content"]["status"] == "ok", reply["content"]
            return "".join(out), time.perf_counter() - started

        run("import os, time\nimport paxoslab as pl\n"
            f"ex = pl.widgets.search_explorer({LONG!r}, folder={str(scenarios_dir)!r})\n"
            "assert ex.run()")
        states = []
        for _ in range(6):
            time.sleep(0.4)
            out, took = run("print(ex.running, ex.progress.value)")
            assert out.startswith("True "), out
            assert took < 0.5, f"the kernel took {took:.2f} s to run a cell while searching"
            found = re.search(r"([\d,]+) states", out)
            states.append(int(found.group(1).replace(",", "")) if found else 0)
        assert states[-1] > states[1] > 0  # the search went on meanwhile
        out, took = run(f"print(os.sched_getaffinity(0) == {{{cpu}}})\nex.stop_button.click()\n"
                        "r = ex.wait(5)\nprint(r.stopped, ex.running)")
        assert out.split() == ["True", "stopped", "False"] and took < 3
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


# ---- in the browser ---------------------------------------------------------------------------
def test_run_and_stop_in_jupyterlab(chromium, jupyterlab, tmp_path):  # noqa: F811
    """In JupyterLab: Run searches and shows the verdict, the steps and the replay with its
    log grid; a long search shows its progress, and Stop (a click in the page) ends it with
    "stopped" said.  A screenshot of each lands in tmp_path (and PAXOSLAB_SCREENSHOTS)."""
    import json

    from playwright.sync_api import expect, sync_playwright
    from test_browser import CHROMIUM_ARGS, save_screenshot

    base, token, deadline = jupyterlab
    left = deadline.ms
    course = next(p for p in tmp_path.iterdir() if (p / "notebooks").is_dir())
    cell = ("import paxoslab as pl\n"
            "pl.widgets.search_explorer('multi-paxos-search-vote-twice-in-term', folder='../data/scenarios')")
    notebook = {"cells": [{"cell_type": "code", "execution_count": None, "id": "explorer", "metadata": {},
                           "outputs": [], "source": cell}],
                "metadata": {"kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python",
                                            "name": "python3"}},
                "nbformat": 4, "nbformat_minor": 5}
    (course / "notebooks" / "search_explorer.ipynb").write_text(json.dumps(notebook), encoding="utf-8")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, timeout=left())
        page = browser.new_page(viewport={"width": 1400, "height": 1500})
        try:
            page.goto(f"{base}/lab/tree/notebooks/search_explorer.ipynb?token={token}", timeout=left())
            kernel = page.locator('#jp-main-statusbar [title^="Change kernel"]')
            expect(kernel).to_have_text(re.compile(r"^(?!No Kernel).* \| Idle$"), timeout=left())
            page.get_by_role("menuitem", name="Run", exact=True).click(timeout=left())
            page.get_by_role("menuitem", name="Run All Cells", exact=True).click(timeout=left())
            status = page.locator(".paxoslab-status")
            run = page.locator(".widget-button", has_text="Run")
            stop = page.locator(".widget-button", has_text="Stop")
            run.click(timeout=left())
            expect(status).to_contain_text("election-safety violated after 6 steps", timeout=left())
            expect(page.locator("pre", has_text="1. scenario: timeout S")).to_have_count(1, timeout=left())
            slider = page.locator(".widget-slider", has=page.locator("label", has_text="step"))
            expect(slider).to_have_count(1, timeout=left())
            expect(page.get_by_text("the start, before step 1 of 6")).to_have_count(1, timeout=left())
            images = page.locator(".jp-OutputArea-output img")
            expect(images).to_have_count(2, timeout=left())  # the diagram and the log grid
            handle = slider.locator('[role="slider"]')
            handle.focus(timeout=left())
            for _ in range(3):
                handle.press("ArrowRight", timeout=left())
            expect(page.get_by_text("after step 3 of 6")).to_have_count(1, timeout=left())
            expect(kernel).to_have_text(re.compile(r" \| Idle$"), timeout=left())  # the pictures drawn
            save_screenshot(page, tmp_path / "search_explorer-counterexample.png")

            page.locator(".widget-dropdown", has=page.locator("label", has_text="scenario")).locator(
                "select").select_option(LONG, timeout=left())
            run.click(timeout=left())
            # a second of this search's progress (not the last search's line)
            expect(page.get_by_text(re.compile(r"[\d,]+ states, depth \d+, [1-9][\d.]* s"))).to_have_count(
                1, timeout=left())
            expect(stop).to_be_enabled(timeout=left())
            stop.click(timeout=left())
            expect(status).to_contain_text("stopped after", timeout=5_000)
            expect(status).to_contain_text("a stopped search proves nothing", timeout=left())
            expect(run).to_be_enabled(timeout=left())
            save_screenshot(page, tmp_path / "search_explorer-stopped.png")
        except Exception:
            with contextlib.suppress(Exception):
                save_screenshot(page, tmp_path / "search_explorer-failure.png")
            raise
        finally:
            browser.close()
