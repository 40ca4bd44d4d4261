"""How each protocol plugs into scenarios: node class, options, actions, summary.

Adding a protocol means adding one :class:`ProtocolSpec` to ``PROTOCOLS``.
Validators receive the scenario checker ``c`` (see :mod:`paxoslab.scenario`),
the field path for error messages, the value and the node names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import paxos, replication
from .node import Node
from .statemachine import MACHINES, CommandError

Check = Callable[[Any, str, Any, list[str]], None]


@dataclass(frozen=True)
class ProtocolSpec:
    name: str
    node_class: type[Node]
    bugs: dict[str, str]
    #: names of the protocol's message types (what a network rule's "type" may say)
    message_types: frozenset[str] = frozenset()
    option_checks: dict[str, Check] = field(default_factory=dict)
    actions: dict[str, Check] = field(default_factory=dict)
    #: (simulation, options, action, value) -> None: carry out a protocol action.
    perform: Callable[[Any, dict[str, Any], str, Any], None] | None = None
    #: (simulation) -> the protocol's own summary keys.
    summarize: Callable[[Any], dict[str, Any]] | None = None
    #: (checker, whole scenario) -> None: checks that need several fields at once.
    cross_check: Callable[[Any, dict[str, Any]], None] | None = None


def _object(c, field: str, value: Any, required: set[str], optional: set[str] = frozenset()) -> None:
    c.of_type(field, value, dict, "an object")
    for key in sorted(required):
        if key not in value:
            raise c.fail(f"{field}.{key}", "missing required key")
    for key in value:
        if key not in required | set(optional):
            raise c.fail(f"{field}.{key}",
                         f"unknown key (expected {', '.join(sorted(required | set(optional)))})")


def _positive(c, field: str, value: Any, nodes: list[str]) -> None:
    c.number(field, value, strict=True)


def _flag(c, field: str, value: Any, nodes: list[str]) -> None:
    c.of_type(field, value, bool, "true or false")


# ---- Basic Paxos --------------------------------------------------------------
def _backoff(c, field: str, value: Any, nodes: list[str]) -> None:
    _object(c, field, value, set(), {"base", "jitter", "multiplier"})
    for key in ("base", "jitter"):
        if key in value:
            c.number(f"{field}.{key}", value[key])
    if "multiplier" in value:
        c.number(f"{field}.multiplier", value["multiplier"], minimum=1)


def _propose(c, field: str, value: Any, nodes: list[str]) -> None:
    _object(c, field, value, {"node", "value"}, {"round"})
    c.node(f"{field}.node", value["node"], nodes)
    c.of_type(f"{field}.value", value["value"], str | int | float, "a string or number")
    if "round" in value:
        c.of_type(f"{field}.round", value["round"], int, "a whole number")
        c.number(f"{field}.round", value["round"], minimum=1)


def _perform_paxos(sim, options: dict[str, Any], action: str, value: Any) -> None:
    sim.invoke(value["node"], "propose", value["value"], value.get("round", 0))


def _summarize_paxos(sim) -> dict[str, Any]:
    chosen = {}
    for node_id in sim.node_ids:
        node = sim.nodes.get(node_id)
        chosen[node_id] = node.learned if node is not None else sim.stable[node_id].get("learned")
    values = {v for v in chosen.values() if v is not None}
    decided = values.pop() if len(values) == 1 else None
    learned = [e for e in sim.trace.of_kind("learned") if e.payload["value"] == decided]
    return {
        "chosen": chosen,
        "decided": decided,
        "ballots": [e.payload["ballot"] for e in sim.trace.of_kind("ballot")],
        "decided_at": learned[0].time if learned else None,
    }


# ---- state machine replication -----------------------------------------------
def _machine(c, field: str, value: Any, nodes: list[str]) -> None:
    if not isinstance(value, str) or value not in MACHINES:
        raise c.fail(field, f"unknown state machine {value!r} (known: {', '.join(MACHINES)})")


def _sequencer(c, field: str, value: Any, nodes: list[str]) -> None:
    c.node(field, value, nodes)


def _submit(c, field: str, value: Any, nodes: list[str]) -> None:
    _object(c, field, value, {"command"}, {"node"})
    c.of_type(f"{field}.command", value["command"], str, "a command string")
    if "node" in value:
        c.node(f"{field}.node", value["node"], nodes)


def _perform_smr(sim, options: dict[str, Any], action: str, value: Any) -> None:
    node_id = value.get("node") or options.get("sequencer") or sim.node_ids[0]
    sim.invoke(node_id, "submit", value["command"])


def _summarize_smr(sim) -> dict[str, Any]:
    applied = {n: [] for n in sim.node_ids}
    for event in sim.trace.of_kind("applied"):
        applied[event.node].append(event.payload["command"])
    state = {}
    for node_id in sim.node_ids:
        node = sim.nodes.get(node_id)
        state[node_id] = node.machine.snapshot() if node is not None else None
    return {
        "logs": {n: [{"index": i + 1, "command": cmd} for i, cmd in enumerate(cmds)]
                 for n, cmds in applied.items()},
        "state": state,
        "applied": applied,
        "consistent": len({repr(s) for s in state.values() if s is not None}) <= 1,
    }


def _check_commands(c, data: dict[str, Any]) -> None:
    """Every submitted command must parse for the chosen state machine."""
    machine = MACHINES[data.get("options", {}).get("machine", "kv")]
    for i, event in enumerate(data.get("events", [])):
        if "submit" in event:
            command = event["submit"]["command"]
            try:
                machine.check(command.replace("$now", "0").replace("$random", "0"))
            except CommandError as exc:
                raise c.fail(f"events[{i}].submit.command", str(exc)) from None


PROTOCOLS: dict[str, ProtocolSpec] = {
    "basic-paxos": ProtocolSpec(
        name="basic-paxos",
        node_class=paxos.PaxosNode,
        bugs=paxos.BUGS,
        message_types=frozenset(m.__name__ for m in paxos.MESSAGES),
        option_checks={"proposal_timeout": _positive, "backoff": _backoff},
        actions={"propose": _propose},
        perform=_perform_paxos,
        summarize=_summarize_paxos,
    ),
    "smr": ProtocolSpec(
        name="smr",
        node_class=replication.ReplicaNode,
        bugs=replication.BUGS,
        message_types=frozenset(m.__name__ for m in replication.MESSAGES),
        option_checks={"machine": _machine, "sequencer": _sequencer,
                       "resolve_at_sequencer": _flag},
        actions={"submit": _submit},
        perform=_perform_smr,
        summarize=_summarize_smr,
        cross_check=_check_commands,
    ),
}
