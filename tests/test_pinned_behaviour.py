"""Restructuring must not change behaviour: runs and searches are pinned.

``pinned_behaviour.json`` was written before the code moved into protocol
packages (``python tests/test_pinned_behaviour.py --write`` rewrites it, which a
change of behaviour must do deliberately, saying why in its commit).  It holds
the trace digest of every scenario in ``data/scenarios/`` and of a noisy run
under three seeds, and, for every search scenario, what a bounded search
explored and the counterexample it returned.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

import paxoslab as pl

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "data" / "scenarios"
PINNED = Path(__file__).with_name("pinned_behaviour.json")
sys.path.insert(0, str(Path(__file__).parent))
from test_determinism import NOISY, SEEDS  # noqa: E402

#: a bound on each search, in states, so that the pin is the same on any machine
SEARCH_STATES = 30_000


def run_digests() -> dict[str, str]:
    found = {p.name: pl.run_scenario(p).summary()["digest"] for p in sorted(SCENARIOS.glob("*.json"))}
    for seed in SEEDS:
        found[f"noisy/{seed}"] = pl.run_scenario(NOISY, seed=seed).summary()["digest"]
    return found


def search_outcome(path: Path) -> dict:
    summary = pl.search(path, max_states=SEARCH_STATES, progress=False).summary()
    keep = ("ok", "property", "states", "transitions", "complete", "depth", "goals",
            "stopped", "violation", "witnesses", "counterexample")
    return {k: summary[k] for k in keep}


SEARCH_FILES = sorted(p.name for p in SCENARIOS.glob("*search*.json"))


@pytest.fixture(scope="module")
def pinned() -> dict:
    return json.loads(PINNED.read_text())


def test_every_scenario_runs_to_its_pinned_digest(pinned):
    assert run_digests() == pinned["runs"]


@pytest.mark.parametrize("name", SEARCH_FILES)
def test_every_search_explores_as_pinned(pinned, name):
    assert search_outcome(SCENARIOS / name) == pinned["searches"][name]


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    pins = {"runs": run_digests(),
            "searches": {name: search_outcome(SCENARIOS / name) for name in SEARCH_FILES}}
    PINNED.write_text(json.dumps(pins, indent=1, sort_keys=True) + "\n")
