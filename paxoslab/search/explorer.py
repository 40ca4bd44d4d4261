"""The search proper: breadth-first over worlds, or seeded random walks.

The reductions it applies, and why each is sound, are in the package's
docstring (:mod:`paxoslab.search`); the protocol's own hints
(``ignored_for_good``, ``same_effect_as``, ``anonymous``, ``ballot_fields``,
``may_start_ballot``) carry their arguments where the protocol defines them.
"""

from __future__ import annotations

import gc
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ..node import Node, canonical
from ..sim import rng_stream
from .budget import Budget
from .world import SearchWorld


@dataclass(slots=True, eq=False)
class Kept:
    """A world the breadth-first search keeps, filed under its :meth:`Exploration.core`."""

    #: what it may still choose to do: messages in flight, the next action (:meth:`Exploration.pending`)
    pending: frozenset
    #: steps not to take from it (sleep sets)
    asleep: frozenset
    #: the depth it was first reached at
    depth: int
    #: False once a world found later at its depth covers it (its steps are taken there)
    alive: bool = True
    #: True: it takes every step not asleep; False: only some (those skipped elsewhere)
    takes_all: bool = True
    #: (world key, ballots started), kept only for :func:`paxoslab.search.explored_worlds`
    key: Any = None


class Exploration:
    """One search of a scenario's worlds: each a stepped fork of the root :class:`SearchWorld`."""

    def __init__(self, spec, root: SearchWorld, max_ballots: int, reduce: bool = True,
                 node_class: type[Node] | None = None, stop_on_violation: bool = True) -> None:
        self.spec = spec
        #: False: go on past violations (to compare every world reached, say)
        self.stop_on_violation = stop_on_violation
        self.reduce = reduce
        # the protocol's word on what its own nodes ignore for good; not on anyone else's
        # (a subclass that rewrites only when things happen is its own nodes still)
        own = spec.search.hold_for(node_class, spec.core.node_class)
        self.ignored_for_good = spec.search.ignored_for_good if reduce and own else None
        self.eager = spec.search.eager_resends if reduce and own else frozenset()
        # a partition drops a message by its sender: only without one is a sender unread
        if reduce and own and not root.network.groups and not any(
                action[0] in _NETWORK_ACTIONS for _, action in root.actions):
            root.anonymous = spec.search.anonymous
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
        self.ballot_fields = tuple(fields.index(f) for f in spec.search.ballot_fields
                                   if f in fields) if self.ignored_for_good else ()
        self.root = root
        self.max_ballots = max_ballots
        #: steps not taken because of a bound: bound -> how many times
        self.bounded = {"max_ballots": 0, "re-sends": 0}
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
    def successors(self, sim: SearchWorld, ballots: tuple[int, ...],
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
                counts = self.after_resend(sim, child, choice, ballots)
                if counts is None:
                    continue
                child_ballots = self.count_ballots(child.step_sent, counts)
                if child_ballots is not None:
                    yield choice, child, child_ballots, sleep, frozenset()
            return
        eager = self.eager
        for choice in sim.choices():
            if choice[0] == "lose":
                continue  # changes no node: the parent, with the message pending, covers it
            if eager and choice[0] == "timer" and type(choice[2]) in eager and self.resends_spent(
                    choice[1], ballots):
                continue  # it could only re-send, one time too many (it fired when it was armed)
            t = self.step_id(sim, choice)
            if t in seen_here or t in sleep or (only is not None and t not in only):
                continue  # an equal message: the same world follows
            seen_here.add(t)
            child = sim.fork()
            child.step(choice)
            self.transitions += 1
            counts = self.after_resend(sim, child, choice, ballots)
            if counts is None:
                continue
            child_sleep = frozenset(u for u in (*sleep, *done) if _commute(u, t))
            done.append(t)
            child_ballots = self.count_ballots(child.step_sent, counts)
            if child_ballots is None:
                continue
            if not child.violations and self.covered(sim, child, choice):
                continue
            fused = self.fire_at_once(sim, child, child_ballots) if self.eager else None
            if fused is not None:
                fire, child, child_ballots = fused
                choice = ("then", choice, fire)
            child_spent = frozenset()
            if self.ignored_for_good is not None:
                if spent is None:
                    spent = self.spent(sim, ballots)
                child_spent = self.drop_ignored(child, child_ballots, spent,
                                                choice[0] in ("action", "then") or child_ballots != ballots)
            yield choice, child, child_ballots, child_sleep, child_spent

    def fire_at_once(self, parent: SearchWorld, child: SearchWorld, counts: tuple[int, ...]):
        """``(timer step, world after it, counts)`` when the step from ``parent`` to ``child``
        armed a timer of a type the protocol fires at once (``SearchHints.eager_resends``)
        and firing it now only re-sends within the bound; else None.

        Why at once, and only then: such a timer's messages read nothing of its node
        (an ``Ask``), so sent now and held in flight they do later whatever they would
        do if sent later; sent when the node no longer needs them, their answers change
        nothing.  Firing it at every later moment instead multiplies the worlds by the
        moments.  The step that armed it is on the timer's node, so the pair is one
        step on that node for the sleep sets.  A counterexample shows the firing as
        its own step.
        """
        node_id = child.step_node
        if node_id is None or child.violations or child.nodes.get(node_id) is None:
            return None
        before = parent.timers.get(node_id, {})
        for timer, armed in child.timers[node_id].items():
            if type(timer) not in self.eager or before.get(timer) == armed:
                continue
            fire = ("timer", node_id, timer)
            fired = child.fork()
            fired.step(fire)
            self.transitions += 1
            if not self.resends(child, fired):
                return None
            after = self.count_resend(node_id, counts)
            if after is None:
                return None
            return fire, fired, after
        return None

    def drop_ignored(self, world: SearchWorld, ballots: tuple[int, ...], spent_before: frozenset,
                     everything: bool = False) -> frozenset[str]:
        """Take out of flight the messages that change nothing whatever happens, and key
        each message by one with the same effect (``SearchHints.same_effect_as``);
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
        same_effect_as = self.spec.search.same_effect_as
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

    def spent(self, world: SearchWorld, ballots: tuple[int, ...], before: frozenset[str] = frozenset(),
              ask: tuple[str, ...] | None = None) -> frozenset[str]:
        """The nodes that start no more ballots in this search: those at the bound, and
        those the protocol says may not start one, given the actions left.

        A node once spent stays spent: ``before`` are known to be; ``ask``, the
        only nodes that may have become so since (None: any).
        """
        left = self.actions_left[world.next_action]
        may_start = self.spec.search.may_start_ballot
        if left is None:
            may_start = None
        bound = self.max_ballots
        index = self.index
        nodes = world.nodes
        new = [n for n in (index if ask is None else ask)
               if n not in before and (ballots[index[n]] >= bound or (
                   may_start is not None and not may_start(nodes[n], left.get(n, ()))))]
        return before.union(new) if new else before

    def core(self, world: SearchWorld, ballots: tuple[int, ...], spent: frozenset[str]) -> tuple:
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

    def pending(self, world: SearchWorld) -> frozenset:
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

    def step_id(self, sim: SearchWorld, choice: tuple) -> tuple:
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
            node_of = self.spec.search.action_node
            return (kind, choice[1], node_of(action[0], action[1]) if node_of else None)
        return choice

    def count_ballots(self, sent: list[tuple[str, str, Any]],
                      ballots: tuple[int, ...]) -> tuple[int, ...] | None:
        """Ballots started per node after a step that sent ``sent``; None: one too many."""
        ballot_of = self.spec.search.ballot_of
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
                self.bounded["max_ballots"] += 1
                return None
        return tuple(counts)

    @staticmethod
    def resends(parent: SearchWorld, child: SearchWorld) -> bool:
        """Whether the timer step from ``parent`` to ``child`` only re-sent: it changed
        nothing of its node (state, storage, the timers armed) and sent messages (a
        leader's heartbeat)."""
        node_id = child.step_node
        return (bool(child.step_sent) and node_id is not None
                and child.nodes.get(node_id) is not None
                and parent.node_key(node_id) == child.node_key(node_id))

    def after_resend(self, parent: SearchWorld, child: SearchWorld, choice: tuple,
                     counts: tuple[int, ...]) -> tuple[int, ...] | None:
        """The counts after a step: one more re-send if it was a timer that only re-sends
        (:meth:`resends`); None if that is one too many."""
        if choice[0] == "timer" and self.resends(parent, child):
            return self.count_resend(child.step_node, counts)
        return counts

    def resends_spent(self, node_id: str, counts: tuple[int, ...]) -> bool:
        """Whether ``node_id`` has fired its :data:`MAX_RESENDS` (counted as a bound)."""
        if counts[len(self.index) + self.index[node_id]] >= MAX_RESENDS:
            self.bounded["re-sends"] += 1
            return True
        return False

    def count_resend(self, node_id: str, counts: tuple[int, ...]) -> tuple[int, ...] | None:
        """The bound on periodic re-sends: a timer that only re-sends (:meth:`resends`),
        such as a leader's heartbeat, fires at most :data:`MAX_RESENDS` times per node in
        a search; the counts follow the ballots started in ``counts``.  None: one too many.

        Without a bound a heartbeat would make the space infinite: each firing puts one
        more copy of its messages, and later of their answers, in flight.  It is a
        bound, like ``max_ballots``: a search proves nothing about runs with more
        heartbeats than that.  Whether the step may be taken depends on its own node's
        count alone, so it commutes with steps elsewhere as any step does.
        """
        slot = len(self.index) + self.index[node_id]
        if counts[slot] >= MAX_RESENDS:
            self.bounded["re-sends"] += 1
            return None
        return counts[:slot] + (counts[slot] + 1,) + counts[slot + 1:]

    @staticmethod
    def covered(parent: SearchWorld, child: SearchWorld, choice: tuple) -> bool:
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

    def note_goals(self, sim: SearchWorld) -> None:
        for name, goal in self.spec.search.goals.items():
            if name not in self.reached and goal(sim):
                self.reached.add(name)

    def stop_at(self, child: SearchWorld, path: tuple) -> bool:
        if not child.violations or not self.stop_on_violation:
            return False
        self.property = child.violations[0].property
        choices = _unlink(path)
        if self.eager:
            choices = self.without_needless_firings(choices)
        self.found = self.schedule(choices)
        return True

    def without_needless_firings(self, fused: list[tuple]) -> list[tuple]:
        """The counterexample's steps without the timers fired at once (:meth:`fire_at_once`)
        that the violation does not need: each is left out, last first, when the rest
        still replays (each step matched by what it does, :meth:`step_id`) to a violation
        of the same property.  What remains is as short as the search found it, but for
        the firings it needs."""
        steps: list[tuple[tuple, bool]] = []  # (step id, fired at once?)
        sim = self.root.fork()
        for entry in fused:
            for n, choice in enumerate(entry[1:] if entry[0] == "then" else (entry,)):
                steps.append((self.step_id(sim, choice), n == 1))
                sim.step(choice)
        kept = self.replay_ids([t for t, _ in steps])
        for i in reversed(range(len(steps))):
            if not steps[i][1]:
                continue
            trial = steps[:i] + steps[i + 1:]
            replayed = self.replay_ids([t for t, _ in trial])
            if replayed is not None:
                steps, kept = trial, replayed
        return kept if kept is not None else list(_flat(fused))

    def replay_ids(self, ids: list[tuple]) -> list[tuple] | None:
        """The choices that take, from the start, the steps ``ids`` in order and end in a
        violation of :attr:`property`; None if one cannot be taken or the end is safe."""
        sim = self.root.fork()
        choices = []
        for t in ids:
            choice = next((c for c in sim.choices() if self.step_id(sim, c) == t), None)
            if choice is None:
                return None
            sim.step(choice)
            choices.append(choice)
        if not any(v.property == self.property for v in sim.violations):
            return None
        return choices

    def schedule(self, choices: list[tuple]) -> list[dict[str, Any]]:
        """The chosen steps as schedule entries (message ids are those of a replay)."""
        sim = self.root.fork()
        entries = []
        for choice in _flat(choices):
            entries.append(sim.encode(choice))
            sim.step(choice)
        return entries

    # ---- strategies ---------------------------------------------------------
    def bfs(self, budget: Budget, max_depth: int | None) -> None:
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
        ballots0 = (0,) * (2 * len(root.node_ids))  # ballots started, then re-sends fired
        # core -> the worlds kept with that core
        kept: dict[Any, list[Kept]] = {}
        self.seen = kept
        start = Kept(self.pending(root), frozenset(), 0)
        kept[self.core(root, ballots0, frozenset())] = [start]
        self.kept = 1
        depths = self.depths
        if depths is not None:
            start.key = (root.world_key(), ballots0)
            depths[start.key] = 0
        self.count_at(0)
        self.note_goals(root)
        if self.stop_at(root, ()):
            return
        frontier = deque([(root, ballots0, (), 0, None, start)])
        cut_by_depth = False
        subsume = self.reduce
        while frontier:
            sim, ballots, path, depth, only, entry = frontier.popleft()
            if not entry.alive:
                continue  # covered by a world found after it at its depth
            if max_depth is not None and depth >= max_depth:
                cut_by_depth = True
                continue
            self.depth = max(self.depth, depth + 1)
            for choice, child, child_ballots, child_sleep, spent in self.successors(
                    sim, ballots, entry.asleep if only is None else only[1], only and only[0]):
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
                    pending = world.pending
                    if flight == pending:
                        same = world
                    elif not (subsume and flight < pending):
                        continue
                    common = world.asleep if common is None else common & world.asleep
                    if world.depth == depth + 1 and world.takes_all:
                        waiting = world  # not taken yet, and it will take every step it may
                take: frozenset | None = None  # None: every step not asleep
                if common is not None:
                    take = common - child_sleep
                    if not take:
                        continue  # seen, or covered, with no more steps asleep
                    if waiting is not None:
                        waiting.asleep = waiting.asleep & child_sleep  # it takes them for this one
                        continue
                    if same is not None:
                        # reached again with fewer steps asleep: take the ones skipped before
                        same.asleep = same.asleep & child_sleep
                        frontier.append((child, child_ballots, child_path, depth + 1,
                                         (take, same.asleep), same))
                        continue
                    # else: covered but for the steps asleep there, which are taken here
                entry = Kept(flight, child_sleep, depth + 1, takes_all=take is None)
                if subsume and take is None:
                    self.drop_covered(worlds, entry)
                worlds.append(entry)
                self.kept += 1
                self.count_at(depth + 1)
                if depths is not None:
                    entry.key = (child.world_key(), child_ballots)
                    depths[entry.key] = depth + 1
                self.note_goals(child)
                frontier.append((child, child_ballots, child_path, depth + 1,
                                 None if take is None else (take, child_sleep), entry))
            budget.tick(self.kept, depth)
            if budget.exhausted(self.kept):
                return
        self.complete = not cut_by_depth

    def drop_covered(self, worlds: list[Kept], entry: Kept) -> None:
        """Drop the worlds still waiting at ``entry``'s depth that ``entry`` covers;
        ``entry`` takes the steps they would have taken."""
        flight, depth = entry.pending, entry.depth
        covered = [w for w in worlds if w.depth == depth and w.pending < flight]
        for world in covered:
            entry.asleep = entry.asleep & world.asleep
            world.alive = False
            worlds.remove(world)
            self.kept -= 1
            self.per_depth[depth] -= 1
            if self.depths is not None:
                del self.depths[world.key]

    def random_walks(self, budget: Budget, depth_limit: int, seed: int) -> None:
        """Walks of up to ``depth_limit`` random steps from the start until the budget ends;
        complete at once when the start has no step worth taking (every walk would stop there)."""
        rng = rng_stream(seed, "search")
        ballots0 = (0,) * (2 * len(self.root.node_ids))  # ballots started, then re-sends fired
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


#: How many times a timer that only re-sends (a leader's heartbeat) fires per node in a search
MAX_RESENDS = 1
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
def no_cycle_collection():
    """Worlds are many small objects without reference cycles: the cyclic garbage
    collector would only walk them again and again (it doubles a search's time)."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def _flat(choices: list[tuple]):
    """Each step of ``choices``; a step and the timer fired at once with it
    (``("then", step, firing)``, :meth:`Exploration.fire_at_once`) as two."""
    for entry in choices:
        yield from (entry[1:] if entry[0] == "then" else (entry,))


def _unlink(path: tuple) -> list[dict[str, Any]]:
    steps = []
    while path:
        path, entry = path
        steps.append(entry)
    return steps[::-1]
