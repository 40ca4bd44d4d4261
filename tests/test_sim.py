"""The event loop: ordering, time limits, faults, RNG streams, effects."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

import paxoslab as pl
from paxoslab import Node, Simulation
from paxoslab import sim as sim_module
from paxoslab.network import Fixed, Network, Uniform
from paxoslab.protocols.basic_paxos import Ballot, Prepare
from paxoslab.sim import SimulationStalled, jsonable, message_payload, rng_stream


@dataclass(frozen=True)
class Hello:
    text: str


@dataclass(frozen=True)
class Wake:
    pass


class Greeter(Node):
    def __init__(self, node_id, cluster, options=None):
        super().__init__(node_id, cluster, options)
        self.heard: list[tuple[str, str, float]] = []
        self.woke: list[float] = []
        self.marks: list = []

    def mark(self, label):
        self.marks.append(label)

    def greet(self, dst, text="hi"):
        self.send(dst, Hello(text))

    def greet_all(self):
        self.broadcast(Hello("all"))

    def on_hello(self, msg, src):
        self.heard.append((msg.text, src, self.now))

    def on_wake(self, timer):
        self.woke.append(self.now)


def make_sim(nodes=("S1", "S2", "S3"), **kwargs) -> Simulation:
    kwargs.setdefault("network", Network(Fixed(1)))
    return Simulation(list(nodes), lambda n: Greeter(n, list(nodes)), **kwargs)


# ---- RNG streams --------------------------------------------------------------------
def test_rng_stream_is_fixed_by_seed_and_purpose():
    assert rng_stream(7, "network").random() == rng_stream(7, "network").random()
    assert rng_stream(7, "network").random() != rng_stream(7, "node/S1").random()
    assert rng_stream(7, "network").random() != rng_stream(8, "network").random()


def test_changing_backoff_does_not_reshuffle_network_delays(scenario):
    """Separate streams: a node's back-off draws never move the network's draws."""
    base = scenario("basic-paxos-livelock")
    base["network"]["delay"] = {"uniform": [0.5, 3]}
    other = {**base, "options": {"backoff": {"base": 2, "jitter": 7}}}
    first = pl.run_scenario(base, seed=5).trace
    second = pl.run_scenario(other, seed=5).trace

    def first_delays(trace):
        sends = {e.msg_id: e.time for e in trace.of_kind("send")}
        return [(e.msg_id, e.time - sends[e.msg_id]) for e in trace.of_kind("deliver")][:10]

    assert first_delays(first) == first_delays(second)
    assert first.digest() != second.digest()


def test_event_times_drawn_from_their_own_stream(tiny):
    """Random start times depend on the seed, not on the network's settings."""
    data = tiny(events=[{"at": {"uniform": [0, 10]}, "propose": {"node": "S1", "value": "X"}}])

    def start(d, seed):
        return pl.run_scenario(d, seed=seed).trace.of_kind("propose")[0].time

    slow = {**data, "network": {"delay": {"uniform": [1, 9]}, "drop": 0.3}}
    assert start(data, 1) == start(slow, 1)
    assert 0 <= start(data, 1) <= 10
    assert len({start(data, s) for s in range(5)}) == 5


# ---- ordering and time ------------------------------------------------------------------
def test_events_run_in_time_then_scheduling_order():
    sim = make_sim()
    for t, label in [(5, "a"), (5, "b"), (1, "c"), (5, "d")]:
        sim.at(t, ("invoke", "S1", "mark", label))
    sim.run()
    assert sim.nodes["S1"].marks == ["c", "a", "b", "d"]


def test_run_stops_at_until_and_can_continue():
    sim = make_sim()
    for t in (1, 5, 10):
        sim.at(t, ("invoke", "S1", "mark", t))
    assert sim.run(until=5) == 5.0
    order = sim.nodes["S1"].marks
    assert order == [1, 5]
    assert sim.run(until=20) == 10.0
    assert order == [1, 5, 10]


def test_run_with_max_events_stops_early():
    sim = make_sim()
    for t in range(5):
        sim.at(t, ("invoke", "S1", "mark", t))
    sim.run(max_events=2)
    order = sim.nodes["S1"].marks
    assert order == [0, 1]
    sim.run()
    assert order == [0, 1, 2, 3, 4]


def test_handlers_see_the_delivery_time():
    sim = make_sim(network=Network(Fixed(2.5)))
    sim.at(1, ("invoke", "S1", "greet", "S2"))
    sim.run()
    assert sim.nodes["S2"].heard == [("hi", "S1", 3.5)]


def test_broadcast_reaches_every_node_including_self():
    sim = make_sim()
    sim.at(0, ("invoke", "S2", "greet_all"))
    sim.run()
    for n in ("S1", "S2", "S3"):
        assert sim.nodes[n].heard == [("all", "S2", 1.0)]
    assert (sim.sent, sim.delivered, sim.dropped) == (3, 3, 0)


def test_counters_match_trace_events():
    sim = make_sim(network=Network(Uniform(1, 3), drop=0.3, duplicate=0.3), seed=2)
    for t in range(20):
        sim.at(t, ("invoke", "S1", "greet_all"))
    sim.run()
    trace = sim.trace
    copies = len(trace.of_kind("duplicate"))
    assert copies > 0
    assert len(trace.of_kind("send")) == 60
    assert sim.sent == 60 + copies  # a duplicate is one more copy on the wire
    assert sim.delivered == len(trace.of_kind("deliver"))
    assert sim.dropped == len(trace.of_kind("drop"))
    assert sim.by_type == {"Hello": 60 + copies}
    assert sim.delivered + sim.dropped == sim.sent


# ---- faults ---------------------------------------------------------------------------
def test_message_to_a_crashed_node_is_dropped():
    sim = make_sim()
    sim.at(0, ("crash", "S2"))
    sim.at(1, ("invoke", "S1", "greet", "S2"))
    sim.run()
    (drop,) = sim.trace.of_kind("drop")
    assert drop.payload == {"reason": "crashed"} and drop.dst == "S2" and drop.time == 2.0
    assert (sim.delivered, sim.dropped) == (0, 1)


def test_message_in_flight_reaches_a_node_that_recovered_in_time():
    sim = make_sim(network=Network(Fixed(5)))
    sim.at(0, ("invoke", "S1", "greet", "S2"))
    sim.at(1, ("crash", "S2"))
    sim.at(2, ("recover", "S2"))
    sim.run()
    assert sim.nodes["S2"].heard == [("hi", "S1", 5.0)]


def test_crash_and_recover_are_idempotent():
    sim = make_sim()
    sim.at(0, ("crash", "S1"))
    sim.at(1, ("crash", "S1"))
    sim.at(2, ("recover", "S1"))
    sim.at(3, ("recover", "S1"))
    sim.run()
    assert [(e.kind, e.time) for e in sim.trace.of_kind("crash", "recover")] == [
        ("crash", 0.0), ("recover", 2.0),
    ]


def test_invoke_on_a_crashed_node_is_lost():
    sim = make_sim()
    sim.at(0, ("crash", "S1"))
    sim.at(1, ("invoke", "S1", "greet", "S2"))
    sim.run()
    assert sim.invoke("S1", "greet", "S2") is False
    (lost, _) = sim.trace.of_kind("request_lost")
    assert lost.node == "S1" and lost.payload["method"] == "greet"
    assert sim.sent == 0


def test_partition_cuts_links_and_heal_restores_them():
    sim = make_sim()
    sim.at(0, ("partition", [["S1"], ["S2", "S3"]]))
    sim.at(1, ("invoke", "S1", "greet_all"))
    sim.at(5, ("heal",))
    sim.at(6, ("invoke", "S1", "greet_all"))
    sim.run()
    assert sim.nodes["S1"].heard == [("all", "S1", 2.0), ("all", "S1", 7.0)]
    assert sim.nodes["S2"].heard == [("all", "S1", 7.0)]
    assert [e.payload["reason"] for e in sim.trace.of_kind("drop")] == ["partition"] * 2
    (part,) = sim.trace.of_kind("partition")
    assert part.payload == {"groups": [["S1"], ["S2", "S3"]]}
    assert len(sim.trace.of_kind("heal")) == 1


def test_partition_drops_messages_already_in_flight():
    sim = make_sim(network=Network(Fixed(5)))
    sim.at(0, ("invoke", "S1", "greet_all"))
    sim.at(1, ("partition", [["S1"], ["S2", "S3"]]))
    sim.run()
    assert sim.nodes["S1"].heard == [("all", "S1", 5.0)]
    assert sim.nodes["S2"].heard == [] and sim.nodes["S3"].heard == []
    assert sim.dropped == 2


def test_message_survives_a_partition_healed_before_delivery():
    sim = make_sim(network=Network(Fixed(5)))
    sim.at(0, ("invoke", "S1", "greet", "S2"))
    sim.at(1, ("partition", [["S1"], ["S2", "S3"]]))
    sim.at(2, ("heal",))
    sim.run()
    assert sim.nodes["S2"].heard == [("hi", "S1", 5.0)]


def test_fire_timer_fires_now_and_cancels_the_pending_one():
    class Sleeper(Greeter):
        def on_start(self):
            self.set_timer(Wake(), 50)

    sim = Simulation(["S1"], lambda n: Sleeper(n, ["S1"]))
    sim.at(3, ("fire", "S1", Wake()))
    sim.run()
    assert sim.nodes["S1"].woke == [3.0]


def test_fire_timer_on_a_crashed_node_does_nothing():
    sim = make_sim()
    sim.at(0, ("crash", "S1"))
    sim.at(1, ("fire", "S1", Wake()))
    sim.run()
    assert sim.fire_timer("S1", Wake()) is False
    assert sim.trace.of_kind("timer_fire") == [] and sim.nodes["S1"] is None


# ---- plumbing -----------------------------------------------------------------------
def test_jsonable_turns_protocol_values_into_json():
    assert jsonable(Ballot(3, 1)) == "3.1"
    assert jsonable((1, [Ballot(1, 2), None])) == [1, ["1.2", None]]
    assert jsonable({1: Hello("x")}) == {"1": {"text": "x"}}
    assert jsonable(frozenset()) == [] and jsonable(frozenset({"S3", "S1"})) == ["S1", "S3"]


def test_message_payload_carries_fields_and_label():
    assert message_payload(Prepare(Ballot(3, 1))) == {"ballot": "3.1", "label": "P3.1"}
    assert message_payload(Hello("x")) == {"text": "x"}


@pytest.mark.parametrize("detailed", [True, False])
def test_a_rule_that_matches_nothing_changes_nothing(scenario, detailed):
    """Plain networks and networks with inert rules must give the same run."""
    plain = scenario("basic-paxos-livelock")
    plain["network"] = {"delay": {"uniform": [0.5, 3]}}
    plain["options"]["backoff"] = {"base": 1, "jitter": 3}
    inert = {**plain, "network": {**plain["network"],
                                  # only S1 and S5 propose: S2 never sends a Prepare
                                  "rules": [{"from": "S2", "type": "Prepare", "delay": 99}]}}
    for seed in range(3):
        a = pl.run_scenario(plain, seed=seed, detailed=detailed).summary()
        b = pl.run_scenario(inert, seed=seed, detailed=detailed).summary()
        assert a == {**b, "scenario": a["scenario"]}


# ---- time that stands still --------------------------------------------------------------
@dataclass(frozen=True)
class Ball:
    left: int


class Player(Node):
    """Returns the ball at once until ``left`` runs out (forever if it starts negative)."""

    def serve(self, dst, rounds):
        self.send(dst, Ball(rounds))

    def on_ball(self, msg, src):
        if msg.left != 0:
            self.send(src, Ball(msg.left - 1))


def ping_pong(rounds, delay=0.0) -> Simulation:
    sim = Simulation(["A", "B"], lambda n: Player(n, ["A", "B"]), network=Network(Fixed(delay)),
                     detailed=False)
    sim.at(0, ("invoke", "A", "serve", "B", rounds))
    return sim


def test_endless_events_at_one_instant_raise_simulation_stalled(monkeypatch):
    monkeypatch.setattr(sim_module, "STALL_LIMIT", 1000)
    sim = ping_pong(-1)
    with pytest.raises(SimulationStalled, match="t=0") as info:
        sim.run(until=10)
    assert info.value.time == 0.0
    assert 990 <= sim.delivered <= 1010  # stopped at the limit, not before, not long after


def test_many_events_at_one_instant_below_the_limit_are_fine(monkeypatch):
    monkeypatch.setattr(sim_module, "STALL_LIMIT", 1000)
    sim = ping_pong(900)
    sim.run(until=10)
    assert sim.delivered == 901


def test_the_stall_limit_counts_events_per_instant_not_per_run(monkeypatch):
    monkeypatch.setattr(sim_module, "STALL_LIMIT", 100)
    sim = ping_pong(5000, delay=0.5)
    assert sim.run(until=10_000) == 2500.5
    assert sim.delivered == 5001


# ---- the transition system ------------------------------------------------------------
def stepped(path="data/scenarios/search-basic-paxos.json"):
    from paxoslab.runner import build_simulation

    data = pl.load_scenario(path)
    sim = build_simulation(data, 0, timed=False)
    sim.start()
    return sim


def test_choices_are_plain_hashable_data_and_step_applies_one():
    sim = stepped()
    assert sim.choices() == [("action", 0)]
    sim.step(("action", 0))
    choices = sim.choices()
    assert len(set(choices)) == len(choices)
    kinds = {c[0] for c in choices}
    assert {"deliver", "lose", "timer", "action"} <= kinds  # drop 0.1: losses are choices
    with pytest.raises(ValueError, match="not the next one"):
        sim.step(("action", 3))


def test_a_forked_simulation_never_writes_to_the_original():
    sim = stepped()
    for _ in range(3):
        sim.step(sim.choices()[0])
    before = (sim.world_key(), {n: node.state() for n, node in sim.nodes.items()},
              len(sim.trace), sim.sent, {n: dict(s) for n, s in sim.stable.items()})
    twin = sim.fork()
    for _ in range(12):
        options = [c for c in twin.choices() if c[0] != "lose"]
        if not options:
            break
        twin.step(options[-1])
    twin.step(("action", twin.next_action)) if twin.next_action < len(twin.actions) else None
    after = (sim.world_key(), {n: node.state() for n, node in sim.nodes.items()},
             len(sim.trace), sim.sent, {n: dict(s) for n, s in sim.stable.items()})
    assert after == before
    assert twin.world_key() != sim.world_key()


def test_flight_set_turns_multiset_inclusion_into_set_inclusion():
    sim = stepped()
    sim.flight_keys = {1: "a", 2: "a", 3: "b"}  # two copies of one message, one of another
    assert sim.flight_set() == {"a", ("a", 2), "b"}
    sim.flight_keys = {1: "a", 3: "b"}
    one_copy = sim.flight_set()
    sim.flight_keys = {1: "a", 2: "a"}
    assert one_copy < {"a", ("a", 2), "b"} and not sim.flight_set() <= one_copy


def test_stepping_the_same_choices_gives_the_same_world_key():
    a, b = stepped(), stepped()
    for _ in range(8):
        choice = [c for c in a.choices() if c[0] != "lose"][-1]
        a.step(choice)
        b.step(choice)
    assert a.world_key() == b.world_key()


def test_run_timed_refuses_step_and_stepped_refuses_run():
    with pytest.raises(RuntimeError, match="timed"):
        make_sim().step(("action", 0))
    with pytest.raises(RuntimeError, match="stepped"):
        make_sim(timed=False).run()


def test_scenario_actions_are_data_not_closures():
    sim = make_sim()
    with pytest.raises(TypeError, match="data"):
        sim.at(1, lambda: None)


# ---- isolation and errors ----------------------------------------------------------------
@dataclass
class Bag:
    items: list


class Aliaser(Greeter):
    def on_start(self):
        if self.id == "S1":
            items = ["a"]
            self.send("S2", Bag(items))
            items.append("changed after sending")

    def on_bag(self, msg, src):
        self.heard.append((tuple(msg.items), src, self.now))


def test_a_message_changed_after_sending_arrives_as_sent_and_is_traced_as_sent():
    sim = Simulation(["S1", "S2"], lambda n: Aliaser(n, ["S1", "S2"]), network=Network(Fixed(1)))
    sim.run()
    assert sim.nodes["S2"].heard == [(("a",), "S1", 1.0)]
    (send,) = sim.trace.of_kind("send")
    assert send.payload == {"items": ["a"]}


class Faulty(Greeter):
    def on_hello(self, msg, src):
        return {}[msg.text]


def test_an_exception_in_a_handler_names_node_message_time_and_line():
    sim = Simulation(["S1", "S2"], lambda n: Faulty(n, ["S1", "S2"]), network=Network(Fixed(2)))
    sim.at(1, ("invoke", "S1", "greet", "S2", "boom"))
    with pytest.raises(sim_module.HandlerError) as info:
        sim.run()
    text = str(info.value)
    assert text.startswith("S2 failed while handling Hello")
    assert "from S1 at t=3" in text and "KeyError: 'boom'" in text
    assert "test_sim.py" in text and "on_hello(): return {}[msg.text]" in text
    assert isinstance(info.value.original, KeyError)
