"""Shared fixtures: the scenario files, small scenario builders, a headless matplotlib."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "data" / "scenarios"


def pytest_configure(config):
    """Plots and widgets draw off-screen in this process.  (Not via MPLBACKEND: that would
    leak into the notebook kernels nbval starts in the same session.)"""
    import matplotlib

    matplotlib.use("Agg")


def read_scenario(name: str) -> dict:
    """The scenario file ``data/scenarios/<name>.json`` as a fresh dict."""
    return json.loads((SCENARIOS / f"{name}.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def scenario():
    """``scenario("basic-paxos-case-1")`` -> a fresh dict of that file."""
    return read_scenario


@pytest.fixture(scope="session")
def scenarios_dir() -> Path:
    return SCENARIOS


@pytest.fixture(scope="session")
def tiny():
    """A minimal valid Basic Paxos scenario on three nodes; pass overrides as keywords."""

    def build(**overrides) -> dict:
        data = {
            "name": "tiny",
            "protocol": "basic-paxos",
            "nodes": ["S1", "S2", "S3"],
            "network": {"delay": {"fixed": 1}},
            "events": [{"at": 0, "propose": {"node": "S1", "value": "X"}}],
            "until": 50,
        }
        data.update(copy.deepcopy(overrides))
        return data

    return build


@pytest.fixture
def close_figures():
    """Close every matplotlib figure a test opened."""
    yield
    import matplotlib.pyplot as plt

    plt.close("all")
