"""run_scenario and Result.summary(): the public contract of DESIGN §3."""

from __future__ import annotations

import json
import signal
from contextlib import contextmanager

import pytest

import paxoslab as pl
from paxoslab.runner import compare_expectations, matches
from paxoslab.sim import SimulationStalled

COMMON_KEYS = {"scenario", "protocol", "seed", "end_time", "messages", "violations", "expect",
               "digest"}
PAXOS_KEYS = COMMON_KEYS | {"learned", "learned_at", "decided", "ballots", "decided_at",
                             "ballots_per_node", "preemptions", "livelocked"}
SMR_KEYS = COMMON_KEYS | {"logs", "state", "applied", "consistent"}


@pytest.fixture(scope="module")
def case2(scenario):
    return pl.run_scenario(scenario("basic-paxos-case-2"))


def test_basic_paxos_summary_has_exactly_the_design_keys(case2):
    s = case2.summary()
    assert set(s) == PAXOS_KEYS
    assert set(s["messages"]) == {"sent", "delivered", "dropped", "by_type"}
    assert set(s["expect"]) == {"ok", "failed"}


def test_basic_paxos_summary_values(case2):
    s = case2.summary()
    assert s["scenario"] == "basic-paxos-case-2"
    assert s["protocol"] == "basic-paxos"
    assert s["seed"] == 0
    assert s["learned"] == dict.fromkeys(["S1", "S2", "S3", "S4", "S5"], "X")
    assert s["decided"] == "X"
    assert s["ballots"] == ["3.1", "4.5"]
    assert s["decided_at"] == 6.0  # the third acceptance of (4.5, X); its proposer counts it at 7
    assert s["learned_at"]["S5"] == case2.trace.of_kind("learned")[0].time == 7.0
    assert s["learned_at"]["S3"] == 8.0  # S5's Learn
    assert s["end_time"] >= s["decided_at"]
    assert s["violations"] == []
    assert s["expect"] == {"ok": True, "failed": []}
    assert s["digest"] == case2.trace.digest()


def test_smr_summary_keys(scenario):
    s = pl.run_scenario(scenario("smr-deterministic")).summary()
    assert set(s) == SMR_KEYS
    assert s["protocol"] == "smr"


def test_message_counts_agree_with_the_trace(case2):
    s, trace = case2.summary()["messages"], case2.trace
    assert s["sent"] == len(trace.of_kind("send"))
    assert s["delivered"] == len(trace.of_kind("deliver"))
    assert s["dropped"] == len(trace.of_kind("drop"))
    assert sum(s["by_type"].values()) == s["sent"]
    assert list(s["by_type"]) == sorted(s["by_type"])
    assert s["by_type"]["Prepare"] == 10


def test_summary_is_plain_json(scenario):
    for name in ("basic-paxos-case-3", "smr-nondeterministic"):
        s = pl.run_scenario(scenario(name)).summary()
        assert json.loads(json.dumps(s)) == s


def test_summary_is_stable_across_calls(case2):
    assert case2.summary() == case2.summary()


def test_violations_in_summary_are_property_time_detail(scenario):
    data = scenario("basic-paxos-case-1")
    data["options"]["bugs"] = ["proposer-ignores-accepted"]
    result = pl.run_scenario(data)
    s = result.summary()
    assert s["violations"]
    for v in s["violations"]:
        assert set(v) == {"property", "time", "detail"}
    assert [v.to_dict() for v in result.violations] == s["violations"]
    assert [v["time"] for v in s["violations"]] == sorted(v["time"] for v in s["violations"])


def test_seed_argument_overrides_the_scenario_seed(tiny):
    data = tiny(seed=7, network={"delay": {"uniform": [1, 5]}})
    assert pl.run_scenario(data).summary()["seed"] == 7
    assert pl.run_scenario(data, seed=3).summary()["seed"] == 3
    assert pl.run_scenario(data, seed=7).summary() == pl.run_scenario(data).summary()


def test_unmet_expectations_are_listed(tiny):
    data = tiny(expect={"decided": "Y", "violations": [], "ballots": ["1.1"]})
    s = pl.run_scenario(data).summary()
    assert s["expect"]["ok"] is False
    assert s["expect"]["failed"] == [
        {"key": "decided", "expected": "Y", "actual": "X"},
    ]


def test_expected_objects_constrain_only_the_keys_they_name(tiny):
    s = pl.run_scenario(tiny(expect={"learned": {"S2": "X"},
                                     "messages": {"dropped": 0}})).summary()
    assert s["expect"] == {"ok": True, "failed": []}


def test_matches_and_compare_expectations():
    assert matches({"a": 1}, {"a": 1, "b": 2})
    assert not matches({"a": 1, "c": 3}, {"a": 1})
    assert matches({"a": {"b": [1]}}, {"a": {"b": [1], "c": 0}})
    assert not matches([1], [1, 2])
    assert matches(None, None)
    assert compare_expectations({}, {"x": 1}) == {"ok": True, "failed": []}


def test_result_exposes_trace_protocol_and_nodes(case2):
    assert isinstance(case2.trace, pl.Trace)
    assert case2.trace is case2.sim.trace
    assert case2.protocol == "basic-paxos"
    assert case2.nodes == ("S1", "S2", "S3", "S4", "S5")
    assert case2.seed == 0


def test_describe_is_the_text_report(case2):
    text = case2.describe()
    assert text.splitlines()[0].startswith("basic-paxos-case-2")
    assert "decided    X" in text


def test_undetailed_run_has_the_same_outcome(scenario):
    data = scenario("basic-paxos-case-3")
    data["network"]["delay"] = {"uniform": [0.5, 2]}
    full = pl.run_scenario(data, seed=9).summary()
    lean = pl.run_scenario(data, seed=9, detailed=False).summary()
    assert {k: v for k, v in full.items() if k != "digest"} == {
        k: v for k, v in lean.items() if k != "digest"}


def test_until_limits_the_run(tiny):
    s = pl.run_scenario(tiny(until=2)).summary()
    assert s["end_time"] <= 2
    assert s["decided"] is None


def test_events_after_until_are_refused_not_silently_dropped(tiny):
    data = tiny(events=[{"at": 60, "propose": {"node": "S1", "value": "X"}}], until=50)
    with pytest.raises(pl.ScenarioError, match=r"events\[0\]\.at"):
        pl.run_scenario(data)


def test_crashed_learner_still_counts_what_it_persisted(tiny):
    data = tiny(events=[{"at": 0, "propose": {"node": "S1", "value": "X"}},
                        {"at": 20, "crash": "S2"}])
    s = pl.run_scenario(data).summary()
    assert s["learned"]["S2"] == "X"


def test_proposal_to_a_crashed_node_is_lost(tiny):
    data = tiny(events=[{"at": 0, "crash": "S1"},
                        {"at": 1, "propose": {"node": "S1", "value": "X"}}])
    result = pl.run_scenario(data)
    assert result.summary()["decided"] is None
    assert result.trace.of_kind("request_lost")


def test_persist_ms_slows_the_decision_but_not_the_outcome(scenario):
    data = scenario("basic-paxos-case-1")
    fast = pl.run_scenario(data).summary()
    data["options"]["persist_ms"] = 3
    slow = pl.run_scenario(data).summary()
    assert slow["decided"] == fast["decided"] == "X"
    assert slow["decided_at"] > fast["decided_at"]


@contextmanager
def time_limit(seconds: float):
    """Raise TimeoutError in this (main) thread if the block runs longer than ``seconds``."""

    def expire(signum, frame):
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_run_ends_even_when_time_cannot_advance_with_simulation_stalled(tiny):
    """Valid input whose run fails: not a ScenarioError, which would blame one field."""
    data = tiny(network={"delay": {"fixed": 0}},
                options={"backoff": {"base": 0, "jitter": 0}},
                events=[{"at": 0, "propose": {"node": "S1", "value": "X"}},
                        {"at": 0, "propose": {"node": "S3", "value": "Y"}}],
                until=10)
    with time_limit(30), pytest.raises(SimulationStalled, match="time stands still at t=0"):
        pl.run_scenario(data, detailed=False)


# ---- hostile input through the API -------------------------------------------------------------
@pytest.mark.parametrize("seed", ["abc", 1.5, True, None.__class__])
def test_a_seed_that_is_not_a_whole_number_is_refused(tiny, seed):
    with pytest.raises(pl.ScenarioError, match="<scenario tiny>: seed: must be a whole number"):
        pl.run_scenario(tiny(), seed=seed)


def test_a_numpy_integer_seed_is_a_seed(tiny):
    np = pytest.importorskip("numpy")
    assert pl.run_scenario(tiny(), seed=np.int64(3)).summary()["seed"] == 3
    assert pl.run_scenario(tiny(), seed=np.int64(3)).summary()["digest"] == \
        pl.run_scenario(tiny(), seed=3).summary()["digest"]


@pytest.mark.parametrize(("where", "value", "field"), [
    ("until", float("nan"), "until: NaN"),
    ("until", float("inf"), "until: Infinity"),
    ("until", 10 ** 5000, "until: an integer of more than 30 digits"),
    ("value", float("nan"), "events[0].propose.value: NaN"),
], ids=["nan", "inf", "5001-digits", "nan-value"])
def test_non_finite_and_endless_numbers_in_a_dict_are_refused(tiny, where, value, field):
    data = tiny()
    if where == "value":
        data["events"][0]["propose"]["value"] = value
    else:
        data[where] = value
    with pytest.raises(pl.ScenarioError, match=field.replace("[", r"\[").replace("]", r"\]")):
        pl.run_scenario(data)


def test_a_dict_nested_thousands_deep_is_refused_without_recursion_error(tiny):
    data = tiny()
    deep: list = []
    for _ in range(5000):
        deep = [deep]
    data["events"][0]["propose"]["value"] = deep
    with pytest.raises(pl.ScenarioError, match="nested deeper than 100"):
        pl.run_scenario(data)


@pytest.mark.parametrize(("schedule", "problem"), [
    ([{"deliver": [1]}], "names no message id"),
    ([{"deliver": {"id": 1}}], "names no message id"),
    ([{"timer": ["S1"], "type": "PhaseTimeout"}], "names no message id"),
    ([{"action": 5}], "the next scenario action is 0, not 5"),
], ids=["deliver-list", "deliver-object", "timer-list", "action-past-the-events"])
def test_a_schedule_step_of_the_wrong_shape_is_one_line_naming_it(tiny, schedule, problem):
    with pytest.raises(pl.ScenarioError, match=r"<scenario tiny>: schedule\[0\]: " + problem):
        pl.run_scenario({**tiny(), "schedule": schedule})


# ---- schedule steps the network could never take (issue 19) ----------------------------------
@pytest.mark.parametrize(("network", "step", "problem"), [
    ({}, {"lose": 1}, r"cannot lose message 1 \(Prepare S1 -> S2\): network.drop is 0 and no "
                      r"partition or rule cuts S1 -> S2"),
    ({"drop": 0.1}, {"duplicate": 2}, r"cannot duplicate message 2 \(Prepare S1 -> S3\): "
                                      r"network.duplicate is 0"),
    ({"drop": 0.1, "duplicate": 0.1}, {"lose": 0},
     r"cannot lose message 0 \(Prepare S1 -> S1\): a node's message to itself never crosses"),
    ({"duplicate": 0.1}, {"duplicate": 0, "from": "S1"}, r"cannot duplicate message 0"),
])
def test_a_schedule_step_the_network_cannot_take_is_one_line_naming_it(tiny, network, step,
                                                                         problem):
    data = tiny(network={"delay": {"fixed": 1}, **network}, schedule=[{"action": 0}, step])
    with pytest.raises(pl.ScenarioError, match=r"^<scenario tiny>: schedule\[1\]: " + problem) as info:
        pl.run_scenario(data)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(("network", "events", "schedule"), [
    ({"drop": 0.1}, [], [{"lose": 1}]),
    ({"duplicate": 0.1}, [], [{"duplicate": 1}, {"deliver": 1}]),
    ({}, [{"at": 1, "partition": [["S1"], ["S2", "S3"]]}], [{"action": 1}, {"lose": 1}]),
])
def test_a_loss_or_duplicate_the_network_allows_replays(tiny, network, events, schedule):
    data = tiny(network={"delay": {"fixed": 1}, **network},
                events=[{"at": 0, "propose": {"node": "S1", "value": "X"}}, *events],
                schedule=[{"action": 0}, *schedule])
    result = pl.run_scenario(data)
    kinds = [e.kind for e in result.trace.events]
    assert ("drop" if "lose" in schedule[-1] else "duplicate") in kinds


def test_the_cli_refuses_an_impossible_schedule_step_with_exit_2(tiny, tmp_path, capsys):
    from paxoslab.__main__ import main

    path = tmp_path / "lossless.json"
    path.write_text(json.dumps(tiny(schedule=[{"action": 0}, {"lose": 2}])))
    assert main(["run", str(path)]) == 2
    out, err = capsys.readouterr()
    (line,) = err.strip().splitlines()
    assert out == "" and line == (f"paxoslab: error: {path}: schedule[1]: cannot lose message 2 "
                                  "(Prepare S1 -> S3): network.drop is 0 and no partition or rule "
                                  "cuts S1 -> S3")


def test_expect_can_say_not_and_in(case2):
    """A grader must be able to say "something was decided" and "one of these values"."""
    s = case2.summary()
    assert compare_expectations({"decided": {"not": None}, "learned": {"S1": {"in": ["X", "Y"]}}},
                                s) == {"ok": True, "failed": []}
    failed = compare_expectations({"decided": {"in": ["Y", "Z"]}, "decided_at": {"not": 6.0}}, s)
    assert [f["key"] for f in failed["failed"]] == ["decided", "decided_at"]


def test_expect_in_must_list_the_values(scenario):
    sc = scenario("basic-paxos-case-1")
    sc["expect"] = {"learned": {"S2": {"in": "X"}}}
    with pytest.raises(pl.ScenarioError, match=r"expect\.learned\.S2\.in: 'X' is not a list"):
        pl.run_scenario(sc)
