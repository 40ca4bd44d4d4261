"""Multi-Paxos in scenarios: what its options and actions may be, and how a run performs them.

``submit`` hands a client command to a server (or to the current leader); ``timeout``
fires a server's election timer now, to script who stands.  Client requests are
numbered 1, 2, 3, ... by the runner, in the order the scenario's submits happen
(:func:`paxoslab.runner.scenario_actions`); the number arrives as ``value["request"]``.
"""

from __future__ import annotations

from typing import Any

from ...statemachine import CommandError, KeyValueStore
from ...world import World
from .node import LEADER, ElectionTimeout

# ---- scenario validation ----------------------------------------------------------
#: The shortest heartbeat or election timeout a scenario may set (ms).  A shorter timer
#: stalls the run: 1e-300 ms added to the simulated clock does not move it, and even a
#: nanosecond fires a billion times in a second of simulated time.
SHORTEST_TIMER = 0.001


def _too_short(v, field: str, value: Any) -> Exception:
    return v.fail(field, f"must be at least {SHORTEST_TIMER:g} ms (a microsecond: a shorter "
                         f"timer stalls simulated time), got {value!r}")


def validate_timeout_range(v, field: str, value: Any, nodes: list[str]) -> None:
    """``election_timeout``: null (scripted timeouts only) or ``[lo, hi]`` ms, lo at least
    :data:`SHORTEST_TIMER`."""
    if value is None:  # servers never time out on their own: scripted timeouts only
        return
    low, high = v.interval(field, value)
    if low < SHORTEST_TIMER:
        raise _too_short(v, f"{field}[0]", value[0])


def validate_heartbeat(v, field: str, value: Any, nodes: list[str]) -> None:
    """``heartbeat``: null (AppendEntries only when there is news) or an interval in ms of
    at least :data:`SHORTEST_TIMER`."""
    if value is not None and v.number(field, value) < SHORTEST_TIMER:
        raise _too_short(v, field, value)


def validate_submit(v, field: str, value: Any, nodes: list[str]) -> None:
    v.object(field, value, {"command"}, {"node", "client", "seq"})
    v.of_type(f"{field}.command", value["command"], str, "a command string")
    try:
        KeyValueStore.check(value["command"])
    except CommandError as exc:
        raise v.fail(f"{field}.command", str(exc)) from None
    if "node" in value:
        v.node(f"{field}.node", value["node"], nodes)
    if "client" in value:
        client = v.of_type(f"{field}.client", value["client"], str, "a client name")
        if not client:
            raise v.fail(f"{field}.client", "must be a non-empty client name, got ''")
    if "seq" in value:
        seq = v.of_type(f"{field}.seq", value["seq"], int, "a whole number")
        if seq < 1:
            raise v.fail(f"{field}.seq", f"must be at least 1 (a client numbers its requests "
                                         f"1, 2, 3, ...), got {seq}")
    for present, missing in (("client", "seq"), ("seq", "client")):
        if present in value and missing not in value:
            raise v.fail(f"{field}.{missing}", f"missing: a request with a {present} needs a "
                                               f"{missing} too (a client session names both)")


def validate_timeout(v, field: str, value: Any, nodes: list[str]) -> None:
    v.node(field, value, nodes)


# ---- scenario actions ---------------------------------------------------------------
def current_leader(world: World) -> str | None:
    """The live server that is leader of the highest term right now (None if none is)."""
    best: tuple[int, str] | None = None
    for node_id in world.node_ids:
        node = world.node(node_id)
        if node is not None and node.role == LEADER and (best is None or node.current_term > best[0]):
            best = (node.current_term, node_id)
    return best[1] if best else None


def perform(sim, options: dict[str, Any], action: str, value: Any) -> None:
    """Carry out a ``timeout`` or ``submit`` action of the scenario."""
    if action == "timeout":
        if not sim.fire_timer(value, ElectionTimeout()):
            sim.trace.add(sim.now, "request_lost", node=value, payload={"method": "timeout"})
        return
    request = value.get("request", 0)  # numbered by the runner, 1 for a scenario's first submit
    command, client, seq = value["command"], value.get("client"), value.get("seq")
    target = value.get("node") or current_leader(sim)
    session = {} if client is None else {"client": client, "seq": seq}
    sim.trace.add(sim.now, "submit", node=target,
                  payload={"command": command, "request": request, "to": value.get("node"), **session})
    if target is None:
        sim.trace.add(sim.now, "no_leader", payload={"command": command, "request": request})
        return
    sim.invoke(target, "submit", command, request, *(() if client is None else (client, seq)))




#: option name -> validator (``bugs`` and ``persist_ms`` are checked for every protocol)
OPTION_VALIDATORS = {
    "election_timeout": validate_timeout_range,
    "heartbeat": validate_heartbeat,
    "noop": lambda v, f, x, nodes: v.of_type(f, x, bool, "true or false"),
    "candidate_writes_first": lambda v, f, x, nodes: v.of_type(f, x, bool, "true or false"),
    "vote_timer_after_write": lambda v, f, x, nodes: v.of_type(f, x, bool, "true or false"),
}

#: action name -> validator of its value
ACTIONS = {"submit": validate_submit, "timeout": validate_timeout}
