"""What a protocol's monitors, goals and search hints may read of a world.

A *world* is one state of a run: the nodes, what each has stored, the step that
led here.  :class:`~paxoslab.sim.Simulation` is one; the search hands its hooks
the same :class:`World` view of the worlds it keeps.  The view is read only: a
hook that changed a node through it would change the world it is judging.

>>> from paxoslab.sim import Simulation
>>> isinstance(Simulation(["S1"], make_node=lambda n: None), World)
True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from .node import Node


@runtime_checkable
class World(Protocol):
    """A read-only view of one world (see the module docstring)."""

    #: every node of the cluster, up or down
    node_ids: tuple[str, ...]
    #: the time (in a search: the number of steps taken)
    now: float
    #: the node the last step ran on (None for a crash, a partition, a lost message)
    step_node: str | None
    #: the ``(src, dst, message)`` sent in the last step
    step_sent: Sequence[tuple[str, str, Any]]
    #: the safety monitors of this world, with what they have seen
    monitors: Sequence[Any]

    def node(self, node_id: str) -> Node | None:
        """The live node, or None while it is down."""

    def stored(self, node_id: str) -> Mapping[str, Any]:
        """What the node has persisted (what a recovery hands it)."""
