"""The ``Node`` base class every protocol role builds on, and its contract with the runtime.

A node reacts to two things: a message arriving (``Prepare`` is handled by
``on_prepare(self, msg, src)``) and one of its timers firing (``ElectionTimeout``
by ``on_election_timeout(self, timer)``).  Handlers never block and never touch
the outside world: they change the node's own fields and ask for effects —
:meth:`Node.send`, :meth:`Node.broadcast`, :meth:`Node.set_timer`,
:meth:`Node.cancel_timer`, :meth:`Node.persist`, :meth:`Node.note` — recorded
as the named :data:`Effect` records (:class:`Send`, :class:`SetTimer`, ...).

The runtime (:class:`~paxoslab.sim.Simulation`, which the search steps too)
drives a node through three calls only — :meth:`Node.receive` (a message),
:meth:`Node.fire` (a timer) and :meth:`Node.call` (``on_start``,
``on_recover``, a client request) — each of which runs the handler at the
given time and hands back the effects it asked for, in order.  The runtime
carries them out in that order: a write to stable storage is done before any
message the same handler sent after it leaves (``persist_ms`` later), timers
are armed, notes go to the trace.  It never reads a node's private fields.

A crash throws the node object away.  Recovery builds a fresh one and hands it
what it had persisted (:meth:`Node.restore`), then calls :meth:`Node.on_recover`.

A subclass declares which of its fields are protocol state (``STATE``); the
rest (its id, options, derived configuration) is not.  :meth:`Node.state_key`
turns that state into a canonical hashable key, equal for equal states in any
process and under any ``PYTHONHASHSEED``.  Fields of the state that only decide
*when* something happens or count what happened are also named in ``TIMING``;
the search, where delays do not matter, de-duplicates worlds by
:meth:`Node.search_key`, the key without them.

>>> handler_name("ElectionTimeout")
'on_election_timeout'
"""

from __future__ import annotations

import copy
import dataclasses
import random
import re
import types
import typing
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any, ClassVar, NamedTuple

from .watchdog import CALLS, ENTRIES

_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def handler_name(type_name: str) -> str:
    """``"RequestVote"`` -> ``"on_request_vote"``."""
    return "on_" + _CAMEL.sub("_", type_name).lower()


_HANDLER_NAMES: dict[type, str] = {}


class MissingHandler(AttributeError):
    """A node received a message or timer it has no ``on_...`` method for."""


#: types whose values are immutable through and through (grows with frozen dataclasses
#: whose fields are all declared as such types)
_ATOMS: set[type] = {str, int, float, bool, type(None), bytes}
#: frozen dataclass type -> its field names (None: not a frozen dataclass)
_FROZEN_FIELDS: dict[type, tuple[str, ...] | None] = {}


def _frozen_fields(kind: type) -> tuple[str, ...] | None:
    try:
        return _FROZEN_FIELDS[kind]
    except KeyError:
        fields = None
        params = getattr(kind, "__dataclass_params__", None)
        if params is not None and params.frozen:
            fields = tuple(f.name for f in dataclasses.fields(kind))
        elif issubclass(kind, tuple) and hasattr(kind, "_fields"):  # a named tuple
            fields = kind._fields
        if fields is not None and _atoms_by_declaration(kind, fields):
            _ATOMS.add(kind)  # every instance is immutable: no need to look inside
        _FROZEN_FIELDS[kind] = fields
        return fields


def _atoms_by_declaration(kind: type, fields: tuple[str, ...]) -> bool:
    """A frozen dataclass or named tuple whose fields are all declared as atoms or such types."""
    try:
        hints = typing.get_type_hints(kind)
    except Exception:  # noqa: BLE001 - unresolvable annotations: look inside each instance
        return False
    return all(_atom_hint(hints.get(name)) for name in fields)


def _atom_hint(hint: Any) -> bool:
    if hint in _ATOMS:
        return True
    if isinstance(hint, type):
        _frozen_fields(hint)
        return hint in _ATOMS
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return all(_atom_hint(h) for h in typing.get_args(hint))
    return False


def is_immutable(value: Any) -> bool:
    """True for plain immutable values: atoms, tuples/frozensets and frozen dataclasses of them.

    >>> is_immutable(("a", 1, None)), is_immutable(("a", [1]))
    (True, False)
    """
    kind = type(value)
    if kind in _ATOMS:
        return True
    if kind is tuple or kind is frozenset:
        for item in value:
            if type(item) not in _ATOMS and not is_immutable(item):
                return False
        return True
    fields = _FROZEN_FIELDS[kind] if kind in _FROZEN_FIELDS else _frozen_fields(kind)
    if fields is None:
        return False
    for name in fields:
        item = getattr(value, name)
        if type(item) not in _ATOMS and not is_immutable(item):
            return False
    return True


def isolated(value: Any) -> Any:
    """``value`` itself if it is immutable, else a deep copy nobody else holds."""
    return value if is_immutable(value) else copy.deepcopy(value)


def _order(items: list) -> list:
    try:
        return sorted(items)
    except TypeError:  # mixed kinds (None and Ballot...): order by text, same in every process
        return sorted(items, key=repr)


def canonical(value: Any) -> Hashable:
    """A hashable value equal for equal states, whatever the order of sets and dicts.

    Lists and tuples become tuples, dicts ``("dict", sorted items)``, sets
    ``("set", sorted items)``; an object with ``state_key()`` or ``snapshot()``
    (a state machine) is compared by that value.

    >>> canonical({"b": {2, 1}, "a": [1, (2,)]})
    ('dict', (('a', (1, (2,))), ('b', ('set', (1, 2)))))
    """
    kind = type(value)
    if kind in _ATOMS:
        return value
    if kind is tuple or kind is list:
        return tuple(canonical(v) for v in value)
    if kind is dict:
        return ("dict", tuple(_order([(canonical(k), canonical(v)) for k, v in value.items()])))
    if kind is set or kind is frozenset:
        return ("set", tuple(_order([canonical(v) for v in value])))
    fields = _frozen_fields(kind)
    if fields is not None:
        if is_immutable(value):
            return value
        return (kind.__qualname__, tuple(canonical(getattr(value, f)) for f in fields))
    if hasattr(value, "state_key"):
        return (kind.__qualname__, value.state_key())
    if hasattr(value, "snapshot"):
        return (kind.__qualname__, canonical(value.snapshot()))
    raise TypeError(f"a {kind.__name__} cannot be part of a node's state key: use plain values "
                    "(None, bool, int, float, str, tuples, frozen dataclasses, lists/dicts/sets)")


# ---- effects: what a handler asks the runtime to do ------------------------------------
# Each record starts with its kind ("send", ...), so it also reads as the plain tuple
# ("send", dst, msg, after_persist) that tests and older code compare with.

class Send(NamedTuple):
    """Send ``msg`` to ``dst``; ``after_persist``: only once this handler's writes are done."""

    kind: str
    dst: str
    msg: Any
    after_persist: bool


class SetTimer(NamedTuple):
    """Arm ``timer`` to fire after ``delay`` ms (an equal armed timer is replaced)."""

    kind: str
    timer: Any
    delay: float


class CancelTimer(NamedTuple):
    """Disarm ``timer``."""

    kind: str
    timer: Any


class Persist(NamedTuple):
    """Write ``fields`` (already isolated) to stable storage."""

    kind: str
    fields: dict[str, Any]


class PersistAppend(NamedTuple):
    """Append ``items`` to the stored list ``field``."""

    kind: str
    field: str
    items: tuple


class PersistTruncate(NamedTuple):
    """Keep the first ``length`` items of the stored list ``field``."""

    kind: str
    field: str
    length: int


class Note(NamedTuple):
    """Record ``kind`` with ``payload`` in the trace (narration; never read by safety checks)."""

    kind: str
    event: str
    payload: dict[str, Any]


class MissingField(AttributeError):
    """A node lacks a field that the protocol's monitors or summary read."""


def read_field(node: Node, name: str, meaning: str) -> Any:
    """``node.<name>``, or a one-line error saying what paxoslab reads it as.

    >>> class Bare(Node): pass
    >>> read_field(Bare("S1", ["S1"]), "learned", "what it learned")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    paxoslab.node.MissingField: S1 (a Bare) has no field 'learned', which ... as what it learned: ...
    """
    try:
        return getattr(node, name)
    except AttributeError:
        raise MissingField(f"{node.id} (a {type(node).__name__}) has no field {name!r}, which paxoslab "
                           f"reads as {meaning}: set it in __init__") from None


Effect = Send | SetTimer | CancelTimer | Persist | PersistAppend | PersistTruncate | Note
#: builds a record from a tuple without the keyword machinery (sending is the hot path)
_record = tuple.__new__


class Node:
    """Base class: identity, clock, RNG and the effect API.  Subclass it.

    ``STATE`` names the fields that are protocol state (what the search
    copies, compares and shows in a counterexample's diffs).  A class that
    declares none has every public field except ``options`` as its state.
    A class that declares it may also have ``CONFIG`` fields (set when the node
    is built, never changed) and ``DERIVED`` ones (rebuilt from the state, e.g.
    a state machine replayed from the log); any other field a handler changes is
    undeclared state, which the search refuses (:meth:`watched`).
    """

    STATE: ClassVar[tuple[str, ...]] = ()
    #: set when the node is built and never changed (``options`` always is)
    CONFIG: ClassVar[tuple[str, ...]] = ("options",)
    #: a function of the state (a cache of it): may change, is not state
    DERIVED: ClassVar[tuple[str, ...]] = ()
    #: fields of the state that only decide when something happens or count what happened
    #: (time-outs, back-off counters, statistics): left out of :meth:`search_key`
    TIMING: ClassVar[tuple[str, ...]] = ()

    def __init__(self, node_id: str, cluster: Sequence[str], options: Mapping[str, Any] | None = None):
        self._id = node_id
        self._cluster = tuple(cluster)
        self._peers = tuple(n for n in self._cluster if n != node_id)
        self.options: Mapping[str, Any] = options or {}
        self._now = 0.0
        self._rng: random.Random = random.Random(0)
        self._effects: list[Effect] = []
        self._after_persist = False
        self._handlers: dict[type, Callable] = {}

    # ---- read-only context --------------------------------------------
    @property
    def id(self) -> str:
        return self._id

    @property
    def now(self) -> float:
        """Simulated time (ms) of the event being handled."""
        return self._now

    @property
    def rng(self) -> random.Random:
        """This node's own seeded random stream."""
        rng = self._rng
        if rng is None:  # a fork: copy the original's stream on first use
            rng = self._rng = random.Random(0)
            rng.setstate(self._rng_source.getstate())
        return rng

    @property
    def peers(self) -> tuple[str, ...]:
        """Every other node of the cluster."""
        return self._peers

    @property
    def cluster(self) -> tuple[str, ...]:
        """Every node of the cluster, this one included, in scenario order."""
        return self._cluster

    @property
    def majority(self) -> int:
        """Smallest number of nodes that is more than half the cluster."""
        return len(self._cluster) // 2 + 1

    # ---- effects --------------------------------------------------------
    def send(self, dst: str, msg: Any) -> None:
        """Send ``msg`` to ``dst`` (after the handler returns).

        What leaves is ``msg`` as it is now: changing the object afterwards
        changes neither what is delivered nor the trace.
        """
        self._effects.append(_record(Send, ("send", dst, isolated(msg), self._after_persist)))

    def broadcast(self, msg: Any, include_self: bool = True) -> None:
        """Send ``msg`` to every node (this one too unless ``include_self=False``)."""
        msg = isolated(msg)
        after_persist = self._after_persist
        for dst in self._cluster if include_self else self._peers:
            self._effects.append(_record(Send, ("send", dst, msg, after_persist)))

    def set_timer(self, timer: Any, delay: float) -> None:
        """Fire ``timer`` after ``delay`` ms; re-arming an equal timer replaces it."""
        self._effects.append(SetTimer("set_timer", timer, delay))

    def cancel_timer(self, timer: Any) -> None:
        self._effects.append(CancelTimer("cancel_timer", timer))

    def persist(self, **fields: Any) -> None:
        """Write ``fields`` to stable storage; they survive a crash.

        Immutable values (atoms, tuples, frozen dataclasses) are stored as
        they are; anything else is copied.  Messages sent after this call in
        the same handler leave only once the write is done (``options.persist_ms``
        later).
        """
        self._effects.append(Persist("persist", {k: isolated(v) for k, v in fields.items()}))
        self._after_persist = True

    def persist_append(self, field: str, *items: Any) -> None:
        """Append ``items`` to the stored list ``field``: costs what the items cost, not the list.

        For a growing log: ``self.log.append(entry); self.persist_append("log", entry)``.
        """
        self._effects.append(PersistAppend("persist_append", field, tuple(isolated(i) for i in items)))
        self._after_persist = True

    def persist_truncate(self, field: str, length: int) -> None:
        """Keep only the first ``length`` items of the stored list ``field``."""
        self._effects.append(PersistTruncate("persist_truncate", field, length))
        self._after_persist = True

    def note(self, kind: str, **payload: Any) -> None:
        """Record a protocol state change (``promised``, ``learned``...) in the trace."""
        self._effects.append(Note("note", kind, payload))

    # ---- life cycle -----------------------------------------------------
    def on_start(self) -> None:
        """Called once when the simulation starts."""

    def on_recover(self) -> None:
        """Called after a crashed node was rebuilt from its stable storage."""
        self.on_start()

    def restore(self, stable: Mapping[str, Any]) -> None:
        """Set the persisted fields back on a freshly built node."""
        for name, value in stable.items():
            setattr(self, name, isolated(value))

    # ---- dispatch (used by the simulator) -------------------------------
    def handler_for(self, item: Any) -> Callable:
        """The bound ``on_<snake_case>`` method for a message or timer."""
        kind = type(item)
        handler = self._handlers.get(kind)
        if handler is None:
            name = _HANDLER_NAMES.get(kind) or _HANDLER_NAMES.setdefault(
                kind, handler_name(kind.__name__))
            handler = getattr(self, name, None)
            if handler is None:
                raise MissingHandler(
                    f"{type(self).__name__} received {kind.__name__} but has no "
                    f"handler method {name}()"
                )
            self._handlers[kind] = handler
        return handler

    def take_effects(self) -> list[Effect]:
        """Hand the effects requested so far to the runtime and start afresh."""
        effects = self._effects
        self._effects = []
        self._after_persist = False
        return effects

    # ---- the runtime's three calls (see the module docstring) -------------
    def receive(self, msg: Any, src: str, now: float) -> list[Effect]:
        """Handle ``msg`` from ``src`` at time ``now``; the effects it asked for, in order.

        Raises :class:`MissingHandler` if there is no ``on_...`` method for it, and
        whatever the handler raises.
        """
        self._now = now
        CALLS[0] += 1
        handler = self._handlers.get(type(msg)) or self.handler_for(msg)
        handler(msg, src)
        effects = self._effects
        if effects:
            self._effects = []
            self._after_persist = False
        return effects

    def fire(self, timer: Any, now: float) -> list[Effect]:
        """Handle ``timer`` firing at time ``now``; the effects it asked for, in order."""
        self._now = now
        CALLS[0] += 1
        handler = self._handlers.get(type(timer)) or self.handler_for(timer)
        handler(timer)
        return self.take_effects()

    def call(self, method: str, args: Sequence[Any], now: float) -> list[Effect]:
        """Call ``method(*args)`` at time ``now`` (``on_start``, ``on_recover``, a client
        request); the effects it asked for, in order."""
        self._now = now
        CALLS[0] += 1
        getattr(self, method)(*args)
        return self.take_effects()

    def use_rng(self, rng: random.Random) -> None:
        """Draw this node's random choices from ``rng`` (the runtime's seeded stream for it)."""
        self._rng = rng

    def state_fields(self) -> tuple[str, ...]:
        """The declared ``STATE``, or every public field but ``options`` if none is declared."""
        if self.STATE:
            return self.STATE
        return tuple(sorted(k for k in vars(self) if not k.startswith("_") and k != "options"))

    def watched(self) -> dict[str, Hashable]:
        """Every public field that is neither state nor derived, by value: what a handler must
        leave as it found it.  Empty for a class that declares no ``STATE``.

        >>> class Counter(Node):
        ...     STATE = ("n",)
        ...     def __init__(self, *args):
        ...         super().__init__(*args)
        ...         self.n, self.seen = 0, 0
        >>> Counter("S1", ["S1"]).watched()
        {'seen': 0}
        """
        if not self.STATE:
            return {}
        skip = (*self.STATE, *self.DERIVED, "options")
        return {k: canonical(v) for k, v in vars(self).items() if k[0] != "_" and k not in skip}

    def state(self) -> dict[str, Any]:
        """A copy of the protocol state: field -> value (changing it changes nothing)."""
        return {f: copy.deepcopy(getattr(self, f)) for f in self.state_fields()}

    def state_key(self) -> Hashable:
        """The canonical, hashable key of the state (see :func:`canonical`)."""
        atoms = _ATOMS
        values = [getattr(self, f) for f in self.state_fields()]
        return tuple(v if type(v) in atoms else canonical(v) for v in values)

    def search_key(self) -> Hashable:
        """:meth:`state_key` without the ``TIMING`` fields: what decides which steps may follow.

        Two states that differ only in timing fields have the same futures up
        to *when* things happen, which the search does not look at.
        """
        if not self.TIMING:
            return self.state_key()
        fields = _SEARCH_FIELDS.get(type(self))
        if fields is None or not self.STATE:
            fields = tuple(f for f in self.state_fields() if f not in self.TIMING)
            if self.STATE:
                _SEARCH_FIELDS[type(self)] = fields
        atoms = _ATOMS
        values = [getattr(self, f) for f in fields]
        return tuple(v if type(v) in atoms else canonical(v) for v in values)

    def fork(self) -> Node:
        """A copy that shares nothing mutable with this node (the search steps copies).

        Immutable values are shared; lists, dicts, sets and other objects are
        copied; the copy's RNG continues from this one's state.  The simulator
        never changes a node after forking it, which lets the copy take the
        RNG state only when it first draws.
        """
        twin = object.__new__(type(self))
        fields = self.__dict__.copy()
        atoms = _ATOMS
        for name, value in fields.items():
            kind = type(value)
            if kind in atoms or name in _SHARED:
                continue
            if kind is dict:
                if all(type(k) in atoms and (type(v) in atoms or is_immutable(v))
                       for k, v in value.items()):
                    fields[name] = value.copy()
                    continue
            elif kind is set or kind is list:
                if all(type(v) in atoms for v in value):
                    fields[name] = value.copy()
                    continue
            fields[name] = isolated(value)
        twin.__dict__ = fields
        if self._rng is not None:
            twin._rng_source = self._rng
        twin._rng = None
        twin._handlers = {}
        twin._effects = []
        return twin


ENTRIES.update({Node.receive.__code__, Node.fire.__code__, Node.call.__code__})

#: class -> its STATE fields without the TIMING ones (search_key's field list)
_SEARCH_FIELDS: dict[type, tuple[str, ...]] = {}

_SHARED = frozenset({"_cluster", "_peers", "options", "_rng", "_rng_source", "_handlers",
                     "_effects"})
