"""The Node API: dispatch, effects, timers, persistence, crash and recovery."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from paxoslab import MissingHandler, Node, Simulation
from paxoslab.network import Fixed, Network
from paxoslab.node import handler_name


@dataclass(frozen=True)
class Ping:
    n: int


@dataclass(frozen=True)
class Pong:
    n: int


@dataclass(frozen=True)
class Prepare:
    ballot: int


@dataclass(frozen=True)
class UnknownThing:
    pass


@dataclass(frozen=True)
class Tick:
    name: str = "tick"


@dataclass(frozen=True)
class ElectionTimeout:
    pass


class Echo(Node):
    """Answers a Ping with a Pong and records what it handled."""

    def __init__(self, node_id, cluster, options=None):
        super().__init__(node_id, cluster, options)
        self.log: list[tuple] = []

    def on_ping(self, msg, src):
        self.log.append(("ping", msg.n, src, self.now))
        self.send(src, Pong(msg.n))

    def on_pong(self, msg, src):
        self.log.append(("pong", msg.n, src, self.now))

    def on_prepare(self, msg, src):
        self.log.append(("prepare", msg.ballot, src, self.now))

    def on_tick(self, timer):
        self.log.append(("tick", timer.name, self.now))

    def on_election_timeout(self, timer):
        self.log.append(("election", self.now))

    # client-style calls made through Simulation.invoke
    def ping(self, dst, n=1):
        self.send(dst, Ping(n))

    def arm(self, name="tick", delay=10.0):
        self.set_timer(Tick(name), delay)

    def disarm(self, name="tick"):
        self.cancel_timer(Tick(name))


def make_sim(cls=Echo, nodes=("S1", "S2", "S3"), **kwargs) -> Simulation:
    kwargs.setdefault("network", Network(Fixed(1)))
    return Simulation(list(nodes), lambda n: cls(n, list(nodes)), **kwargs)


def fires(sim: Simulation, node: str | None = None) -> list[float]:
    return [e.time for e in sim.trace.of_kind("timer_fire") if node in (None, e.node)]


# ---- identity and context -----------------------------------------------------
def test_handler_name_is_snake_case_of_the_class_name():
    assert handler_name("Prepare") == "on_prepare"
    assert handler_name("ElectionTimeout") == "on_election_timeout"
    assert handler_name("RequestVote") == "on_request_vote"


def test_identity_peers_cluster_and_majority():
    node = Echo("S2", ["S1", "S2", "S3", "S4", "S5"])
    assert node.id == "S2"
    assert node.peers == ("S1", "S3", "S4", "S5")
    assert node.cluster == ("S1", "S2", "S3", "S4", "S5")
    assert node.majority == 3
    assert Echo("S1", ["S1", "S2", "S3"]).majority == 2
    assert Echo("S1", ["S1", "S2", "S3", "S4"]).majority == 3
    assert Echo("S1", ["S1"]).majority == 1


@pytest.mark.parametrize("attr", ["id", "now", "rng", "peers", "cluster"])
def test_context_properties_are_read_only(attr):
    node = Echo("S1", ["S1", "S2"])
    with pytest.raises(AttributeError):
        setattr(node, attr, None)


def test_state_lists_protocol_fields_only():
    node = Echo("S1", ["S1", "S2"], {"x": 1})
    node.log.append("a")
    assert node.state() == {"log": ["a"]}


# ---- dispatch -----------------------------------------------------------------
def test_message_dispatches_to_on_snake_case_method():
    node = Echo("S1", ["S1", "S2"])
    assert node.handler_for(Prepare(3)) == node.on_prepare
    assert node.handler_for(Ping(1)) == node.on_ping
    assert node.handler_for(ElectionTimeout()) == node.on_election_timeout


def test_missing_handler_names_the_method_it_expected():
    node = Echo("S1", ["S1", "S2"])
    with pytest.raises(MissingHandler, match=r"on_unknown_thing") as info:
        node.handler_for(UnknownThing())
    assert "UnknownThing" in str(info.value)
    assert isinstance(info.value, AttributeError)


def test_missing_handler_surfaces_from_a_run():
    class Sender(Echo):
        def on_start(self):
            if self.id == "S1":
                self.send("S2", UnknownThing())

    sim = make_sim(Sender)
    with pytest.raises(MissingHandler, match="on_unknown_thing"):
        sim.run(until=10)


def test_messages_are_delivered_to_handlers_with_sender_and_time():
    sim = make_sim()
    sim.at(2, ("invoke", "S1", "ping", "S2", 7))
    sim.run(until=10)
    assert sim.nodes["S2"].log == [("ping", 7, "S1", 3.0)]
    assert sim.nodes["S1"].log == [("pong", 7, "S2", 4.0)]


def test_effects_are_collected_in_order_and_handed_over_once():
    node = Echo("S1", ["S1", "S2", "S3"])
    node.broadcast(Ping(1))
    node.broadcast(Ping(2), include_self=False)
    effects = node.take_effects()
    assert [(e[0], e[1], e[2].n) for e in effects] == [
        ("send", "S1", 1), ("send", "S2", 1), ("send", "S3", 1),
        ("send", "S2", 2), ("send", "S3", 2),
    ]
    assert node.take_effects() == []


# ---- timers -----------------------------------------------------------------------
def test_timer_fires_after_its_delay():
    sim = make_sim()
    sim.at(0, ("invoke", "S1", "arm", "tick", 10))
    sim.run(until=100)
    assert sim.nodes["S1"].log == [("tick", "tick", 10.0)]


def test_rearming_an_equal_timer_replaces_it():
    sim = make_sim()
    sim.at(0, ("invoke", "S1", "arm", "tick", 10))
    sim.at(2, ("invoke", "S1", "arm", "tick", 10))
    sim.run(until=100)
    assert fires(sim, "S1") == [12.0]
    assert sim.nodes["S1"].log == [("tick", "tick", 12.0)]


def test_rearming_earlier_replaces_too():
    sim = make_sim()
    sim.at(0, ("invoke", "S1", "arm", "tick", 10))
    sim.at(1, ("invoke", "S1", "arm", "tick", 2))
    sim.run(until=100)
    assert fires(sim, "S1") == [3.0]


def test_unequal_timers_coexist():
    sim = make_sim()
    sim.at(0, ("invoke", "S1", "arm", "a", 5))
    sim.at(0, ("invoke", "S1", "arm", "b", 7))
    sim.run(until=100)
    assert sim.nodes["S1"].log == [("tick", "a", 5.0), ("tick", "b", 7.0)]


def test_cancel_timer_stops_it():
    sim = make_sim()
    sim.at(0, ("invoke", "S1", "arm", "a", 10))
    sim.at(0, ("invoke", "S1", "arm", "b", 10))
    sim.at(5, ("invoke", "S1", "disarm", "a"))
    sim.run(until=100)
    assert sim.nodes["S1"].log == [("tick", "b", 10.0)]


def test_cancel_then_set_in_one_handler_leaves_the_timer_armed():
    class Toggle(Echo):
        def on_start(self):
            self.cancel_timer(Tick())
            self.set_timer(Tick(), 4)
            self.set_timer(Tick("gone"), 4)
            self.cancel_timer(Tick("gone"))

    sim = make_sim(Toggle, nodes=("S1",))
    sim.run(until=100)
    assert sim.nodes["S1"].log == [("tick", "tick", 4.0)]


def test_timers_are_per_node():
    sim = make_sim()
    sim.at(0, ("invoke", "S1", "arm", "tick", 5))
    sim.at(0, ("invoke", "S2", "arm", "tick", 6))
    sim.at(1, ("invoke", "S2", "disarm", "tick"))
    sim.run(until=100)
    assert fires(sim) == [5.0]


# ---- persistence, crash, recovery --------------------------------------------------
class Durable(Node):
    """``durable`` is persisted, ``volatile`` is not; counts its recoveries."""

    def __init__(self, node_id, cluster, options=None):
        super().__init__(node_id, cluster, options)
        self.durable: list[int] = []
        self.volatile: list[int] = []
        self.recovered = 0
        self.ticks = 0

    def write(self, n):
        self.durable.append(n)
        self.volatile.append(n)
        self.persist(durable=self.durable)
        self.set_timer(Tick(), 10)

    def scribble(self, n):
        self.durable.append(n)  # changed in memory only

    def on_tick(self, timer):
        self.ticks += 1

    def on_recover(self):
        self.recovered += 1


def test_persist_then_crash_keeps_only_persisted_fields():
    sim = make_sim(Durable)
    sim.at(0, ("invoke", "S1", "write", 1))
    sim.at(1, ("invoke", "S1", "write", 2))
    sim.at(2, ("crash", "S1"))
    sim.at(3, ("recover", "S1"))
    sim.run(until=100)
    node = sim.nodes["S1"]
    assert node.durable == [1, 2]
    assert node.volatile == []
    assert node.recovered == 1


def test_crash_drops_timers():
    sim = make_sim(Durable)
    sim.at(0, ("invoke", "S1", "write", 1))
    sim.at(2, ("crash", "S1"))
    sim.at(3, ("recover", "S1"))
    sim.run(until=100)
    assert sim.nodes["S1"].ticks == 0
    assert fires(sim) == []


def test_crashed_node_is_down_until_recovered():
    sim = make_sim(Durable)
    sim.at(1, ("crash", "S1"))
    sim.run(until=2)
    assert not sim.is_up("S1")
    assert sim.nodes["S1"] is None
    sim.at(3, ("recover", "S1"))
    sim.run(until=4)
    assert sim.is_up("S1")


def test_recover_restores_what_was_persisted_not_later_edits():
    sim = make_sim(Durable)
    sim.at(0, ("invoke", "S1", "write", 1))
    sim.at(1, ("invoke", "S1", "scribble", 99))
    sim.at(2, ("crash", "S1"))
    sim.at(3, ("recover", "S1"))
    sim.run(until=5)
    assert sim.nodes["S1"].durable == [1]


def test_recovered_node_does_not_share_objects_with_stable_storage():
    sim = make_sim(Durable)
    sim.at(0, ("invoke", "S1", "write", 1))
    sim.at(2, ("crash", "S1"))
    sim.at(3, ("recover", "S1"))
    sim.at(4, ("invoke", "S1", "scribble", 5))
    sim.at(5, ("crash", "S1"))
    sim.at(6, ("recover", "S1"))
    sim.run(until=10)
    assert sim.nodes["S1"].durable == [1]


def test_recover_event_records_the_restored_fields():
    sim = make_sim(Durable)
    sim.at(0, ("invoke", "S1", "write", 4))
    sim.at(2, ("crash", "S1"))
    sim.at(3, ("recover", "S1"))
    sim.run(until=5)
    (recover,) = sim.trace.of_kind("recover")
    assert recover.node == "S1" and recover.time == 3.0
    assert recover.payload == {"durable": [4]}
    assert [e.kind for e in sim.trace.of_kind("crash", "recover")] == ["crash", "recover"]


class Writer(Node):
    """Sends ``before`` to S2, persists, then sends ``after``."""

    def go(self):
        self.send("S2", Ping(1))
        self.persist(x=1)
        self.send("S2", Ping(2))
        self.send("S1", Ping(3))

    def on_ping(self, msg, src):
        pass


def delivered_at(sim) -> dict[int, float]:
    ids = {e.msg_id: e.payload["n"] for e in sim.trace.of_kind("send")}
    return {ids[e.msg_id]: e.time for e in sim.trace.of_kind("deliver")}


@pytest.mark.parametrize("persist_ms", [0, 5, 2.5])
def test_persist_ms_delays_messages_sent_after_persist(persist_ms):
    sim = make_sim(Writer, nodes=("S1", "S2"), persist_ms=persist_ms)
    sim.at(10, ("invoke", "S1", "go"))
    sim.run(until=100)
    assert delivered_at(sim) == {1: 11.0, 2: 11.0 + persist_ms, 3: 11.0 + persist_ms}
    assert sim.stable["S1"] == {"x": 1}


def test_persist_ms_applies_only_within_the_handler_that_persisted():
    class Twice(Writer):
        def again(self):
            self.send("S2", Ping(4))

    sim = make_sim(Twice, nodes=("S1", "S2"), persist_ms=5)
    sim.at(10, ("invoke", "S1", "go"))
    sim.at(10, ("invoke", "S1", "again"))
    sim.run(until=100)
    assert delivered_at(sim)[4] == 11.0


def test_persist_writes_a_snapshot_to_stable_storage():
    node = Durable("S1", ["S1"])
    node.write(1)
    effects = node.take_effects()
    persist = [e for e in effects if e[0] == "persist"]
    assert persist == [("persist", {"durable": [1]})]
    node.durable.append(2)
    assert persist[0][1] == {"durable": [1]}


def test_node_rng_is_its_own_seeded_stream():
    def draws(seed):
        sim = make_sim(seed=seed)
        sim.start()
        return {n: [sim.nodes[n].rng.random() for _ in range(3)] for n in sim.node_ids}

    first, again, other = draws(3), draws(3), draws(4)
    assert first == again
    assert first != other
    assert first["S1"] != first["S2"]


# ---- declared state and its key ------------------------------------------------------------
KEY_SCRIPT = """
import paxoslab as pl
from paxoslab.runner import build_simulation
data = pl.load_scenario("data/scenarios/search-basic-paxos.json")
sim = build_simulation(data, 0, timed=False)
for _ in range(14):
    sim.step([c for c in sim.choices() if c[0] != "lose"][-1])
print(repr([sim.node_key(n) for n in sim.node_ids]))
print(repr(sim.monitors[0].key() == sim.fork().monitors[0].key()))
"""


def test_state_keys_are_equal_across_processes_and_hash_seeds():
    import os
    import subprocess
    import sys

    outputs = set()
    for seed in ("0", "1", "123"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        proc = subprocess.run([sys.executable, "-c", KEY_SCRIPT], capture_output=True, text=True,
                              env=env, check=True)
        outputs.add(proc.stdout)
    assert len(outputs) == 1
    assert "frozenset" in outputs.pop()  # armed timers are part of the key


def test_state_key_is_canonical_for_sets_and_dicts_and_excludes_configuration():
    from paxoslab.protocols.basic_paxos import PaxosNode

    a, b = PaxosNode("S1", ["S1", "S2", "S3"]), PaxosNode("S1", ["S1", "S2", "S3"], {"bugs": []})
    a.accepts, b.accepts = {"S3", "S1", "S2"}, {"S2", "S1", "S3"}
    a.promises = {"S2": (None, None), "S1": (None, None)}
    b.promises = {"S1": (None, None), "S2": (None, None)}
    assert a.state_key() == b.state_key() and hash(a.state_key()) == hash(b.state_key())
    assert "options" not in a.state() and "bugs" not in a.state() and "index" not in a.state()
    b.accepts.discard("S3")
    assert a.state_key() != b.state_key()


def test_search_key_leaves_out_only_the_timing_fields():
    from paxoslab.protocols.basic_paxos import PaxosNode

    a, b = PaxosNode("S1", ["S1", "S2", "S3"]), PaxosNode("S1", ["S1", "S2", "S3"])
    b.timeout, b.failures, b.preemptions = 2 * a.timeout, 3, 2  # only when and how often
    assert a.state_key() != b.state_key() and a.search_key() == b.search_key()
    assert "timeout" in b.state() and b.state()["failures"] == 3  # still shown in diffs
    b.highest_round_seen = 4  # decides the next ballot: part of both keys
    assert a.search_key() != b.search_key()
    assert Echo("S1", ["S1"]).search_key() == Echo("S1", ["S1"]).state_key()  # no TIMING


def test_state_is_a_copy_and_fork_shares_nothing_mutable():
    node = Echo("S1", ["S1", "S2"])
    node.log.append("a")
    snapshot = node.state()
    snapshot["log"].append("b")
    assert node.log == ["a"]
    twin = node.fork()
    twin.log.append("c")
    assert node.log == ["a"] and twin.log == ["a", "c"] and twin.id == "S1"
    assert twin.rng.random() == node.rng.random()  # the same stream, continued


def test_persist_append_costs_what_the_items_cost_and_survives_a_crash():
    class Logger(Echo):
        def add(self, entry):
            self.log.append(entry)
            self.persist_append("log", entry)

        def cut(self, length):
            del self.log[length:]
            self.persist_truncate("log", length)

    sim = Simulation(["S1"], lambda n: Logger(n, ["S1"]))
    for i, entry in enumerate("abcd"):
        sim.at(i, ("invoke", "S1", "add", entry))
    sim.at(5, ("invoke", "S1", "cut", 2))
    sim.at(6, ("crash", "S1"))
    sim.at(7, ("recover", "S1"))
    sim.run()
    assert sim.stable["S1"]["log"] == ["a", "b"] and sim.nodes["S1"].log == ["a", "b"]
    appends = [e.payload for e in sim.trace.of_kind("persist")][:2]
    assert appends == [{"append": "log", "items": ["a"]}, {"append": "log", "items": ["b"]}]


def test_named_tuples_of_atoms_are_shared_and_others_are_copied_and_compared_by_value():
    from typing import NamedTuple

    from paxoslab.node import canonical, is_immutable, isolated

    class Point(NamedTuple):
        x: int
        label: str

    class Bag(NamedTuple):
        items: list

    point = Point(1, "a")
    assert is_immutable(point) and isolated(point) is point and canonical(point) == point
    bag = Bag([2, 1])
    assert not is_immutable(bag)
    copy = isolated(bag)
    copy.items.append(3)
    assert bag.items == [2, 1]
    assert canonical(bag) == canonical(Bag([2, 1])) != canonical(Bag([1, 2]))
    hash(canonical(bag))
