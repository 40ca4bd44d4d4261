"""State machine replication with a sequencer (lesson 01's protocol, ``smr``)."""

from __future__ import annotations

import paxoslab as pl
from paxoslab.protocols.smr import Append, Forward, ReplicaNode

NODES = ["S1", "S2", "S3"]


def smr(events, **extra) -> dict:
    data = {"name": "smr-test", "protocol": "smr", "nodes": NODES,
            "network": {"delay": {"uniform": [1, 4]}}, "events": events, "until": 100}
    data.update(extra)
    return data


def submits(*commands, node=None, step=1.0) -> list[dict]:
    events = []
    for i, command in enumerate(commands):
        submit = {"command": command} if node is None else {"command": command, "node": node}
        events.append({"at": i * step, "submit": submit})
    return events


def test_append_label():
    assert Append(2, "set x 1").label() == "#2 set x 1"
    assert Forward("set x 1").label() == "fwd set x 1"


def test_replica_applies_in_index_order_holding_back_early_commands():
    r = ReplicaNode("S2", NODES)
    r.on_append(Append(2, "set x 2"), "S1")
    assert r.applied == [] and r.machine.snapshot() == {}
    r.on_append(Append(1, "set x 1"), "S1")
    assert r.applied == ["set x 1", "set x 2"]
    assert r.machine.snapshot() == {"x": "2"}
    notes = [e for e in r.take_effects() if e[0] == "note"]
    assert [(n[1], n[2]["index"]) for n in notes] == [("applied", 1), ("applied", 2)]


def test_replica_ignores_a_repeated_append():
    r = ReplicaNode("S2", NODES)
    for _ in range(3):
        r.on_append(Append(1, "set x 1"), "S1")
    assert r.applied == ["set x 1"]


def test_sequencer_numbers_applies_and_sends_to_the_others():
    r = ReplicaNode("S1", NODES)
    r.submit("set a 1")
    r.submit("set b 2")
    sent = [(e[1], e[2]) for e in r.take_effects() if e[0] == "send"]
    assert sent == [("S2", Append(1, "set a 1")), ("S3", Append(1, "set a 1")),
                    ("S2", Append(2, "set b 2")), ("S3", Append(2, "set b 2"))]
    assert r.applied == ["set a 1", "set b 2"]


def test_non_sequencer_forwards_client_commands():
    r = ReplicaNode("S3", NODES)
    r.submit("set a 1")
    assert [(e[1], e[2]) for e in r.take_effects() if e[0] == "send"] == [
        ("S1", Forward("set a 1"))]
    assert r.applied == []


def test_replicas_end_in_the_same_state_after_the_same_commands():
    s = pl.run_scenario(smr(submits("set x 1", "set y 2", "del x", "set z 3"))).summary()
    assert s["consistent"] is True
    assert s["violations"] == []
    assert s["state"] == dict.fromkeys(NODES, {"y": "2", "z": "3"})
    assert s["applied"] == dict.fromkeys(NODES, ["set x 1", "set y 2", "del x", "set z 3"])
    assert s["logs"]["S2"][0] == {"index": 1, "command": "set x 1"}


def test_replicas_agree_despite_reordering_and_duplicates():
    data = smr(submits(*[f"set k{i} {i}" for i in range(8)], step=0.2),
               network={"delay": {"uniform": [0.5, 10]}, "duplicate": 0.5})
    for seed in range(5):
        s = pl.run_scenario(data, seed=seed).summary()
        assert s["consistent"] is True and s["violations"] == []
        assert all(len(cmds) == 8 for cmds in s["applied"].values())


def test_commands_submitted_anywhere_are_ordered_by_the_sequencer():
    events = submits("set x 1", node="S3") + [{"at": 0.5, "submit": {"command": "set x 2",
                                                                      "node": "S2"}}]
    s = pl.run_scenario(smr(events, network={"delay": {"fixed": 1}})).summary()
    assert s["consistent"] is True
    assert s["applied"]["S1"] == s["applied"]["S2"] == s["applied"]["S3"]
    assert s["applied"]["S1"] == ["set x 1", "set x 2"]  # S3's forward reached S1 first
    assert s["state"]["S2"] == {"x": "2"}


def test_sequencer_option_picks_who_numbers_commands():
    result = pl.run_scenario(smr(submits("set x 1"), options={"sequencer": "S2"}))
    s = result.summary()
    assert s["messages"]["by_type"] == {"Append": 2}  # clients go to the sequencer
    assert {(e.src, e.dst) for e in result.trace.of_kind("send")} == {("S2", "S1"), ("S2", "S3")}
    assert s["consistent"] is True


def test_nondeterministic_command_diverges_and_is_reported():
    s = pl.run_scenario(smr(submits("set x 1", "set token $random"))).summary()
    assert s["consistent"] is False
    assert [v["property"] for v in s["violations"]][:1] == ["replica-consistency"]
    tokens = {state["token"] for state in s["state"].values()}
    assert len(tokens) > 1


def test_a_divergence_names_the_first_command_the_replicas_applied_differently(scenario):
    # lesson 01's run: S3 holds #3 back until #2 arrives and applies both in one step, so its
    # last command, 'set x 3', is the same as S1's; the report must name #2, the token
    s = pl.run_scenario(scenario("smr-nondeterministic")).summary()
    details = [v["detail"] for v in s["violations"]]
    assert details[1].startswith("after command #3 S3 has ")
    assert details[1].endswith("they first differ at command #2 ('set token 887' vs 'set token 989')")
    assert details[0].endswith("they first differ at command #2 ('set token 873' vs 'set token 989')")


def test_every_divergence_names_the_command_that_differs():
    # whatever the delays, only the $random command (#2) can differ; it is named even when a
    # replica applies several commands in one step
    held_back = 0
    for seed in range(30):
        s = pl.run_scenario(smr(submits("set x 1", "set token $random", "set x 3", "set y 4", step=0.5),
                                network={"delay": {"uniform": [1, 8]}}), seed=seed).summary()
        assert s["violations"]
        for v in s["violations"]:
            assert "they first differ at command #2 ('set token " in v["detail"]
            held_back += not v["detail"].startswith("after command #2 ")
    assert held_back  # some replica got past #2 in the same step that made it diverge


def test_now_is_local_too_unless_resolved_at_the_sequencer():
    events = submits("set stamp $now")
    local = pl.run_scenario(smr(events)).summary()
    resolved = pl.run_scenario(smr(events, options={"resolve_at_sequencer": True})).summary()
    assert local["consistent"] is False
    assert resolved["consistent"] is True
    assert resolved["state"] == dict.fromkeys(NODES, {"stamp": "0"})


def test_resolving_at_the_sequencer_logs_one_value(scenario):
    s = pl.run_scenario(scenario("smr-resolved-at-sequencer")).summary()
    assert s["consistent"] is True
    (token,) = {state["token"] for state in s["state"].values()}
    assert token.isdigit()
    assert "$random" not in str(s["applied"])


def test_lesson_01_scenarios(scenario):
    det = pl.run_scenario(scenario("smr-deterministic")).summary()
    nondet = pl.run_scenario(scenario("smr-nondeterministic")).summary()
    assert det["consistent"] and det["state"]["S3"] == {"x": "3", "z": "5"}
    assert not nondet["consistent"] and nondet["violations"]


def test_replicas_lag_while_commands_are_in_flight(scenario):
    """Internal inconsistency is allowed in flight: S3 applies later than S1."""
    result = pl.run_scenario(scenario("smr-deterministic"))
    applied = {n: [e.time for e in result.trace.of_kind("applied") if e.node == n]
               for n in NODES}
    assert all(s3 > s1 for s1, s3 in zip(applied["S1"], applied["S3"], strict=True))


def test_bank_account_replication(tiny):
    data = smr(submits("deposit 100", "withdraw 30", "interest 10", "withdraw 500"),
               options={"machine": "bank"})
    s = pl.run_scenario(data).summary()
    assert s["state"] == dict.fromkeys(NODES, {"balance": 77})
    assert s["consistent"] is True


def test_crashed_replica_reports_no_state():
    events = submits("set x 1") + [{"at": 10, "crash": "S3"}]
    s = pl.run_scenario(smr(events)).summary()
    assert s["state"]["S3"] is None
    assert s["consistent"] is True


def test_a_recovered_replica_rebuilds_its_state_from_what_it_applied():
    result = pl.run_scenario({
        "name": "smr-crash", "protocol": "smr", "nodes": ["S1", "S2", "S3"],
        "events": [{"at": 0, "submit": {"command": "set x 1"}}, {"at": 3, "crash": "S2"},
                   {"at": 4, "recover": "S2"}, {"at": 5, "submit": {"command": "set y 2"}}],
    })
    summary = result.summary()
    assert summary["state"]["S2"] == {"x": "1", "y": "2"}
    assert summary["applied"]["S2"] == ["set x 1", "set y 2"]
    assert summary["consistent"] and summary["violations"] == []


def test_a_replica_down_while_a_command_passes_stays_behind():
    result = pl.run_scenario({
        "name": "smr-missed", "protocol": "smr", "nodes": ["S1", "S2", "S3"],
        "events": [{"at": 0, "crash": "S2"}, {"at": 0, "submit": {"command": "set x 1"}},
                   {"at": 4, "recover": "S2"}],
    })
    summary = result.summary()
    assert summary["state"]["S2"] == {} and summary["state"]["S3"] == {"x": "1"}
    assert not summary["consistent"]


def test_a_bank_balance_never_grows_past_printing():
    """Compound interest past 4,300 digits crashed the summary (ValueError from repr)."""
    import json

    commands = ["deposit 999999999999", "interest 100000"] + [f"interest {10**17}"] * 300
    data = smr(submits(*commands, step=0.1), options={"machine": "bank"})
    result = pl.run_scenario(data)
    s = result.summary()
    json.dumps(s)
    assert s["consistent"] is True and s["violations"] == []
    assert s["state"] == dict.fromkeys(NODES, {"balance": 1000999999998999})
    assert "balance" in result.describe()


def test_a_bank_amount_at_the_limit_is_refused_when_the_scenario_loads():
    data = smr(submits("deposit 1000000000000000000"), options={"machine": "bank"})
    try:
        pl.run_scenario(data)
    except pl.ScenarioError as exc:
        assert "events[0].submit.command" in str(exc) and "below 1,000,000,000,000,000,000" in str(exc)
    else:
        raise AssertionError("a deposit of 10**18 was accepted")


def test_a_command_that_resolves_to_no_command_is_refused_and_the_run_goes_on():
    """``deposit $now`` at t=0.5 is 'deposit 0.5': it used to crash the run (HandlerError)."""
    data = smr([{"at": 0.5, "submit": {"command": "deposit $now"}},
                {"at": 1, "submit": {"command": "deposit 7"}},
                {"at": 30, "crash": "S2"}, {"at": 40, "recover": "S2"}],
               options={"machine": "bank", "resolve_at_sequencer": True})
    result = pl.run_scenario(data)
    s = result.summary()
    assert s["state"] == dict.fromkeys(NODES, {"balance": 7}) and s["consistent"] is True
    assert s["applied"]["S2"] == ["deposit 0.5", "deposit 7"]
    refused = [e for e in result.trace.of_kind("applied") if e.payload.get("refused")]
    assert len(refused) == 3 and "not a whole number in 'deposit 0.5'" in refused[0].payload["refused"]
    assert "(refused: not a whole number" in result.narrate()
