"""A node that leaves out the notes the summary and the diagrams read gets them from its state.

Two variants of each protocol's node run every lesson and homework scenario beside the
library's: one that only subclasses it (it notes everything, so nothing may be added: the
same trace, event for event) and one that drops every note the summary, the diagrams and
the narration read (each is read off its state: the same summary).
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib
import pytest

from paxoslab.plots import log_grid, role_timeline, sequence_diagram
from paxoslab.protocols import PROTOCOLS
from paxoslab.protocols.basic_paxos.node import PaxosNode
from paxoslab.protocols.multi_paxos.node import MultiPaxosNode
from paxoslab.protocols.smr import ReplicaNode
from paxoslab.runner import run_scenario

matplotlib.use("Agg")

SCENARIOS = Path(__file__).resolve().parents[1] / "data" / "scenarios"
DERIVED = {
    "basic-paxos": ("propose", "ballot", "promised", "phase2", "accepted", "learned", "preempted", "timeout"),
    "multi-paxos": ("role", "leader", "appended", "truncated", "request", "committed", "applied"),
    "smr": ("applied",),
}
BASES = {"basic-paxos": PaxosNode, "multi-paxos": MultiPaxosNode, "smr": ReplicaNode}


def _scenarios() -> list[Path]:
    return [path for path in sorted(SCENARIOS.glob("*.json"))
            if json.loads(path.read_text()).get("protocol") in DERIVED and "search" not in path.name]


def subclass(protocol: str) -> type:
    return type("Mine", (BASES[protocol],), {})


def silent(protocol: str) -> type:
    """The library's node with every derived kind of note left out."""
    left_out = set(DERIVED[protocol])

    def note(self, kind, **payload):
        if kind not in left_out:
            BASES[protocol].note(self, kind, **payload)
    return type("Silent", (BASES[protocol],), {"note": note})


def test_every_derived_kind_is_one_the_protocol_notes():
    for protocol, kinds in DERIVED.items():
        source = Path(BASES[protocol].__module__.replace(".", "/") + ".py")
        text = (Path(__file__).resolve().parents[1] / source).read_text()
        assert all(f'note("{kind}"' in text or f"note({kind!r}" in text or kind in ("preempted", "timeout")
                   for kind in kinds), protocol
        assert PROTOCOLS[protocol].core.notes is not None


@pytest.mark.parametrize("path", _scenarios(), ids=lambda p: p.stem)
def test_a_node_that_notes_everything_gets_nothing_added(path):
    protocol = json.loads(path.read_text())["protocol"]
    library = run_scenario(str(path))
    mine = run_scenario(str(path), node_class=subclass(protocol))
    assert mine.trace.digest() == library.trace.digest()


@pytest.mark.parametrize("path", _scenarios(), ids=lambda p: p.stem)
def test_a_node_without_notes_has_the_same_summary(path):
    protocol = json.loads(path.read_text())["protocol"]
    library = run_scenario(str(path)).summary()
    quiet = run_scenario(str(path), node_class=silent(protocol))
    got = quiet.summary()
    assert {k: v for k, v in got.items() if k != "digest"} == {
        k: v for k, v in library.items() if k != "digest"}
    assert quiet.narrate()  # every derived note can be told


def test_the_derived_notes_are_told_and_drawn():
    basic = run_scenario(str(SCENARIOS / "basic-paxos-duel-backoff.json"), node_class=silent("basic-paxos"))
    assert not any(e.kind == "accepted" and "counted" in (e.payload or {}) for e in basic.trace.events)
    text = basic.narrate()
    assert "accepts (" in text and "learns that" in text and "abandons" in text
    sequence_diagram(basic)
    multi = run_scenario(str(SCENARIOS / "multi-paxos-backup.json"), node_class=silent("multi-paxos"))
    text = multi.narrate()
    assert "becomes leader of term" in text and "appends #" in text and "deletes its entries" in text
    sequence_diagram(multi)
    log_grid(multi)
    role_timeline(multi)
    assert log_grid(multi) is not None



def test_a_field_of_an_unexpected_shape_is_a_handler_error_naming_the_node():
    from paxoslab.sim import HandlerError

    class Odd(MultiPaxosNode):
        def become_leader(self):
            super().become_leader()
            self.log = 42  # not a log: the notes cannot be read off it

    read = r"^S\d failed while handling .*\(its fields, read for the run's notes\)"
    with pytest.raises(HandlerError, match=read):
        run_scenario(str(SCENARIOS / "multi-paxos-partition.json"), node_class=Odd)
