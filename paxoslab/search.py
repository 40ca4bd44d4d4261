"""Search every interleaving: breadth-first (shortest counterexample) or seeded random walks.

The search explores the choices the timed simulator otherwise makes by
chance — which in-flight message is delivered next, losses and duplicates
where the network allows them, timer firings (their delays do not matter
here) and the scenario's actions, in their order but at any point between
deliveries — by stepping copies of one stepped :class:`~paxoslab.sim.Simulation`.
The node classes are the simulator's own: there is no second implementation.

Bounds: ``max_ballots`` (how many ballots each proposer may start; a step that
would start one more is not taken — proposers would otherwise retry on
timeouts forever), the scenario's own crashes and recoveries, and the
``max_states`` / ``max_seconds`` / ``max_depth`` budgets.

Sound reductions keep the space small without losing a violation or
lengthening the shortest counterexample.  They rest on one observation: a
message in flight, an armed timer and the scenario's next action are choices a
world *may* take, never ones it must — a run may stop anywhere.  So a world
with the same nodes and monitors and *more* pending covers one with less:

* worlds are de-duplicated by their canonical key (node states, stable
  storage, armed timers, in-flight messages as a multiset, what remains of the
  scenario, what the monitors remember), and equal in-flight messages are one
  choice;
* a world is not kept when a world kept at no greater depth has the same
  nodes, monitors and ballots started, at least its messages in flight, and
  its scenario actions still to come (or it has none left): see
  :meth:`_Explorer.bfs`.  In particular a step that changes no node and sends
  nothing (losing a message, delivering one that its receiver ignores or that
  arrives at a node that is down or cut off, a timer that does nothing) is
  covered by its own parent, so it is not explored;
* sleep sets: a step on one node is not taken again after a step on another
  node that was explored before it from the same world (the two commute);
* what the protocol says changes nothing, for its own node class only (a
  student's node may behave otherwise): a message whose delivery, now or
  later, changes nothing that decides what any node does is taken out of
  flight (``ProtocolSpec.ignored_for_good``: in Basic Paxos a reply to a
  ballot its proposer has left, or a request an acceptor refuses for good
  from a proposer that starts no more ballots); messages with the same effect
  are keyed alike (``ProtocolSpec.same_effect_as``; ``anonymous`` message
  types are keyed without their sender); and a node that starts no more
  ballots in this search is keyed without the fields that only number its
  next ballot (``ProtocolSpec.ballot_fields``).

Worlds compare nodes by :meth:`~paxoslab.node.Node.search_key`, which leaves
out the fields a protocol declares ``TIMING`` (time-outs, back-off counters,
statistics): they decide only *when* things happen, which the search ignores.

``reduce=False`` turns them off (and explores losses and equal messages one
by one).  The tests hold them to it on small scenarios: every world the
unreduced search reaches is covered — same nodes, same monitors, at least the
same messages, timers and actions pending — by a world the reduced one
reaches at no greater depth, which is what keeps violations found and
counterexamples shortest.  What the protocol says changes nothing changes no
outcome; each message it drops changes nothing when delivered at that
moment, and messages it keys alike have the same effect then.
Not used, because it is unsound here: taking only one node's enabled steps as
a persistent set.  The network is a multiset, not a queue, so another node's
later send puts a new delivery to that node in play that does not commute
with the ones taken (a proposer's promise from S3 read before the one from S2
can change the value it asks to accept).

The search takes a node's decisions to follow from its state and what it
receives: its random stream and the clock may set delays, nothing else.  So
worlds are compared without them, and a step met before from the same node
state is redone from memory (:attr:`Simulation.memo
<paxoslab.sim.Simulation.memo>`: the node after it, shared copy-on-write, and
what it sent) instead of running the handler again.

A counterexample is a scenario whose ``schedule`` lists the steps taken;
:func:`paxoslab.run_scenario` replays it exactly, so it plots, narrates and
replays like any other run.  Goals ("sometimes" properties such as "a value
can be chosen", ``ProtocolSpec.goals``) are checked on every world reached: a
protocol that refuses everything is safe but does not pass.
"""

from __future__ import annotations

import gc
import json
import math
import numbers
import re
import time
from collections import deque
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .node import Node, canonical
from .protocols import PROTOCOLS
from .runner import Result, build_simulation, run_scenario
from .scenario import load
from .sim import Simulation, rng_stream
from .trace import jsonable

STRATEGIES = ("bfs", "random")
#: Steps of one random walk when no ``max_depth`` is given.
WALK_DEPTH = 200
#: Budget of a random search when neither ``max_states`` nor ``max_seconds`` is given.
RANDOM_STATES = 100_000


@dataclass
class SearchResult:
    """What a search found: ``ok`` unless a property is violated, a goal was never
    reached in a complete search, or the search was interrupted (it proved nothing)."""

    scenario: dict[str, Any]
    strategy: str
    ok: bool
    property: str | None
    counterexample: Result | None
    states: int
    transitions: int
    seconds: float
    complete: bool
    depth: int
    goals: dict[str, bool] = field(default_factory=dict)
    #: BFS: how many new worlds were kept at each depth (index 0: the start)
    worlds_per_depth: list[int] = field(default_factory=list)
    interrupted: bool = False
    saved_to: str | None = None
    #: why the search ended: ``"violation"``, ``"complete"`` (every world seen, or the
    #: bounded space ended), ``"max_states"``, ``"max_seconds"``, ``"max_depth"`` (worlds
    #: were left at the depth bound) or ``"interrupted"`` (Ctrl-C: nothing is proved)
    stopped: str = "complete"

    @property
    def violation(self):
        """The violation the counterexample ends with (None if there is none)."""
        found = self.counterexample.violations if self.counterexample else []
        return next((v for v in found if v.property == self.property), None)

    def summary(self) -> dict[str, Any]:
        """JSON-able outcome (what ``python -m paxoslab search --json`` prints)."""
        v = self.violation
        return {
            "scenario": self.scenario["name"], "strategy": self.strategy, "ok": self.ok,
            "property": self.property, "states": self.states, "transitions": self.transitions,
            "seconds": round(self.seconds, 3), "complete": self.complete, "depth": self.depth,
            "goals": self.goals, "interrupted": self.interrupted, "stopped": self.stopped,
            "violation": v.to_dict() if v else None,
            "witnesses": list(v.witnesses) if v else [],
            "counterexample": self.counterexample.scenario if self.counterexample else None,
        }

    def save(self, path: str | Path) -> str:
        """Write the counterexample scenario as JSON; returns the path."""
        if self.counterexample is None:
            raise ValueError("no counterexample to save")
        Path(path).write_text(json.dumps(self.counterexample.scenario, indent=2,
                                         ensure_ascii=False) + "\n", encoding="utf-8")
        self.saved_to = str(path)
        return self.saved_to

    def explain(self) -> str:
        """The outcome in words; a counterexample step by step with each step's state diff."""
        lines = [self.headline()]
        for goal, reached in self.goals.items():
            lines.append(f"goal '{goal}': {'reached' if reached else 'NEVER reached'}")
        if self.counterexample is None:
            if self.property is not None:
                lines.append(f"not ok: goal '{self.property}' never reached")
            elif self.interrupted:
                lines.append("interrupted: nothing is proved (no violation among the states seen)")
            else:
                lines.append("no violation found")
            return "\n".join(lines)
        v = self.violation
        lines.append(f"violation of {self.property} after {len(self.counterexample.scenario['schedule'])}"
                     " steps:")
        lines += explain_schedule(self.counterexample.scenario, self._node_class)
        if v is not None:
            lines.append(f"=> {v.property} violated: {v.detail}")
            if v.witnesses:
                lines.append(f"   witnesses: {', '.join(v.witnesses)}")
        where = self.saved_to or "COUNTEREXAMPLE.json  (save it with result.save(path))"
        lines.append(f"replay: python -m paxoslab run {where}")
        return "\n".join(lines)

    def headline(self) -> str:
        """One line: the scenario, the size of the search and why it stopped."""
        why = {"violation": "stopped at a violation", "complete": "complete",
               "max_states": "budget reached: max_states", "max_seconds": "budget reached: max_seconds",
               "max_depth": "depth bound reached: max_depth", "interrupted": "interrupted"}
        return (f"{self.scenario['name']}: {self.strategy} search, {self.states:,} states, "
                f"{self.transitions:,} transitions, depth {self.depth}, {self.seconds:.1f} s "
                f"({why.get(self.stopped, self.stopped)})")

    _node_class: type[Node] | None = None

    def __repr__(self) -> str:
        return (f"SearchResult(ok={self.ok}, property={self.property!r}, states={self.states}, "
                f"complete={self.complete}, stopped={self.stopped!r}, seconds={self.seconds:.2f})")


class _Budget:
    """Stops a search at ``max_states``/``max_seconds``; shows progress after a second."""

    def __init__(self, name: str, max_states: int | None, max_seconds: float | None,
                 progress: bool | None) -> None:
        self.max_states, self.max_seconds = max_states, max_seconds
        self.start = time.perf_counter()
        self.progress = progress
        self.bar = None
        self.name = name
        self.shown_at = 0.0
        self.hit: str | None = None  # the budget that ran out

    def exhausted(self, states: int) -> bool:
        if self.max_states is not None and states >= self.max_states:
            self.hit = "max_states"
            return True
        if self.max_seconds is not None and time.perf_counter() - self.start >= self.max_seconds:
            self.hit = "max_seconds"
            return True
        return False

    def tick(self, states: int, depth: int) -> None:
        if self.progress is False:
            return
        now = time.perf_counter() - self.start
        if now < 1.0 or now - self.shown_at < 0.2:
            return
        self.shown_at = now
        if self.bar is None:
            from tqdm.auto import tqdm

            # initial: the rate counts from when the bar opens, not from zero states
            self.bar = tqdm(total=self.max_states, desc=f"search {self.name}", unit=" states",
                            leave=False, initial=states)
        self.bar.n = states
        self.bar.set_postfix(depth=depth, refresh=False)
        self.bar.refresh()

    def close(self) -> float:
        if self.bar is not None:
            self.bar.close()
        return time.perf_counter() - self.start


def search(
    scenario: Mapping[str, Any] | str | Path,
    strategy: str = "bfs",
    max_states: int | None = None,
    max_seconds: float | None = None,
    max_depth: int | None = None,
    seed: int = 0,
    max_ballots: int = 1,
    node_class: type[Node] | None = None,
    progress: bool | None = None,
    reduce: bool = True,
) -> SearchResult:
    """Explore every interleaving of ``scenario`` (``"bfs"``) or random ones (``"random"``).

    Returns at the first violation (BFS: a shortest counterexample), when the
    bounded space is exhausted (``complete``), when a budget runs out, or on
    Ctrl-C / a notebook interrupt, with what was found so far.
    ``result.stopped`` says which; an interrupted search is not ``ok``: it proved nothing.

    ``max_states`` (worlds kept, or steps walked), ``max_seconds`` and
    ``max_depth`` are positive, or ``None`` for no bound, except that a random
    walk without ``max_depth`` ends after :data:`WALK_DEPTH` steps and a random
    search without ``max_states`` or ``max_seconds`` after :data:`RANDOM_STATES`
    steps; a random search whose start has no step to take is complete at once.
    ``max_ballots`` is at least 1 and ``seed`` an integer; anything else raises
    :class:`SearchArgumentError` (a ``ValueError``) naming the argument.
    ``progress=False`` hides the progress bar a search over a second shows.
    ``reduce=False`` turns the reductions off (every loss, every equal message,
    no sleep sets, no pruning of steps that change nothing): much slower, the
    yardstick the tests hold the reduced search to.
    """
    if strategy not in STRATEGIES:
        raise SearchArgumentError("strategy", f"must be one of {', '.join(STRATEGIES)}, "
                                  f"got {strategy!r}")
    max_states = _count("max_states", max_states)
    max_depth = _count("max_depth", max_depth)
    max_ballots = _count("max_ballots", max_ballots, none_ok=False)
    max_seconds = _seconds(max_seconds)
    seed = _integer("seed", seed)
    data = load(scenario)
    data.pop("schedule", None)
    spec = PROTOCOLS[data["protocol"]]
    root = build_simulation(data, data.get("seed", 0), detailed=False, node_class=node_class,
                            timed=False)
    root.memo, root.memo_keys = {}, {}  # what each handler did from each node state, to reuse
    explorer = _Explorer(spec, root, max_ballots, reduce, node_class)
    if strategy == "random" and max_states is None and max_seconds is None:
        max_states = RANDOM_STATES
    budget = _Budget(data["name"], max_states, max_seconds, progress)
    with _no_cycle_collection():
        try:
            if strategy == "bfs":
                explorer.bfs(budget, max_depth)
            else:
                explorer.random_walks(budget, WALK_DEPTH if max_depth is None else max_depth, seed)
        except KeyboardInterrupt:
            explorer.interrupted = True
        states = explorer.visited if strategy == "random" else explorer.kept
        explorer.seen = set()  # let go now, while the collector is off: it need not walk it
    seconds = budget.close()
    counterexample = None
    if explorer.found is not None:
        schedule = explorer.found
        cx = {k: v for k, v in data.items() if k not in ("expect", "until")}
        cx["name"] = f"{data['name']}-counterexample"
        cx["description"] = (f"found by a {strategy} search: {explorer.property} is violated "
                             f"after {len(schedule)} steps")
        cx["schedule"] = schedule
        counterexample = run_scenario(cx, node_class=node_class)
    goals = {name: name in explorer.reached for name in spec.goals}
    complete = explorer.complete and not explorer.interrupted
    # a goal fails only once every world was seen without it
    failed_goal = next((g for g, ok in goals.items() if not ok), None) if complete else None
    prop = explorer.property or failed_goal
    stopped = ("violation" if explorer.found is not None else "interrupted" if explorer.interrupted
               else "complete" if complete else budget.hit or "max_depth")
    result = SearchResult(
        scenario=data, strategy=strategy, ok=prop is None and not explorer.interrupted,
        property=prop, stopped=stopped,
        counterexample=counterexample,
        states=states,
        transitions=explorer.transitions, seconds=seconds,
        complete=complete,
        depth=explorer.depth, goals=goals, interrupted=explorer.interrupted,
        worlds_per_depth=explorer.per_depth,
    )
    result._node_class = node_class
    return result


class SearchArgumentError(ValueError):
    """A search argument out of range; the message names it: ``max_ballots: must be ...``."""

    def __init__(self, argument: str, problem: str) -> None:
        self.argument, self.problem = argument, problem
        super().__init__(f"{argument}: {problem}")


def _integer(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise SearchArgumentError(name, f"must be an integer, got {value!r}")
    return int(value)


def _count(name: str, value: Any, none_ok: bool = True) -> int | None:
    """A positive integer (``None``: no bound, where ``none_ok``)."""
    if value is None and none_ok:
        return None
    number = _integer(name, value)
    if number < 1:
        bound = " (leave it out for no bound)" if none_ok else ""
        raise SearchArgumentError(name, f"must be at least 1{bound}, got {number}")
    return number


def _seconds(value: Any) -> float | None:
    """A finite number of seconds above 0, or ``None`` (no time limit)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) \
            or value <= 0:
        raise SearchArgumentError("max_seconds", "must be a finite number of seconds above 0 "
                                  f"(leave it out for no limit), got {value!r}")
    return float(value)


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def counterexample_file(name: str) -> str:
    """Where the command line writes a counterexample by default: a plain file name in the
    working directory, from the last part of the scenario's name.

    >>> counterexample_file("search-basic-paxos")
    'search-basic-paxos-counterexample.json'
    >>> counterexample_file("../../etc/x y")
    'x-y-counterexample.json'
    >>> counterexample_file("..")
    'scenario-counterexample.json'
    """
    base = re.split(r"[/\\]", str(name))[-1]
    base = _UNSAFE.sub("-", base).strip(".-")[:80] or "scenario"
    return f"{base}-counterexample.json"


class _Explorer:
    """The search proper: worlds are stepped forks of one stepped simulation."""

    def __init__(self, spec, root: Simulation, max_ballots: int, reduce: bool = True,
                 node_class: type[Node] | None = None) -> None:
        self.spec = spec
        self.reduce = reduce
        # the protocol's word on what its own nodes ignore for good; not on anyone else's
        own = node_class is None or node_class is spec.node_class
        self.ignored_for_good = spec.ignored_for_good if reduce and own else None
        # a partition drops a message by its sender: only without one is a sender unread
        if reduce and own and not root.network.groups and not any(
                action[0] in _NETWORK_ACTIONS for _, action in root.actions):
            root.anonymous = spec.anonymous
        root.start()
        # from action i on: node -> the names of the actions left that work on it
        # (None: an action left may work on any node)
        self.actions_left: list[dict[str, tuple[str, ...]] | None] = []
        for i in range(len(root.actions) + 1):
            left: dict[str, tuple[str, ...]] | None = {}
            for j in range(i, len(root.actions)):
                node = self.step_id(root, ("action", j))[2]
                if node is None:
                    left = None
                    break
                left[node] = (*left.get(node, ()), root.actions[j][1][0])
            self.actions_left.append(left)
        # where the protocol's ballot fields sit in a node's search key
        some_node = root.nodes[root.node_ids[0]]
        fields = [f for f in some_node.state_fields() if f not in some_node.TIMING]
        self.ballot_fields = tuple(fields.index(f) for f in spec.ballot_fields
                                   if f in fields) if self.ignored_for_good else ()
        self.root = root
        self.max_ballots = max_ballots
        self.seen: set | dict = set()
        self.depths: dict | None = None  # world -> depth first reached, when asked for
        self.visited = 0
        self.kept = 0  # BFS: worlds kept (explored)
        self.transitions = 0
        self.depth = 0
        self.per_depth: list[int] = []
        self.found: list[dict[str, Any]] | None = None
        self.property: str | None = None
        self.reached: set[str] = set()
        self.complete = False
        self.interrupted = False
        self.index = {n: i for i, n in enumerate(root.node_ids)}
        self.actions = len(root.actions)
        self.numbering: dict[Any, int] = {}  # node key -> its number in world cores
        self.blanked: dict[int, int] = {}  # such a number -> that of the key without ballot fields

    # ---- one transition --------------------------------------------------
    def successors(self, sim: Simulation, ballots: tuple[int, ...],
                   sleep: frozenset = frozenset(), only: frozenset | None = None):
        """(step, child world, child ballots, child sleep set) for every step worth taking.

        Sleep sets: a step ``u`` taken before ``t`` from this world (or asleep
        here) that commutes with ``t`` — they happen on different nodes — is
        asleep in ``t``'s child: the world after both is reached through ``u``
        first, in as many steps.
        """
        done: list[tuple] = []
        seen_here = set()
        spent = None  # this world's spent nodes, once asked for
        if not self.reduce:
            for choice in sim.choices():
                child = sim.fork()
                child.step(choice)
                self.transitions += 1
                child_ballots = self.count_ballots(child.step_sent, ballots)
                if child_ballots is not None:
                    yield choice, child, child_ballots, sleep, frozenset()
            return
        for choice in sim.choices():
            if choice[0] == "lose":
                continue  # changes no node: the parent, with the message pending, covers it
            t = self.step_id(sim, choice)
            if t in seen_here or t in sleep or (only is not None and t not in only):
                continue  # an equal message: the same world follows
            seen_here.add(t)
            child = sim.fork()
            child.step(choice)
            self.transitions += 1
            child_sleep = frozenset(u for u in (*sleep, *done) if _commute(u, t))
            done.append(t)
            child_ballots = self.count_ballots(child.step_sent, ballots)
            if child_ballots is None:
                continue
            if not child.violations and self.covered(sim, child, choice):
                continue
            child_spent = frozenset()
            if self.ignored_for_good is not None:
                if spent is None:
                    spent = self.spent(sim, ballots)
                child_spent = self.drop_ignored(child, child_ballots, spent,
                                                choice[0] == "action" or child_ballots != ballots)
            yield choice, child, child_ballots, child_sleep, child_spent

    def drop_ignored(self, world: Simulation, ballots: tuple[int, ...], spent_before: frozenset,
                     everything: bool = False) -> frozenset[str]:
        """Take out of flight the messages that change nothing whatever happens, and key
        each message by one with the same effect (``ProtocolSpec.same_effect_as``);
        returns the nodes that start no more ballots here (see :meth:`spent`).

        Only messages to or from the node the step changed, and new ones, can
        have become so — or any, after an action or a new ballot (``everything``)
        or when which nodes are spent changed.
        """
        ignored = self.ignored_for_good
        changed = world.step_node
        spent = self.spent(world, ballots, spent_before,
                           None if everything else (changed,) if changed is not None else ())
        everything = everything or spent is not spent_before
        new = world.first_new_id
        same_effect_as = self.spec.same_effect_as
        flight_keys = world.flight_keys
        dead = []
        for msg_id, (src, dst, msg) in world.in_flight.items():
            if not (everything or dst == changed or src == changed or msg_id >= new):
                continue
            if ignored(world, src, dst, msg, spent):
                dead.append(msg_id)
            elif same_effect_as is not None and (dst == changed or msg_id >= new):
                alike = same_effect_as(world, src, dst, msg)
                if alike is not msg:
                    key = flight_keys[msg_id]
                    flight_keys[msg_id] = (key[0], dst, canonical(alike))
        for msg_id in dead:
            del world.in_flight[msg_id]
            del flight_keys[msg_id]
        return spent

    def spent(self, world: Simulation, ballots: tuple[int, ...], before: frozenset[str] = frozenset(),
              ask: tuple[str, ...] | None = None) -> frozenset[str]:
        """The nodes that start no more ballots in this search: those at the bound, and
        those the protocol says may not start one, given the actions left.

        A node once spent stays spent: ``before`` are known to be; ``ask``, the
        only nodes that may have become so since (None: any).
        """
        left = self.actions_left[world.next_action]
        may_start = self.spec.may_start_ballot
        if left is None:
            may_start = None
        bound = self.max_ballots
        index = self.index
        nodes = world.nodes
        new = [n for n in (index if ask is None else ask)
               if n not in before and (ballots[index[n]] >= bound or (
                   may_start is not None and not may_start(nodes[n], left.get(n, ()))))]
        return before.union(new) if new else before

    def core(self, world: Simulation, ballots: tuple[int, ...], spent: frozenset[str]) -> tuple:
        """The world's key but for what it may still choose to do (:meth:`pending`): each
        node's key (by number), the network's groups, the monitors' keys, the ballots
        started.

        A spent node's ballot fields are left out: they are read only to number
        a next ballot, and it starts none.
        """
        numbers = world.numbers
        numbering = self.numbering
        node_numbers = []
        for node_id in world.node_ids:
            key = world.node_key(node_id)
            known = numbers.get(node_id)
            if known is not None and known[0] is key:
                number = known[1]
            else:
                number = numbering.setdefault(key, len(numbering))
                numbers[node_id] = (key, number)
            if node_id in spent and self.ballot_fields:
                number = self.without_ballot_fields(number, key)
            node_numbers.append(number)
        groups = world.network.groups
        return (tuple(node_numbers), tuple(sorted(groups.items())) if groups else (),
                tuple(m.key() for m in world.monitors), ballots)

    def pending(self, world: Simulation) -> frozenset:
        """What the world may still choose to do but never must: its messages in flight
        (:meth:`Simulation.flight_set`) and, while any are left, the scenario's next action.

        A world with all of another's messages and actions left (and the same
        core) can do all it can: the actions come in order, and a run may stop
        before any of them.
        """
        flight = world.flight_set()
        if world.next_action < self.actions:
            return flight | {("next action", world.next_action)}
        return flight

    def without_ballot_fields(self, number: int, key: tuple) -> int:
        """The number of node key ``key`` (numbered ``number``) with its ballot fields None."""
        blank = self.blanked.get(number)
        if blank is None:
            state, stable, timers = key
            if state is not None:
                state = list(state)
                for position in self.ballot_fields:
                    state[position] = None
                state = tuple(state)
            numbering = self.numbering
            blank = self.blanked[number] = numbering.setdefault((state, stable, timers),
                                                                len(numbering))
        return blank

    def step_id(self, sim: Simulation, choice: tuple) -> tuple:
        """A step by what it does, not by message id: equal messages are one step; an
        action with the node it works on (None: it may touch any)."""
        kind = choice[0]
        if kind in ("deliver", "lose", "duplicate"):
            return (kind, sim.flight_keys[choice[1]])
        if kind == "action":
            action = sim.actions[choice[1]][1]
            if action[0] in _NODE_ACTIONS:
                return (kind, choice[1], action[1])
            if action[0] in _NETWORK_ACTIONS:
                return (kind, choice[1], None)
            node_of = self.spec.action_node
            return (kind, choice[1], node_of(action[0], action[1]) if node_of else None)
        return choice

    def count_ballots(self, sent: list[tuple[str, str, Any]],
                      ballots: tuple[int, ...]) -> tuple[int, ...] | None:
        """Ballots started per node after a step that sent ``sent``; None: one too many."""
        ballot_of = self.spec.ballot_of
        if ballot_of is None or not sent:
            return ballots
        started = {(src, b) for src, _, msg in sent
                   if (b := ballot_of(msg)) is not None}
        if not started:
            return ballots
        counts = list(ballots)
        for src, _ in started:
            counts[self.index[src]] += 1
            if counts[self.index[src]] > self.max_ballots:
                return None
        return tuple(counts)

    @staticmethod
    def covered(parent: Simulation, child: Simulation, choice: tuple) -> bool:
        """True when the step only consumed a message or a timer: the parent covers the child."""
        if choice[0] == "action" or child.step_sent:
            return False
        node_id = child.step_node
        if node_id is None:  # lost, or dropped at a node that is down or cut off
            return True
        if parent.nodes[node_id] is None or child.nodes[node_id] is None:
            return False
        state, stable, timers = parent.node_key(node_id)
        state2, stable2, timers2 = child.node_key(node_id)
        return (state == state2 and stable == stable2 and timers2 <= timers
                and all(a.key() == b.key()
                        for a, b in zip(parent.monitors, child.monitors, strict=True)))

    def count_at(self, depth: int) -> None:
        per_depth = self.per_depth
        while len(per_depth) <= depth:
            per_depth.append(0)
        per_depth[depth] += 1

    def note_goals(self, sim: Simulation) -> None:
        for name, goal in self.spec.goals.items():
            if name not in self.reached and goal(sim):
                self.reached.add(name)

    def stop_at(self, child: Simulation, path: tuple) -> bool:
        if not child.violations:
            return False
        self.found = self.schedule(_unlink(path))
        self.property = child.violations[0].property
        return True

    def schedule(self, choices: list[tuple]) -> list[dict[str, Any]]:
        """The chosen steps as schedule entries (message ids are those of a replay)."""
        sim = self.root.fork()
        entries = []
        for choice in choices:
            entries.append(sim.encode(choice))
            sim.step(choice)
        return entries

    # ---- strategies ---------------------------------------------------------
    def bfs(self, budget: _Budget, max_depth: int | None) -> None:
        """Breadth-first, keeping one world per canonical key, or fewer when reduced.

        Reduced, a world is also left out when a world kept at no greater depth
        has the same :meth:`core` (nodes, storage, timers, monitors, ballots
        started) and more :meth:`pending` (messages in flight, actions left): it
        can take every step the smaller one can, to the same effect, so
        everything reachable from the smaller one is covered at no greater
        depth.  Steps asleep in every such world and not in this one are still
        taken from here.  A world still waiting in the frontier is dropped when
        a world that covers it turns up at its depth, which then takes its steps
        too.
        """
        root = self.root
        ballots0 = (0,) * len(root.node_ids)
        # core -> [in flight, steps asleep, depth, alive, takes every step not asleep]
        # for each world kept
        kept: dict[Any, list[list]] = {}
        self.seen = kept
        start = [self.pending(root), frozenset(), 0, True, True]
        kept[self.core(root, ballots0, frozenset())] = [start]
        self.kept = 1
        depths = self.depths
        if depths is not None:
            start.append((root.world_key(), ballots0))
            depths[start[5]] = 0
        self.count_at(0)
        self.note_goals(root)
        if self.stop_at(root, ()):
            return
        frontier = deque([(root, ballots0, (), 0, None, start)])
        cut_by_depth = False
        subsume = self.reduce
        while frontier:
            sim, ballots, path, depth, only, entry = frontier.popleft()
            if not entry[3]:
                continue  # covered by a world found after it at its depth
            if max_depth is not None and depth >= max_depth:
                cut_by_depth = True
                continue
            self.depth = max(self.depth, depth + 1)
            for choice, child, child_ballots, child_sleep, spent in self.successors(
                    sim, ballots, entry[1] if only is None else only[1], only and only[0]):
                child_path = (path, choice)
                if self.stop_at(child, child_path):
                    return
                core, flight = self.core(child, child_ballots, spent), self.pending(child)
                worlds = kept.get(core)
                if worlds is None:
                    worlds = kept[core] = []
                # the steps asleep in every world kept that equals or covers this one
                common: frozenset | None = None
                same = waiting = None
                for world in worlds:
                    pending = world[0]
                    if flight == pending:
                        same = world
                    elif not (subsume and flight < pending):
                        continue
                    common = world[1] if common is None else common & world[1]
                    if world[2] == depth + 1 and world[4]:
                        waiting = world  # not taken yet, and it will take every step it may
                take: frozenset | None = None  # None: every step not asleep
                if common is not None:
                    take = common - child_sleep
                    if not take:
                        continue  # seen, or covered, with no more steps asleep
                    if waiting is not None:
                        waiting[1] = waiting[1] & child_sleep  # it takes them for this one
                        continue
                    if same is not None:
                        # reached again with fewer steps asleep: take the ones skipped before
                        same[1] = same[1] & child_sleep
                        frontier.append((child, child_ballots, child_path, depth + 1,
                                         (take, same[1]), same))
                        continue
                    # else: covered but for the steps asleep there, which are taken here
                entry = [flight, child_sleep, depth + 1, True, take is None]
                if subsume and take is None:
                    self.drop_covered(worlds, entry)
                worlds.append(entry)
                self.kept += 1
                self.count_at(depth + 1)
                if depths is not None:
                    entry.append((child.world_key(), child_ballots))
                    depths[entry[5]] = depth + 1
                self.note_goals(child)
                frontier.append((child, child_ballots, child_path, depth + 1,
                                 None if take is None else (take, child_sleep), entry))
            budget.tick(self.kept, depth)
            if budget.exhausted(self.kept):
                return
        self.complete = not cut_by_depth

    def drop_covered(self, worlds: list[list], entry: list) -> None:
        """Drop the worlds still waiting at ``entry``'s depth that ``entry`` covers;
        ``entry`` takes the steps they would have taken."""
        flight, depth = entry[0], entry[2]
        covered = [w for w in worlds if w[2] == depth and w[0] < flight]
        for world in covered:
            entry[1] = entry[1] & world[1]
            world[3] = False
            worlds.remove(world)
            self.kept -= 1
            self.per_depth[depth] -= 1
            if self.depths is not None:
                del self.depths[world[5]]

    def random_walks(self, budget: _Budget, depth_limit: int, seed: int) -> None:
        """Walks of up to ``depth_limit`` random steps from the start until the budget ends;
        complete at once when the start has no step worth taking (every walk would stop there)."""
        rng = rng_stream(seed, "search")
        ballots0 = (0,) * len(self.root.node_ids)
        self.note_goals(self.root)
        if self.stop_at(self.root, ()):
            return
        while not budget.exhausted(self.visited):
            sim, ballots, path = self.root, ballots0, ()
            for depth in range(depth_limit):
                options = list(self.successors(sim, ballots))
                if not options:
                    if depth == 0:  # the start has no step worth taking: nothing else to see
                        self.complete = True
                        return
                    break
                entry, sim, ballots, _, _ = options[rng.randrange(len(options))]
                path = (path, entry)
                self.depth = max(self.depth, depth + 1)
                self.visited += 1
                self.seen.add((sim.world_key(), ballots))
                if self.stop_at(sim, path):
                    return
                self.note_goals(sim)
            budget.tick(self.visited, self.depth)


def explored_worlds(scenario: Mapping[str, Any] | str | Path, reduce: bool = True,
                    max_depth: int | None = None, max_ballots: int = 1,
                    node_class: type[Node] | None = None) -> dict:
    """Every world a complete breadth-first search keeps -> the depth it was first reached.

    A world is ``(Simulation.world_key(), ballots started per node)``.  For
    checking the reductions against ``reduce=False`` on small scenarios; the
    search does not stop at violations here.
    """
    data = load(scenario)
    data.pop("schedule", None)
    root = build_simulation(data, data.get("seed", 0), detailed=False, node_class=node_class,
                            timed=False)
    root.memo, root.memo_keys = {}, {}  # what each handler did from each node state, to reuse
    explorer = _Explorer(PROTOCOLS[data["protocol"]], root, max_ballots, reduce, node_class)
    explorer.depths = {}
    explorer.stop_at = lambda child, path: False  # type: ignore[method-assign]
    with _no_cycle_collection():
        explorer.bfs(_Budget(data["name"], None, None, False), max_depth)
    return explorer.depths


#: scenario actions that work on the one node they name (and read nothing else)
_NODE_ACTIONS = frozenset({"crash", "recover", "fire", "invoke"})
#: scenario actions that change who can reach whom: they touch every node's deliveries
_NETWORK_ACTIONS = frozenset({"partition", "heal"})


def _commute(u: tuple, t: tuple) -> bool:
    """Steps on different nodes commute; an action that may touch any node, with nothing."""
    node_u, node_t = _node_of(u), _node_of(t)
    return node_u is not None and node_t is not None and node_u != node_t


def _node_of(step_id: tuple) -> str | None:
    kind = step_id[0]
    if kind == "timer":
        return step_id[1]
    if kind == "action":
        return step_id[2]
    return step_id[1][1]  # a message's receiver


@contextmanager
def _no_cycle_collection():
    """Worlds are many small objects without reference cycles: the cyclic garbage
    collector would only walk them again and again (it doubles a search's time)."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def _unlink(path: tuple) -> list[dict[str, Any]]:
    steps = []
    while path:
        path, entry = path
        steps.append(entry)
    return steps[::-1]


# ---- reading a schedule ---------------------------------------------------------
def describe_step(sim: Simulation, choice: tuple) -> str:
    """One step in words, read before it is taken."""
    kind = choice[0]
    if kind in ("deliver", "lose", "duplicate"):
        src, dst, msg = sim.in_flight[choice[1]]
        label = msg.label() if hasattr(msg, "label") else type(msg).__name__
        verb = {"deliver": "receives", "lose": "never gets (lost)",
                "duplicate": "receives a duplicate of"}[kind]
        return f"{dst} {verb} {label} from {src}"
    if kind == "timer":
        return f"{choice[1]}'s {type(choice[2]).__name__} timer fires"
    _, action = sim.actions[choice[1]]
    args = " ".join(json.dumps(jsonable(a)) if not isinstance(a, str) else a for a in action[1:])
    return f"scenario: {action[0]} {args}".rstrip()


def _show(value: Any) -> str:
    text = json.dumps(jsonable(value), ensure_ascii=False)
    return text if len(text) <= 50 else text[:47] + "..."


def state_diff(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[str]:
    """``field: old -> new`` for each field that changed (``down``/``up`` for crashes)."""
    if before is None and after is None:
        return []
    if after is None:
        return ["crashed (volatile state lost)"]
    if before is None:
        return ["recovered: " + ", ".join(f"{k}={_show(v)}" for k, v in after.items()
                                          if v not in (None, 0, "", [], {}, set(), "idle"))]
    return [f"{k}: {_show(before.get(k))} -> {_show(v)}" for k, v in after.items()
            if canonical(before.get(k)) != canonical(v)]


def explain_schedule(scenario: Mapping[str, Any], node_class: type[Node] | None = None) -> list[str]:
    """The schedule's steps, numbered, each with what changed in which node."""
    data = load(scenario)
    sim = build_simulation(data, data.get("seed", 0), detailed=False, node_class=node_class,
                           timed=False)
    sim.start()
    lines = []
    for number, entry in enumerate(data["schedule"], start=1):
        choice = sim.decode(entry)
        text = describe_step(sim, choice)
        before = {n: (node.state() if node is not None else None) for n, node in sim.nodes.items()}
        sim.step(choice)
        lines.append(f"{number:>3}. {text}")
        for node_id, node in sim.nodes.items():
            for change in state_diff(before[node_id], node.state() if node is not None else None):
                lines.append(f"       {node_id}  {change}")
    return lines
