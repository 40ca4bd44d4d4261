"""Sweeps: grid x seeds -> one DataFrame row per run."""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor

import pytest

import paxoslab as pl
from paxoslab.experiments import flatten_summary, sweep
from paxoslab.protocols.basic_paxos import PaxosNode

GRID = {"network.rules[0].delay": [1, 6], "events[1].at": [1, 3]}


@pytest.fixture(scope="module")
def table(scenarios_dir):
    return sweep(scenarios_dir / "basic-paxos-case-2.json", grid=GRID, seeds=range(2),
                 progress=False)


def test_one_row_per_grid_point_and_seed_in_grid_order(table):
    assert len(table) == 8
    assert table[["network.rules[0].delay", "events[1].at", "seed"]].values.tolist() == [
        [d, a, s] for d in (1, 6) for a in (1, 3) for s in (0, 1)]


def test_columns_hold_the_scalar_outcomes(table):
    assert {"decided", "decided_at", "n_ballots", "n_violations", "messages_sent",
            "messages_delivered", "messages_dropped", "expect_ok", "end_time"} <= set(table)
    assert "digest" not in table and "learned" not in table


def test_rows_match_single_runs(table, scenario):
    data = scenario("basic-paxos-case-2")
    data["network"]["rules"][0]["delay"] = 6
    data["events"][1]["at"] = 3
    summary = pl.run_scenario(data, seed=1).summary()
    row = table[(table["network.rules[0].delay"] == 6) & (table["events[1].at"] == 3)
                & (table["seed"] == 1)].iloc[0]
    assert row["decided"] == summary["decided"] == "Y"
    assert row["messages_sent"] == summary["messages"]["sent"]
    assert row["n_ballots"] == len(summary["ballots"])


def test_the_classic_timing_grid(table):
    outcome = table.groupby(["network.rules[0].delay", "events[1].at"])["decided"].first()
    assert outcome[(1, 3)] == "X"
    assert outcome[(6, 3)] == "Y"
    assert outcome[(1, 1)] == "Y"


def test_an_executor_gives_the_same_table(table, scenarios_dir):
    with ThreadPoolExecutor(2) as pool:
        parallel = sweep(scenarios_dir / "basic-paxos-case-2.json", grid=GRID, seeds=range(2),
                         executor=pool, progress=False)
    assert parallel.equals(table)


def test_a_bad_grid_value_fails_before_anything_runs(scenarios_dir):
    with pytest.raises(pl.ScenarioError, match="network.rules"):
        sweep(scenarios_dir / "basic-paxos-case-2.json",
              grid={"network.rules[0].delay": [1, -5]}, progress=False)


def test_no_grid_means_seeds_only(scenarios_dir):
    df = sweep(scenarios_dir / "smr-deterministic.json", seeds=range(3), progress=False)
    assert df["seed"].tolist() == [0, 1, 2]
    assert df["consistent"].all()


def test_flatten_summary():
    row = flatten_summary({"scenario": "s", "protocol": "p", "seed": 1, "digest": "d",
                           "messages": {"sent": 3, "delivered": 2, "dropped": 1, "by_type": {}},
                           "expect": {"ok": True, "failed": []}, "ballots": ["1.1"],
                           "learned": {"S1": "X"}, "learned_at": {"S1": None}, "decided": "X",
                           "decided_at": None, "preemptions": {"S1": 2, "S2": 3}, "livelocked": False})
    assert row == {"messages_sent": 3, "messages_delivered": 2, "messages_dropped": 1,
                   "expect_ok": True, "n_ballots": 1, "decided": "X", "decided_at": None,
                   "preemptions_total": 5, "livelocked": False}


def test_seeds_may_be_a_generator(scenarios_dir):
    table = sweep(scenarios_dir / "basic-paxos-livelock.json",
                  grid={"options.backoff.jitter": [0, 4]}, seeds=(s for s in range(3)), progress=False)
    assert len(table) == 6


def test_a_grid_path_that_leads_nowhere_names_the_file_and_path(scenarios_dir):
    with pytest.raises(pl.ScenarioError, match=r"basic-paxos-case-2.json: events\[9\].at: no such field"):
        sweep(scenarios_dir / "basic-paxos-case-2.json", grid={"events[9].at": [1]}, progress=False)


# ---- the same frame serially, on a process pool and on a Dask cluster -----------------------
LOSSY_GRID = {"options.backoff.jitter": [0, 10], "network.drop": [0.0, 0.15]}


@pytest.fixture(scope="module")
def lossy_serial(scenarios_dir):
    return sweep(scenarios_dir / "basic-paxos-duel-backoff.json", grid=LOSSY_GRID, seeds=range(3),
                 progress=False)


def test_a_process_pool_gives_the_identical_frame(lossy_serial, scenarios_dir):
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(2) as pool:
        parallel = sweep(scenarios_dir / "basic-paxos-duel-backoff.json", grid=LOSSY_GRID,
                         seeds=range(3), executor=pool, progress=False)
    assert parallel.equals(lossy_serial)
    assert lossy_serial["livelocked"].any() and not lossy_serial["livelocked"].all()


def test_a_dask_cluster_gives_the_identical_frame(lossy_serial, scenarios_dir):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        on_cluster = sweep(scenarios_dir / "basic-paxos-duel-backoff.json", grid=LOSSY_GRID,
                           seeds=range(3), executor=client.get_executor(), progress=False)
    assert on_cluster.equals(lossy_serial)


# ---- runs that fail: errors that cross processes, rows that are kept ---------------------------
class LatePromiseFails(PaxosNode):
    """Raises on a Promise that arrives after t=3: with delay 2 (arrival at t=4), not with 1."""

    def on_promise(self, msg, src):
        if self.now > 3:
            raise ZeroDivisionError("late promise")
        return super().on_promise(msg, src)


FAILING_GRID = {"network.delay": [{"fixed": 1}, {"fixed": 2}, {"fixed": 1}]}
TINY = {"name": "tiny", "protocol": "basic-paxos", "nodes": ["S1", "S2", "S3"],
        "events": [{"at": 0, "propose": {"node": "S1", "value": "X"}}], "until": 50}


def handler_error():
    from paxoslab.sim import HandlerError

    with pytest.raises(HandlerError) as info:
        pl.run_scenario({**TINY, "network": {"delay": {"fixed": 2}}}, node_class=LatePromiseFails)
    return info.value


def test_the_library_errors_survive_a_pickle_round_trip():
    import pickle

    from paxoslab.sim import HandlerError, SimulationStalled

    scenario_error = pl.ScenarioError("my.json", "network.drop", "must be a probability")
    stalled = SimulationStalled(12.5)
    handler = handler_error()
    for exc in (scenario_error, stalled, handler):
        back = pickle.loads(pickle.dumps(exc))
        assert type(back) is type(exc) and str(back) == str(exc)
    back = pickle.loads(pickle.dumps(scenario_error))
    assert (back.source, back.field, back.problem) == ("my.json", "network.drop", "must be a probability")
    assert pickle.loads(pickle.dumps(stalled)).time == 12.5
    back = pickle.loads(pickle.dumps(handler))
    assert (back.node, back.what, back.time) == (handler.node, handler.what, handler.time)
    assert isinstance(back.original, ZeroDivisionError)
    unpicklable = HandlerError("S1", "Hello", 3.0, ValueError(lambda: 0))
    back = pickle.loads(pickle.dumps(unpicklable))
    assert back.original is None and str(back) == str(unpicklable)


def test_sweep_raises_a_failing_run_by_default():
    from paxoslab.sim import HandlerError

    with pytest.raises(HandlerError, match="late promise"):
        sweep(TINY, grid=FAILING_GRID, seeds=range(2), progress=False, node_class=LatePromiseFails)


def test_sweep_on_error_row_keeps_every_other_row():
    table = sweep(TINY, grid=FAILING_GRID, seeds=range(2), progress=False,
                  node_class=LatePromiseFails, on_error="row")
    assert len(table) == 6 and list(table.columns)[-1] == "error"
    failed = table[table["error"].notna()]
    assert failed["network.delay"].tolist() == [{"fixed": 2}] * 2
    assert all(e.startswith("HandlerError: S1 failed while handling Promise") and "\n" not in e
               for e in failed["error"])
    assert failed["decided"].isna().all()
    assert table[table["error"].isna()]["decided"].tolist() == ["X"] * 4


def test_sweep_on_error_row_through_a_process_pool_gives_the_same_table():
    from concurrent.futures import ProcessPoolExecutor

    serial = sweep(TINY, grid=FAILING_GRID, seeds=range(2), progress=False,
                   node_class=LatePromiseFails, on_error="row")
    with ProcessPoolExecutor(2) as pool:
        pooled = sweep(TINY, grid=FAILING_GRID, seeds=range(2), progress=False,
                       node_class=LatePromiseFails, on_error="row", executor=pool)
    assert pooled.equals(serial)


def test_a_failing_run_in_a_process_pool_raises_its_own_error():
    """Not BrokenProcessPool: the worker's HandlerError comes back whole."""
    from concurrent.futures import ProcessPoolExecutor

    from paxoslab.sim import HandlerError

    with ProcessPoolExecutor(2) as pool, pytest.raises(HandlerError, match="late promise"):
        sweep(TINY, grid=FAILING_GRID, seeds=range(2), progress=False,
              node_class=LatePromiseFails, executor=pool)


def test_sweep_refuses_an_unknown_on_error():
    with pytest.raises(ValueError, match="on_error"):
        sweep(TINY, seeds=range(1), progress=False, on_error="ignore")


def test_numpy_numbers_in_a_grid_are_numbers():
    np = pytest.importorskip("numpy")
    table = sweep(TINY, grid={"until": np.array([20, 40]), "network.drop": [np.float64(0.0)]},
                  seeds=range(1), progress=False)
    plain = sweep(TINY, grid={"until": [20, 40], "network.drop": [0.0]}, seeds=range(1), progress=False)
    assert table.drop(columns=["until", "network.drop"]).equals(
        plain.drop(columns=["until", "network.drop"]))


def test_a_bad_numpy_value_in_a_grid_is_one_clean_error():
    np = pytest.importorskip("numpy")
    with pytest.raises(pl.ScenarioError, match="network.drop"):
        sweep(TINY, grid={"network.drop": [np.float64(2.0)]}, seeds=range(1), progress=False)
    with pytest.raises(pl.ScenarioError, match="until: NaN"):
        sweep(TINY, grid={"until": [np.float64("nan")]}, seeds=range(1), progress=False)


# ---- streaming (issue 19: --seeds 20000000 held 2.6 GB before writing a row) ------------------
def counting_seeds(n, read):
    for seed in range(n):
        read.append(seed)
        yield seed


def test_sweep_rows_reads_seeds_as_the_runs_start():
    from paxoslab.experiments import sweep_rows

    read: list[int] = []
    name, total, rows = sweep_rows(TINY, seeds=counting_seeds(100_000, read))
    assert (name, total, read) == ("tiny", None, [])  # nothing runs before a row is asked for
    first, second = next(rows), next(rows)
    assert (first["seed"], second["seed"]) == (0, 1) and len(read) <= 3
    rows.close()


def test_sweep_rows_of_a_range_knows_its_length_without_a_list():
    from paxoslab.experiments import sweep_rows

    _, total, rows = sweep_rows(TINY, grid={"until": [20, 40]}, seeds=range(20_000_000))
    assert total == 40_000_000
    assert [next(rows)["seed"] for _ in range(3)] == [0, 1, 2]
    rows.close()


def test_sweep_rows_gives_an_executor_a_bounded_number_of_runs_ahead():
    """Executor.map submitted every run at once (twenty million futures)."""
    from concurrent.futures import Executor, Future

    from paxoslab.experiments import IN_FLIGHT, sweep_rows

    class Inline(Executor):  # runs each job as it is submitted, and counts them
        submitted = 0

        def submit(self, fn, /, *args, **kwargs):
            Inline.submitted += 1
            future = Future()
            future.set_result(fn(*args, **kwargs))
            return future

    _, total, rows = sweep_rows(TINY, seeds=range(2_000), executor=Inline())
    assert next(rows)["seed"] == 0
    assert Inline.submitted == IN_FLIGHT + 1 < total
    assert [row["seed"] for row in itertools.islice(rows, 5)] == [1, 2, 3, 4, 5]
    rows.close()


def test_sweep_rows_of_an_iterator_and_several_points_runs_every_seed_at_each():
    table = sweep(TINY, grid={"until": [20, 40]}, seeds=iter([3, 5]), progress=False)
    assert table[["until", "seed"]].values.tolist() == [[20, 3], [20, 5], [40, 3], [40, 5]]
