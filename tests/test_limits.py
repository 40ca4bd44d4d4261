"""Long runs end with one clear line: max_events bounds a run, a bar shows on long ones."""

from __future__ import annotations

import json
import pickle

import pytest

import paxoslab as pl
import paxoslab.progress as progress_module
import paxoslab.sim as sim_module
from paxoslab.__main__ import main
from paxoslab.runner import DEFAULT_MAX_EVENTS
from paxoslab.sim import EventLimitReached, SimulationStalled

LEADER_CRASH = "data/scenarios/multi-paxos-leader-crash.json"


def long_run(until: float = 1e7) -> dict:
    data = pl.load_scenario(LEADER_CRASH)
    data["until"] = until
    return data


def test_a_run_past_max_events_stops_with_a_line_saying_how_to_raise_it():
    with pytest.raises(EventLimitReached) as info:
        pl.run_scenario(long_run(), max_events=5_000)
    error = info.value
    assert error.events == 5_000 and 0 < error.time < 1e7 and error.until == 1e7
    text = str(error)
    assert "max_events=5,000" in text and "--max-events" in text and "lower until" in text
    assert "\n" not in text
    again = pickle.loads(pickle.dumps(error))  # a sweep's worker sends it back this way
    assert (type(again), str(again), again.time) == (EventLimitReached, text, error.time)


def test_the_default_bounds_a_run_and_none_lifts_the_bound():
    assert DEFAULT_MAX_EVENTS == 1_000_000
    data = long_run(until=20_000)
    unbounded = pl.run_scenario(data, max_events=None)
    assert unbounded.summary()["digest"] == pl.run_scenario(data).summary()["digest"]
    with pytest.raises(EventLimitReached):
        pl.run_scenario(data, max_events=unbounded.sim.sent // 2)


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "10"])
def test_max_events_must_be_a_whole_number_of_at_least_one(bad):
    with pytest.raises(ValueError, match="max_events"):
        pl.run_scenario(LEADER_CRASH, max_events=bad)


def test_running_in_slices_changes_nothing(monkeypatch):
    whole = pl.run_scenario(long_run(until=5_000))
    monkeypatch.setattr(progress_module, "SLICE", 7)  # slices end anywhere, mid-instant too
    sliced = pl.run_scenario(long_run(until=5_000))
    assert sliced.trace == whole.trace and sliced.end_time == whole.end_time
    assert sliced.summary() == whole.summary()


def test_time_standing_still_is_caught_across_slices(monkeypatch, tiny):
    monkeypatch.setattr(sim_module, "STALL_LIMIT", 300)
    monkeypatch.setattr(progress_module, "SLICE", 100)  # fewer than the stall limit per slice
    data = tiny(network={"delay": {"fixed": 0}}, options={"backoff": {"base": 0, "jitter": 0}},
                events=[{"at": 0, "propose": {"node": "S1", "value": "X"}},
                        {"at": 0, "propose": {"node": "S3", "value": "Y"}}],
                until=10)
    with pytest.raises(SimulationStalled) as info:
        pl.run_scenario(data, detailed=False)
    assert info.value.time == 0.0


def test_a_long_run_shows_a_progress_bar(monkeypatch, capsys):
    ticks = iter(range(0, 10_000, 2))  # every reading of the clock is 2 s later
    monkeypatch.setattr(progress_module.time, "perf_counter", lambda: float(next(ticks)))
    monkeypatch.setattr(progress_module, "SLICE", 1_000)
    pl.run_scenario(long_run(until=20_000), progress=True)
    assert "run multi-paxos-leader-crash" in capsys.readouterr().err
    pl.run_scenario(long_run(until=20_000), progress=False)
    assert capsys.readouterr().err == ""


def test_the_cli_stops_at_max_events_with_exit_3_and_one_line(tmp_path, capsys):
    path = tmp_path / "long.json"
    path.write_text(json.dumps(long_run()), encoding="utf-8")
    code = main(["run", str(path), "--max-events", "3000"])
    out, err = capsys.readouterr()
    assert code == 3 and out == ""
    assert err.count("\n") == 1 and "max_events=3,000" in err and str(path) in err


@pytest.mark.parametrize("bad", ["0", "-5", "many"])
def test_the_cli_refuses_a_max_events_that_is_not_a_bound(bad, capsys):
    with pytest.raises(SystemExit) as info:
        main(["run", LEADER_CRASH, "--max-events", bad])
    assert info.value.code == 2
    assert "--max-events" in capsys.readouterr().err


# ---- searches: max_memory ------------------------------------------------------------------
SEARCH = "data/scenarios/search-basic-paxos.json"


def test_a_search_stops_at_max_memory_with_what_it_found_so_far():
    from paxoslab.search.memory import resident_bytes

    here = resident_bytes()
    if here is None:
        pytest.skip("this system does not say how much memory a process holds")
    result = pl.search(SEARCH, max_memory=here / 2**20 + 40, progress=False)  # 40 MB more
    assert result.stopped == "max_memory" and not result.complete
    assert 1_000 < result.states < 120_273  # it went some way, not to the end
    assert "memory bound reached: max_memory" in result.headline()
    assert result.summary()["stopped"] == "max_memory"


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf"), True, "lots"])
def test_max_memory_must_be_megabytes_auto_or_none(bad):
    from paxoslab.search import SearchArgumentError

    with pytest.raises(SearchArgumentError, match="max_memory"):
        pl.search(SEARCH, max_memory=bad, progress=False)


def test_the_automatic_bound_leaves_room_under_a_container_limit(tmp_path, monkeypatch):
    from paxoslab.search import memory

    limit, usage = tmp_path / "memory.max", tmp_path / "memory.current"
    limit.write_text("2147483648\n")  # Binder: 2 GB
    usage.write_text(str(1536 * 2**20))  # 1.5 GB already in use
    monkeypatch.setattr(memory, "_CGROUP_FILES", ((str(limit), str(usage)),))
    assert memory.available_bytes() <= 512 * 2**20
    bound = memory.automatic_bound()
    assert bound is not None and bound <= memory.resident_bytes() + 384 * 2**20 + 2**20
    limit.write_text("max\n")  # no limit: the kernel's estimate alone
    assert memory.available_bytes() > 0


def test_the_cli_takes_max_memory_and_refuses_nonsense(capsys):
    assert main(["search", SEARCH, "--max-states", "50", "--max-memory", "none"]) == 0
    capsys.readouterr()
    assert main(["search", SEARCH, "--max-memory", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--max-memory" in err
