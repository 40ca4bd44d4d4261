"""experiments: the Raft paper's failover experiment and the cost of one command.

The stored 1,000-trial tables in ``data/failover/`` are recomputed here for a
few seeded trials: a changed protocol or experiment that would change them fails.
"""

from __future__ import annotations

import math
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd
import pytest

import paxoslab as pl
from paxoslab.experiments import leader_failover, measure_failover, message_cost
from paxoslab.protocols import PROTOCOLS
from paxoslab.trace import Trace

pytestmark = pytest.mark.skipif("multi-paxos" not in PROTOCOLS, reason="needs the multi-paxos protocol")

FAILOVER = Path(__file__).resolve().parent.parent / "data" / "failover"
COLUMNS = ["election_timeout", "seed", "downtime_ms", "terms", "split_votes", "leader",
           "leader_was_behind", "crash_offset_ms", "note"]


@pytest.fixture(scope="module")
def frame():
    return leader_failover((150, 300), trials=6, seed=0, progress=False)


def test_one_row_per_trial_with_the_papers_measures(frame):
    assert list(frame.columns) == COLUMNS
    assert frame["seed"].tolist() == list(range(6))
    assert (frame["election_timeout"] == "150-300").all()


def test_a_server_with_a_shorter_log_never_wins(frame):
    assert frame["leader"].isin(["S2", "S3", "S4", "S5"]).all()
    assert not frame["leader_was_behind"].any()


def test_downtime_is_at_least_the_timeout_left_after_the_crash(frame):
    heartbeat = 75
    assert ((frame["crash_offset_ms"] >= 0) & (frame["crash_offset_ms"] < heartbeat)).all()
    # no follower can time out before lo - (time since its last heartbeat) >= lo/2
    assert (frame["downtime_ms"] > 150 - heartbeat).all()
    assert (frame["terms"] >= 1).all()
    assert (frame["split_votes"] <= frame["terms"] - 1).all()


def test_identical_frames_serial_and_on_a_process_pool():
    serial = leader_failover((150, 175), trials=4, seed=3, progress=False)
    with ProcessPoolExecutor(2) as pool:
        parallel = leader_failover((150, 175), trials=4, seed=3, executor=pool, progress=False)
    pd.testing.assert_frame_equal(serial, parallel)


@pytest.mark.parametrize("label", ["150-300", "150-175", "50-100"])
def test_stored_rows_are_what_the_experiment_computes(label):
    stored = pd.read_csv(FAILOVER / f"{label}.csv", keep_default_na=False,
                         na_values={"downtime_ms": ["", "NaN", "nan"]})
    lo, hi = (int(x) for x in label.split("-"))
    assert len(stored) == 1000
    fresh = leader_failover((lo, hi), trials=3, seed=0, progress=False)
    for column in ("downtime_ms", "terms", "split_votes", "crash_offset_ms"):
        assert fresh[column].tolist() == pytest.approx(stored[column][:3].tolist(), rel=1e-12)
    assert fresh["leader"].tolist() == stored["leader"][:3].tolist()


def test_measure_counts_split_votes_but_not_a_lone_candidate_that_lost():
    t = Trace()
    crash = 100.0
    t.add(crash, "crash", node="S1")
    for node in ("S2", "S3"):  # term 2: two candidates, nobody wins -> split vote
        t.add(250, "role", node=node, payload={"role": "candidate", "term": 2})
    t.add(420, "role", node="S4", payload={"role": "candidate", "term": 3})  # alone, behind
    t.add(430, "role", node="S2", payload={"role": "candidate", "term": 4})
    t.add(445, "role", node="S2", payload={"role": "leader", "term": 4})
    for node, at in (("S3", 446.0), ("S4", 447.0), ("S5", 449.5)):
        t.add(at, "leader", node=node, payload={"leader": "S2", "term": 4})

    class Run:
        trace, nodes = t, ("S1", "S2", "S3", "S4", "S5")

    row = measure_failover(Run(), "S1", 1, crash, lagging=("S4", "S5"))
    assert row == {"downtime_ms": 349.5, "terms": 3, "split_votes": 1, "leader": "S2",
                   "leader_was_behind": False}


def test_no_leader_gives_nan_downtime():
    t = Trace()
    t.add(0, "crash", node="S1")

    class Run:
        trace, nodes = t, ("S1", "S2", "S3")

    row = measure_failover(Run(), "S1", 1, 0.0)
    assert math.isnan(row["downtime_ms"]) and row["leader"] is None


def test_a_stable_leader_needs_fewer_messages_and_one_round_trip_per_command():
    cost = message_cost(commands=5).set_index("protocol")
    basic = cost.loc["Basic Paxos (one instance per command)"]
    multi = cost.loc["Multi-Paxos, stable leader"]
    # five nodes: Prepare, Promise, Accept, Accepted, Learn to/from each of five
    assert basic["messages_per_command"] == 25 and basic["round_trips"] == 2
    assert multi["commands"] == 5 and multi["round_trips"] == 1
    # the entry to four followers and their four acknowledgements, at least
    assert 8 <= multi["messages_per_command"] < basic["messages_per_command"]
    assert set(multi["by_type"]) == {"AppendEntries", "AppendEntriesReply"}


def test_lesson_api_is_reachable_from_the_package():
    assert pl.experiments.leader_failover is leader_failover


def test_a_trial_crashes_the_leader_with_two_survivors_behind():
    setup = pl.experiments.failover_setup((150, 300), 5, 15.0, 1.0, 7)
    result = pl.experiments.failover_run((150, 300), seed=7, after_ms=600)
    crash_at, leader = setup["crash_at"], setup["leader"]
    crashes = [e for e in result.trace.of_kind("crash") if e.node == leader]
    assert [e.time for e in crashes] == [crash_at]
    logs = pl.plots.log_state(result, at=crash_at)
    assert len(logs[leader]["log"]) == 2 and logs[leader]["commit_index"] == 2
    assert all(len(logs[s]["log"]) == 0 for s in setup["lagging"])
    assert all(len(logs[s]["log"]) == 2 for s in logs if s not in (leader, *setup["lagging"]))
    # the heartbeat before the crash reset every survivor's timer: it lies within one interval
    assert 0 <= setup["offset"] < 75
    row = measure_failover(result, leader, setup["term"], crash_at, setup["lagging"])
    assert row["leader"] not in setup["lagging"] and row["downtime_ms"] > 0


def test_a_cluster_that_cannot_elect_gives_a_row_that_says_so():
    # 12-24 ms with a 15 ms broadcast time: in trial 47 no leader lasts long enough to be crashed
    row = pl.experiments.failover_trial(((12, 24), 5, 15.0, 1.0, 1000.0, 47))
    assert row["note"].startswith("no leader to crash") and math.isnan(row["downtime_ms"])


def test_same_rows_under_another_hash_seed():
    import json
    import os
    import subprocess
    import sys

    code = ("import json, paxoslab as pl; f = pl.experiments.leader_failover((150, 200), trials=2, "
            "seed=5, progress=False); print(json.dumps(f[['downtime_ms', 'terms', 'leader']]"
            ".values.tolist()))")
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(root)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         check=True, cwd=root).stdout
    here = leader_failover((150, 200), trials=2, seed=5, progress=False)
    assert json.loads(out) == here[["downtime_ms", "terms", "leader"]].values.tolist()
