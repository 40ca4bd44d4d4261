"""Sweeps: run a scenario over a grid of parameter values and many seeds.

Each grid key is a path into the scenario (``"events[1].at"``,
``"options.backoff.jitter"``); every combination of values is run for every
seed, and each run becomes one row of a pandas DataFrame: the grid values, the
seed, and the summary's scalar outcomes (lists become their length, the
message counts their own columns).  Runs skip message details
(``detailed=False``), so thousands take seconds.

Pass any ``concurrent.futures.Executor`` to spread the runs — a
``ProcessPoolExecutor`` locally, a Dask ``Client.get_executor()`` on a
cluster.  Without one, runs happen in this process, one after another (what a
one-CPU Binder wants).  Rows come back in grid order whatever the executor.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Executor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .runner import run_scenario
from .scenario import ScenarioError, load, set_path

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


def flatten_summary(summary: Mapping[str, Any]) -> dict[str, Any]:
    """The scalar outcomes of one run, as table columns."""
    row: dict[str, Any] = {}
    for key, value in summary.items():
        if key in ("scenario", "protocol", "seed", "digest"):
            continue
        if key == "messages":
            row.update({f"messages_{k}": v for k, v in value.items() if k != "by_type"})
        elif key == "expect":
            row["expect_ok"] = value["ok"]
        elif isinstance(value, list | tuple):
            row[f"n_{key}"] = len(value)
        elif isinstance(value, dict) and value and all(
                isinstance(v, int | float) and not isinstance(v, bool) for v in value.values()):
            row[f"{key}_total"] = sum(value.values())  # per-node counts, e.g. preemptions
        elif value is None or isinstance(value, str | int | float | bool):
            row[key] = value
    return row


def at_point(base: Mapping[str, Any], point: Mapping[str, Any], source: str = "<sweep>") -> dict[str, Any]:
    """A copy of ``base`` with each ``path: value`` of the grid point set.

    A path that leads nowhere (``events[9].at`` with two events) is a
    :class:`~paxoslab.scenario.ScenarioError` naming ``source`` and the path.
    """
    scenario = copy.deepcopy(dict(base))
    for path, value in point.items():
        try:
            set_path(scenario, path, value)
        except (KeyError, IndexError, TypeError, ValueError):
            raise ScenarioError(source, path, "no such field in the scenario") from None
    return scenario


def run_one(job: tuple) -> dict[str, Any]:
    """Run one (scenario, grid point, seed[, node class]) job; module-level so process
    pools can pickle it."""
    base, point, seed, *rest = job
    node_class = rest[0] if rest else None
    summary = run_scenario(at_point(base, point), seed=seed, detailed=False,
                           node_class=node_class).summary()
    return {**point, "seed": seed, **flatten_summary(summary)}


def sweep(
    scenario: Mapping[str, Any] | str | Path,
    grid: Mapping[str, Sequence[Any]] | None = None,
    seeds: Iterable[int] = (0,),
    executor: Executor | None = None,
    progress: bool = True,
    node_class: type | None = None,
) -> pd.DataFrame:
    """One row per (grid point, seed); see the module docstring.

    ``node_class`` runs in place of the protocol's node (see :func:`run_scenario`).
    """
    import pandas as pd
    from tqdm.auto import tqdm

    base = load(scenario)
    source = str(scenario) if isinstance(scenario, str | Path) else f"<scenario {base['name']}>"
    grid = dict(grid or {})
    points = [dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())]
    for point in points:  # a bad grid value fails now, before any run
        load(at_point(base, point, source), source=f"{source} at sweep point {point}")
    seeds = list(seeds)
    jobs = [(base, point, seed, node_class) for point in points for seed in seeds]
    results = executor.map(run_one, jobs) if executor is not None else map(run_one, jobs)
    rows = list(tqdm(results, total=len(jobs), disable=not progress, desc=base["name"]))
    return pd.DataFrame(rows)
