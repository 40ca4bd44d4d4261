"""Scenarios: loading and validating the JSON (or dict) that describes a run.

A scenario names the protocol, the nodes, the network, the protocol options
and a timeline of events (proposals, client commands, crashes, partitions).
:func:`load` checks all of it up front and reports the first problem as one
line naming the file, the field and the value — never a traceback from deep
inside a run.  The caller's dict is never modified.

>>> load({"name": "x", "protocol": "basic-paxos", "nodes": ["S1"], "events": [
...     {"at": 0, "crash": "S9"}]})
Traceback (most recent call last):
...
paxoslab.scenario.ScenarioError: <scenario x>: events[0].crash: unknown node 'S9' (nodes are S1)
"""

from __future__ import annotations

import copy
import json
import math
import numbers
import stat
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from .errors import ScenarioError
from .network import DelayModel, Exponential, Fixed, Network, Rule, Uniform
from .protocols import COMMON_SUMMARY_KEYS, PROTOCOLS, ProtocolSpec

TOP_LEVEL = {
    "name", "description", "protocol", "nodes", "seed", "network", "options", "events",
    "until", "expect", "schedule",
}
REQUIRED = ("name", "protocol", "nodes")
#: Limits on what a scenario may hold: nesting, digits of an integer, size of a file.
MAX_DEPTH = 100
MAX_DIGITS = 30
MAX_FILE_BYTES = 20 * 1024 * 1024
DEFAULT_UNTIL = 1000
FAULT_ACTIONS = {"crash", "recover", "partition", "heal"}


def _show(value: Any) -> str:
    try:
        text = json.dumps(value) if not isinstance(value, str) else repr(value)
    except (TypeError, ValueError):  # not JSON (a NumPy array, an object): its repr
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class Validator:
    """Validation helpers that know where they are (``source``) to name the field."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, field: str, problem: str) -> ScenarioError:
        return ScenarioError(self.source, field, problem)

    def number(self, field: str, value: Any, minimum: float = 0.0, strict: bool = False) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise self.fail(field, f"must be a number, got {_show(value)}")
        if value < minimum or (strict and value == minimum):
            bound = f"greater than {minimum:g}" if strict else f"at least {minimum:g}"
            raise self.fail(field, f"must be {bound}, got {_show(value)}")
        return float(value)

    def probability(self, field: str, value: Any) -> float:
        p = self.number(field, value)
        if p > 1:
            raise self.fail(field, f"must be a probability between 0 and 1, got {_show(value)}")
        return p

    def of_type(self, field: str, value: Any, kind: type | tuple, name: str) -> Any:
        if isinstance(value, bool) and kind is not bool:
            raise self.fail(field, f"must be {name}, got {_show(value)}")
        if not isinstance(value, kind):
            raise self.fail(field, f"must be {name}, got {_show(value)}")
        return value

    def object(self, field: str, value: Any, required: Collection[str],
               optional: Collection[str] = ()) -> dict[str, Any]:
        """An object with every ``required`` key and no key outside ``required | optional``."""
        self.of_type(field, value, dict, "an object")
        allowed = set(required) | set(optional)
        for key in value:
            if key not in allowed:
                raise self.fail(f"{field}.{key}", f"unknown key (expected {', '.join(sorted(allowed))})")
        for key in sorted(required):
            if key not in value:
                raise self.fail(f"{field}.{key}", "missing required key")
        return value

    def node(self, field: str, value: Any, nodes: list[str]) -> str:
        return self.member(field, value, nodes, "node")

    def member(self, field: str, value: Any, allowed: Collection[str], kind: str) -> str:
        """``value`` must be one of ``allowed`` (a node, a message type...)."""
        if value not in allowed:
            raise self.fail(field, f"unknown {kind} {_show(value)} ({kind}s are {', '.join(allowed)})")
        return value

    def names(self, field: str, value: Any, allowed: Collection[str] | None = None,
              kind: str = "node") -> frozenset[str]:
        """A name or a list of names, each one of ``allowed`` if given."""
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise self.fail(field, f"must be a name or a list of names, got {_show(value)}")
        if allowed is not None:
            for i, item in enumerate(items):
                self.member(field if isinstance(value, str) else f"{field}[{i}]", item, allowed, kind)
        return frozenset(items)

    def delay(self, field: str, spec: Any) -> DelayModel:
        """``{"fixed": d}``, ``{"uniform": [lo, hi]}``, ``{"exponential": mean}`` or a number."""
        if isinstance(spec, int | float) and not isinstance(spec, bool):
            return Fixed(self.number(field, spec))
        if not isinstance(spec, dict) or len(spec) != 1:
            raise self.fail(field, "must be a number or one of {\"fixed\": d}, "
                                   "{\"uniform\": [lo, hi]}, {\"exponential\": mean}, "
                                   f"got {_show(spec)}")
        (kind, arg), = spec.items()
        if kind == "fixed":
            return Fixed(self.number(f"{field}.fixed", arg))
        if kind == "exponential":
            return Exponential(self.number(f"{field}.exponential", arg))
        if kind == "uniform":
            low, high = self.interval(f"{field}.uniform", arg)
            return Uniform(low, high)
        raise self.fail(field, f"unknown delay model {_show(kind)} (use fixed, uniform or exponential)")

    def interval(self, field: str, value: Any) -> tuple[float, float]:
        if not isinstance(value, list) or len(value) != 2:
            raise self.fail(field, f"must be a list [low, high], got {_show(value)}")
        low = self.number(f"{field}[0]", value[0])
        high = self.number(f"{field}[1]", value[1])
        if high < low:
            raise self.fail(field, f"low must not exceed high, got {_show(value)}")
        return low, high


def load(scenario: Mapping[str, Any] | str | Path, source: str | None = None) -> dict[str, Any]:
    """Read (if a path) and validate a scenario; return a validated deep copy.

    Raises :class:`ScenarioError` naming the source, the field and the problem.
    """
    if isinstance(scenario, str | Path):
        path = Path(scenario)
        source = source or str(path)
        scenario = read_json(path, source)
    if not isinstance(scenario, Mapping):
        raise ScenarioError(source or "<scenario>", "(top level)",
                            f"must be a JSON object, got {_show(scenario)}")
    source = source or f"<scenario {scenario.get('name', '?')}>"
    data = plain_copy(scenario, source)
    validate(data, Validator(source))
    return data


class _Refused:
    """What the JSON parser hands back for a constant (NaN, Infinity) or an integer too
    long; :func:`plain_copy` then names the field it sits in."""

    def __init__(self, text: str) -> None:
        self.text = text


def read_json(path: Path, source: str) -> Any:
    """The JSON in a regular file of at most :data:`MAX_FILE_BYTES` (never a device or a FIFO,
    which could be endless or never answer)."""
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise ScenarioError(source, "file", "is not a regular file (a device, FIFO or directory)")
        if info.st_size > MAX_FILE_BYTES:
            raise ScenarioError(source, "file", f"is {info.st_size} bytes, more than a scenario may be "
                                                f"({MAX_FILE_BYTES})")
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(source, "file", f"cannot be read ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise ScenarioError(source, "file", f"is not UTF-8 text (byte {exc.start})") from None
    try:
        return json.loads(text, parse_constant=_Refused, parse_int=_parse_int)
    except json.JSONDecodeError as exc:
        raise ScenarioError(source, f"line {exc.lineno} column {exc.colno}",
                            f"malformed JSON ({exc.msg})") from None
    except RecursionError:
        raise ScenarioError(source, "file", f"JSON nested deeper than {MAX_DEPTH} levels") from None


def _parse_int(text: str) -> int | _Refused:
    return _Refused(text) if len(text.lstrip("-")) > MAX_DIGITS else int(text)


def _where(path: list[str | int]) -> str:
    text = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")
    return text or "(top level)"


def _text(value: str, source: str, path: list[str | int]) -> str:
    """``value`` if it is text: a lone surrogate (``"\\ud800"`` in JSON) is not, and
    could be neither printed nor hashed."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ScenarioError(source, _where(path), f"holds a lone surrogate {value[exc.start]!r} "
                                                  "(not a character)") from None
    return value


def plain_copy(value: Any, source: str, path: list[str | int] | None = None) -> Any:
    """A copy of ``value`` made of plain JSON values: NumPy numbers become Python numbers;
    NaN, infinities, integers of more than :data:`MAX_DIGITS` digits and nesting deeper than
    :data:`MAX_DEPTH`, and lone surrogates in strings are a :class:`ScenarioError` naming
    the field.

    >>> plain_copy({"until": float("nan")}, "s.json")
    Traceback (most recent call last):
    ...
    paxoslab.scenario.ScenarioError: s.json: until: NaN is not a number a scenario may hold
    """
    path = path or []
    if len(path) > MAX_DEPTH:
        raise ScenarioError(source, _where(path[:5]) + "...", f"nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, _Refused):
        if value.text.lstrip("-").isdigit():
            raise ScenarioError(source, _where(path), f"an integer of {len(value.text.lstrip('-'))} "
                                                      f"digits (at most {MAX_DIGITS})")
        raise ScenarioError(source, _where(path), f"{value.text} is not a number a scenario may hold")
    if isinstance(value, str):
        _text(value, source, path)
        return value
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, Mapping):
        return {k: plain_copy(v, source, [*path, _text(str(k), source, path)])
                for k, v in value.items()}
    if isinstance(value, list | tuple):
        items = [plain_copy(v, source, [*path, i]) for i, v in enumerate(value)]
        return items if isinstance(value, list) else tuple(items)
    if isinstance(value, numbers.Integral):
        if abs(int(value)) >= 10 ** MAX_DIGITS:
            raise ScenarioError(source, _where(path), f"an integer of more than {MAX_DIGITS} digits")
        return int(value)
    if isinstance(value, numbers.Real):
        if not math.isfinite(value):
            name = "NaN" if math.isnan(value) else "Infinity" if value > 0 else "-Infinity"
            raise ScenarioError(source, _where(path), f"{name} is not a number a scenario may hold")
        return float(value)
    if type(value).__name__ == "bool_":  # numpy.bool_ is no numbers.Integral
        return bool(value)
    return copy.deepcopy(value)


def validate(data: dict[str, Any], v: Validator) -> None:
    """Check every field of ``data``; raises on the first problem."""
    for key in REQUIRED:
        if key not in data:
            raise v.fail(key, "missing required key")
    for key in data:
        if key not in TOP_LEVEL:
            raise v.fail(key, f"unknown key (expected one of {', '.join(sorted(TOP_LEVEL))})")
    v.of_type("name", data["name"], str, "a string")
    v.of_type("description", data.get("description", ""), str, "a string")
    spec = protocol_spec(v, data["protocol"])
    nodes = v.of_type("nodes", data["nodes"], list, "a list of node names")
    if not nodes:
        raise v.fail("nodes", "must name at least one node")
    for i, node in enumerate(nodes):
        if not isinstance(node, str) or not node:
            raise v.fail(f"nodes[{i}]", f"must be a non-empty string, got {_show(node)}")
    if len(set(nodes)) != len(nodes):
        raise v.fail("nodes", f"names must be unique, got {_show(nodes)}")
    v.of_type("seed", data.get("seed", 0), int, "a whole number")
    v.number("until", data.get("until", DEFAULT_UNTIL), strict=True)
    build_network(data.get("network", {}), nodes, v, spec.message_types)
    validate_options(data.get("options", {}), spec, nodes, v)
    until = data.get("until", DEFAULT_UNTIL)
    events = v.of_type("events", data.get("events", []), list, "a list of events")
    for i, event in enumerate(events):
        validate_event(f"events[{i}]", event, spec, nodes, v)
        latest = event["at"]["uniform"][1] if isinstance(event["at"], dict) else event["at"]
        if latest > until:
            raise v.fail(f"events[{i}].at", f"{_show(event['at'])} is after until={until:g}: "
                                            "the event would never happen")
    expect = v.of_type("expect", data.get("expect", {}), dict, "an object of summary keys")
    known = COMMON_SUMMARY_KEYS | spec.core.summary_keys
    for key in expect:
        if key not in known:
            raise v.fail(f"expect.{key}", f"not a summary key of {spec.name} "
                                          f"(known: {', '.join(sorted(known))})")
        validate_expected(f"expect.{key}", expect[key], v)
    if "schedule" in data:
        validate_schedule(data["schedule"], v)
    if spec.core.validate_scenario:
        spec.core.validate_scenario(v, data)


def validate_expected(field: str, expected: Any, v: Validator) -> None:
    """An expected value may nest ``{"not": value}`` and ``{"in": [values]}`` anywhere."""
    if isinstance(expected, dict):
        if "in" in expected and len(expected) == 1 and not isinstance(expected["in"], list):
            raise v.fail(f"{field}.in", f"{_show(expected['in'])} is not a list of the values allowed")
        for key, value in expected.items():
            if key == "in" and len(expected) == 1:
                for i, option in enumerate(value):
                    validate_expected(f"{field}.in[{i}]", option, v)
            else:
                validate_expected(f"{field}.{key}", value, v)
    elif isinstance(expected, list):
        for i, item in enumerate(expected):
            validate_expected(f"{field}[{i}]", item, v)


STEP_KEYS = ("deliver", "lose", "duplicate", "timer", "action")


def validate_schedule(schedule: Any, v: Validator) -> None:
    """A list of steps, each naming one of :data:`STEP_KEYS` (replay checks the rest)."""
    v.of_type("schedule", schedule, list, "a list of steps")
    for i, entry in enumerate(schedule):
        field = f"schedule[{i}]"
        v.of_type(field, entry, dict, "an object like {\"deliver\": 3}")
        kinds = [k for k in STEP_KEYS if k in entry]
        if len(kinds) != 1:
            raise v.fail(field, f"must name exactly one of {', '.join(STEP_KEYS)}, got {_show(entry)}")
        v.object(field, entry, {kinds[0]}, {"from", "to", "type", "fields"})


def protocol_spec(v: Validator, name: Any) -> ProtocolSpec:
    if not isinstance(name, str) or name not in PROTOCOLS:
        known = ", ".join(sorted(PROTOCOLS))
        raise v.fail("protocol", f"unknown protocol {_show(name)} (available: {known})")
    return PROTOCOLS[name]


def build_network(
    spec: Any, nodes: list[str], v: Validator, message_types: Collection[str] = ()
) -> Network:
    """Validate ``network`` and turn it into a :class:`Network`.

    With ``message_types``, a rule's ``type`` must name one of them.
    """
    v.of_type("network", spec, dict, "an object")
    for key in spec:
        if key not in ("delay", "drop", "duplicate", "rules"):
            raise v.fail(f"network.{key}", "unknown key (expected delay, drop, duplicate, rules)")
    rules = []
    for i, rule in enumerate(v.of_type("network.rules", spec.get("rules", []), list, "a list")):
        field = f"network.rules[{i}]"
        v.of_type(field, rule, dict, "an object")
        for key in rule:
            if key not in ("from", "to", "type", "delay", "drop"):
                raise v.fail(f"{field}.{key}", "unknown key (expected from, to, type, delay, drop)")
        if "delay" not in rule and not rule.get("drop"):
            raise v.fail(field, "must set \"delay\" or \"drop\": true")
        rules.append(Rule(
            src=v.names(f"{field}.from", rule["from"], nodes) if "from" in rule else None,
            dst=v.names(f"{field}.to", rule["to"], nodes) if "to" in rule else None,
            msg_types=(v.names(f"{field}.type", rule["type"], sorted(message_types) or None,
                               "message type") if "type" in rule else None),
            delay=v.delay(f"{field}.delay", rule["delay"]) if "delay" in rule else None,
            drop=v.of_type(f"{field}.drop", rule.get("drop", False), bool, "true or false"),
        ))
    return Network(
        delay=v.delay("network.delay", spec.get("delay", {"fixed": 1})),
        drop=v.probability("network.drop", spec.get("drop", 0.0)),
        duplicate=v.probability("network.duplicate", spec.get("duplicate", 0.0)),
        rules=rules,
    )


def validate_options(options: Any, spec: ProtocolSpec, nodes: list[str], v: Validator) -> None:
    v.of_type("options", options, dict, "an object")
    for key, value in options.items():
        field = f"options.{key}"
        if key == "bugs":
            v.of_type(field, value, list, "a list of bug names")
            for i, bug in enumerate(value):
                if not isinstance(bug, str) or bug not in spec.core.bugs:
                    known = ", ".join(spec.core.bugs) or "none"
                    raise v.fail(f"{field}[{i}]", f"unknown bug {_show(bug)} for {spec.name} "
                                                  f"(known: {known})")
        elif key == "persist_ms":
            v.number(field, value)
        elif key in spec.core.option_validators:
            spec.core.option_validators[key](v, field, value, nodes)
        else:
            known = ", ".join(sorted({"bugs", "persist_ms", *spec.core.option_validators}))
            raise v.fail(field, f"unknown option for {spec.name} (known: {known})")


def validate_event(field: str, event: Any, spec: ProtocolSpec, nodes: list[str], v: Validator) -> None:
    v.of_type(field, event, dict, "an object like {\"at\": 0, \"crash\": \"S1\"}")
    if "at" not in event:
        raise v.fail(f"{field}.at", "missing required key")
    at = event["at"]
    if isinstance(at, dict):
        if set(at) != {"uniform"}:
            raise v.fail(f"{field}.at", f"must be a time or {{\"uniform\": [lo, hi]}}, got {_show(at)}")
        v.interval(f"{field}.at.uniform", at["uniform"])
    else:
        v.number(f"{field}.at", at)
    actions = [k for k in event if k != "at"]
    allowed = sorted(FAULT_ACTIONS | set(spec.core.actions))
    if len(actions) != 1:
        raise v.fail(field, f"must have exactly one action besides \"at\" "
                            f"(one of {', '.join(allowed)}), got {_show(actions)}")
    action = actions[0]
    value = event[action]
    where = f"{field}.{action}"
    if action in ("crash", "recover"):
        v.node(where, value, nodes)
    elif action == "heal":
        if value is not True:
            raise v.fail(where, f"must be true, got {_show(value)}")
    elif action == "partition":
        if not isinstance(value, list) or not value:
            raise v.fail(where, f"must be a list of node groups, got {_show(value)}")
        seen: set[str] = set()
        for i, group in enumerate(value):
            for node in v.names(f"{where}[{i}]", group, nodes):
                if node in seen:
                    raise v.fail(f"{where}[{i}]", f"node {node!r} is in two groups")
                seen.add(node)
        rest = [n for n in nodes if n not in seen]
        if rest:  # the nodes not named form one more group, written out so runs show it
            event[action] = [[g] if isinstance(g, str) else list(g) for g in value] + [rest]
    elif action in spec.core.actions:
        spec.core.actions[action](v, where, value, nodes)
    else:
        raise v.fail(where, f"unknown action for {spec.name} (one of {', '.join(allowed)})")


def set_path(data: dict[str, Any], path: str, value: Any) -> None:
    """Set ``data`` at ``"a.b[2].c"`` in place (creating missing objects).

    >>> d = {"events": [{"at": 0}, {"at": 2}]}
    >>> set_path(d, "events[1].at", 5); set_path(d, "options.backoff.jitter", 3); d
    {'events': [{'at': 0}, {'at': 5}], 'options': {'backoff': {'jitter': 3}}}
    """
    steps: list[str | int] = []
    for part in path.split("."):
        name, _, rest = part.partition("[")
        if name:
            steps.append(name)
        for index in filter(None, rest.replace("]", "").split("[")) if rest else []:
            steps.append(int(index))
    target: Any = data
    for step in steps[:-1]:
        if isinstance(step, str) and step not in target:
            target[step] = {}
        target = target[step]
    target[steps[-1]] = value
