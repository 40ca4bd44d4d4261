"""Basic Paxos's scenario options and actions: how each is checked, and how an action is done.

The options themselves, with their defaults, are ``DEFAULT_OPTIONS`` in
:mod:`.node`; a validator gets the scenario's
:class:`~paxoslab.scenario.Validator`, the field path, the value and the node names,
and raises a one-line :class:`~paxoslab.scenario.ScenarioError` naming the field.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .node import BACKOFF_POLICIES

if TYPE_CHECKING:
    from ...sim import Simulation

#: the largest ``backoff.multiplier``: a window that grows more than 100-fold per failed
#: ballot reaches ``max`` after a ballot or two, and is no back-off anyone means
MAX_BACKOFF_MULTIPLIER = 100

def _validate_backoff(v, field: str, value: Any, nodes: list[str]) -> None:
    v.object(field, value, set(), {"policy", "base", "jitter", "multiplier", "max"})
    if "policy" in value:
        if not isinstance(value["policy"], str) or value["policy"] not in BACKOFF_POLICIES:
            raise v.fail(f"{field}.policy", f"unknown back-off policy {value['policy']!r} "
                                            f"(one of {', '.join(BACKOFF_POLICIES)})")
    for key in ("base", "jitter"):
        if key in value:
            v.number(f"{field}.{key}", value[key])
    if "multiplier" in value:
        multiplier = v.number(f"{field}.multiplier", value["multiplier"], minimum=1)
        if multiplier > MAX_BACKOFF_MULTIPLIER:
            raise v.fail(f"{field}.multiplier",
                         f"must be at most {MAX_BACKOFF_MULTIPLIER}, got {multiplier:g}")
    if "max" in value:
        v.number(f"{field}.max", value["max"], strict=True)


def _positive(v, field: str, value: Any, nodes: list[str]) -> None:
    v.number(field, value, strict=True)


def _validate_learn_retry(v, field: str, value: Any, nodes: list[str]) -> None:
    if value is not None:  # null: never ask (only the proposer's one Learn)
        v.number(field, value, strict=True)


OPTION_VALIDATORS = {
    "proposal_timeout": _positive,
    "timeout_growth": lambda v, f, x, n: v.number(f, x, minimum=1),
    "timeout_max": _positive,
    "backoff": _validate_backoff,
    "learn_retry": _validate_learn_retry,
    "learn_retry_max": _positive,
}


def validate_propose(v, field: str, value: Any, nodes: list[str]) -> None:
    v.object(field, value, {"node", "value"}, {"round"})
    v.node(f"{field}.node", value["node"], nodes)
    v.of_type(f"{field}.value", value["value"], str | int | float, "a string or number")
    if "round" in value:
        v.of_type(f"{field}.round", value["round"], int, "a whole number")
        v.number(f"{field}.round", value["round"], minimum=1)


def perform(sim: Simulation, options: dict[str, Any], action: str, value: Any) -> None:
    """Carry out a scenario action: ``propose`` asks a node to get a value chosen."""
    sim.invoke(value["node"], "propose", value["value"], value.get("round", 0))


#: scenario action -> its validator
ACTIONS = {"propose": validate_propose}


def action_node(action: str, value: Any) -> str | None:
    """The one node an action works on: a ``propose`` changes only the node asked."""
    return value["node"] if action == "propose" else None
