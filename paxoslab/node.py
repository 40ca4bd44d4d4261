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

>>> handler_name("ElectionTimeout")
'on_election_timeout'
"""

from __future__ import annotations

import copy
import random
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def handler_name(type_name: str) -> str:
    """``"RequestVote"`` -> ``"on_request_vote"``."""
    return "on_" + _CAMEL.sub("_", type_name).lower()


class MissingHandler(AttributeError):
    """A node received a message or timer it has no ``on_...`` method for."""


class Node:
    """Base class: identity, clock, RNG and the effect API.  Subclass it."""

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

        Messages sent after this call in the same handler leave only once the
        write is done (``options.persist_ms`` later).
        """
        self._effects.append(("persist", copy.deepcopy(fields)))
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
            setattr(self, name, copy.deepcopy(value))

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

    def state(self) -> dict[str, Any]:
        """The protocol's own fields (everything not starting with ``_``)."""
        return {k: v for k, v in vars(self).items() if not k.startswith("_") and k != "options"}
