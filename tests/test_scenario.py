"""Loading and validating scenarios; every shipped scenario meets its expectations."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

import paxoslab as pl
from paxoslab.network import Exponential, Fixed, Uniform
from paxoslab.scenario import ScenarioError, Validator, build_network, load, set_path

SCENARIO_FILES = sorted((Path(__file__).resolve().parent.parent / "data" / "scenarios")
                        .glob("*.json"))


# ---- the shipped scenarios ---------------------------------------------------------------
def test_the_course_scenarios_are_there():
    names = {p.stem for p in SCENARIO_FILES}
    assert {"basic-paxos-case-1", "basic-paxos-case-2", "basic-paxos-case-3",
            "basic-paxos-livelock"} <= names


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=lambda p: p.stem)
def test_every_scenario_file_runs_and_meets_its_expect(path):
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["name"] == path.stem
    assert data.get("expect"), "a shipped scenario should state what it shows"
    summary = pl.run_scenario(path).summary()
    assert summary["expect"] == {"ok": True, "failed": []}
    assert summary["scenario"] == path.stem


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=lambda p: p.stem)
def test_scenario_file_and_equal_dict_give_the_same_run(path):
    data = json.loads(path.read_text(encoding="utf-8"))
    assert pl.run_scenario(path).summary() == pl.run_scenario(data).summary()
    assert pl.run_scenario(str(path)).summary()["digest"] == pl.run_scenario(data).summary()[
        "digest"]


# ---- load -------------------------------------------------------------------------------
def test_load_returns_a_validated_copy(tiny):
    data = tiny()
    original = copy.deepcopy(data)
    loaded = load(data)
    assert loaded == data
    loaded["events"].append({"at": 1, "crash": "S1"})
    loaded["network"]["delay"]["fixed"] = 9
    assert data == original


def test_run_scenario_does_not_modify_the_callers_dict(scenario):
    data = scenario("basic-paxos-case-2")
    original = copy.deepcopy(data)
    pl.run_scenario(data, seed=4)
    assert data == original


def test_load_reads_a_path(scenarios_dir):
    path = scenarios_dir / "basic-paxos-case-1.json"
    assert load(path) == load(str(path)) == json.loads(path.read_text())


def test_scenario_error_is_one_line_naming_source_and_field(tiny):
    with pytest.raises(ScenarioError) as info:
        load(tiny(events=[{"at": 0, "crash": "S9"}]))
    err = info.value
    assert (err.source, err.field) == ("<scenario tiny>", "events[0].crash")
    assert "S9" in err.problem
    assert str(err) == f"{err.source}: {err.field}: {err.problem}"
    assert "\n" not in str(err)
    assert isinstance(err, ValueError)


def test_scenario_error_from_a_file_names_the_file(tmp_path, tiny):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(tiny(until=-1)))
    with pytest.raises(ScenarioError) as info:
        load(path)
    assert info.value.source == str(path)
    assert info.value.field == "until"


def test_missing_file_is_a_scenario_error(tmp_path):
    with pytest.raises(ScenarioError, match="file"):
        load(tmp_path / "nope.json")


def test_top_level_must_be_an_object():
    with pytest.raises(ScenarioError, match="must be a JSON object"):
        load([1, 2])


def test_build_network_turns_json_into_models():
    c = Validator("<t>")
    nodes = ["S1", "S2", "S3"]
    net = build_network({"delay": {"uniform": [1, 3]}, "drop": 0.1, "duplicate": 0.2,
                         "rules": [{"from": "S1", "to": ["S2"], "type": "Accept", "delay": 6},
                                   {"to": "S3", "drop": True}]}, nodes, c)
    assert net.delay == Uniform(1.0, 3.0)
    assert (net.drop, net.duplicate) == (0.1, 0.2)
    first, second = net.rules
    assert (first.src, first.dst, first.msg_types, first.delay) == (
        {"S1"}, {"S2"}, {"Accept"}, Fixed(6.0))
    assert (second.src, second.dst, second.drop) == (None, {"S3"}, True)
    assert build_network({"delay": {"exponential": 2}}, nodes, c).delay == Exponential(2.0)
    assert build_network({"delay": 4}, nodes, c).delay == Fixed(4.0)
    assert build_network({}, nodes, c).delay == Fixed(1.0)


# ---- validation ---------------------------------------------------------------------------
def _without(key):
    def change(d):
        del d[key]
    return change


def _set(path, value):
    """Set a nested key: ``_set("network.delay", {...})``; ``events[0]`` style indexes too."""
    def change(d):
        target = d
        steps = path.replace("]", "").replace("[", ".").split(".")
        for step in steps[:-1]:
            target = target[int(step)] if step.isdigit() else target.setdefault(step, {})
        last = steps[-1]
        target[int(last) if last.isdigit() else last] = value
    return change


BAD = [
    ("missing name", _without("name"), "name"),
    ("missing protocol", _without("protocol"), "protocol"),
    ("missing nodes", _without("nodes"), "nodes"),
    ("unknown top-level key", _set("nodez", ["S1"]), "nodez"),
    ("unknown protocol", _set("protocol", "raft"), "protocol"),
    ("name not a string", _set("name", 5), "name"),
    ("nodes not a list", _set("nodes", "S1"), "nodes"),
    ("no nodes", _set("nodes", []), "nodes"),
    ("node not a string", _set("nodes", ["S1", 2]), "nodes[1]"),
    ("duplicate node", _set("nodes", ["S1", "S1"]), "nodes"),
    ("seed not whole", _set("seed", 1.5), "seed"),
    ("until zero", _set("until", 0), "until"),
    ("until a string", _set("until", "soon"), "until"),
    ("network not an object", _set("network", []), "network"),
    ("unknown network key", _set("network.latency", 3), "network.latency"),
    ("negative fixed delay", _set("network.delay", {"fixed": -1}), "network.delay.fixed"),
    ("non-numeric delay", _set("network.delay", {"fixed": "fast"}), "network.delay.fixed"),
    ("bool delay", _set("network.delay", {"fixed": True}), "network.delay.fixed"),
    ("unknown delay model", _set("network.delay", {"gamma": 2}), "network.delay"),
    ("uniform reversed", _set("network.delay", {"uniform": [5, 1]}), "network.delay.uniform"),
    ("uniform negative", _set("network.delay", {"uniform": [-1, 1]}),
     "network.delay.uniform[0]"),
    ("negative exponential", _set("network.delay", {"exponential": -2}),
     "network.delay.exponential"),
    ("drop above one", _set("network.drop", 1.5), "network.drop"),
    ("duplicate below zero", _set("network.duplicate", -0.1), "network.duplicate"),
    ("rule with unknown node", _set("network.rules", [{"from": "S9", "delay": 2}]),
     "network.rules[0].from"),
    ("rule with unknown node in list", _set("network.rules", [{"to": ["S1", "S7"], "delay": 2}]),
     "network.rules[0].to[1]"),
    ("rule without effect", _set("network.rules", [{"from": "S1"}]), "network.rules[0]"),
    ("rule with unknown key", _set("network.rules", [{"src": "S1", "delay": 1}]),
     "network.rules[0].src"),
    ("rule negative delay", _set("network.rules", [{"from": "S1", "delay": -3}]),
     "network.rules[0].delay"),
    ("rule drop not bool", _set("network.rules", [{"from": "S1", "drop": "yes"}]),
     "network.rules[0].drop"),
    ("rule with a misspelt message type", _set("network.rules", [{"type": "Acept", "delay": 2}]),
     "network.rules[0].type"),
    ("rule with an unknown type in a list",
     _set("network.rules", [{"type": ["Accept", "Append"], "drop": True}]), "network.rules[0].type[1]"),
    ("options not an object", _set("options", ["x"]), "options"),
    ("unknown option", _set("options.speed", 3), "options.speed"),
    ("unknown bug", _set("options.bugs", ["no-such-bug"]), "options.bugs[0]"),
    ("bugs not a list", _set("options.bugs", "accept-below-promise"), "options.bugs"),
    ("negative persist_ms", _set("options.persist_ms", -1), "options.persist_ms"),
    ("backoff multiplier below one", _set("options.backoff", {"multiplier": 0.5}),
     "options.backoff.multiplier"),
    ("proposal timeout zero", _set("options.proposal_timeout", 0), "options.proposal_timeout"),
    ("events not a list", _set("events", {"at": 0}), "events"),
    ("event not an object", _set("events", ["crash S1"]), "events[0]"),
    ("event without at", _set("events", [{"crash": "S1"}]), "events[0].at"),
    ("negative at", _set("events", [{"at": -1, "crash": "S1"}]), "events[0].at"),
    ("at uniform reversed", _set("events", [{"at": {"uniform": [3, 1]}, "crash": "S1"}]),
     "events[0].at.uniform"),
    ("unknown action", _set("events", [{"at": 0, "explode": "S1"}]), "events[0].explode"),
    ("two actions", _set("events", [{"at": 0, "crash": "S1", "recover": "S1"}]), "events[0]"),
    ("crash unknown node", _set("events", [{"at": 0, "crash": "S9"}]), "events[0].crash"),
    ("propose unknown node", _set("events", [{"at": 0, "propose": {"node": "S9", "value": "X"}}]),
     "events[0].propose.node"),
    ("propose without value", _set("events", [{"at": 0, "propose": {"node": "S1"}}]),
     "events[0].propose.value"),
    ("propose bad value", _set("events", [{"at": 0, "propose": {"node": "S1", "value": [1]}}]),
     "events[0].propose.value"),
    ("propose round zero", _set("events", [{"at": 0, "propose": {"node": "S1", "value": "X",
                                                                 "round": 0}}]),
     "events[0].propose.round"),
    ("partition unknown node", _set("events", [{"at": 0, "partition": [["S1"], ["S8"]]}]),
     "events[0].partition[1][0]"),
    ("partition node twice", _set("events", [{"at": 0, "partition": [["S1"], ["S1", "S2"]]}]),
     "events[0].partition[1]"),
    ("heal false", _set("events", [{"at": 0, "heal": False}]), "events[0].heal"),
    ("expect not an object", _set("expect", ["X"]), "expect"),
    ("protocol given as a list", _set("protocol", ["basic-paxos"]), "protocol"),
    ("bug given as a list", _set("options.bugs", [["accept-below-promise"]]), "options.bugs[0]"),
]


@pytest.mark.parametrize(("change", "field"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_scenario_names_the_field(tiny, change, field):
    data = tiny()
    change(data)
    with pytest.raises(ScenarioError) as info:
        load(data)
    assert info.value.field == field
    assert "\n" not in str(info.value)


def test_smr_validation(tiny):
    base = {"name": "s", "protocol": "smr", "nodes": ["S1", "S2"]}
    load({**base, "options": {"machine": "bank", "sequencer": "S2"},
          "events": [{"at": 0, "submit": {"command": "deposit 5"}}]})
    cases = [
        ({"options": {"machine": "sql"}}, "options.machine"),
        ({"options": {"sequencer": "S3"}}, "options.sequencer"),
        ({"options": {"resolve_at_sequencer": "yes"}}, "options.resolve_at_sequencer"),
        ({"options": {"bugs": ["anything"]}}, "options.bugs[0]"),
        ({"events": [{"at": 0, "submit": {"command": "put x 1"}}]}, "events[0].submit.command"),
        ({"events": [{"at": 0, "submit": {"command": 5}}]}, "events[0].submit.command"),
        ({"events": [{"at": 0, "submit": {"command": "set x 1", "node": "S9"}}]},
         "events[0].submit.node"),
        ({"events": [{"at": 0, "propose": {"node": "S1", "value": "X"}}]}, "events[0].propose"),
    ]
    for extra, field in cases:
        with pytest.raises(ScenarioError) as info:
            load({**base, **extra})
        assert info.value.field == field, extra


def test_unhashable_machine_is_reported_as_wrong_type():
    with pytest.raises(ScenarioError):
        load({"name": "s", "protocol": "smr", "nodes": ["S1"], "options": {"machine": ["kv"]}})


def test_defaults_are_filled_in_by_the_runner_not_the_loader(tiny):
    data = tiny()
    del data["until"], data["network"]
    assert "until" not in load(data)
    s = pl.run_scenario(data).summary()
    assert s["decided"] == "X" and s["seed"] == 0


def test_random_start_times_follow_the_seed(tiny):
    data = tiny(events=[{"at": {"uniform": [2, 8]}, "propose": {"node": "S1", "value": "X"}}])

    def started(seed):
        return pl.run_scenario(data, seed=seed).trace.of_kind("propose")[0].time

    assert started(3) == started(3)
    times = {started(s) for s in range(6)}
    assert len(times) == 6
    assert all(2 <= t <= 8 for t in times)


def test_a_partition_group_may_be_a_single_name(tiny):
    data = tiny(nodes=["S1", "S2", "S3", "S4", "S5"],
                events=[{"at": 0, "partition": ["S1", ["S2", "S3"]]},
                        {"at": 0, "propose": {"node": "S1", "value": "X"}}])
    result = pl.run_scenario(data)
    (part,) = result.trace.of_kind("partition")
    assert part.payload == {"groups": [["S1"], ["S2", "S3"], ["S4", "S5"]]}
    assert result.summary()["decided"] is None


# ---- set_path (shared by widgets and sweeps) -----------------------------------------------
def test_set_path_sets_nested_fields():
    data = {"events": [{"at": 0}, {"at": 2}], "network": {"rules": [{"delay": 1}]}}
    set_path(data, "events[1].at", 5)
    set_path(data, "network.rules[0].delay", {"fixed": 3})
    set_path(data, "until", 9)
    assert data == {"events": [{"at": 0}, {"at": 5}],
                    "network": {"rules": [{"delay": {"fixed": 3}}]}, "until": 9}


def test_set_path_creates_missing_objects():
    data = {"name": "x"}
    set_path(data, "options.backoff.jitter", 3)
    assert data == {"name": "x", "options": {"backoff": {"jitter": 3}}}


def test_set_path_into_a_missing_list_item_fails_loudly():
    with pytest.raises(IndexError):
        set_path({"events": []}, "events[3].at", 1)


def test_set_path_result_runs(scenario):
    data = scenario("basic-paxos-case-2")
    set_path(data, "network.rules[0].delay", 6)
    assert pl.run_scenario(data).summary()["decided"] == "Y"


# ---- validation gaps: misspelt expect keys, events after until, partial partitions ------------
def test_a_misspelt_expect_key_is_an_input_error_naming_it():
    data = {"name": "x", "protocol": "basic-paxos", "nodes": ["S1"], "expect": {"decidd": "X"}}
    with pytest.raises(ScenarioError, match=r"expect\.decidd: not a summary key of basic-paxos"):
        load(data)


def test_every_protocol_declares_exactly_the_summary_keys_it_returns():
    from paxoslab.protocols import COMMON_SUMMARY_KEYS, PROTOCOLS

    for path in SCENARIO_FILES:
        result = pl.run_scenario(path)
        spec = PROTOCOLS[result.protocol]
        assert set(result.summary()) == COMMON_SUMMARY_KEYS | spec.core.summary_keys, path.name


@pytest.mark.parametrize("at", [50, {"uniform": [10, 41]}])
def test_an_event_after_until_is_rejected(at):
    data = {"name": "x", "protocol": "basic-paxos", "nodes": ["S1"], "until": 40,
            "events": [{"at": at, "crash": "S1"}]}
    with pytest.raises(ScenarioError, match=r"events\[0\]\.at: .* is after until=40"):
        load(data)


def test_nodes_left_out_of_a_partition_form_one_more_group_written_out():
    data = {"name": "x", "protocol": "basic-paxos", "nodes": ["S1", "S2", "S3"],
            "events": [{"at": 1, "partition": [["S1"]]}]}
    loaded = load(data)
    assert loaded["events"][0]["partition"] == [["S1"], ["S2", "S3"]]
    assert data["events"][0]["partition"] == [["S1"]]  # the caller's dict is untouched
    run = pl.run_scenario(loaded)
    assert run.trace.of_kind("partition")[0].payload == {"groups": [["S1"], ["S2", "S3"]]}


def test_a_misspelt_nested_key_is_named_not_reported_missing():
    data = {"name": "x", "protocol": "basic-paxos", "nodes": ["S1"],
            "events": [{"at": 0, "propose": {"nod": "S1", "value": "X"}}]}
    with pytest.raises(ScenarioError, match=r"events\[0\]\.propose\.nod: unknown key"):
        load(data)
