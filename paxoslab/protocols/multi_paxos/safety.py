"""Multi-Paxos safety: the Raft paper's five properties as monitors, and the search's goals.

Election Safety, Leader Append-Only, Log Matching, Leader Completeness and State Machine
Safety (the Raft paper, Figure 3) are judged on the servers' state after every step, never
on notes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ...checks import Monitor, Violation
from ...statemachine import NOOP
from ...world import World
from .node import LEADER, Entry


# ---- safety monitors (on node state, after every step) -----------------------------------
# Only the server a step ran on (``world.step_node``) can have changed, so each monitor looks
# at that one against the others.  What a monitor remembers is kept in immutable values and
# rebound, never mutated, so a search can fork it for free.
def _stepped(world: World) -> tuple[str, Any] | tuple[None, None]:
    """The live server the last step ran on, or (None, None)."""
    node_id = world.step_node
    node = world.node(node_id) if node_id is not None else None
    return (node_id, node) if node is not None else (None, None)


def _shown(command: str) -> str:
    """A command quoted, or "a no-op" for a leader's no-op (it is no client's command)."""
    return "a no-op" if command == NOOP else repr(command)


def _log(world: World, node_id: str) -> tuple:
    """A server's log: the live one, or what a crashed server has on disk."""
    node = world.node(node_id)
    return node.log if node is not None else tuple(world.stored(node_id).get("log", ()))


class ElectionSafety(Monitor):
    """At most one leader per term."""

    property = "election-safety"

    def __init__(self, node_ids: Sequence[str], options: Mapping[str, Any]) -> None:
        super().__init__(node_ids, options)
        self.leaders: frozenset[tuple[int, str]] = frozenset()  # (term, leader) ever seen

    def after_step(self, world: World) -> list[Violation]:
        n, node = _stepped(world)
        if node is None or node.role != LEADER or (node.current_term, n) in self.leaders:
            return []
        term = node.current_term
        others = sorted(m for t, m in self.leaders if t == term)
        self.leaders = self.leaders | {(term, n)}
        if not others:
            return []
        return [Violation(self.property, world.now,
                          f"{n} and {', '.join(others)} are both leaders of term {term}")]

    def key(self):
        return self.leaders


class LeaderAppendOnly(Monitor):
    """A leader never overwrites or deletes entries in its log; it only appends new ones.

    What it remembers is each server's log as it was last seen while it led its term:
    after each step of a leader of the same term, that log must be a prefix of the new
    one.  A server seen not leading (it stepped down, or came back from a crash as a
    follower) is forgotten: a follower's log may lose entries, which is how a leader
    repairs it, and a server leads a term at most once.
    """

    property = "leader-append-only"

    def __init__(self, node_ids: Sequence[str], options: Mapping[str, Any]) -> None:
        super().__init__(node_ids, options)
        #: server -> (term, its log when last seen leading that term), for leaders only
        self.led: tuple[tuple[str, int, tuple], ...] = ()

    def after_step(self, world: World) -> list[Violation]:
        n = world.step_node
        if n is None:
            return []
        node = world.node(n)
        before = next((entry for entry in self.led if entry[0] == n), None)
        leading = node is not None and node.role == LEADER
        if not leading:
            if before is not None:
                self.led = tuple(entry for entry in self.led if entry[0] != n)
            return []
        term, log = node.current_term, node.log
        if before is not None and before[1] == term and before[2] is log:
            return []
        out = []
        if before is not None and before[1] == term:
            old = before[2]
            if log[:len(old)] != old:
                bad = next(j for j in range(len(old)) if j >= len(log) or log[j] != old[j])
                now = f"{tuple(log[bad])}" if bad < len(log) else "nothing"
                out.append(Violation(self.property, world.now,
                                     f"{n}, leader of term {term}, held {tuple(old[bad])} at "
                                     f"#{bad + 1} and now holds {now} there"))
        self.led = tuple(sorted((*(entry for entry in self.led if entry[0] != n), (n, term, log))))
        return out

    def key(self):
        return self.led


class LogMatching(Monitor):
    """If two logs hold an entry with the same index and term, they are identical up to it."""

    property = "log-matching"

    def __init__(self, node_ids: Sequence[str], options: Mapping[str, Any]) -> None:
        super().__init__(node_ids, options)
        self.reported: frozenset[tuple[str, str]] = frozenset()

    def after_step(self, world: World) -> list[Violation]:
        a, node = _stepped(world)
        if node is None:
            return []
        la = node.log
        out = []
        for b in self.node_ids:
            if b == a:
                continue
            lb = _log(world, b)
            k = min(len(la), len(lb))
            while k and la[k - 1][0] != lb[k - 1][0]:
                k -= 1
            if la[:k] == lb[:k] or tuple(sorted((a, b))) in self.reported:
                continue
            self.reported = self.reported | {tuple(sorted((a, b)))}
            bad = next(j for j in range(k) if la[j] != lb[j]) + 1
            out.append(Violation(self.property, world.now,
                                 f"{a} and {b} both hold an entry of term {la[k - 1][0]} at "
                                 f"#{k} but differ at #{bad}: {tuple(la[bad - 1])} vs "
                                 f"{tuple(lb[bad - 1])}"))
        return out

    def key(self):
        return self.reported


class LeaderCompleteness(Monitor):
    """An entry committed in a term is in the log of every leader of a later term.

    Checked on what the servers take as committed: an entry some server's commit index
    covers (and may already have applied).  In a correct run a commit index covers only
    committed entries (Raft 5.4); a bug that makes it cover an uncommitted one
    (commit-old-term-by-count) shows here as soon as a leader lacks that entry -- before
    any server applies a different command in its place.
    """

    property = "leader-completeness"

    def __init__(self, node_ids: Sequence[str], options: Mapping[str, Any]) -> None:
        super().__init__(node_ids, options)
        #: (entry, the term in which a server first knew it committed), index 1 first
        self.committed: tuple[tuple[Entry, int], ...] = ()
        #: the committed entries alone (derived from ``committed``, for a fast comparison)
        self.entries: tuple[Entry, ...] = ()
        self.reported: frozenset[tuple[str, int]] = frozenset()  # (leader, term)

    def after_step(self, world: World) -> list[Violation]:
        n, node = _stepped(world)
        if node is None:
            return []
        known = len(self.committed)
        upto = min(node.commit_index, len(node.log))
        if upto > known:
            self.committed = self.committed + tuple(
                (node.log[i], node.current_term) for i in range(known, upto))
            self.entries = self.entries + node.log[known:upto]
            leaders = [(m, world.node(m)) for m in self.node_ids]  # new entries: ask every leader
        else:
            leaders = [(n, node)]
        out = []
        for m, leader in leaders:
            if leader is None or leader.role != LEADER or (m, leader.current_term) in self.reported:
                continue
            log = leader.log
            if log[:len(self.entries)] == self.entries:
                continue  # it holds every committed entry (compared at C speed, a long log too)
            for i, (entry, known_in) in enumerate(self.committed):
                if leader.current_term > known_in and (i >= len(log) or log[i] != entry):
                    term, command = entry[:2]
                    self.reported = self.reported | {(m, leader.current_term)}
                    out.append(Violation(self.property, world.now,
                                         f"{m} leads term {leader.current_term} without #{i + 1} "
                                         f"(term {term}) {_shown(command)}, which a commit index "
                                         f"covered in term {known_in}"))
                    break
        return out

    def key(self):
        return self.committed, self.reported


class StateMachineSafety(Monitor):
    """No two servers apply different commands at the same index."""

    property = "state-machine-safety"

    def __init__(self, node_ids: Sequence[str], options: Mapping[str, Any]) -> None:
        super().__init__(node_ids, options)
        #: the command first applied at each index (index 1 first) and by whom
        self.applied: tuple[tuple[str, str], ...] = ()
        #: how far each server's applied commands have been compared (in ``node_ids`` order)
        self.checked: tuple[int, ...] = (0,) * len(self.node_ids)
        self.reported: frozenset[tuple[str, int]] = frozenset()

    def after_step(self, world: World) -> list[Violation]:
        n, node = _stepped(world)
        if node is None:
            return []
        slot = self.node_ids.index(n)
        done = self.checked[slot]
        if node.last_applied == done:
            return []
        if node.last_applied < done:
            done = 0  # it crashed since: it applies its log again from #1
        out = []
        for i in range(done + 1, node.last_applied + 1):  # what this step applied
            command = node.log[i - 1][1]
            if i > len(self.applied):
                self.applied = self.applied + ((command, n),)
                continue
            first, by = self.applied[i - 1]
            if first != command and (n, i) not in self.reported:
                self.reported = self.reported | {(n, i)}
                out.append(Violation(self.property, world.now,
                                     f"{n} applies {_shown(command)} at #{i} but {by} applied "
                                     f"{_shown(first)} there"))
        self.checked = self.checked[:slot] + (node.last_applied,) + self.checked[slot + 1:]
        return out

    def key(self):
        return self.applied, self.checked, self.reported


MONITORS = (ElectionSafety, LeaderAppendOnly, LogMatching, LeaderCompleteness, StateMachineSafety)


def a_leader_is_elected(world: World) -> bool:
    """Goal: some server has become leader (the election monitor has seen one)."""
    return any(m.leaders for m in world.monitors if isinstance(m, ElectionSafety))


def a_command_is_applied(world: World) -> bool:
    """Goal: some server has applied a log entry."""
    return any(m.applied for m in world.monitors if isinstance(m, StateMachineSafety))


#: "sometimes" properties the search reports on
GOALS = {"a leader can be elected": a_leader_is_elected,
         "a command can be applied": a_command_is_applied}


