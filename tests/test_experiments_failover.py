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


def test_a_split_vote_is_a_term_several_candidates_stood_in_one_eligible_and_nobody_won():
    t = Trace()
    crash = 100.0
    t.add(crash, "crash", node="S1")

    def stand(at, term, *nodes):
        for node in nodes:
            t.add(at, "role", node=node, payload={"role": "candidate", "term": term})

    stand(250, 2, "S2", "S3")  # two eligible candidates, nobody wins: a split vote
    stand(260, 3, "S4", "S5")  # the two lagging servers (they cannot win): not one
    stand(270, 4, "S4", "S2")  # one lagging, one eligible: S4 keeps its own vote: a split vote
    stand(280, 5, "S4")  # alone, behind: not one
    stand(400, 6, "S2", "S3")  # two eligible and S2 wins: not one
    t.add(410, "role", node="S2", payload={"role": "leader", "term": 6})
    t.add(411, "appended", node="S5", payload={"index": 3, "term": 6, "command": "no-op"})
    stand(420, 7, "S5", "S3")  # S5 caught up by S2 (a short-lived leader): eligible now
    stand(430, 8, "S2")
    t.add(445, "role", node="S2", payload={"role": "leader", "term": 8})
    for node, at in (("S3", 446.0), ("S4", 447.0), ("S5", 449.5)):
        t.add(at, "leader", node=node, payload={"leader": "S2", "term": 8})

    class Run:
        trace, nodes = t, ("S1", "S2", "S3", "S4", "S5")

    row = measure_failover(Run(), "S1", 1, crash, lagging=("S4", "S5"))
    assert row == {"downtime_ms": 349.5, "terms": 7, "split_votes": 3, "leader": "S2",
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
    # five nodes: Prepare, Promise, Accept, Accepted to/from each of five, Learn to the other four
    assert basic["messages_per_command"] == 24 and basic["round_trips"] == 2
    assert multi["commands"] == 5 and multi["round_trips"] == 1
    # the entry to four followers and their four acknowledgements, at least
    assert 8 <= multi["messages_per_command"] < basic["messages_per_command"]
    assert set(multi["by_type"]) == {"AppendEntries", "AppendEntriesReply"}


def test_lesson_api_is_reachable_from_the_package():
    assert pl.experiments.leader_failover is leader_failover


def test_a_trial_crashes_the_leader_with_two_survivors_behind():
    setup = pl.experiments.failover_setup((150, 300), 5, 15.0, pl.experiments.FAILOVER_RTT_MS, 7)
    result = pl.experiments.failover_run((150, 300), seed=7, after_ms=600)
    crash_at, leader = setup["crash_at"], setup["leader"]
    crashes = [e for e in result.trace.of_kind("crash") if e.node == leader]
    assert [e.time for e in crashes] == [crash_at]
    logs = pl.plots.log_state(result, at=crash_at)
    assert len(logs[leader]["log"]) == 2 and logs[leader]["commit_index"] == 2
    assert all(len(logs[s]["log"]) == 0 for s in setup["lagging"])  # (no no-op: see the scenario)
    assert all(len(logs[s]["log"]) == 2 for s in logs if s not in (leader, *setup["lagging"]))
    # the heartbeat before the crash reset every survivor's timer: it lies within one interval
    assert 0 <= setup["offset"] < 75
    row = measure_failover(result, leader, setup["term"], crash_at, setup["lagging"])
    assert row["leader"] not in setup["lagging"] and row["downtime_ms"] > 0


def test_a_cluster_that_cannot_elect_gives_a_row_that_says_so():
    # 12-24 ms with a 15 ms broadcast time and each voter's timer restarted as the RequestVote
    # arrives: in trial 27 no leader lasts long enough to be crashed
    row = pl.experiments.failover_trial(((12, 24), 5, 15.0, 5.0, 1000.0, 27, False, False))
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


# ---- the setup: every survivor's timer restarts with its own copy of the last heartbeat ----------
def last_timer_restart(result, node, before):
    frame = result.trace.to_frame()
    sets = frame[(frame.kind == "timer_set") & (frame.node == node)
                 & (frame.msg_type == "ElectionTimeout") & (frame.time <= before)]
    return float(sets.time.max())


@pytest.mark.parametrize("seed", range(4))
def test_each_survivor_restarts_its_timer_when_its_own_copy_of_the_heartbeat_arrives(seed):
    setup = pl.experiments.failover_setup((150, 155), 5, 15.0, 5.0, seed)
    result = pl.experiments.failover_run((150, 155), seed=seed, after_ms=1)
    leader, crash_at = setup["leader"], setup["crash_at"]
    frame = result.trace.to_frame()
    beats = frame[(frame.kind == "send") & (frame.src == leader) & (frame.time < crash_at)]
    h = float(beats.time.max())  # the leader's last broadcast
    one_way = (5.0 / 4, 3 * 5.0 / 4)
    restarts = {s: last_timer_restart(result, s, crash_at + 10) - h
                for s in result.nodes if s != leader}
    for server, after in restarts.items():
        assert one_way[0] <= after <= one_way[1], (server, after)
    current = [s for s in restarts if s not in setup["lagging"]]
    for server in current:  # delivered: the handler restarted the timer as it always does
        delivered = frame[(frame.kind == "deliver") & (frame.src == leader) & (frame.dst == server)
                          & (frame.time >= h)]
        assert restarts[server] == float(delivered.time.min()) - h


def test_lagging_servers_time_out_first_about_as_often_as_up_to_date_ones():
    # all four survivors draw from 150-151 ms after their own copy of the heartbeat: which one
    # stands first is a fair draw (with the old setup the two lagging ones did in 90% of trials)
    first_lagging = 0
    trials = 40
    for seed in range(trials):
        setup = pl.experiments.failover_setup((150, 151), 5, 15.0, 5.0, seed)
        result = pl.experiments.failover_run((150, 151), seed=seed, after_ms=200)
        stood = [e for e in result.trace.of_kind("role")
                 if e.time >= setup["crash_at"] and e.payload["role"] == "candidate"]
        first_lagging += stood[0].node in setup["lagging"]
    assert 0.25 * trials <= first_lagging <= 0.75 * trials


def test_the_scenario_states_its_split_and_order():
    data = pl.experiments.failover_scenario((150, 300), broadcast_ms=15.0, rtt_ms=5.0,
                                            candidate_writes_first=False)
    assert data["network"]["delay"] == {"uniform": [1.25, 3.75]}
    assert data["options"]["persist_ms"] == 10.0 and data["options"]["heartbeat"] == 75
    assert data["options"]["candidate_writes_first"] is False and data["options"]["noop"] is False
    first = pl.experiments.failover_scenario((150, 300), candidate_writes_first=True)
    assert first["options"]["candidate_writes_first"] is True


def test_the_write_order_changes_the_failover():
    kwargs = dict(trials=12, seed=0, rtt_ms=1.0, progress=False)
    overlap = leader_failover((150, 155), candidate_writes_first=False, **kwargs)
    first = leader_failover((150, 155), candidate_writes_first=True, **kwargs)
    # writing first, all four survivors stand before any RequestVote (14 ms later) arrives
    assert overlap["downtime_ms"].median() * 5 < first["downtime_ms"].median()


# ---- the stored data: the paper's targets, and the sensitivity grid ----------------------------
def stored(label):
    return pl.experiments.load_failover(FAILOVER, [label])


def test_every_stored_range_has_the_papers_trial_count_in_the_papers_order():
    frame = pl.experiments.load_failover(FAILOVER)
    table = pl.experiments.failover_table(frame)
    assert list(table.index) == ["150-150", "150-151", "150-155", "150-175", "150-200", "150-300",
                                 "12-24", "25-50", "50-100", "100-200"]
    counts = frame.groupby("election_timeout", sort=False).size()
    assert counts["150-150"] == 100 and (counts.drop("150-150") == 1000).all()
    assert (table["trials"] + table["no_trial"] == counts).all()


def test_stored_failover_meets_the_papers_targets():
    table = pl.experiments.failover_table(pl.experiments.load_failover(FAILOVER))
    # 150-150: no leader for seconds in most trials (the paper: consistently more than 10 s)
    assert table.loc["150-150", "no_leader"] > 50
    assert table.loc["150-150", "median_ms"] >= 5 * table.loc["150-155", "median_ms"]
    assert 180 <= table.loc["150-155", "median_ms"] <= 450  # paper 287
    assert table.loc["150-200", "max_ms"] <= 800  # paper 513


def test_failover_summary_counts_a_trial_without_a_leader_as_endless():
    frame = pd.DataFrame({"downtime_ms": [10.0, float("nan"), float("nan"), 30.0],
                          "split_votes": [0, 3, 4, 1],
                          "note": ["", "no leader heard by all within 9 ms", "no leader to crash by t=1",
                                   ""]})
    row = pl.experiments.failover_summary(frame)
    assert row["trials"] == 3 and row["no_trial"] == 1 and row["no_leader"] == 1
    assert row["median_ms"] == 30.0 and row["p90_ms"] == math.inf
    assert row["mean_ms"] == 20.0 and row["max_ms"] == 30.0
    assert row["split_pct"] == pytest.approx(200 / 3)


def test_stored_sensitivity_grid_is_what_the_experiment_computes():
    grid = pd.read_csv(FAILOVER / "sensitivity.csv")
    assert len(grid) == 4 * 5 * 2 * 2
    assert set(grid["election_timeout"]) == {"150-150", "150-155", "150-200", "12-24"}
    assert (grid["rtt_ms"] + grid["persist_ms"] == 15).all()
    cell = grid[(grid["election_timeout"] == "150-200") & (grid["rtt_ms"] == 5)
                & ~grid["candidate_writes_first"] & ~grid["vote_timer_after_write"]].iloc[0]
    assert cell["trials"] + cell["no_trial"] == 300
    fresh = pl.experiments.failover_sensitivity(trials=300, rtts=[5.0], ranges=[(150, 200)],
                                                orders=[False], vote_timers=[False],
                                                progress=False).iloc[0]
    for column in ("trials", "no_leader", "median_ms", "p90_ms", "mean_ms", "max_ms", "split_pct"):
        assert fresh[column] == pytest.approx(cell[column], rel=1e-9), column


def test_default_split_and_order_are_the_sensitivity_grids_closest_to_the_papers_median():
    grid = pd.read_csv(FAILOVER / "sensitivity.csv")
    cells = grid[(grid["election_timeout"] == "150-155") & grid["vote_timer_after_write"]]
    best = cells.iloc[(cells["median_ms"] - 287).abs().argmin()]
    assert best["rtt_ms"] == pl.experiments.FAILOVER_RTT_MS
    assert bool(best["candidate_writes_first"]) == pl.experiments.FAILOVER_WRITES_FIRST


# ---- the plots: the paper's numbers on the CDF, and the sensitivity figure ---------------------
def test_the_cdf_marks_the_papers_numbers_for_the_ranges_shown():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # and a trial whose cluster never had a leader to crash (12-24 ms, voters' timers restarted
    # as the RequestVote arrives, seed 27)
    no_trial = pl.experiments.failover_trial(((12, 24), 5, 15.0, 5.0, 1000.0, 27, False, False))
    frame = pd.concat([stored("150-155")[:50], stored("12-24")[:50],
                       pd.DataFrame([{"election_timeout": "12-24", **no_trial}])])
    ax = pl.plots.failover_cdf(frame)
    points = {(line.get_xdata()[0], line.get_ydata()[0]) for line in ax.get_lines()
              if len(line.get_xdata()) == 1}
    assert points == {(287.0, 50.0), (35.0, 50.0), (152.0, 100.0)}  # not 150-200's 513
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    # only trials that crashed a leader: the one that never had one to crash is left out
    assert labels[:2] == ["150-155 (n=50)", "12-24 (n=50)"]
    assert labels[2:] == ["paper: median", "paper: mean", "paper: worst trial"]
    plt.close("all")


def test_the_sensitivity_plot_has_a_panel_per_order_and_a_line_per_range():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid = pd.read_csv(FAILOVER / "sensitivity.csv")
    axes = pl.plots.failover_sensitivity(grid)
    assert [a.get_title() for a in axes] == ["candidate writes, then sends",
                                             "candidate sends, its write overlaps"]
    for ax in axes:
        ranges = [line for line in ax.get_lines() if line.get_label().endswith(
            (": median", ": max", ": mean"))]
        assert [line.get_label() for line in ranges] == [
            "150-150: median", "150-155: median", "150-200: max", "12-24: mean"]
        assert all(len(line.get_xdata()) == 5 for line in ranges)
        paper = sorted(line.get_ydata()[0] for line in ax.get_lines() if line.get_linestyle() == "--")
        assert paper == [35.0, 287.0, 513.0, 10_000.0]
    plt.close("all")
