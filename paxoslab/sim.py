"""The deterministic discrete-event simulator.

Everything that will happen sits in one heap keyed by ``(time, seq)``: ``seq``
is a counter, so events at the same time happen in the order they were
scheduled and a run never depends on dict order, hashing or the wall clock.
Each source of randomness has its own stream derived from the seed
(:func:`rng_stream`): the network's delays, each node's choices, the scenario's
random start times.  Turning one knob therefore leaves the others' draws alone.

After a node's handler returns, the simulator applies the effects it asked for
(sends, timers, persistence, notes) — the same effects the explorer applies.

>>> rng_stream(7, "network").random() == rng_stream(7, "network").random()
True
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
from collections.abc import Callable, Iterable, Sequence
from heapq import heappop, heappush
from typing import Any

from .network import Network
from .node import Node
from .trace import Trace

_DELIVER, _TIMER, _CALL = 0, 1, 2


#: Events allowed at one simulated instant before a run counts as stalled.
STALL_LIMIT = 100_000


class SimulationStalled(RuntimeError):
    """Simulated time stopped advancing: handlers keep triggering each other at one instant."""

    def __init__(self, time: float) -> None:
        self.time = time
        super().__init__(
            f"simulated time stands still at t={time:g}: more than {STALL_LIMIT} events at that "
            "instant (zero delays with zero back-off or timeouts let nodes trigger each other forever)"
        )


def rng_stream(seed: int, purpose: str) -> random.Random:
    """A ``random.Random`` for one purpose, fixed by ``(seed, purpose)`` alone."""
    digest = hashlib.sha256(f"paxoslab/{seed}/{purpose}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def jsonable(value: Any) -> Any:
    """Messages, ballots and tuples as plain JSON values (ballots as ``"3.1"``)."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if hasattr(value, "__jsonable__"):
        return value.__jsonable__()
    if dataclasses.is_dataclass(value):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return str(value)


def message_payload(msg: Any) -> dict[str, Any]:
    """A message's fields as JSON, plus its diagram ``label`` if it defines one."""
    payload = jsonable(msg)
    if not isinstance(payload, dict):
        payload = {"value": payload}
    label = getattr(msg, "label", None)
    if label is not None:
        payload["label"] = label()
    return payload


class Simulation:
    """Nodes + network + clock.  Build it, schedule scenario actions, :meth:`run`."""

    def __init__(
        self,
        node_ids: Sequence[str],
        make_node: Callable[[str], Node],
        network: Network | None = None,
        seed: int = 0,
        detailed: bool = True,
        persist_ms: float = 0.0,
    ) -> None:
        self.node_ids = tuple(node_ids)
        self.make_node = make_node
        self.network = network or Network()
        self.seed = seed
        self.persist_ms = persist_ms
        self.trace = Trace(detailed=detailed)
        self.net_rng = rng_stream(seed, "network")
        self.node_rngs = {n: rng_stream(seed, f"node/{n}") for n in self.node_ids}
        self.now = 0.0
        self.stable: dict[str, dict[str, Any]] = {n: {} for n in self.node_ids}
        self.nodes: dict[str, Node | None] = {}
        self.timers: dict[str, dict[Any, int]] = {n: {} for n in self.node_ids}
        # every copy put on the wire counts as sent (a duplicate too), so that
        # sent == delivered + dropped + still in flight
        self.sent = self.delivered = self.dropped = 0
        self.by_type: dict[str, int] = {}
        self._queue: list[tuple] = []
        self._seq = 0
        self._next_msg_id = 0
        self._started = False

    # ---- scheduling -------------------------------------------------------
    def _push(self, time: float, kind: int, data: Any) -> None:
        self._seq += 1
        heappush(self._queue, (time, self._seq, kind, data))

    def at(self, time: float, action: Callable[[], None]) -> None:
        """Run ``action()`` at simulated ``time`` (scenario events use this)."""
        self._push(float(time), _CALL, action)

    # ---- node life cycle --------------------------------------------------
    def _build(self, node_id: str) -> Node:
        node = self.make_node(node_id)
        node._rng = self.node_rngs[node_id]
        self.nodes[node_id] = node
        return node

    def start(self) -> None:
        """Build every node and call its ``on_start`` (done by :meth:`run` if needed)."""
        if self._started:
            return
        self._started = True
        for node_id in self.node_ids:
            self._build(node_id)
        for node_id in self.node_ids:
            self.invoke(node_id, "on_start")

    def is_up(self, node_id: str) -> bool:
        return self.nodes.get(node_id) is not None

    def crash(self, node_id: str) -> None:
        """Lose the node's volatile state and timers; keep its stable storage."""
        if not self.is_up(node_id):
            return
        self.nodes[node_id] = None
        self.timers[node_id].clear()
        self.trace.add(self.now, "crash", node=node_id)

    def recover(self, node_id: str) -> None:
        """Rebuild a crashed node from what it persisted and call ``on_recover``."""
        if self.is_up(node_id):
            return
        node = self._build(node_id)
        node.restore(self.stable[node_id])
        self.trace.add(self.now, "recover", node=node_id,
                       payload=jsonable(self.stable[node_id]) or None)
        self.invoke(node_id, "on_recover")

    def partition(self, groups: Iterable[Iterable[str]]) -> None:
        groups = [list(g) for g in groups]
        self.network.partition(groups, self.node_ids)
        self.trace.add(self.now, "partition", payload={"groups": groups})

    def heal(self) -> None:
        self.network.heal()
        self.trace.add(self.now, "heal")

    def invoke(self, node_id: str, method: str, *args: Any) -> bool:
        """Call a node method now (a client request, ``on_start``...); False if it is down."""
        node = self.nodes.get(node_id)
        if node is None:
            self.trace.add(self.now, "request_lost", node=node_id,
                           payload={"method": method, "args": jsonable(list(args))})
            return False
        node._now = self.now
        getattr(node, method)(*args)
        self._apply(node)
        return True

    def fire_timer(self, node_id: str, timer: Any) -> bool:
        """Fire ``timer`` on ``node_id`` now, as if it had expired (``timeout NODE``)."""
        node = self.nodes.get(node_id)
        if node is None:
            return False
        self.timers[node_id].pop(timer, None)
        self.trace.add(self.now, "timer_fire", node=node_id,
                       msg_type=type(timer).__name__, payload=jsonable(timer))
        node._now = self.now
        node.handler_for(timer)(timer)
        self._apply(node)
        return True

    # ---- effects ------------------------------------------------------------
    def _apply(self, node: Node) -> None:
        """Carry out the effects ``node``'s handler asked for, in the order it asked.

        Every send gets a message id and its fate from the network.  When the
        network is *plain* (no rules, loss or duplication) and the link is up,
        that fate is always exactly one copy after one delay draw, so the send
        takes a short path that skips :meth:`Network.fate` — with the same RNG
        draws, ids, sequence numbers and trace events as the general path.
        """
        node_id = node._id
        now = self.now
        trace = self.trace
        recording = trace.detailed
        network = self.network
        net_rng = self.net_rng
        by_type = self.by_type
        queue = self._queue
        # Only scenario actions change the network, never a handler, so this
        # holds for the whole batch of effects.
        plain = network.is_plain()
        for effect in node.take_effects():
            tag = effect[0]
            if tag == "send":
                _, dst, msg, after_persist = effect
                msg_type = type(msg).__name__
                msg_id = self._next_msg_id
                self._next_msg_id = msg_id + 1
                self.sent += 1
                by_type[msg_type] = by_type.get(msg_type, 0) + 1
                if plain and (dst == node_id or not network.groups
                              or network.connected(node_id, dst)):
                    delay = network.delay.sample(net_rng)
                    if recording:
                        trace.add(now, "send", node=node_id, src=node_id, dst=dst, msg_id=msg_id,
                                  msg_type=msg_type, payload=message_payload(msg))
                    # (now + persist_ms) + delay, summed in the general path's order
                    at = now + self.persist_ms + delay if after_persist else now + delay
                    self._seq += 1
                    heappush(queue, (at, self._seq, _DELIVER, (msg_id, node_id, dst, msg)))
                    continue
                delays = network.fate(node_id, dst, msg_type, net_rng)
                payload = message_payload(msg) if recording else None
                if recording:
                    trace.add(now, "send", node=node_id, src=node_id, dst=dst, msg_id=msg_id,
                              msg_type=msg_type, payload=payload)
                if not delays:
                    self.dropped += 1
                    if recording:
                        reason = network.why_lost(node_id, dst, msg_type)
                        trace.add(now, "drop", node=node_id, src=node_id, dst=dst, msg_id=msg_id,
                                  msg_type=msg_type, payload={"reason": reason})
                    continue
                extra = self.persist_ms if after_persist else 0.0
                for copy_number, delay in enumerate(delays):
                    if copy_number:
                        self.sent += 1
                        by_type[msg_type] += 1
                        copy_id = self._next_msg_id
                        self._next_msg_id += 1
                        if recording:
                            trace.add(now, "duplicate", node=node_id, src=node_id, dst=dst,
                                      msg_id=copy_id, msg_type=msg_type, payload=payload)
                    else:
                        copy_id = msg_id
                    self._seq += 1
                    heappush(queue,
                             (now + extra + delay, self._seq, _DELIVER, (copy_id, node_id, dst, msg)))
            elif tag == "set_timer":
                _, timer, delay = effect
                self._seq += 1
                self.timers[node_id][timer] = self._seq
                heappush(queue, (now + delay, self._seq, _TIMER, (node_id, timer)))
                if recording:
                    trace.add(now, "timer_set", node=node_id, msg_type=type(timer).__name__,
                              payload={"fires_at": now + delay, **jsonable(timer)})
            elif tag == "cancel_timer":
                self.timers[node_id].pop(effect[1], None)
            elif tag == "persist":
                self.stable[node_id].update(effect[1])
                if recording:
                    trace.add(now, "persist", node=node_id, payload=jsonable(effect[1]))
            elif tag == "note":
                trace.add(now, effect[1], node=node_id, payload=jsonable(effect[2]))

    # ---- the loop -------------------------------------------------------
    def run(self, until: float = float("inf"), max_events: int | None = None) -> float:
        """Process events up to simulated time ``until``; returns the last event's time.

        ``max_events`` caps how many queued events (deliveries, drops, timers,
        scenario actions, cancelled timers too) this call pops.  Raises
        :class:`SimulationStalled` if more than ``STALL_LIMIT`` events happen at
        one simulated instant.

        This loop is the simulator's hot path: it keeps what it uses in locals,
        looks a node's handler up in the node's cache before asking
        :meth:`Node.handler_for`, and only consults the partition when there is
        one.  None of that changes what happens, only how fast.
        """
        self.start()
        queue = self._queue
        nodes = self.nodes
        network = self.network
        trace = self.trace
        recording = trace.detailed
        timers = self.timers
        limit = float("inf") if max_events is None else max_events
        processed = at_this_instant = 0
        end = self.now
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
            if kind == _DELIVER:
                msg_id, src, dst, msg = data
                node = nodes.get(dst)
                if node is None or (network.groups and not network.connected(src, dst)):
                    self.dropped += 1
                    if recording:
                        trace.add(time, "drop", node=dst, src=src, dst=dst, msg_id=msg_id,
                                  msg_type=type(msg).__name__,
                                  payload={"reason": "crashed" if node is None else "partition"})
                    continue
                self.delivered += 1
                end = time
                if recording:
                    trace.add(time, "deliver", node=dst, src=src, dst=dst, msg_id=msg_id,
                              msg_type=type(msg).__name__)
                node._now = time
                handler = node._handlers.get(type(msg)) or node.handler_for(msg)
                handler(msg, src)
                if node._effects:
                    self._apply(node)
            elif kind == _TIMER:
                node_id, timer = data
                if timers[node_id].get(timer) != seq:
                    continue  # cancelled, replaced, or the node crashed since
                end = time
                del timers[node_id][timer]
                node = nodes[node_id]
                if recording:
                    trace.add(time, "timer_fire", node=node_id, msg_type=type(timer).__name__,
                              payload=jsonable(timer))
                node._now = time
                node.handler_for(timer)(timer)
                if node._effects:
                    self._apply(node)
            else:
                end = time
                data()
        return end
