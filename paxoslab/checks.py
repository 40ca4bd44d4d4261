"""What every protocol's safety monitors share: :class:`Violation` and :class:`Monitor`.

Safety is judged on what nodes *do* — their declared state and the messages
they send — never on what they ``note()``.  Each protocol declares monitors
(``SPEC.core.monitors``); the simulator builds one of each per run (and per
world in a search) and calls :meth:`Monitor.after_step` after every step:

* ``sim.nodes[n]`` is the live node or None if it is down, ``sim.stable[n]``
  its stable storage, ``sim.now`` the time;
* ``sim.step_sent`` lists the ``(src, dst, message)`` sent in that step and
  ``sim.step_node`` names the node the step ran on (None for a crash, a
  partition or a lost message).

A monitor remembers what it needs (say, every vote it has seen) and returns
the violations it finds; :meth:`Monitor.key` is that memory as a hashable
value, part of the world the search de-duplicates.  Keep the memory in
immutable values (tuples, frozensets), rebinding rather than mutating: then
:meth:`Monitor.fork` (each world in a search has its own monitors) costs nothing.

>>> class NeverTwo(Monitor):
...     property = "never-two"
...     def after_step(self, sim):
...         return [Violation(self.property, sim.now, "two")] if len(sim.step_sent) == 2 else []
>>> NeverTwo(["S1"], {}).key()
()
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .node import isolated


@dataclass(frozen=True)
class Violation:
    property: str
    time: float
    detail: str
    #: the nodes (or other names) the violation is about
    witnesses: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict:
        """The summary's form: ``{property, time, detail}``."""
        return {"property": self.property, "time": self.time, "detail": self.detail}


class Monitor:
    """Watches every step of a run or a search for violations of one safety property."""

    #: the property's name, as it appears in ``summary()["violations"]``
    property: str = ""

    def __init__(self, node_ids: Sequence[str], options: Mapping[str, Any]) -> None:
        self.node_ids = tuple(node_ids)
        self.options = options

    def after_step(self, sim: Any) -> list[Violation]:
        """Look at the world after one step; return what is violated (usually nothing)."""
        return []

    def key(self) -> Hashable:
        """What this monitor remembers that can change a later verdict, hashable (part of
        the search's world state: monitors with equal keys judge every future alike)."""
        return ()

    def fork(self) -> Monitor:
        """An independent copy (mutable fields are copied, immutable ones shared)."""
        twin = object.__new__(type(self))
        fields = self.__dict__.copy()
        for name, value in fields.items():
            if name != "options" and type(value) not in _PLAIN:
                fields[name] = isolated(value)
        twin.__dict__ = fields
        return twin


_PLAIN = frozenset({str, int, float, bool, type(None), tuple, frozenset})
