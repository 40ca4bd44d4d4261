"""Search every interleaving: breadth-first (shortest counterexample) or seeded random walks.

The search explores the choices the timed simulator otherwise makes by
chance — which in-flight message is delivered next, losses and duplicates
where the network allows them, timer firings (their delays do not matter
here) and the scenario's actions, in their order but at any point between
deliveries — by stepping copies of one stepped :class:`~paxoslab.sim.Simulation`.
The node classes are the simulator's own: there is no second implementation.

Bounds: ``max_ballots`` (how many ballots each proposer may start; a step that
would start one more is not taken — proposers would otherwise retry on
timeouts forever; in Multi-Paxos, the terms each server may stand in), timers
that only re-send (they change nothing of their node but send, as a leader's
heartbeat does: each fires at most ``MAX_RESENDS`` times per node, see
:meth:`paxoslab.search.explorer.Exploration.count_resend`), the scenario's own
crashes and recoveries, and the ``max_states`` / ``max_seconds`` /
``max_depth`` budgets.

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
  :meth:`paxoslab.search.explorer.Exploration.bfs`.  In particular a step that
  changes no node and sends
  nothing (losing a message, delivering one that its receiver ignores or that
  arrives at a node that is down or cut off, a timer that does nothing) is
  covered by its own parent, so it is not explored;
* sleep sets: a step on one node is not taken again after a step on another
  node that was explored before it from the same world (the two commute);
* what the protocol says changes nothing, for its own node class only, or a
  subclass that rewrites nothing but when things happen (``SearchHints.timing_only``,
  e.g. a back-off; a student's rule may behave otherwise): a message whose delivery, now or
  later, changes nothing that decides what any node does is taken out of
  flight (``SearchHints.ignored_for_good``: in Basic Paxos a reply to a
  ballot its proposer has left, or a request an acceptor refuses for good
  from a proposer that starts no more ballots); messages with the same effect
  are keyed alike (``SearchHints.same_effect_as``; ``anonymous`` message
  types are keyed without their sender); and a node that starts no more
  ballots in this search is keyed without the fields that only number its
  next ballot (``SearchHints.ballot_fields``);
* timers the protocol marks ``SearchHints.eager_resends`` (Basic Paxos's
  ``LearnTimeout``: its ``Ask`` carries nothing the asker knows) fire in the
  step that arms them, when they only re-send, instead of at every later
  moment: sent at once and held in flight, the messages do whatever later ones
  would (:meth:`paxoslab.search.explorer.Exploration.fire_at_once`).  The pair
  counts as one step of the breadth-first depth; a counterexample keeps only
  the firings its violation needs, each shown as its own step.

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
state is redone from memory (:class:`~paxoslab.search.world.SearchWorld`: the
node after it, shared copy-on-write, and what it sent) instead of running the
handler again.

A counterexample is a scenario whose ``schedule`` lists the steps taken;
:func:`paxoslab.run_scenario` replays it exactly, so it plots, narrates and
replays like any other run.  Goals ("sometimes" properties such as "a value
can be chosen", ``SearchHints.goals``) are checked on every world reached: a
protocol that refuses everything is safe but does not pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..node import Node
from ..protocols import PROTOCOLS
from ..runner import build_simulation, check_seconds, run_scenario
from ..scenario import load
from ..watchdog import DEFAULT_SECONDS, handler_time_limit
from .budget import Budget, StopCheck
from .explain import describe_step, explain_schedule, state_diff
from .explorer import Exploration, no_cycle_collection
from .result import (
    SearchArgumentError,
    SearchResult,
    count_argument,
    counterexample_file,
    integer_argument,
    memory_argument,
    seconds_argument,
)
from .world import SearchWorld, UndeclaredState

__all__ = ["STRATEGIES", "SearchArgumentError", "SearchResult", "SearchWorld", "UndeclaredState",
           "counterexample_file",
           "describe_step", "explain_schedule", "explored_worlds", "search", "state_diff"]

STRATEGIES = ("bfs", "random")
#: Steps of one random walk when no ``max_depth`` is given.
WALK_DEPTH = 200
#: Budget of a random search when neither ``max_states`` nor ``max_seconds`` is given.
RANDOM_STATES = 100_000


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
    max_memory: float | str | None = "auto",
    max_handler_seconds: float | None = DEFAULT_SECONDS,
    should_stop: StopCheck | None = None,
) -> SearchResult:
    """Explore every interleaving of ``scenario`` (``"bfs"``) or random ones (``"random"``).

    Returns at the first violation (BFS: a shortest counterexample), when the
    bounded space is exhausted (``complete``), when a budget runs out, when
    ``should_stop`` says so, or on Ctrl-C / a notebook interrupt, with what was
    found so far.
    ``result.stopped`` says which; an interrupted search is not ``ok``: it proved nothing.

    ``max_states`` (worlds kept, or steps walked), ``max_seconds`` and
    ``max_depth`` are positive, or ``None`` for no bound, except that a random
    walk without ``max_depth`` ends after :data:`WALK_DEPTH` steps and a random
    search without ``max_states`` or ``max_seconds`` after :data:`RANDOM_STATES`
    steps; a random search whose start has no step to take is complete at once.
    ``max_ballots`` is at least 1 and ``seed`` an integer; anything else raises
    :class:`SearchArgumentError` (a ``ValueError``) naming the argument.
    ``max_memory`` (megabytes of this process's resident memory) stops the
    search, with what it found so far, before the system would kill it:
    ``"auto"`` (the default) allows what the process holds at the start plus
    three quarters of the memory then available (the container's limit
    counts: Binder's 2 GB), ``None`` sets no bound.
    ``progress=False`` hides the progress bar a search over a second shows.
    ``max_handler_seconds`` stops a handler that runs longer (see
    :func:`~paxoslab.runner.run_scenario`).  A ``node_class`` other than the
    protocol's own must declare every field its handlers change (``STATE``, or
    ``DERIVED`` for a field computed from the state), else the search raises
    :class:`~paxoslab.search.world.UndeclaredState` naming the field.
    ``reduce=False`` turns the reductions off (every loss, every equal message,
    no sleep sets, no pruning of steps that change nothing): much slower, the
    yardstick the tests hold the reduced search to.
    ``should_stop(states, depth, seconds)`` is called after each world expanded
    (BFS) or walk (random) with the progress so far; when it returns True the
    search ends there, ``stopped == "stopped"`` (not ``complete``: it proves
    nothing beyond the states seen).  It is how a search in a background thread
    reports progress and is stopped (:func:`paxoslab.widgets.search_explorer`).
    """
    if strategy not in STRATEGIES:
        raise SearchArgumentError("strategy", f"must be one of {', '.join(STRATEGIES)}, "
                                  f"got {strategy!r}")
    max_states = count_argument("max_states", max_states)
    max_depth = count_argument("max_depth", max_depth)
    max_ballots = count_argument("max_ballots", max_ballots, none_ok=False)
    max_seconds = seconds_argument(max_seconds)
    check_seconds("max_handler_seconds", max_handler_seconds)
    memory_bound = memory_argument(max_memory)
    seed = integer_argument("seed", seed)
    data = load(scenario)
    data.pop("schedule", None)
    spec = PROTOCOLS[data["protocol"]]
    root = build_simulation(data, data.get("seed", 0), detailed=False, node_class=node_class,
                            timed=False, world_class=SearchWorld)
    root.check_declared = not spec.search.hold_for(node_class, spec.core.node_class)
    explorer = Exploration(spec, root, max_ballots, reduce, node_class)
    if strategy == "random" and max_states is None and max_seconds is None:
        max_states = RANDOM_STATES
    budget = Budget(data["name"], max_states, max_seconds, progress, memory_bound, should_stop)
    with no_cycle_collection(), handler_time_limit(max_handler_seconds):
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
    goals = {name: name in explorer.reached for name in spec.search.goals}
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
        worlds_per_depth=explorer.per_depth, bounded=dict(explorer.bounded),
    )
    result._node_class = node_class
    return result


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
                            timed=False, world_class=SearchWorld)
    explorer = Exploration(PROTOCOLS[data["protocol"]], root, max_ballots, reduce, node_class,
                           stop_on_violation=False)
    explorer.depths = {}
    with no_cycle_collection():
        explorer.bfs(Budget(data["name"], None, None, False), max_depth)
    return explorer.depths


