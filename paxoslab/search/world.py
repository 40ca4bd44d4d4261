"""The worlds a search keeps: stepped simulations with the search's own bookkeeping.

:class:`SearchWorld` is a stepped :class:`~paxoslab.sim.Simulation` that also
carries what only the search needs:

* a memo shared by every world of one search: a step met before from the same
  node state (its :meth:`~paxoslab.node.Node.search_key`) and input is redone
  from memory — the node after it, shared copy-on-write, and what it asked
  for — instead of running the handler again.  Handlers are functions of the
  node's state and the input (the search key leaves out only what sets delays,
  which a search ignores), and a rebuilt node is a function of its stable
  storage, so the remembered result is the result;
* anonymity: messages of the protocol's ``anonymous`` types are keyed without
  their sender, so equal ones from different senders are one choice;
* the number the search gave each node's key in this world
  (:attr:`SearchWorld.numbers`) and the first message id the last step sent;
* for a node class that is not the protocol's own (``check_declared``): a handler
  that changes a field its class does not declare as state is refused with
  :class:`UndeclaredState` — worlds are told apart by the declared state only, so
  the search would merge worlds that differ in that field and could miss a violation.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

from ..node import Effect, Node, Note, Persist, canonical, isolated
from ..sim import Simulation, _label


class UndeclaredState(TypeError):
    """A handler changed a node field that is neither in ``STATE`` nor in ``DERIVED``."""


class SearchWorld(Simulation):
    """A stepped simulation as the search keeps it (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: (node, its search key, input) -> (node after, its effects): one table shared by
        #: every fork (see :meth:`_replay_known`)
        self.memo: dict[Hashable, tuple[Node, tuple]] = {}
        #: id of a node the memo holds (never changed again) -> (that node, its search key)
        self.memo_keys: dict[int, tuple[Node, Hashable]] = {}
        #: node -> (its node_key, the number the search gave that key)
        self.numbers: dict[str, tuple[Hashable, int]] = {}
        #: message types whose receivers never read who sent them (set by the search)
        self.anonymous: frozenset[type] = frozenset()
        #: the first message id the last step sent (ids below it were in flight before)
        self.first_new_id = 0
        #: refuse handlers that change undeclared fields (set for a node class not the protocol's)
        self.check_declared = False
        self._owned = set()  # copy-on-write from the start: memo nodes are shared

    def fork(self) -> SearchWorld:
        twin = super().fork()
        twin.numbers = dict(self.numbers)
        return twin

    # ---- the memo -------------------------------------------------------------
    def _receive(self, dst: str, src: str, msg: Any) -> tuple[Node, list[Effect]]:
        known = (dst, self.node_key(dst)[0], src, canonical(msg))
        hit = self._replay_known(dst, known)
        if hit is not None:
            return hit
        before = self.nodes[dst].watched() if self.check_declared else None
        done = super()._receive(dst, src, msg)
        if before is not None:
            _refuse_undeclared(done[0], before, f"{_label(msg)} from {src}")
        return self._remember(known, *done)

    def _fire(self, node_id: str, timer: Any) -> tuple[Node, list[Effect]]:
        known = (node_id, self.node_key(node_id)[0], timer)
        hit = self._replay_known(node_id, known, timer)
        if hit is not None:
            return hit
        before = self.nodes[node_id].watched() if self.check_declared else None
        done = super()._fire(node_id, timer)
        if before is not None:
            _refuse_undeclared(done[0], before, f"timer {_label(timer)}")
        return self._remember(known, *done)

    def _rebuild(self, node_id: str) -> tuple[Node, list[Effect]]:
        known = (node_id, "recover", canonical(self.stable[node_id]))
        hit = self._replay_known(node_id, known)
        return hit if hit is not None else self._remember(known, *super()._rebuild(node_id))

    def _replay_known(self, node_id: str, known: Hashable,
                      timer: Any = None) -> tuple[Node, tuple] | None:
        """If this input met this node state before, redo that step without the handler
        (returns what was remembered; None if it was not met).

        Handlers are functions of the node's state and the input (the search
        key leaves out only what sets delays, which a search ignores), so the
        node after the step and what it asked for are those remembered: the
        remembered node is put in place, shared, and its effects carried out.
        """
        hit = self.memo.get(known)
        if hit is None:
            return None
        node, effects = hit
        self._keys.pop(node_id, None)
        if node_id not in self._owned:
            self._own_storage(node_id)
        self._owned.discard(node_id)  # the node is the memo's: a later step copies it first
        self.nodes[node_id] = node
        if timer is not None:
            self.timers[node_id].pop(timer, None)
        self.step_node = node_id
        if effects:
            self._carry_out(node_id, effects)
        return hit

    def _remember(self, known: Hashable, node: Node,
                  effects: Sequence[Effect]) -> tuple[Node, Sequence[Effect]]:
        """Keep what a handler did for :meth:`_replay_known`; the node is shared from now on."""
        self.memo_keys[id(node)] = (node, node.search_key())
        self.memo[known] = (node, tuple(
            Persist("persist", {k: isolated(v) for k, v in e.fields.items()})
            if type(e) is Persist else e
            for e in effects if type(e) is not Note))
        self._owned.discard(node.id)
        return node, effects


    def _search_key(self, node: Node) -> Hashable:
        known = self.memo_keys.get(id(node))
        if known is not None and known[0] is node:
            return known[1]
        return node.search_key()

    # ---- keys and step bookkeeping ----------------------------------------------
    def _flight_key(self, src: str, dst: str, msg: Any) -> Hashable:
        return (None if type(msg) in self.anonymous else src, dst, canonical(msg))

    def _begin_step(self) -> None:
        super()._begin_step()
        self.first_new_id = self._next_msg_id


def _refuse_undeclared(node: Node, before: dict[str, Hashable], what: str) -> None:
    """Raise :class:`UndeclaredState` if handling ``what`` changed a watched field of ``node``."""
    after = node.watched()
    for name in sorted(set(before) | set(after)):
        if before.get(name, _ABSENT) != after.get(name, _ABSENT):
            cls = type(node).__name__
            raise UndeclaredState(
                f"{node.id}'s field {name!r} changed while handling {what}, but {cls} does not "
                f"declare it in STATE: the search tells worlds apart by their state, so it would "
                f"merge worlds that differ in {name!r} and could miss a violation. Declare it "
                f"(STATE = {type(node).__mro__[1].__name__}.STATE + ({name!r},)), or in DERIVED "
                f"if it is computed from the state")


_ABSENT = object()
