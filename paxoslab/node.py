"""The ``Node`` base class every protocol role builds on.

A node reacts to two things: a message arriving (``Prepare`` is handled by
``on_prepare(self, msg, src)``) and one of its timers firing (``ElectionTimeout``
by ``on_election_timeout(self, timer)``).  Handlers never block and never touch
the outside world: they change the node's own fields and ask for effects —
:meth:`Node.send`, :meth:`Node.broadcast`, :meth:`Node.set_timer`,
:meth:`Node.cancel_timer`, :meth:`Node.persist`, :meth:`Node.note` — which the
simulator (or the explorer) carries out after the handler returns.

A crash throws the node object away.  Recovery builds a fresh one and hands it
what it had persisted (:meth:`Node.restore`), then calls :meth:`Node.on_recover`.

A subclass declares which of its fields are protocol state (``STATE``); the
rest (its id, options, derived configuration) is not.  :meth:`Node.state_key`
turns that state into a canonical hashable key, equal for equal states in any
process and under any ``PYTHONHASHSEED``: the search de-duplicates worlds by it.

>>> handler_name("ElectionTimeout")
'on_election_timeout'
"""

from __future__ import annotations

import copy
import dataclasses
import random
import re
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any, ClassVar

_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def handler_name(type_name: str) -> str:
    """``"RequestVote"`` -> ``"on_request_vote"``."""
    return "on_" + _CAMEL.sub("_", type_name).lower()


class MissingHandler(AttributeError):
    """A node received a message or timer it has no ``on_...`` method for."""


_ATOMS = frozenset({str, int, float, bool, type(None), bytes})
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
        _FROZEN_FIELDS[kind] = fields
        return fields


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


class Node:
    """Base class: identity, clock, RNG and the effect API.  Subclass it.

    ``STATE`` names the fields that are protocol state (what the search
    copies, compares and shows in a counterexample's diffs).  A class that
    declares none has every public field except ``options`` as its state.
    """

    STATE: ClassVar[tuple[str, ...]] = ()

    def __init__(self, node_id: str, cluster: Sequence[str], options: Mapping[str, Any] | None = None):
        self._id = node_id
        self._cluster = tuple(cluster)
        self._peers = tuple(n for n in self._cluster if n != node_id)
        self.options: Mapping[str, Any] = options or {}
        self._now = 0.0
        self._rng: random.Random = random.Random(0)
        self._effects: list[tuple] = []
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
        return self._rng

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
        """Send ``msg`` to ``dst`` (after the handler returns)."""
        self._effects.append(("send", dst, msg, self._after_persist))

    def broadcast(self, msg: Any, include_self: bool = True) -> None:
        """Send ``msg`` to every node (this one too unless ``include_self=False``)."""
        for dst in self._cluster if include_self else self._peers:
            self.send(dst, msg)

    def set_timer(self, timer: Any, delay: float) -> None:
        """Fire ``timer`` after ``delay`` ms; re-arming an equal timer replaces it."""
        self._effects.append(("set_timer", timer, delay))

    def cancel_timer(self, timer: Any) -> None:
        self._effects.append(("cancel_timer", timer))

    def persist(self, **fields: Any) -> None:
        """Write ``fields`` to stable storage; they survive a crash.

        Immutable values (atoms, tuples, frozen dataclasses) are stored as
        they are; anything else is copied.  Messages sent after this call in
        the same handler leave only once the write is done (``options.persist_ms``
        later).
        """
        self._effects.append(("persist", {k: isolated(v) for k, v in fields.items()}))
        self._after_persist = True

    def persist_append(self, field: str, *items: Any) -> None:
        """Append ``items`` to the stored list ``field``: costs what the items cost, not the list.

        For a growing log: ``self.log.append(entry); self.persist_append("log", entry)``.
        """
        self._effects.append(("persist_append", field, tuple(isolated(i) for i in items)))
        self._after_persist = True

    def persist_truncate(self, field: str, length: int) -> None:
        """Keep only the first ``length`` items of the stored list ``field``."""
        self._effects.append(("persist_truncate", field, length))
        self._after_persist = True

    def note(self, kind: str, **payload: Any) -> None:
        """Record a protocol state change (``promised``, ``learned``...) in the trace."""
        self._effects.append(("note", kind, payload))

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
            name = handler_name(kind.__name__)
            handler = getattr(self, name, None)
            if handler is None:
                raise MissingHandler(
                    f"{type(self).__name__} received {kind.__name__} but has no "
                    f"handler method {name}()"
                )
            self._handlers[kind] = handler
        return handler

    def take_effects(self) -> list[tuple]:
        """Hand the effects requested so far to the runtime and start afresh."""
        effects = self._effects
        self._effects = []
        self._after_persist = False
        return effects

    def state_fields(self) -> tuple[str, ...]:
        """The declared ``STATE``, or every public field but ``options`` if none is declared."""
        if self.STATE:
            return self.STATE
        return tuple(sorted(k for k in vars(self) if not k.startswith("_") and k != "options"))

    def state(self) -> dict[str, Any]:
        """A copy of the protocol state: field -> value (changing it changes nothing)."""
        return {f: copy.deepcopy(getattr(self, f)) for f in self.state_fields()}

    def state_key(self) -> Hashable:
        """The canonical, hashable key of the state (see :func:`canonical`)."""
        return tuple(canonical(getattr(self, f)) for f in self.state_fields())

    def fork(self) -> Node:
        """A copy that shares nothing mutable with this node (the search steps copies).

        Immutable values are shared; lists, dicts, sets and other objects are
        deep-copied; the copy has its own RNG in the same state.
        """
        twin = object.__new__(type(self))
        fields = vars(self).copy()
        for name, value in fields.items():
            if type(value) not in _ATOMS and name not in ("_cluster", "_peers", "options",
                                                          "_rng", "_handlers", "_effects"):
                fields[name] = isolated(value)
        twin.__dict__.update(fields)
        rng = random.Random(0)
        rng.setstate(self._rng.getstate())
        twin._rng = rng
        twin._handlers = {}
        twin._effects = []
        return twin
