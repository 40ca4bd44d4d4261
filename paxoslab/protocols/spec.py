"""What a protocol declares to plug into scenarios, runs, reports and the search.

A :class:`ProtocolSpec` has three parts, each read by one side of the library:

* :class:`Core` — what running a scenario needs: the node class, its messages
  and bugs, the options and actions a scenario may give and how they are
  carried out, the safety monitors, the summary a run ends with (whose
  keys a scenario's ``expect`` may name), and the notes a node class other than
  the protocol's gets from its state when it does not write them (:class:`DerivedNotes`);
* :class:`Story` — how a run is told: the protocol's lines of ``describe``,
  the sentences that narrate its events, its colours and marks on diagrams, and
  the hooks of the replay player and state tables (``state_changes``: every
  change of each node's state, so the state at time t is a lookup, never a
  re-run; ``moments``: what the run reached that no single event records, such
  as the moment a Basic Paxos value is chosen);
* :class:`SearchHints` — the search's "sometimes" goals and what lets it skip
  work soundly (each hint's argument lives beside its code, in the protocol's
  ``reductions.py``).

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
#: state after it (plain values, shown as they are).
StateChanges = Callable[[Any, Sequence[str]], list[tuple[float, int, str, dict[str, Any]]]]
#: (trace, cluster node names) -> moments the run reached that no single event records, e.g.
#: "chosen": dicts with ``kind``, ``time``, ``seq`` (the event that completed it), ``text``.
Moments = Callable[[Any, Sequence[str]], list[dict[str, Any]]]


@dataclass(frozen=True)
class Mark:
    """How a protocol event is marked on its node's lane in a sequence diagram."""

    marker: str
    color: str
    text: Callable[[Mapping[str, Any]], str]
    legend: str


@dataclass(frozen=True)
class DerivedNotes:
    """The trace events a run's summary and diagrams need, read off a node's state.

    A node class other than the protocol's own (a student's, a subclass that rewrites a
    handler) may leave out the ``note`` calls the summary and the diagrams read (a value
    accepted, learned; a role, a log entry, a commit index).  The runtime then takes
    ``observe(node)`` before each handler and, after it, adds the events ``derive`` reads
    off the change for every kind the handler did not note itself (they come after what
    the handler did, at the same moment).  ``derive(before, node, trigger)``: ``before`` is
    what ``observe`` returned, ``trigger`` the message, timer or ``(method, args)`` call the
    handler ran for; it returns ``(kind, payload)`` pairs.  The protocol's own class notes
    everything: the runtime does not observe it.
    """

    observe: Callable[[Node], Any]
    derive: Callable[[Any, Node, Any], list[tuple[str, dict[str, Any]]]]
    #: kinds told together (a log's cut and what follows it): a handler that notes one of
    #: them gets none of them derived
    together: tuple[frozenset[str], ...] = ()

    def missing(self, before: Any, node: Node, noted: frozenset[str], trigger: Any
                ) -> list[tuple[str, dict[str, Any]]]:
        """The derived notes of the kinds the handler did not note (nor one told with them)."""
        skip = set(noted)
        for kinds in self.together:
            if kinds & noted:
                skip |= kinds
        return [(kind, payload) for kind, payload in self.derive(before, node, trigger) if kind not in skip]


@dataclass(frozen=True)
class Core:
    """What running a scenario of the protocol needs."""

    node_class: type[Node]
    #: message types (a network rule's "type" may name only these)
    messages: tuple[type, ...]
    #: bug name -> what rule it breaks
    bugs: Mapping[str, str]
    #: (simulation, options, action name, value) -> None: carry out a protocol action
    perform: Callable[[Any, dict[str, Any], str, Any], None]
    #: safety monitors (see :mod:`paxoslab.checks`): built per run as ``M(node_ids, options)``
    monitors: tuple[type[Monitor], ...]
    #: (finished simulation) -> the protocol's own summary keys
    summarize: Callable[[Any], dict[str, Any]]
    #: the keys ``summarize`` returns (a scenario's ``expect`` may name these and the common ones)
    summary_keys: frozenset[str]
    #: option name -> its validator
    option_validators: Mapping[str, ValidateField] = field(default_factory=dict)
    #: scenario action name -> its validator
    actions: Mapping[str, ValidateField] = field(default_factory=dict)
    #: (validator, whole scenario) -> None: validation that needs several fields at once
    validate_scenario: Callable[[Any, dict[str, Any]], None] | None = None
    #: node field -> what the monitors and the summary read it as: a node class other than
    #: ``node_class`` must have each one once built (:func:`paxoslab.node.read_field`)
    reads: Mapping[str, str] = field(default_factory=dict)
    #: the events a node class other than ``node_class`` gets from its state when it does not
    #: note them itself (None: only what nodes note)
    notes: DerivedNotes | None = None


@dataclass(frozen=True)
class Story:
    """How a run of the protocol is told: text, narration, diagrams, state tables."""

    #: summary -> the protocol's lines of ``describe``
    describe: Callable[[Mapping[str, Any]], list[str]] = lambda summary: []
    #: event kind (or ``"send:<MessageType>"``) -> sentence, for ``narrate``
    sentences: Mapping[str, Sentence] = field(default_factory=dict)
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


#: what every class body defines, whatever its methods do
_BOOKKEEPING = frozenset({"__module__", "__qualname__", "__doc__", "__dict__", "__weakref__",
                          "__firstlineno__", "__static_attributes__", "__annotations__"})


@dataclass(frozen=True)
class SearchHints:
    """The search's goals, and what lets it skip work without losing a violation."""

    #: "sometimes" properties: name -> (world -> reached?)
    goals: Mapping[str, Callable[[Any], bool]] = field(default_factory=dict)
    #: (action name, value) -> the one node a protocol action works on, reading and changing
    #: nothing else (the search lets it commute with steps elsewhere); None: any node
    action_node: Callable[[str, Any], str | None] | None = None
    #: message -> the ballot (or term) it starts, a hashable, or None: the search bounds them
    ballot_of: Callable[[Any], Any] | None = None
    #: (world, sender, receiver, message, spent) -> True when delivering the message, now or
    #: at any later point, changes nothing that decides what any node does, whichever of the
    #: protocol's bugs are on; ``spent``: the nodes that start no more ballots in this search.
    #: For the protocol's own node class only
    ignored_for_good: Callable[[Any, str, str, Any, frozenset[str]], bool] | None = None
    #: (world, sender, receiver, message) -> a message whose delivery, now and at any later
    #: point, has the same effect: the search keys the message by it (own node class only)
    same_effect_as: Callable[[Any, str, str, Any], Any] | None = None
    #: message types whose handlers never read the sender (equal ones from different senders
    #: are one choice where no partition can cut off one sender and not another)
    anonymous: frozenset[type] = frozenset()
    #: (node, or None while it is down; the names of the scenario actions left that work on
    #: it) -> whether it may still start a ballot; None: any node may, at any time
    may_start_ballot: Callable[[Node | None, tuple[str, ...]], bool] | None = None
    #: node fields read only to number the node's next ballot: the search leaves them out
    #: of the world key of a node that starts no more ballots
    ballot_fields: tuple[str, ...] = ()
    #: timer types that, when they only re-send (:data:`~paxoslab.search.explorer.MAX_RESENDS`),
    #: send messages whose content reads nothing and whose answers change nothing but what
    #: a node learns: the search fires one at once in the step that arms it, not at every
    #: later moment (own node class only; ``reductions.py`` argues it)
    eager_resends: frozenset[type] = frozenset()
    #: methods a subclass may rewrite and still get the hints meant for the protocol's own
    #: class: they decide only *when* something happens (a delay), which the search ignores
    timing_only: frozenset[str] = frozenset()

    def hold_for(self, node_class: type[Node] | None, own: type[Node]) -> bool:
        """Whether the hints argued for ``own`` hold for ``node_class``: it is ``own`` (or
        None), or a subclass that rewrites nothing but :attr:`timing_only` methods.

        >>> from paxoslab.protocols.basic_paxos.node import PaxosNode
        >>> hints = SearchHints(timing_only=frozenset({"backoff_delay"}))
        >>> class Mine(PaxosNode): pass
        >>> class Patient(PaxosNode):
        ...     def backoff_delay(self): return 100.0
        >>> class Lenient(PaxosNode):
        ...     def may_accept(self, ballot): return True
        >>> [hints.hold_for(c, PaxosNode) for c in (None, PaxosNode, Mine, Patient, Lenient)]
        [True, True, True, True, False]
        """
        if node_class is None or node_class is own:
            return True
        if not issubclass(node_class, own):
            return False
        rewritten = {name for k in node_class.__mro__ if k not in own.__mro__ for name in vars(k)}
        return rewritten <= self.timing_only | _BOOKKEEPING


@dataclass(frozen=True)
class ProtocolSpec:
    """Everything about one protocol: its name and its core, story and search parts."""

    name: str
    core: Core
    story: Story = field(default_factory=Story)
    search: SearchHints = field(default_factory=SearchHints)

    def __post_init__(self) -> None:
        if not self.core.monitors:
            raise ValueError(f"protocol {self.name!r} declares no safety monitors")

    @property
    def message_types(self) -> frozenset[str]:
        """The names of the protocol's message types."""
        return frozenset(m.__name__ for m in self.core.messages)
