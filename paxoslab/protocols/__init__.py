"""The protocols of the course, by name.

Each protocol is a package (or, for the small ``smr``, a module) of this
package whose ``SPEC`` (a :class:`~paxoslab.protocols.spec.ProtocolSpec`)
gathers everything about it in three parts: ``core`` (what running a scenario
needs), ``story`` (how a run is told: summary lines, narration, diagrams,
state tables) and ``search`` (goals and the hints that keep the search small).
Nothing else in the library names a protocol's message types.

Adding a protocol = one new package + its name in ``_registry()`` below.
"""

from __future__ import annotations

from typing import Any

from .spec import Core, Mark, ProtocolSpec, SearchHints, Story

__all__ = ["COMMON_SUMMARY_KEYS", "PROTOCOLS", "Core", "Mark", "ProtocolSpec", "SearchHints",
           "Story", "merged"]


#: Summary keys every protocol's summary has.
COMMON_SUMMARY_KEYS = frozenset({
    "scenario", "protocol", "seed", "end_time", "messages", "violations", "expect", "digest",
})


def _registry() -> dict[str, ProtocolSpec]:
    from . import basic_paxos, multi_paxos, smr

    return {spec.name: spec for spec in (basic_paxos.SPEC, smr.SPEC, multi_paxos.SPEC)}


PROTOCOLS: dict[str, ProtocolSpec] = _registry()


def merged(attribute: str, protocol: str | None = None) -> dict[str, Any]:
    """One protocol's story ``sentences``/``colors``/``marks``/``moment_legend``, or all
    protocols' merged."""
    specs = [PROTOCOLS[protocol]] if protocol in PROTOCOLS else list(PROTOCOLS.values())
    out: dict[str, Any] = {}
    for spec in specs:
        out.update(getattr(spec.story, attribute))
    return out
