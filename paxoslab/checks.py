"""Safety properties, checked over a trace.

Each check reads the protocol's state-change events (``propose``, ``learned``,
``applied``...) — which a trace keeps even when it skips message details — and
returns a list of :class:`Violation`, each naming the property, the time it was
broken and the sequence numbers of the events that show it.

>>> from paxoslab.trace import Trace
>>> t = Trace()
>>> t.add(0, "propose", node="S1", payload={"value": "X"})
>>> t.add(3, "learned", node="S1", payload={"value": "X"})
>>> t.add(5, "learned", node="S2", payload={"value": "Y"})
>>> [v.property for v in agreement(t) + validity(t)]
['agreement', 'validity']
"""

from __future__ import annotations

from collections.abc import Callable
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


def agreement(trace: Trace) -> list[Violation]:
    """No two learners learn different values (and no learner changes its mind)."""
    first = None
    reported: set[tuple[str, object]] = set()
    violations = []
    for event in trace.of_kind("learned"):
        value = event.payload["value"]
        if first is None:
            first = event
        elif value != first.payload["value"] and (event.node, value) not in reported:
            reported.add((event.node, value))
            violations.append(Violation(
                "agreement", event.time,
                f"{event.node} learned {value!r} at t={event.time:g} but {first.node} "
                f"learned {first.payload['value']!r} at t={first.time:g}",
                (first.seq, event.seq),
            ))
    return violations


def validity(trace: Trace) -> list[Violation]:
    """Only a value that some client proposed can be learned."""
    proposed: set[object] = set()
    violations = []
    for event in trace.of_kind("propose", "learned"):
        value = event.payload["value"]
        if event.kind == "propose":
            proposed.add(value)
        elif value not in proposed:
            violations.append(Violation(
                "validity", event.time,
                f"{event.node} learned {value!r} at t={event.time:g}, which nobody proposed",
                (event.seq,),
            ))
    return violations


def replica_consistency(trace: Trace) -> list[Violation]:
    """Replicas that have applied the same number of commands are in the same state.

    Reports the moment each replica first diverges from the first replica to
    apply that command.
    """
    first_at_index: dict[int, object] = {}
    diverged: set[str] = set()
    violations = []
    for event in trace.of_kind("applied"):
        index, state = event.payload["index"], event.payload["state"]
        first = first_at_index.setdefault(index, event)
        if first.payload["state"] != state and event.node not in diverged:
            diverged.add(event.node)
            violations.append(Violation(
                "replica-consistency", event.time,
                f"after command #{index} {event.node} has {state} but {first.node} has "
                f"{first.payload['state']} ({event.payload['command']!r} vs "
                f"{first.payload['command']!r})",
                (first.seq, event.seq),
            ))
    return violations


#: The checks each protocol must pass.
CHECKS: dict[str, list[Callable[[Trace], list[Violation]]]] = {
    "basic-paxos": [agreement, validity],
    "smr": [replica_consistency],
}


def check(trace: Trace, protocol: str) -> list[Violation]:
    """Every check of ``protocol``, violations ordered by time."""
    found = [v for fn in CHECKS.get(protocol, []) for v in fn(trace)]
    return sorted(found, key=lambda v: (v.time, v.events))
