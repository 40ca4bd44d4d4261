"""The deterministic simulator, as a transition system.

A simulation is a world: the nodes (up or down) and their stable storage, the
messages in flight, the armed timers, the scenario actions still to come and
what the safety monitors remember.  :meth:`Simulation.choices` lists, as plain
hashable data, every step that may happen next::

    ("deliver", k)          deliver in-flight message k
    ("lose", k)             lose it (only where the network may lose it)
    ("duplicate", k)        deliver a copy and keep it in flight (where it may duplicate)
    ("timer", node, timer)  fire an armed timer of a node
    ("action", i)           perform scenario action i (the next one)

and :meth:`Simulation.step` applies one chosen step.  The search explores
these choices; :meth:`Simulation.run` is the *timed* scheduler over the same
parts: delays and loss come from the network, timers fire when due, and one
heap keyed by ``(time, seq)`` orders everything (``seq`` is a counter, so a
run never depends on dict order, hashing or the wall clock).  Delivering,
firing a timer and carrying out a handler's effects have one code path, used
by both; a message's fate differs: timed, the network draws it when the message
is sent (lost, delayed, duplicated); stepped, it stays in flight and ``lose``
and ``duplicate`` are choices.

Each source of randomness has its own stream derived from the seed
(:func:`rng_stream`): the network's delays, each node's choices, the scenario's
random start times.  Turning one knob therefore leaves the others' draws alone.

Scenario actions are data — ``("crash", "S1")``, ``("invoke", "S1", "propose",
"X")``, ``("propose", {...})`` for a protocol's own actions — so a simulation
can be copied (:meth:`Simulation.fork`, copy-on-write per node) and replayed.

>>> rng_stream(7, "network").random() == rng_stream(7, "network").random()
True
"""

from __future__ import annotations

import copy
import hashlib
import pickle
import random
import sysconfig
import traceback
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from heapq import heappop, heappush
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .network import Network
from .node import (
    CancelTimer,
    Effect,
    MissingHandler,
    Node,
    Note,
    Persist,
    PersistAppend,
    PersistTruncate,
    Send,
    SetTimer,
    canonical,
    isolated,
)
from .trace import NoTrace, Trace, jsonable, message_payload
from .watchdog import HandlerTimeLimit

if TYPE_CHECKING:
    from .protocols.spec import DerivedNotes

__all__ = ["EventLimitReached", "HandlerError", "Simulation", "SimulationStalled", "jsonable",
           "message_payload", "rng_stream"]

_DELIVER, _TIMER, _ACTION = 0, 1, 2

#: Events allowed at one simulated instant before a run counts as stalled.
STALL_LIMIT = 100_000

#: A step: ("deliver"|"lose"|"duplicate", msg_id) | ("timer", node, timer) | ("action", index)
Step = tuple
#: A scenario action: ("crash", node) | ("recover", node) | ("partition", groups) | ("heal",)
#: | ("fire", node, timer) | ("invoke", node, method, *args) | (protocol action, value)
Action = tuple


def _restore(cls: type, text: str, attrs: dict[str, Any]) -> BaseException:
    """Rebuild an error from its text and attributes (what pickling one needs: a process
    pool sends a worker's error back this way)."""
    exc = cls.__new__(cls)
    BaseException.__init__(exc, text)
    exc.__dict__.update(attrs)
    return exc


class SimulationStalled(RuntimeError):
    """Simulated time stopped advancing: handlers keep triggering each other at one instant."""

    def __init__(self, time: float) -> None:
        self.time = time
        super().__init__(
            f"simulated time stands still at t={time:g}: more than {STALL_LIMIT} events at that "
            "instant (zero delays with zero back-off or timeouts let nodes trigger each other forever)"
        )

    def __reduce__(self) -> tuple:
        return _restore, (type(self), str(self), dict(self.__dict__))


def _long_ms(time: float) -> str:
    """``10,000,000`` for a time a person would write out, ``1e+300`` for one nobody would.

    >>> _long_ms(76765.123), _long_ms(1e7), _long_ms(1e300)
    ('76,765.1', '10,000,000', '1e+300')
    """
    return f"{time:,.1f}".removesuffix(".0") if abs(time) < 1e15 else f"{time:g}"


class EventLimitReached(RuntimeError):
    """A run reached its ``max_events`` with events still due before ``until``: it stops
    rather than grow without bound (a recorded run keeps about 1 KB per event)."""

    def __init__(self, events: int, time: float, until: float) -> None:
        self.events, self.time, self.until = events, time, until
        super().__init__(
            f"stopped after max_events={events:,} events at t={_long_ms(time)} ms of "
            f"until={_long_ms(until)}: raise it (--max-events N; max_events=N or None in Python) "
            "or lower until")

    def __reduce__(self) -> tuple:
        return _restore, (type(self), str(self), dict(self.__dict__))


_HERE = str(Path(__file__).resolve())
_STDLIB = sysconfig.get_paths()["stdlib"]


class HandlerError(RuntimeError):
    """A node's handler raised: names the node, the message or timer, the time and the line.

    The original exception is kept as ``original`` (after a pickle round trip, only if
    it could be pickled; else ``None`` — the text names it either way).
    """

    def __reduce__(self) -> tuple:
        attrs = dict(self.__dict__)
        try:
            pickle.dumps(self.original)
        except Exception:  # noqa: BLE001 - any failure means: do not send it along
            attrs["original"] = None
        return _restore, (type(self), str(self), attrs)

    def __init__(self, node_id: str, what: str, time: float, exc: BaseException) -> None:
        self.node, self.what, self.time, self.original = node_id, what, time, exc
        frames = [f for f in traceback.extract_tb(exc.__traceback__)
                  if f.filename != _HERE and not f.filename.startswith(_STDLIB)]
        where = ""
        if frames:
            f = frames[-1]
            where = f" at {Path(f.filename).name}:{f.lineno} in {f.name}(): {(f.line or '').strip()}"
        super().__init__(f"{node_id} failed while handling {what} at t={time:g}: "
                         f"{type(exc).__name__}: {exc}{where}")


def rng_stream(seed: int, purpose: str) -> random.Random:
    """A ``random.Random`` for one purpose, fixed by ``(seed, purpose)`` alone."""
    digest = hashlib.sha256(f"paxoslab/{seed}/{purpose}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _timer_payload(item: tuple[Any, float]) -> dict[str, Any]:
    timer, fires_at = item
    return {"fires_at": fires_at, **jsonable(timer)}


def _label(item: Any) -> str:
    label = getattr(item, "label", None)
    return f"{type(item).__name__} ({label()})" if label is not None else repr(item)


class Simulation:
    """Nodes + network + clock + monitors.

    ``timed=True`` (the default): schedule scenario actions with :meth:`at`
    and call :meth:`run`.  ``timed=False``: the caller picks every step
    (:meth:`choices`, :meth:`step`); time counts steps.  ``monitors`` see every
    step (``after_step(sim)``); what they find collects in :attr:`violations`.
    ``perform(sim, action, value)`` carries out a protocol's own scenario actions.
    """

    def __init__(
        self,
        node_ids: Sequence[str],
        make_node: Callable[[str], Node],
        network: Network | None = None,
        seed: int = 0,
        detailed: bool = True,
        persist_ms: float = 0.0,
        timed: bool = True,
        monitors: Iterable[Any] = (),
        perform: Callable[[Simulation, str, Any], None] | None = None,
        notes: DerivedNotes | None = None,
    ) -> None:
        self.node_ids = tuple(node_ids)
        self.make_node = make_node
        self.network = network or Network()
        self.seed = seed
        self.persist_ms = persist_ms
        self.timed = timed
        self.trace = Trace(detailed=detailed)
        self.net_rng = rng_stream(seed, "network")
        self.node_rngs = {n: rng_stream(seed, f"node/{n}") for n in self.node_ids}
        self.now = 0.0
        self.stable: dict[str, dict[str, Any]] = {n: {} for n in self.node_ids}
        self.nodes: dict[str, Node | None] = {}
        #: node -> armed timer -> the sequence number it was armed with
        self.timers: dict[str, dict[Any, int]] = {n: {} for n in self.node_ids}
        #: message id -> (src, dst, message): sent, neither delivered nor lost yet
        self.in_flight: dict[int, tuple[str, str, Any]] = {}
        #: stepped only: message id -> its canonical (src, dst, message), for world keys
        self.flight_keys: dict[int, Hashable] = {}
        #: scenario actions as (time, action), in the order they happen
        self.actions: list[tuple[float, Action]] = []
        self.next_action = 0
        self.perform = perform
        #: the notes a node that leaves them out gets from its state (None: only what nodes note)
        self.notes = notes
        self.monitors = list(monitors)
        self.violations: list[Any] = []
        #: what the last step sent, as (src, dst, message), and the node it ran on
        self.step_sent: list[tuple[str, str, Any]] = []
        self.step_node: str | None = None
        self.steps = 0
        # every copy put on the wire counts as sent (a duplicate too), so that
        # sent == delivered + dropped + still in flight
        self.sent = self.delivered = self.dropped = 0
        self.by_type: dict[str, int] = {}
        self._queue: list[tuple] = []
        self._seq = 0
        self._next_msg_id = 0
        self._instant_events = 0  # events so far at the time of the last one (see run)
        self._last_event = 0.0  # time of the last event that did something (see run)
        self._started = False
        # copy-on-write (fork): None = this simulation owns every node it holds
        self._owned: set[str] | None = None
        self._keys: dict[str, Hashable] = {}
        self._watch = bool(self.monitors)
        # no rules, loss or duplication (scenario actions never change that): a send's fate
        # is then one copy after one delay draw unless a partition cuts its link
        self._plain = self.network.is_plain()

    # ---- scheduling -------------------------------------------------------
    def _push(self, time: float, kind: int, data: Any) -> None:
        self._seq += 1
        heappush(self._queue, (time, self._seq, kind, data))

    def at(self, time: float, action: Action) -> None:
        """Perform ``action`` (data, e.g. ``("crash", "S1")``) at simulated ``time``.

        Actions are performed in the order they were added; give them in time order.
        """
        if callable(action):
            raise TypeError("a scenario action is data such as (\"invoke\", \"S1\", \"propose\", "
                            "\"X\") or (\"crash\", \"S1\"), not a function")
        self.actions.append((float(time), tuple(action)))
        if self.timed:
            self._push(float(time), _ACTION, len(self.actions) - 1)

    # ---- node life cycle --------------------------------------------------
    def _build(self, node_id: str) -> Node:
        node = self.make_node(node_id)
        node.use_rng(self.node_rngs[node_id])
        self.nodes[node_id] = node
        self._keys.pop(node_id, None)
        if self._owned is not None:
            self._owned.add(node_id)
        return node

    def start(self) -> None:
        """Build every node and call its ``on_start`` (done by :meth:`run`/:meth:`step`)."""
        if self._started:
            return
        self._started = True
        for node_id in self.node_ids:
            self._build(node_id)
        self._begin_step()
        for node_id in self.node_ids:
            self.invoke(node_id, "on_start")
        self._end_step()

    def is_up(self, node_id: str) -> bool:
        return self.nodes.get(node_id) is not None

    def node(self, node_id: str) -> Node | None:
        """The live node, or None while it is down (see :class:`paxoslab.world.World`)."""
        return self.nodes.get(node_id)

    def stored(self, node_id: str) -> Mapping[str, Any]:
        """What the node has persisted (see :class:`paxoslab.world.World`)."""
        return self.stable[node_id]

    def crash(self, node_id: str) -> None:
        """Lose the node's volatile state and timers; keep its stable storage."""
        if not self.is_up(node_id):
            return
        self.nodes[node_id] = None
        self.timers[node_id] = {}
        self._keys.pop(node_id, None)
        self.trace.add(self.now, "crash", node=node_id)

    def recover(self, node_id: str) -> None:
        """Rebuild a crashed node from what it persisted and call ``on_recover``."""
        if self.is_up(node_id):
            return
        self.trace.add(self.now, "recover", node=node_id,
                       payload=jsonable(self.stable[node_id]) or None)
        self._rebuild(node_id)

    def _rebuild(self, node_id: str) -> tuple[Node, list[Effect]]:
        """Build the node afresh from its stable storage and run its ``on_recover``."""
        node = self._build(node_id)
        node.restore(self.stable[node_id])
        self.step_node = node_id
        before = self._observe(node_id, node) if self.notes is not None and self.trace.records else None
        try:
            effects = node.call("on_recover", (), self.now)
        except (Exception, HandlerTimeLimit) as exc:
            raise HandlerError(node_id, "on_recover()", self.now, exc) from None
        if before is not None:
            effects = self._with_derived_notes(node_id, node, before, effects, ("on_recover", ()),
                                               "on_recover()")
        if effects:
            self._carry_out(node_id, effects)
        return node, effects

    def partition(self, groups: Iterable[Iterable[str]]) -> None:
        groups = [list(g) for g in groups]
        self.network = copy.copy(self.network)  # a fork may share it
        self.network.partition(groups, self.node_ids)
        self.trace.add(self.now, "partition", payload={"groups": groups})

    def heal(self) -> None:
        self.network = copy.copy(self.network)
        self.network.heal()
        self.trace.add(self.now, "heal")

    def _writable(self, node_id: str) -> Node:
        """The node, copied first if this simulation shares it with a fork."""
        node = self.nodes[node_id]
        self._keys.pop(node_id, None)
        owned = self._owned
        if owned is None or node_id in owned:
            return node
        node = node.fork()
        self.nodes[node_id] = node
        self._own_storage(node_id)
        owned.add(node_id)
        return node

    def _own_storage(self, node_id: str) -> None:
        """Copy the node's stable storage and timers, which this simulation shares with a fork."""
        self.stable[node_id] = {k: list(v) if type(v) is list else v
                                for k, v in self.stable[node_id].items()}
        self.timers[node_id] = dict(self.timers[node_id])

    def invoke(self, node_id: str, method: str, *args: Any) -> bool:
        """Call a node method now (a client request, ``on_start``...); False if it is down."""
        if self.nodes.get(node_id) is None:
            self.trace.add(self.now, "request_lost", node=node_id,
                           payload={"method": method, "args": jsonable(list(args))})
            return False
        node = self._writable(node_id)
        self.step_node = node_id
        before = self._observe(node_id, node) if self.notes is not None and self.trace.records else None
        try:
            effects = node.call(method, args, self.now)
        except (Exception, HandlerTimeLimit) as exc:
            raise HandlerError(node_id, f"{method}{tuple(args)!r}", self.now, exc) from None
        if before is not None:
            effects = self._with_derived_notes(node_id, node, before, effects, (method, tuple(args)),
                                               f"{method}{tuple(args)!r}")
        if effects:
            self._carry_out(node_id, effects)
        return True

    def fire_timer(self, node_id: str, timer: Any) -> bool:
        """Fire ``timer`` on ``node_id`` now, as if it had expired (``timeout NODE``)."""
        if self.nodes.get(node_id) is None:
            return False
        self._fire(node_id, timer)
        return True

    def _fire(self, node_id: str, timer: Any) -> tuple[Node, list[Effect]]:
        """Disarm ``timer``, run the node's handler for it, carry out what it asks."""
        node = self._writable(node_id)
        self.timers[node_id].pop(timer, None)
        trace = self.trace
        if trace.detailed:
            trace.add_raw(self.now, "timer_fire", node_id, None, None, None,
                          type(timer).__name__, timer, jsonable)
        self.step_node = node_id
        before = self._observe(node_id, node) if self.notes is not None and trace.records else None
        try:
            effects = node.fire(timer, self.now)
        except MissingHandler:
            raise
        except (Exception, HandlerTimeLimit) as exc:
            raise HandlerError(node_id, f"timer {_label(timer)}", self.now, exc) from None
        if before is not None:
            effects = self._with_derived_notes(node_id, node, before, effects, timer,
                                               f"timer {_label(timer)}")
        if effects:
            self._carry_out(node_id, effects)
        return node, effects

    def _deliver(self, msg_id: int, src: str, dst: str, msg: Any) -> bool:
        """Hand message ``msg_id`` to ``dst``'s handler, or drop it if ``dst`` is down or cut off."""
        node = self.nodes.get(dst)
        network = self.network
        trace = self.trace
        if node is None or (network.groups and not network.connected(src, dst)):
            self.dropped += 1
            if trace.detailed:
                trace.add(self.now, "drop", node=dst, src=src, dst=dst, msg_id=msg_id,
                          msg_type=type(msg).__name__,
                          payload={"reason": "crashed" if node is None else "partition"})
            return False
        self.delivered += 1
        if trace.detailed:  # Trace.add_raw, inlined: this is the hot path
            trace._raw.append((self.now, "deliver", dst, src, dst, msg_id, type(msg).__name__,
                               None, None))
        self._receive(dst, src, msg)
        return True

    def _receive(self, dst: str, src: str, msg: Any) -> tuple[Node, list[Effect]]:
        """Run ``dst``'s handler for ``msg`` and carry out what it asks."""
        node = self._writable(dst) if self._owned is not None else self.nodes[dst]
        self.step_node = dst
        before = self._observe(dst, node) if self.notes is not None and self.trace.records else None
        try:
            effects = node.receive(msg, src, self.now)
        except MissingHandler:
            raise
        except (Exception, HandlerTimeLimit) as exc:
            raise HandlerError(dst, f"{_label(msg)} from {src}", self.now, exc) from None
        if before is not None:
            effects = self._with_derived_notes(dst, node, before, effects, msg, f"{_label(msg)} from {src}")
        if effects:
            self._carry_out(dst, effects)
        return node, effects

    def _perform(self, index: int) -> None:
        """Carry out scenario action ``index``."""
        self.next_action = index + 1
        action = self.actions[index][1]
        kind = action[0]
        if kind == "crash":
            self.crash(action[1])
        elif kind == "recover":
            self.recover(action[1])
        elif kind == "partition":
            self.partition(action[1])
        elif kind == "heal":
            self.heal()
        elif kind == "fire":
            self.fire_timer(action[1], action[2])
        elif kind == "invoke":
            self.invoke(action[1], action[2], *action[3:])
        elif self.perform is not None:
            self.perform(self, kind, action[1])
        else:
            raise ValueError(f"unknown scenario action {kind!r} (no protocol to perform it)")

    # ---- effects ------------------------------------------------------------
    def _observe(self, node_id: str, node: Node) -> Any:
        """What the notes are read from before a handler (:class:`~paxoslab.protocols.spec.DerivedNotes`)."""
        try:
            return self.notes.observe(node)
        except Exception as exc:  # noqa: BLE001 - a field of an unexpected shape: the node's doing
            raise HandlerError(node_id, "its fields (read before a handler, for the run's notes)",
                               self.now, exc) from None

    def _with_derived_notes(self, node_id: str, node: Node, before: Any, effects: list[Effect],
                            trigger: Any, what: str) -> list[Effect]:
        """``effects`` and, after them, the notes read off the node's state change for the
        kinds the handler did not note (:class:`~paxoslab.protocols.spec.DerivedNotes`)."""
        noted = frozenset(effect[1] for effect in effects if type(effect) is Note)
        try:
            derived = self.notes.missing(before, node, noted, trigger)
        except Exception as exc:  # noqa: BLE001 - a field of an unexpected shape: the node's doing
            raise HandlerError(node_id, f"{what} (its fields, read for the run's notes)", self.now,
                               exc) from None
        if not derived:
            return effects
        return [*effects, *(Note("note", kind, payload) for kind, payload in derived)]

    def _send(self, src: str, dst: str, msg: Any, after_persist: bool) -> None:
        """Put one message (isolated by :meth:`Node.send`) on the wire: number it, record it,
        decide its fate.

        Timed, the network draws its fate now (lost, one copy after a delay,
        or two); stepped, it waits in flight for a ``deliver``/``lose`` choice,
        unless a rule or a partition loses it for certain.
        """
        msg_type = type(msg).__name__
        msg_id = self._new_copy(msg_type)
        if self._watch:
            self.step_sent.append((src, dst, msg))
        trace = self.trace
        if trace.detailed:  # Trace.add_raw, inlined: this is the hot path
            trace._raw.append((self.now, "send", src, src, dst, msg_id, msg_type, msg,
                               message_payload))
        if self.timed and self._plain:
            network = self.network
            if dst == src or not network.groups or network.connected(src, dst):
                # one copy after one delay draw: what fate() would say, without asking it
                delay = network.delay.sample(self.net_rng)
                # (now + persist_ms) + delay: the order of the sum is part of the trace
                at = (self.now + self.persist_ms + delay) if after_persist and self.persist_ms \
                    else self.now + delay
                self.in_flight[msg_id] = (src, dst, msg)
                self._seq += 1
                heappush(self._queue, (at, self._seq, _DELIVER, msg_id))
                return
        self._send_by_fate(src, dst, msg, msg_type, msg_id, after_persist)

    def _new_copy(self, msg_type: str) -> int:
        """Number one copy of a message put on the wire and count it as sent (a duplicate
        too, so that sent == delivered + dropped + still in flight)."""
        msg_id = self._next_msg_id
        self._next_msg_id = msg_id + 1
        self.sent += 1
        by_type = self.by_type
        by_type[msg_type] = by_type.get(msg_type, 0) + 1
        return msg_id

    def _send_by_fate(self, src: str, dst: str, msg: Any, msg_type: str, msg_id: int,
                      after_persist: bool) -> None:
        """The rest of :meth:`_send`: loss, duplication, rules, partitions, stepped mode."""
        trace = self.trace
        recording = trace.detailed
        now = self.now
        network = self.network
        if not self.timed:
            reason = network.certain_loss(src, dst, msg_type)
            if reason is None:
                self.in_flight[msg_id] = (src, dst, msg)
                self.flight_keys[msg_id] = self._flight_key(src, dst, msg)
                return
            self.dropped += 1
            if recording:
                trace.add(now, "drop", node=src, src=src, dst=dst, msg_id=msg_id,
                          msg_type=msg_type, payload={"reason": reason})
            return
        delays = network.fate(src, dst, msg_type, self.net_rng)
        if not delays:
            self.dropped += 1
            if recording:
                trace.add(now, "drop", node=src, src=src, dst=dst, msg_id=msg_id, msg_type=msg_type,
                          payload={"reason": network.why_lost(src, dst, msg_type)})
            return
        extra = self.persist_ms if after_persist else 0.0
        for copy_number, delay in enumerate(delays):
            if copy_number:
                copy_id = self._new_copy(msg_type)
                if recording:
                    trace.add_raw(now, "duplicate", src, src, dst, copy_id, msg_type, msg,
                                  message_payload)
            else:
                copy_id = msg_id
            self.in_flight[copy_id] = (src, dst, msg)
            self._seq += 1
            heappush(self._queue, ((now + extra + delay) if extra else (now + delay),
                                   self._seq, _DELIVER, copy_id))

    def _carry_out(self, node_id: str, effects: Sequence[Effect]) -> None:
        """Do what ``node_id``'s handler asked for, in the order it asked (the node.py contract)."""
        trace = self.trace
        recording = trace.detailed
        for effect in effects:
            kind = type(effect)
            if kind is Send:
                _, dst, msg, after_persist = effect
                self._send(node_id, dst, msg, after_persist)
            elif kind is SetTimer:
                _, timer, delay = effect
                self._seq += 1
                self.timers[node_id][timer] = self._seq
                if self.timed:
                    heappush(self._queue, (self.now + delay, self._seq, _TIMER, (node_id, timer)))
                if recording:
                    trace.add_raw(self.now, "timer_set", node_id, None, None, None,
                                  type(timer).__name__, (timer, self.now + delay), _timer_payload)
            elif kind is CancelTimer:
                self.timers[node_id].pop(effect.timer, None)
            elif kind is Persist:
                self.stable[node_id].update(effect.fields)
                if recording:
                    trace.add_raw(self.now, "persist", node_id, None, None, None, None,
                                  effect.fields, jsonable)
            elif kind is PersistAppend:
                _, field, items = effect
                stored = self.stable[node_id].setdefault(field, [])
                if type(stored) is not list:
                    stored = self.stable[node_id][field] = list(stored)
                stored.extend(items)
                if recording:
                    trace.add_raw(self.now, "persist", node_id, None, None, None, None,
                                  {"append": field, "items": items}, jsonable)
            elif kind is PersistTruncate:
                _, field, length = effect
                stored = self.stable[node_id].get(field)
                if stored is not None:
                    self.stable[node_id][field] = list(stored[:length])
                if recording:
                    trace.add(self.now, "persist", node=node_id,
                              payload={"truncate": field, "length": length})
            elif kind is Note:
                if trace.records:  # isolated now (a note may hold a live object), JSON when read
                    _, event, payload = effect
                    trace._raw.append((self.now, event, node_id, None, None, None, None,
                                       {k: isolated(v) for k, v in payload.items()}, jsonable))

    # ---- monitors -------------------------------------------------------
    def _begin_step(self) -> None:
        self.step_sent = []
        self.step_node = None

    def _end_step(self) -> None:
        for monitor in self.monitors:
            found = monitor.after_step(self)
            if found:
                self.violations.extend(found)

    # ---- the timed loop ---------------------------------------------------
    def run(self, until: float = float("inf"), max_events: int | None = None) -> float:
        """Process events up to simulated time ``until``; returns the last event's time.

        ``max_events`` caps how many queued events (deliveries, drops, timers,
        scenario actions, cancelled timers too) this call pops.  Raises
        :class:`SimulationStalled` if more than ``STALL_LIMIT`` events happen at
        one simulated instant.
        """
        if not self.timed:
            raise RuntimeError("this simulation is stepped (timed=False): use step()")
        self.start()
        queue = self._queue
        timers = self.timers
        in_flight = self.in_flight
        deliver = self._deliver
        watch = bool(self.monitors)
        limit = float("inf") if max_events is None else max_events
        processed = 0
        # a run in several calls ends and stalls as one call would
        at_this_instant = self._instant_events
        end = self._last_event
        while queue and queue[0][0] <= until:
            if processed >= limit:
                break
            processed += 1
            time, seq, kind, data = heappop(queue)
            if time != self.now:
                self.now = time
                at_this_instant = 0
            else:
                at_this_instant += 1
                if at_this_instant > STALL_LIMIT:
                    raise SimulationStalled(time)
            if watch:
                self._begin_step()
            if kind == _DELIVER:
                src, dst, msg = in_flight.pop(data)
                if deliver(data, src, dst, msg):
                    end = time
            elif kind == _TIMER:
                node_id, timer = data
                if timers[node_id].get(timer) != seq:
                    continue  # cancelled, replaced, or the node crashed since
                end = time
                self.fire_timer(node_id, timer)
            else:
                end = time
                self._perform(data)
            if watch:
                self._end_step()
        self._instant_events, self._last_event = at_this_instant, end
        return end

    def due(self, until: float = float("inf")) -> bool:
        """Whether an event is still queued at or before ``until``."""
        return bool(self._queue) and self._queue[0][0] <= until

    # ---- the transition system ----------------------------------------------
    def choices(self) -> list[Step]:
        """Every step that may happen next, in a fixed order (messages by id, nodes by name)."""
        self.start()
        network = self.network
        out: list[Step] = []
        for msg_id, (src, dst, _msg) in self.in_flight.items():
            out.append(("deliver", msg_id))
            if src != dst:
                if network.drop:
                    out.append(("lose", msg_id))
                if network.duplicate:
                    out.append(("duplicate", msg_id))
        for node_id in self.node_ids:
            if self.nodes.get(node_id) is not None:
                for timer in self.timers[node_id]:
                    out.append(("timer", node_id, timer))
        if self.next_action < len(self.actions):
            out.append(("action", self.next_action))
        return out

    def step(self, choice: Step) -> None:
        """Apply one step (one of :meth:`choices`); monitors then look at the new world."""
        if self.timed:
            raise RuntimeError("this simulation is timed: use run(), or build it with timed=False")
        self.start()
        self.steps += 1
        self.now = float(self.steps)
        self._begin_step()
        kind = choice[0]
        if kind == "deliver" or kind == "lose":
            src, dst, msg = self.in_flight.pop(choice[1])
            del self.flight_keys[choice[1]]
            if kind == "deliver":
                self._deliver(choice[1], src, dst, msg)
            else:
                self.dropped += 1
                if self.trace.detailed:
                    self.trace.add(self.now, "drop", node=src, src=src, dst=dst, msg_id=choice[1],
                                   msg_type=type(msg).__name__, payload={"reason": "loss"})
        elif kind == "duplicate":
            src, dst, msg = self.in_flight[choice[1]]
            copy_id = self._new_copy(type(msg).__name__)
            if self.trace.detailed:
                self.trace.add_raw(self.now, "duplicate", src, src, dst, copy_id,
                                   type(msg).__name__, msg, message_payload)
            self._deliver(copy_id, src, dst, msg)
        elif kind == "timer":
            if choice[2] not in self.timers[choice[1]]:
                raise ValueError(f"timer {choice[2]!r} of {choice[1]} is not armed")
            self.fire_timer(choice[1], choice[2])
        elif kind == "action":
            if choice[1] != self.next_action:
                raise ValueError(f"scenario action {choice[1]} is not the next one "
                                 f"({self.next_action})")
            self._perform(choice[1])
        else:
            raise ValueError(f"unknown step {choice!r}")
        self._end_step()

    def fork(self) -> Simulation:
        """An independent copy of this (stepped) world: stepping one never changes the other.

        Copy-on-write: nodes, their stable storage and timers are shared until
        a step touches them.  The copy records no trace.
        """
        twin = object.__new__(type(self))
        twin.__dict__.update(self.__dict__)
        twin.trace = NoTrace()
        twin.flight_keys = dict(self.flight_keys)
        twin.nodes = dict(self.nodes)
        twin.stable = dict(self.stable)
        twin.timers = dict(self.timers)
        twin.in_flight = dict(self.in_flight)
        twin.by_type = dict(self.by_type)
        twin.monitors = [m.fork() for m in self.monitors]
        twin.violations = list(self.violations)
        twin.step_sent = []
        twin._keys = dict(self._keys)
        twin._owned = set()
        self._owned = set()  # from now on this world shares every node too
        return twin

    def node_key(self, node_id: str) -> Hashable:
        """One node's part of the world key: state (:meth:`Node.search_key`), stable storage,
        armed timers (cached)."""
        key = self._keys.get(node_id)
        if key is None:
            node = self.nodes.get(node_id)
            key = (self._search_key(node) if node is not None else None,
                   canonical(self.stable[node_id]),
                   frozenset(self.timers[node_id]) if node is not None else frozenset())
            self._keys[node_id] = key
        return key

    def _search_key(self, node: Node) -> Hashable:
        """A live node's state as the world key reads it (:meth:`Node.search_key`)."""
        return node.search_key()

    def _flight_key(self, src: str, dst: str, msg: Any) -> Hashable:
        """A message in flight as part of the world key."""
        return (src, dst, canonical(msg))

    def world_key(self) -> Hashable:
        """Everything that decides what may happen next, canonically (not the clock or ids)."""
        flight = Counter(self.flight_keys.values())
        groups = self.network.groups
        return (
            tuple(self.node_key(n) for n in self.node_ids),
            frozenset(flight.items()),
            tuple(sorted(groups.items())) if groups else (),
            self.next_action,
            tuple(m.key() for m in self.monitors),
        )

    def flight_set(self) -> frozenset:
        """The messages in flight as a set in which multiset inclusion is set inclusion (a
        second copy of a message is ``(key, 2)``, a third ``(key, 3)``, ...).

        Two worlds alike but for these, ``less <= more``: the one with ``more``
        can take every step the other can, with the same effects — a message in
        flight is only ever a choice, never a constraint.
        """
        keys = list(self.flight_keys.values())
        flight = frozenset(keys)
        if len(flight) != len(keys):
            flight = frozenset((key, copy) if copy > 1 else key
                               for key, count in Counter(keys).items()
                               for copy in range(1, count + 1))
        return flight

    # ---- steps as JSON (a scenario's "schedule") ------------------------------
    def encode(self, choice: Step) -> dict[str, Any]:
        """A step as a schedule entry; ``from``/``to``/``type`` are checked on replay."""
        kind = choice[0]
        if kind in ("deliver", "lose", "duplicate"):
            src, dst, msg = self.in_flight[choice[1]]
            return {kind: choice[1], "from": src, "to": dst, "type": type(msg).__name__}
        if kind == "timer":
            timer = choice[2]
            return {"timer": choice[1], "type": type(timer).__name__, "fields": jsonable(timer)}
        return {"action": choice[1]}

    def decode(self, entry: dict[str, Any]) -> Step:
        """The step a schedule entry names in this world; ValueError if it cannot happen now."""
        self.start()
        for kind in ("deliver", "lose", "duplicate"):
            if kind in entry:
                msg_id = entry[kind]
                if msg_id not in self.in_flight:
                    raise ValueError(f"message {msg_id!r} is not in flight")
                src, dst, msg = self.in_flight[msg_id]
                seen = {"from": src, "to": dst, "type": type(msg).__name__}
                for key, value in seen.items():
                    if key in entry and entry[key] != value:
                        raise ValueError(f"message {msg_id} has {key} {value!r}, "
                                         f"not {entry[key]!r}")
                return (kind, msg_id)
        if "timer" in entry:
            node_id = entry["timer"]
            for timer in self.timers.get(node_id, {}):
                if (type(timer).__name__ == entry.get("type")
                        and jsonable(timer) == entry.get("fields", jsonable(timer))):
                    return ("timer", node_id, timer)
            raise ValueError(f"{node_id} has no armed {entry.get('type')} timer like that")
        if "action" in entry:
            if entry["action"] != self.next_action:
                raise ValueError(f"the next scenario action is {self.next_action}, "
                                 f"not {entry['action']!r}")
            return ("action", entry["action"])
        raise ValueError("a step is {\"deliver\"|\"lose\"|\"duplicate\": id}, "
                         "{\"timer\": node, \"type\": T} or {\"action\": i}")
