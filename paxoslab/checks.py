"""What every protocol's safety properties share: :class:`Violation` and running them.

Each protocol declares its own properties (``ProtocolSpec.properties`` in
:mod:`paxoslab.protocols`); :func:`check` runs those of one protocol over a
trace and orders what they found by time.

>>> from paxoslab.trace import Trace
>>> t = Trace()
>>> t.add(0, "propose", node="S1", payload={"value": "X"})
>>> t.add(3, "learned", node="S1", payload={"value": "X"})
>>> t.add(5, "learned", node="S2", payload={"value": "Y"})
>>> [v.property for v in check(t, "basic-paxos")]
['agreement', 'validity']
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .trace import Trace


@dataclass(frozen=True)
class Violation:
    property: str
    time: float
    detail: str
    events: tuple[int, ...] = field(default=())

    def to_dict(self) -> dict:
        """The summary's form: ``{property, time, detail}``."""
        return {"property": self.property, "time": self.time, "detail": self.detail}


def check(trace: Trace, protocol: str) -> list[Violation]:
    """Every safety property of ``protocol`` over ``trace``, violations ordered by time."""
    from .protocols import PROTOCOLS

    found = [v for prop in PROTOCOLS[protocol].properties for v in prop(trace)]
    return sorted(found, key=lambda v: (v.time, v.events))
