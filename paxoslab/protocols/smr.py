"""State machine replication with a fixed sequencer (lesson 01).

The algorithm in plain words
----------------------------
Several replicas each run the same deterministic state machine.  One node, the
*sequencer*, puts client commands in order: it numbers each command, applies
it, and sends ``Append(index, command)`` to every other replica.  A replica
applies commands strictly in index order, holding back any that arrive early.
Replicas lag behind one another while commands are in flight (an internal
inconsistency that is allowed), yet after the same commands they are in the
same state — as long as every command is deterministic.

A command that reads something local, like ``set token $random`` or
``set stamp $now``, gives every replica a different result: the replicas
diverge for good.  The cure is to resolve such values *once*, at the sequencer,
before the command enters the log (option ``resolve_at_sequencer``).

Consensus is not solved here: the sequencer is a single point of failure.
Lessons 02–05 replace it with Paxos and with an elected leader.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..checks import Monitor, Violation
from ..errors import ScenarioError
from ..node import Node, canonical
from ..statemachine import MACHINES, CommandError, StateMachine
from ..wording import show
from .spec import Core, DerivedNotes, Mark, ProtocolSpec, Story

DEFAULT_OPTIONS: dict[str, Any] = {
    "machine": "kv",
    "sequencer": None,  # default: the first node
    "resolve_at_sequencer": False,
    "bugs": [],
}
BUGS: dict[str, str] = {}
#: ``options.machine`` for a machine that no name stands for: the node class brings it
#: (:meth:`ReplicaNode.new_machine`), as the homework's checks do with a student's machine.
#: Its commands are checked only as a replica applies them.
EXTERNAL = "external"


@dataclass(frozen=True, slots=True)
class Append:
    index: int
    command: str

    def label(self) -> str:
        return f"#{self.index} {self.command}"


@dataclass(frozen=True, slots=True)
class Forward:
    command: str

    def label(self) -> str:
        return f"fwd {self.command}"


#: Every message type of the protocol (scenario rules may name only these).
MESSAGES = (Append, Forward)


class ReplicaNode(Node):
    """A replica; the sequencer is the replica that numbers the commands."""

    STATE = ("machine", "log", "pending", "applied")
    CONFIG = ("options", "sequencer")

    def __init__(self, node_id: str, cluster: Sequence[str], options: Mapping[str, Any] | None = None):
        super().__init__(node_id, cluster, {**DEFAULT_OPTIONS, **(options or {})})
        self.sequencer = self.options["sequencer"] or self.cluster[0]
        self.machine = self.new_machine()
        self.log: list[str] = []  # the sequencer's numbered commands
        self.pending: dict[int, str] = {}
        self.applied: list[str] = []

    def on_recover(self) -> None:
        """Rebuild the state machine by replaying the commands applied before the crash.

        Commands sent while the replica was down are not sent again: a
        recovered replica stays behind (the sequencer is no consensus protocol).
        """
        self.machine = self.new_machine()
        for command in self.applied:
            carry_out(self.machine, command)

    def new_machine(self) -> StateMachine:
        """A fresh state machine of the kind ``options.machine`` names (a subclass may bring
        its own: with ``"machine": "external"`` it must)."""
        name = self.options["machine"]
        if name == EXTERNAL:
            raise ScenarioError("<scenario>", "options.machine", "'external': this scenario runs only "
                                "with a node class that brings its own machine (new_machine), e.g. a "
                                "homework check's qN.replay()")
        return MACHINES[name]()

    def resolve(self, command: str) -> str:
        """Replace ``$now`` and ``$random`` with this node's own clock and dice."""
        if "$now" in command:
            command = command.replace("$now", f"{self.now:g}")
        if "$random" in command:
            command = command.replace("$random", str(self.rng.randint(0, 999)))
        return command

    def submit(self, command: str) -> None:
        """A client command; non-sequencers forward it."""
        if self.id != self.sequencer:
            self.send(self.sequencer, Forward(command))
            return
        if self.options["resolve_at_sequencer"]:
            command = self.resolve(command)
        self.log.append(command)
        self.persist(log=self.log)
        index = len(self.log)
        self.broadcast(Append(index, command), include_self=False)
        self.pending[index] = command
        self.apply_ready()

    def on_forward(self, msg: Forward, src: str) -> None:
        self.submit(msg.command)

    def on_append(self, msg: Append, src: str) -> None:
        """Hold the command until every earlier one has been applied."""
        if msg.index > len(self.applied) and msg.index not in self.pending:
            self.pending[msg.index] = msg.command
        self.apply_ready()

    def apply_ready(self) -> None:
        """Apply commands strictly in index order (rule: same order everywhere)."""
        while len(self.applied) + 1 in self.pending:
            index = len(self.applied) + 1
            command = self.resolve(self.pending.pop(index))
            refused = carry_out(self.machine, command)
            self.applied.append(command)
            self.persist(applied=self.applied)
            if refused is None:
                self.note("applied", index=index, command=command, state=self.machine.snapshot())
            else:
                self.note("applied", index=index, command=command, state=self.machine.snapshot(),
                          refused=refused)


def _observe(node: Node) -> int:
    """How many commands the replica has applied (what its ``applied`` notes are read from)."""
    return len(getattr(node, "applied", None) or ())


def _derive(before: int, node: Node, trigger: Any) -> list[tuple[str, dict[str, Any]]]:
    """An ``applied`` note per command the replica applied without noting it; the state it
    reached is known after the last one only.

    >>> node = ReplicaNode("S1", ["S1", "S2"], {"machine": "kv"})
    >>> node.submit("set x 1")
    >>> _derive(0, node, ("submit", ("set x 1",)))
    [('applied', {'index': 1, 'command': 'set x 1', 'state': {'x': '1'}})]
    """
    applied = getattr(node, "applied", None) or ()
    if len(applied) <= before:
        return []
    notes: list[tuple[str, dict[str, Any]]] = [
        ("applied", {"index": index, "command": applied[index - 1]})
        for index in range(before + 1, len(applied) + 1)]
    notes[-1][1]["state"] = node.machine.snapshot()
    return notes


def carry_out(machine, command: str) -> str | None:
    """Apply ``command``; None, or why the machine refused it (its state then unchanged).

    Every command was checked when the scenario loaded, but ``$now`` and ``$random`` are
    filled in only as a replica applies it (``deposit $now`` at t=2.5 is ``deposit 2.5``,
    no whole number): such a command takes its place in the log and changes nothing,
    as a state machine answers a request it cannot carry out, and the run goes on.
    """
    try:
        machine.apply(command)
    except CommandError as exc:
        return str(exc)
    return None


# ---- scenario validation ----------------------------------------------------
def _validate_machine(v, field: str, value: Any, nodes: list[str]) -> None:
    if not isinstance(value, str) or (value not in MACHINES and value != EXTERNAL):
        raise v.fail(field, f"unknown state machine {value!r} (known: {', '.join(MACHINES)}; "
                            f"or {EXTERNAL!r}: the node class brings it)")


def _validate_submit(v, field: str, value: Any, nodes: list[str]) -> None:
    v.object(field, value, {"command"}, {"node"})
    v.of_type(f"{field}.command", value["command"], str, "a command string")
    if "node" in value:
        v.node(f"{field}.node", value["node"], nodes)


def _validate_commands(v, data: dict[str, Any]) -> None:
    """Every submitted command must parse for the chosen state machine (an external one
    checks its commands as it applies them)."""
    name = data.get("options", {}).get("machine", "kv")
    if name == EXTERNAL:
        return
    machine = MACHINES[name]
    for i, event in enumerate(data.get("events", [])):
        if "submit" in event:
            command = event["submit"]["command"]
            try:
                machine.check(command.replace("$now", "0").replace("$random", "0"))
            except CommandError as exc:
                raise v.fail(f"events[{i}].submit.command", str(exc)) from None


def _perform(sim, options: dict[str, Any], action: str, value: Any) -> None:
    node_id = value.get("node") or options.get("sequencer") or sim.node_ids[0]
    sim.invoke(node_id, "submit", value["command"])


# ---- summary and report -------------------------------------------------------
def _summarize(sim) -> dict[str, Any]:
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


def describe_summary(summary: Mapping[str, Any]) -> list[str]:

    lines = ["state"]
    lines += [f"  {node:<8} {show(state)}" for node, state in summary["state"].items()]
    lines.append(f"consistent {'yes' if summary['consistent'] else 'no'}")
    return lines


# ---- safety monitors ----------------------------------------------------------
class ReplicaConsistency(Monitor):
    """Replicas that have applied the same number of commands are in the same state.

    Read from each replica's ``applied`` commands and state machine after every
    step; reports the moment each replica first diverges from the first
    replica to reach that many commands, naming the first command (index and
    text) at which the two replicas' applied commands differ.  A replica may
    apply several commands in one step (an early one held back, then released),
    so that command can come before the one the replica applied last.
    """

    property = "replica-consistency"

    def __init__(self, node_ids, options) -> None:
        super().__init__(node_ids, options)
        #: commands applied -> (first replica there, its state, its commands applied)
        self.first: tuple[tuple[int, str, Any, Any, tuple[str, ...]], ...] = ()
        self.diverged: frozenset[str] = frozenset()

    def key(self):
        return (tuple((n, node, state) for n, node, state, _, _ in self.first), self.diverged)

    def after_step(self, sim) -> list[Violation]:
        node_id = sim.step_node
        node = sim.nodes.get(node_id) if node_id is not None else None
        applied = getattr(node, "applied", None) if node is not None else None
        if not applied:
            return []
        count, snapshot = len(applied), node.machine.snapshot()
        state = canonical(snapshot)
        for n, first, first_state, shown, commands in self.first:
            if n != count:
                continue
            if first_state == state or node_id in self.diverged:
                return []
            self.diverged = self.diverged | {node_id}
            return [Violation(
                self.property, sim.now,
                f"after command #{count} {node_id} has {snapshot} but {first} has {shown}; "
                + first_difference(applied, commands),
                (first, node_id),
            )]
        self.first += ((count, node_id, state, snapshot, tuple(applied)),)
        return []


def first_difference(mine: Sequence[str], theirs: Sequence[str]) -> str:
    """Where two replicas' applied commands first differ, for a violation's detail.

    >>> first_difference(["set x 1", "set token 873", "set x 3"], ["set x 1", "set token 989", "set x 3"])
    "they first differ at command #2 ('set token 873' vs 'set token 989')"
    >>> first_difference(["set x 1"], ["set x 1"])
    "yet both applied the same commands (last: #1 'set x 1')"
    """
    for index, (a, b) in enumerate(zip(mine, theirs, strict=True), start=1):
        if a != b:
            return f"they first differ at command #{index} ({a!r} vs {b!r})"
    return f"yet both applied the same commands (last: #{len(mine)} {mine[-1]!r})"


SPEC = ProtocolSpec(
    name="smr",
    core=Core(
        node_class=ReplicaNode,
        messages=MESSAGES,
        bugs=BUGS,
        perform=_perform,
        summarize=_summarize,
        summary_keys=frozenset({"logs", "state", "applied", "consistent"}),
        monitors=(ReplicaConsistency,),
        option_validators={
            "machine": _validate_machine,
            "sequencer": lambda v, f, x, nodes: v.node(f, x, nodes),
            "resolve_at_sequencer": lambda v, f, x, nodes: v.of_type(f, x, bool, "true or false"),
        },
        actions={"submit": _validate_submit},
        validate_scenario=_validate_commands,
        notes=DerivedNotes(observe=_observe, derive=_derive),
    ),
    story=Story(
        describe=describe_summary,
        sentences={
            "applied": lambda e, p: (f"{e.node} applies #{p['index']} {p['command']!r}"
                                     + (f" -> {p['state']}" if "state" in p else "")
                                     + (f" (refused: {p['refused']})" if p.get("refused") else "")),
        },
        colors={"Append": "#1f77b4", "Forward": "#7f7f7f"},
        marks={"applied": Mark("s", "#ff7f0e", lambda p: f"{p['command']}", "applied")},
    ),
)
