"""``import paxoslab`` stays light, and the public API is where the course expects it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import paxoslab as pl

HEAVY = ("pandas", "matplotlib", "ipywidgets", "IPython", "tqdm")
ROOT = Path(__file__).resolve().parent.parent


def imported_after(code: str) -> list[str]:
    probe = (f"import sys\n{code}\nimport json\n"
             f"print(json.dumps([m for m in {list(HEAVY)!r} if m in sys.modules]))")
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_import_paxoslab_does_not_import_pandas_matplotlib_or_ipywidgets():
    assert imported_after("import paxoslab") == []


def test_running_a_scenario_stays_light_too():
    code = ("import paxoslab as pl\n"
            "r = pl.run_scenario('data/scenarios/basic-paxos-case-1.json')\n"
            "r.summary(); r.describe(); r.narrate(); r.trace.to_json(); r.trace.digest()")
    assert imported_after(code) == []


def test_the_cli_module_stays_light():
    assert imported_after("import paxoslab.__main__") == []


def test_plots_and_widgets_load_on_first_use():
    assert imported_after("import paxoslab as pl\npl.plots") == ["matplotlib"]
    loaded = imported_after("import paxoslab as pl\npl.widgets")
    assert {"matplotlib", "ipywidgets"} <= set(loaded)


def test_experiments_imports_pandas_only_when_sweeping():
    assert imported_after("import paxoslab as pl\npl.experiments") == []


def test_public_api():
    for name in ("run_scenario", "Result", "Trace", "Event", "Node", "MissingHandler",
                 "Simulation", "Network", "Fixed", "Uniform", "Exponential", "Rule",
                 "ScenarioError", "Violation", "Monitor", "load_scenario", "rng_stream",
                 "describe", "narrate"):
        assert hasattr(pl, name), name
    assert isinstance(pl.__version__, str)


def test_everything_in_all_resolves():
    for name in pl.__all__:
        assert getattr(pl, name) is not None, name


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no_such_thing"):
        pl.no_such_thing  # noqa: B018
