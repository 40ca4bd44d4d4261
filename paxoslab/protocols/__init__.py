"""The protocols of the course and how each plugs into scenarios, runs and reports.

Each protocol lives in one module of this package and ends with a
``SPEC = ProtocolSpec(...)`` that gathers everything about it: its node class,
message types, bugs, option and action validators, how it performs scenario
actions, its summary keys, its safety monitors and search goals, the sentences that narrate
its events and the colours of its messages on diagrams.  Nothing else in the
library names a protocol's message types.

Adding a protocol = one new module + its name in ``_registry()`` below.

Two optional hooks serve the lessons' replay player and state tables
(:func:`paxoslab.report.state_changes`, :func:`paxoslab.widgets.player`):
``state_changes`` turns a finished run's trace into every change of each
node's state, so the state at time t is a lookup, never a re-run; ``moments``
names what the run reached that no single event records (Basic Paxos: the
moment a value is chosen), so narration and diagrams mark it.

Validators receive the scenario :class:`~paxoslab.scenario.Validator` ``v``,
the field path for error messages, the value and the node names.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..checks import Monitor
from ..node import Node

#: (validator, field path, value, node names) -> None; raises a ScenarioError.
ValidateField = Callable[[Any, str, Any, list[str]], None]
#: (event, payload) -> one sentence of narration.
Sentence = Callable[[Any, Mapping[str, Any]], str]
#: (trace, cluster node names) -> each change of a node's state: (time, seq, node, state).
#: ``seq`` is the trace event that made the change; ``state`` is the node's whole readable
#: state after it (plain values, shown as they are).  The replay player and the state
#: tables read a node's state at time t from this list, without re-running anything.
StateChanges = Callable[[Any, Sequence[str]], list[tuple[float, int, str, dict[str, Any]]]]
#: (trace, cluster node names) -> moments the run reached that no single event records,
#: e.g. "chosen": dicts with ``kind``, ``time``, ``seq`` (the event that completed it), ``text``.
Moments = Callable[[Any, Sequence[str]], list[dict[str, Any]]]


@dataclass(frozen=True)
class Mark:
    """How a protocol event is marked on its node's lane in a sequence diagram."""

    marker: str
    color: str
    text: Callable[[Mapping[str, Any]], str]
    legend: str


@dataclass(frozen=True)
class ProtocolSpec:
    name: str
    node_class: type[Node]
    #: message types (a network rule's "type" may name only these)
    messages: tuple[type, ...]
    #: bug name -> what rule it breaks
    bugs: Mapping[str, str]
    #: (simulation, options, action name, value) -> None: carry out a protocol action
    perform: Callable[[Any, dict[str, Any], str, Any], None]
    #: (simulation) -> the protocol's own summary keys
    summarize: Callable[[Any], dict[str, Any]]
    #: safety monitors (see :mod:`paxoslab.checks`): built per run as ``M(node_ids, options)``
    monitors: tuple[type[Monitor], ...]
    #: the keys ``summarize`` returns (a scenario's ``expect`` may name these and the common ones)
    summary_keys: frozenset[str]
    option_validators: Mapping[str, ValidateField] = field(default_factory=dict)
    actions: Mapping[str, ValidateField] = field(default_factory=dict)
    #: (validator, whole scenario) -> None: validation that needs several fields at once
    validate_scenario: Callable[[Any, dict[str, Any]], None] | None = None
    #: summary -> the protocol's lines of ``describe``
    describe: Callable[[Mapping[str, Any]], list[str]] = lambda summary: []
    #: event kind (or ``"send:<MessageType>"``) -> sentence, for ``narrate``
    sentences: Mapping[str, Sentence] = field(default_factory=dict)
    #: "sometimes" properties for the search: name -> (simulation -> reached?)
    goals: Mapping[str, Callable[[Any], bool]] = field(default_factory=dict)
    #: (action name, value) -> the one node a protocol action works on, reading and changing
    #: nothing else (the search lets it commute with steps elsewhere); None: any node
    action_node: Callable[[str, Any], str | None] | None = None
    #: message -> the ballot it starts (a hashable), or None: the search bounds ballots by it
    ballot_of: Callable[[Any], Any] | None = None
    #: (simulation, sender, receiver, message, spent) -> True when delivering the message,
    #: now or at any later point, changes nothing that decides what any node does (a reply
    #: to a ballot its proposer has left, say, when ballots only grow), whichever of the
    #: protocol's bugs are on; ``spent``: the nodes that start no more ballots in this
    #: search.  The search drops such messages, for the protocol's own node class only
    ignored_for_good: Callable[[Any, str, str, Any, frozenset[str]], bool] | None = None
    #: (simulation, sender, receiver, message) -> a message whose delivery, now and at any
    #: later point, has the same effect (an ``Accept`` an acceptor refuses for good, say,
    #: as a ``Prepare``): the search keys the message by it; for the protocol's own node
    #: class only
    same_effect_as: Callable[[Any, str, str, Any], Any] | None = None
    #: message types whose handlers never read the sender (the search treats equal ones
    #: from different senders as one where no partition can cut off one sender and not
    #: another), for the protocol's own node class only
    anonymous: frozenset[type] = frozenset()
    #: (node, or None while it is down; the names of the scenario actions left that work
    #: on it) -> whether it may still start a ballot, of its own accord (retrying one, say)
    #: or asked by one of those actions; None: any node may, at any time
    may_start_ballot: Callable[[Node | None, tuple[str, ...]], bool] | None = None
    #: node fields read only to number the node's next ballot: the search leaves them out
    #: of the world key of a node that starts no more ballots
    ballot_fields: tuple[str, ...] = ()
    #: message type -> colour on diagrams
    colors: Mapping[str, str] = field(default_factory=dict)
    #: event kind -> how it is marked on a lane
    marks: Mapping[str, Mark] = field(default_factory=dict)
    #: how a node's state reads at any time of a run (the replay player's hook); None: not shown
    state_changes: StateChanges | None = None
    #: derived moments (narrated in time order, marked on diagrams across all lanes)
    moments: Moments = lambda trace, nodes: []
    #: moment kind -> its legend entry on diagrams
    moment_legend: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.monitors:
            raise ValueError(f"protocol {self.name!r} declares no safety monitors")

    @property
    def message_types(self) -> frozenset[str]:
        return frozenset(m.__name__ for m in self.messages)


#: Summary keys every protocol's summary has.
COMMON_SUMMARY_KEYS = frozenset({
    "scenario", "protocol", "seed", "end_time", "messages", "violations", "expect", "digest",
})


def _registry() -> dict[str, ProtocolSpec]:
    from . import basic_paxos, multi_paxos, smr

    return {spec.name: spec for spec in (basic_paxos.SPEC, smr.SPEC, multi_paxos.SPEC)}


PROTOCOLS: dict[str, ProtocolSpec] = _registry()


def merged(attribute: str, protocol: str | None = None) -> dict[str, Any]:
    """One protocol's ``sentences``/``colors``/``marks``, or all protocols' merged."""
    specs = [PROTOCOLS[protocol]] if protocol in PROTOCOLS else list(PROTOCOLS.values())
    out: dict[str, Any] = {}
    for spec in specs:
        out.update(getattr(spec, attribute))
    return out
