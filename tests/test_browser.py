"""End to end in a real browser: lesson 02's explorer round trip in JupyterLab.

Starts JupyterLab on a copy of notebooks/ and data/ in a temporary folder (JupyterLab
autosaves: the real notebooks are never opened), runs every cell of
02_basic_paxos.ipynb in headless Chromium, moves the explorer's "S1's Accept to S3
takes (ms)" slider with the keyboard and checks that the kernel re-ran the simulation:
the outcome text flips between ``decided X`` and ``decided Y`` and the diagram's
``<img>`` is replaced.  A screenshot (of the explorer, or of the page as it was when the
test failed) lands in tmp_path and, when PAXOSLAB_SCREENSHOTS names a folder, there too.

Skipped when the ``playwright`` package or Chromium (PAXOSLAB_CHROMIUM, default
/usr/bin/chromium) is missing; Playwright's own browser download is not used.  CI needs
``apt-get install -y chromium`` and ``pip install playwright``.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = "notebooks/02_basic_paxos.ipynb"
SLIDER_LABEL = "S1's Accept to S3 takes (ms)"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # without these Chromium keeps trying to reach the (closed) network and crawls
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Every wait, from starting JupyterLab to the last assertion, shares this budget, so the
# test cannot hang: a failure is reported well under two minutes, teardown included.
BUDGET_S = 85


class Deadline:
    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def seconds(self) -> float:
        """Seconds left; fails the test once the budget is spent."""
        left = self.end - time.monotonic()
        if left <= 0:
            pytest.fail(f"the browser test ran over its {BUDGET_S} s budget")
        return left

    def ms(self) -> float:
        """Milliseconds left, Playwright's unit."""
        return self.seconds() * 1000


def decided(value: str) -> re.Pattern[str]:
    """The outcome line of a run that decided ``value``, e.g. ``decided    X  (chosen at t=6)``."""
    return re.compile(rf"decided\s+{value}\s+\(chosen at t=")


def value_is(number: int) -> re.Pattern[str]:
    """A slider handle's ``aria-valuenow`` (noUiSlider writes ``4.0``)."""
    return re.compile(rf"^{number}(\.0+)?$")


@pytest.fixture
def chromium() -> str:
    """The Chromium to drive, or skip: without a browser the rest of the suite still runs."""
    pytest.importorskip(
        "playwright.sync_api", reason="the browser test needs the playwright package (pip install playwright)"
    )
    path = os.environ.get("PAXOSLAB_CHROMIUM", "/usr/bin/chromium")
    if not os.access(path, os.X_OK):
        pytest.skip(f"the browser test needs Chromium at {path} (apt-get install chromium)")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def jupyterlab(chromium, tmp_path):
    """JupyterLab serving a copy of the course; yields (base url, token, deadline)."""
    deadline = Deadline(BUDGET_S)
    course = tmp_path / "course"
    for folder in ("notebooks", "data"):
        shutil.copytree(ROOT / folder, course / folder)

    # A config folder of our own keeps the user's JupyterLab settings and workspaces out
    # (and ours out of theirs).  The settings defaults are the repository's own, as the
    # README starts JupyterLab: they must keep the "Jupyter news" question away.
    config = tmp_path / "config"
    config.mkdir()
    env = {key: value for key, value in os.environ.items() if key != "MPLBACKEND"}  # plots inline
    env |= {"JUPYTER_CONFIG_DIR": str(config), "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}

    port, token = free_port(), secrets.token_hex(16)
    command = [
        sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root",
        "--ip=127.0.0.1", f"--port={port}", f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={course}", f"--LabApp.app_settings_dir={ROOT / 'jupyter-config'}",
    ]  # fmt: skip
    log_path = tmp_path / "jupyterlab.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            command, cwd=course, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    base = f"http://127.0.0.1:{port}"
    try:
        while True:
            if server.poll() is not None:
                pytest.fail(f"jupyter lab exited with {server.returncode}:\n{log_path.read_text()}")
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2):
                    break
            except OSError:
                deadline.seconds()
                time.sleep(0.2)
        yield base, token, deadline
    finally:
        # SIGTERM: the server shuts its kernel down.  Then clear its whole process group.
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=5)
        try:
            os.killpg(server.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_explorer_round_trip_in_jupyterlab(chromium, jupyterlab, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    base, token, deadline = jupyterlab
    left = deadline.ms  # every timeout below: what is left of the budget
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, timeout=left())
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        console: list[str] = []
        page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
        try:
            page.goto(f"{base}/lab/tree/{NOTEBOOK}?token={token}", timeout=left())

            # Wait for the kernel itself: the toolbar's execution indicator reads "idle" even
            # before a kernel exists, and cells run then come back unexecuted, "[ ]"
            # (jupyterlab#8490).  The status bar goes "No Kernel | Initializing" ->
            # "Python 3 (ipykernel) | Connecting" -> ... "| Idle".
            kernel = page.locator('#jp-main-statusbar [title^="Change kernel"]')
            expect(kernel).to_have_text(re.compile(r"^(?!No Kernel).* \| Idle$"), timeout=left())

            # Run ▸ Run All Cells; the indicator stays busy until the last queued cell is done.
            page.get_by_role("menuitem", name="Run", exact=True).click(timeout=left())
            page.get_by_role("menuitem", name="Run All Cells", exact=True).click(timeout=left())
            indicator = page.locator(".jp-NotebookPanel .jp-Notebook-ExecutionIndicator")
            expect(indicator).to_have_attribute("data-status", "busy", timeout=left())
            expect(indicator).to_have_attribute("data-status", "idle", timeout=left())
            # every code cell ran ("[n]:", not "[ ]:" or "[*]:") and none raised
            not_run = page.locator(".jp-CodeCell .jp-InputPrompt", has_text=re.compile(r"\[[ *]\]"))
            expect(not_run).to_have_count(0, timeout=left())
            errors = page.locator(".jp-OutputArea-output", has_text="Traceback (most recent call last)")
            expect(errors).to_have_count(0, timeout=left())
            # the shipped settings default: no toast asking about Jupyter news over the lesson
            news = page.locator(".Toastify__toast", has_text=re.compile("Jupyter news", re.I))
            expect(news).to_have_count(0, timeout=left())

            # The explorer: a VBox of the sliders, the diagram <img> and the outcome HTML.
            slider = page.locator(".widget-slider", has=page.locator("label", has_text=SLIDER_LABEL))
            handle = slider.locator('[role="slider"]')
            explorer = page.locator(".widget-vbox", has=slider)
            diagram = explorer.locator("img")
            outcome = explorer.locator(".paxoslab-outcome")

            # The cell after the explorer drives it from code and leaves it at
            # "S5 starts at 3, accept to S3 takes 3 ms": S5's prepare wins S3 and Y is decided.
            expect(handle).to_have_attribute("aria-valuenow", value_is(3), timeout=left())
            expect(outcome).to_have_text(decided("Y"), timeout=left())
            expect(diagram).to_have_attribute("src", re.compile(r"."), timeout=left())

            # One step left (2 ms): S1's accept reaches S3 first and X is decided.
            src = diagram.get_attribute("src")
            handle.focus(timeout=left())
            handle.press("ArrowLeft", timeout=left())
            expect(handle).to_have_attribute("aria-valuenow", value_is(2), timeout=left())
            expect(outcome).to_have_text(decided("X"), timeout=left())
            expect(diagram).not_to_have_attribute("src", src, timeout=left())

            # One step right again: from a decided X to a decided Y, with a new diagram.
            src = diagram.get_attribute("src")
            handle.press("ArrowRight", timeout=left())
            expect(handle).to_have_attribute("aria-valuenow", value_is(3), timeout=left())
            expect(outcome).to_have_text(decided("Y"), timeout=left())
            expect(diagram).not_to_have_attribute("src", src, timeout=left())
            expect(diagram).to_have_js_property("complete", True, timeout=left())
            assert diagram.evaluate("img => img.naturalWidth") > 0, "the new diagram's PNG did not decode"

            explorer.evaluate("element => element.scrollIntoView({block: 'start'})")
            save_screenshot(page, tmp_path / "02_basic_paxos-explorer.png")
        except Exception:
            (tmp_path / "browser-console.log").write_text("\n".join(console), encoding="utf-8")
            with contextlib.suppress(Exception):  # the failure above is the one to report
                save_screenshot(page, tmp_path / "02_basic_paxos-failure.png")
            raise
        finally:
            browser.close()


def save_screenshot(page, path: Path) -> None:
    """The browser's viewport, to ``path`` and to the folder PAXOSLAB_SCREENSHOTS (if set)."""
    page.screenshot(path=path, timeout=10_000)
    if folder := os.environ.get("PAXOSLAB_SCREENSHOTS"):
        Path(folder).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(folder) / path.name)
