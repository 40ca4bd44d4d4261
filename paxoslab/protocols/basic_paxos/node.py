"""Basic Paxos: agreeing on one value among nodes that may be slow or lost.

The algorithm in plain words
----------------------------
Every node may play three roles at once.  A **proposer** (提案节点) wants some
value chosen; an **acceptor** (决策节点) votes on proposals; a **learner**
(记录节点) only finds out what was chosen.  A value is **chosen** (选定) at the
moment a majority of acceptors has accepted (接受) it under the same ballot; a
node has **learned** (获知) it once it knows that.

Ballots are numbered ``round.node`` (``3.1`` is round 3 of node S1): unique and
totally ordered, so a later proposer can always pick a higher one.  Because a
node may stall or vanish while it holds the "lock" on the value, the lock must
be pre-emptible: a higher ballot takes it away.

Phase 1 — prepare / promise (准备).  The proposer sends ``Prepare(n)`` to every
acceptor.  An acceptor that has not promised anything higher replies with two
promises and one answer:

* promise 1: never again answer a ``Prepare`` numbered ``<= n``;
* promise 2: never again accept an ``Accept`` numbered ``< n``;
* answer: the highest-numbered proposal it has accepted so far, ``(ballot,
  value)``, or nothing.

Phase 2 — accept / accepted (接受).  With promises from a majority, the proposer
picks the value: if any promise carried an accepted proposal it *must* take the
value of the highest-numbered one; only if none did may it use its own.  It
sends ``Accept(n, value)``; acceptors accept unless they promised a higher
ballot meanwhile.

Learning.  Acceptors answer ``Accepted`` to the proposer of the ballot, which
acts as that ballot's *distinguished learner* (Paxos Made Simple §2.3): it
counts the answers for every ballot it proposed, including ballots it has
since given up, and once a majority accepted one proposal it knows the value
is chosen and tells every learner.  (The other option of §2.3, every acceptor
telling every learner, lets learners hear one message delay sooner but costs
n² messages per ballot instead of 2n; one distinguished learner per ballot is
the cheaper choice §2.3 describes, and it keeps the diagrams readable.)
Giving a ballot up never "unchooses" it: a value accepted by a majority stays
chosen, and its proposer still learns it when the replies arrive.

Retrying.  A proposer that is turned down (an acceptor promised a higher
ballot) or that hears no majority within its phase timeout gives the ballot up,
waits (backs off) and retries with a higher ballot.  Two proposers that retry
at once keep pre-empting each other and never finish: that is the livelock of
lesson 03.  Paxos itself only promises safety; liveness needs the retries to
spread out — a randomised back-off whose random window doubles with every
failed ballot (the default), and a phase timeout that doubles each time it
fires, so that it soon exceeds the network's round trip whatever that is.

Learning is retried too.  The proposer that saw its value chosen tells every
node once; a node that has taken part (promised, accepted, proposed) or has
just recovered and still does not know the outcome asks its peers (``Ask``)
at growing intervals, and a peer that knows answers with ``Learn``.  So a lost
``Learn`` or a crash does not leave a live node ignorant for ever.

Acceptors write their promise and acceptance to stable storage before they
answer, so a crash cannot make them forget a vote.

The four switchable bugs each break exactly one of these rules (see ``BUGS``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from ...checks import Monitor, Violation
from ...node import Node
from ...wording import per_node, show
from .. import Mark, ProtocolSpec

BUGS = {
    "promise-omits-accepted": "an acceptor's promise leaves out the proposal it already accepted",
    "accept-below-promise": "an acceptor accepts a ballot lower than one it promised (breaks promise 2)",
    "proposer-ignores-accepted": "a proposer uses its own value even when a promise carried one",
    "acceptor-forgets-on-crash": "an acceptor does not persist its promise and vote before replying",
}

#: How a proposer waits before retrying a failed ballot (``options.backoff.policy``).
BACKOFF_POLICIES = {
    "none": "retry at once",
    "fixed": "wait base ms",
    "uniform": "wait base + uniform(0, jitter) ms",
    "exponential": "wait base + uniform(0, jitter * multiplier^(failures - 1)) ms, at most max ms",
}

DEFAULT_OPTIONS: dict[str, Any] = {
    "proposal_timeout": 20,      # ms: the first phase timeout
    "timeout_growth": 2,         # the timeout is multiplied by this each time it fires ...
    "timeout_max": 2000,         # ms: ... up to this
    "backoff": {"policy": "exponential", "base": 0, "jitter": 10, "multiplier": 2, "max": 2000},
    "learn_retry": 50,           # ms: first wait before a node that took part asks what was chosen ...
    "learn_retry_max": 1000,     # ms: ... the wait doubles up to this
    "bugs": [],
}


class Ballot(NamedTuple):
    """A proposal number ``round.node``; compares by round, then node (a named tuple:
    the search hashes and compares ballots very often).

    >>> Ballot(3, 1) < Ballot(3, 5) < Ballot(4, 1), str(Ballot(3, 1))
    (True, '3.1')
    """

    round: int
    node: int

    def __str__(self) -> str:
        return f"{self.round}.{self.node}"

    def __jsonable__(self) -> str:
        return str(self)


def exponential_window(jitter: float, multiplier: float, failures: int, longest: float) -> float:
    """The random window after the ``failures``-th failed ballot, ``jitter *
    multiplier^(failures - 1)``, but at most a million times ``longest``: the wait is
    cut to ``longest`` anyway, and a proposer cut off for hours fails thousands of
    ballots, whose window would overflow a float.

    >>> exponential_window(10, 2, 3, 2000)
    40
    >>> exponential_window(10, 2, 5000, 2000), exponential_window(10, 1e308, 2, 2000)
    (2000000000.0, 2000000000.0)
    """
    cap = 1e6 * longest
    if jitter <= 0:
        return jitter
    if math.log(jitter) + (failures - 1) * math.log(multiplier) >= math.log(cap):
        return cap
    return jitter * multiplier ** (failures - 1)


# ---- messages -------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Prepare:
    ballot: Ballot

    def label(self) -> str:
        return f"P{self.ballot}"


@dataclass(frozen=True, slots=True)
class Promise:
    ballot: Ballot
    accepted_ballot: Ballot | None
    accepted_value: Any

    def label(self) -> str:
        seen = f"({self.accepted_ballot},{self.accepted_value})" if self.accepted_ballot else "(-)"
        return f"Promise {self.ballot} {seen}"


@dataclass(frozen=True, slots=True)
class Accept:
    ballot: Ballot
    value: Any

    def label(self) -> str:
        return f"A{self.ballot} {self.value}"


@dataclass(frozen=True, slots=True)
class Accepted:
    ballot: Ballot
    value: Any

    def label(self) -> str:
        return f"Accepted {self.ballot}"


@dataclass(frozen=True, slots=True)
class Reject:
    """An acceptor's "no": it has promised ``promised``, higher than ``ballot``."""

    ballot: Ballot
    promised: Ballot

    def label(self) -> str:
        return f"Reject {self.ballot}<{self.promised}"


@dataclass(frozen=True, slots=True)
class Learn:
    ballot: Ballot
    value: Any

    def label(self) -> str:
        return f"Learn {self.value}"


@dataclass(frozen=True, slots=True)
class Ask:
    """A node that does not know the outcome asks a peer: "was a value chosen?"."""

    def label(self) -> str:
        return "Ask"


#: Every message type of the protocol (scenario rules may name only these).
MESSAGES = (Prepare, Promise, Accept, Accepted, Reject, Learn, Ask)


# ---- timers -----------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PhaseTimeout:
    """No majority answered ``ballot`` in time: try again."""

    ballot: Ballot


@dataclass(frozen=True, slots=True)
class Backoff:
    """The wait after a failed ballot is over: start a higher ballot."""


@dataclass(frozen=True, slots=True)
class LearnTimeout:
    """Still no ``Learn``: ask the peers what was chosen."""


class PaxosNode(Node):
    """One node playing proposer, acceptor and learner."""

    STATE = ("promised", "accepted_ballot", "accepted_value", "round", "highest_round_seen",
             "value", "ballot", "phase", "promises", "accepts", "proposal", "preemptions",
             "failures", "timeout", "learned", "learned_ballot", "ask_wait")
    #: they only set delays (time-out, back-off) or count (preemptions): the search skips them
    TIMING = ("preemptions", "failures", "timeout")

    def __init__(self, node_id: str, cluster: Sequence[str], options: Mapping[str, Any] | None = None):
        super().__init__(node_id, cluster, {**DEFAULT_OPTIONS, **(options or {})})
        self.bugs = frozenset(self.options["bugs"])
        self.index = self.cluster.index(node_id) + 1
        self.backoff_policy = {**DEFAULT_OPTIONS["backoff"], **self.options["backoff"]}
        # acceptor (persisted)
        self.promised: Ballot | None = None
        self.accepted_ballot: Ballot | None = None
        self.accepted_value: Any = None
        # proposer (round persisted, the rest volatile)
        self.round = 0
        self.highest_round_seen = 0
        self.value: Any = None
        self.ballot: Ballot | None = None
        self.phase = "idle"  # idle | prepare | accept | backoff | done
        self.promises: dict[str, tuple[Ballot | None, Any]] = {}
        #: (ballot, value) -> acceptors that said Accepted, for every ballot it proposed
        self.accepts: dict[tuple[Ballot, Any], frozenset[str]] = {}
        self.proposal: Any = None
        self.preemptions = 0
        self.failures = 0  # ballots of this proposal given up so far (pre-empted or timed out)
        self.timeout = float(self.options["proposal_timeout"])  # grows each time it fires
        # learner (learned persisted; the asking schedule volatile)
        self.learned: Any = None
        self.learned_ballot: Ballot | None = None
        self.ask_wait: float | None = None  # None: not asking (yet)

    # ---- proposer ---------------------------------------------------------
    def propose(self, value: Any, round: int = 0) -> None:
        """A client asks this node to get ``value`` chosen.

        ``round`` is the lowest round to start from (scenarios use it to number
        ballots as the course's figures do, e.g. ``3.1`` and ``4.5``).
        """
        self.value = value
        self.highest_round_seen = max(self.highest_round_seen, round - 1)
        self.note("propose", value=value)
        if self.phase in ("idle", "done") and self.learned is None:
            self.start_ballot()

    def start_ballot(self) -> None:
        """Phase 1a: pick a ballot higher than any seen and send ``Prepare`` to all."""
        self.round = max(self.round, self.highest_round_seen) + 1
        self.persist(round=self.round)
        self.ballot = Ballot(self.round, self.index)
        self.phase = "prepare"
        self.promises = {}
        self.note("ballot", ballot=self.ballot)
        self.broadcast(Prepare(self.ballot))
        self.set_timer(PhaseTimeout(self.ballot), self.timeout)
        self.start_asking()

    def on_promise(self, msg: Promise, src: str) -> None:
        """Phase 2a: on a majority of promises, pick the value and send ``Accept``.

        The value is that of the highest-numbered accepted proposal reported,
        or this proposer's own value if no acceptor reported one.  Phase 2 gets
        a fresh phase timeout.
        """
        if msg.ballot != self.ballot or self.phase != "prepare":
            return
        self.promises[src] = (msg.accepted_ballot, msg.accepted_value)
        if len(self.promises) < self.majority:
            return
        reported = [p for p in self.promises.values() if p[0] is not None]
        if reported and "proposer-ignores-accepted" not in self.bugs:
            adopted_from, value = max(reported, key=lambda p: p[0])
        else:
            adopted_from, value = None, self.value
        self.proposal = value
        self.phase = "accept"
        self.promises = {}  # read only in phase prepare: forget who answered
        self.note("phase2", ballot=self.ballot, value=value, adopted_from=adopted_from)
        self.broadcast(Accept(self.ballot, value))
        self.set_timer(PhaseTimeout(self.ballot), self.timeout)

    def on_accepted(self, msg: Accepted, src: str) -> None:
        """Learning (*Paxos Made Simple* §2.3): the proposer of a ballot is its
        distinguished learner.  It counts ``Accepted`` per proposal for every ballot
        it proposed, the ones it has since left too: a majority that accepted one
        proposal chose its value, whatever the proposer did since.  Then it stops
        proposing and tells every learner (itself included)."""
        if self.learned is not None:
            return
        proposal = (msg.ballot, msg.value)
        voters = self.accepts.get(proposal, frozenset())
        if src in voters:
            return
        voters |= {src}
        self.accepts = {**self.accepts, proposal: voters}
        if len(voters) != self.majority:  # past it: already told
            return
        self.stop_proposing()
        self.note("chosen", ballot=msg.ballot, value=msg.value)
        self.broadcast(Learn(msg.ballot, msg.value))

    def stop_proposing(self) -> None:
        """The outcome is known: no more ballots, time-outs or back-offs."""
        if self.phase in ("prepare", "accept", "backoff"):
            self.cancel_timer(PhaseTimeout(self.ballot))
            self.cancel_timer(Backoff())
            self.phase = "done"

    def on_reject(self, msg: Reject, src: str) -> None:
        """An acceptor turned our ballot down: it promised a higher one."""
        self.highest_round_seen = max(self.highest_round_seen, msg.promised.round)
        if msg.ballot == self.ballot:
            self.preempted(msg.promised)

    def preempted(self, by: Ballot) -> None:
        """Abandon the current ballot once a higher one is known; retry after a back-off.

        Paxos lets a proposer give up a ballot at any time; it should once a
        higher ballot has begun, since acceptors will refuse its accepts.
        """
        if self.phase not in ("prepare", "accept") or by <= self.ballot:
            return
        self.preemptions += 1
        self.give_up("preempted", by=by)

    def on_phase_timeout(self, timer: PhaseTimeout) -> None:
        """No majority answered in time (messages lost or slow, acceptors down):
        give the ballot up, back off as if pre-empted, and wait longer next time."""
        if timer.ballot != self.ballot or self.phase not in ("prepare", "accept"):
            return
        waited = self.timeout
        self.timeout = min(self.timeout * self.options["timeout_growth"], self.options["timeout_max"])
        self.give_up("timeout", waited=waited)

    def give_up(self, why: str, **detail: Any) -> None:
        """Leave the current ballot (noted as ``why``) and back off; with no wait
        at all (policy ``none``), start the next ballot at once."""
        self.phase = "backoff"
        self.failures += 1
        self.cancel_timer(PhaseTimeout(self.ballot))
        wait = self.backoff_delay()
        self.note(why, ballot=self.ballot, **detail, wait=wait)
        if wait > 0:
            self.set_timer(Backoff(), wait)
        else:
            self.start_ballot()

    def backoff_delay(self) -> float:
        """How long to wait after the ``failures``-th failed ballot (see ``BACKOFF_POLICIES``)."""
        policy = self.backoff_policy
        name = policy["policy"]
        if name == "none":
            return 0.0
        if name == "fixed":
            return float(policy["base"])
        jitter = policy["jitter"]
        if name == "exponential":
            jitter = exponential_window(jitter, policy["multiplier"], self.failures, policy["max"])
        wait = policy["base"] + (self.rng.uniform(0, jitter) if jitter else 0.0)
        return min(wait, policy["max"]) if name == "exponential" else wait

    def on_backoff(self, timer: Backoff) -> None:
        """The back-off is over: try again with a higher ballot (unless learned meanwhile)."""
        if self.phase == "backoff":
            self.start_ballot()

    # ---- learner ------------------------------------------------------------
    def on_learn(self, msg: Learn, src: str) -> None:
        """A peer reports a chosen value; remember it and stop proposing and asking."""
        if self.learned != msg.value or self.learned_ballot is None:
            self.learned, self.learned_ballot = msg.value, msg.ballot
            self.note("learned", value=msg.value, ballot=msg.ballot)
            self.persist(learned=self.learned, learned_ballot=self.learned_ballot)
        self.stop_proposing()
        self.accepts = {}  # read only until something is learned
        if self.ask_wait is not None:
            self.cancel_timer(LearnTimeout())
            self.ask_wait = None

    def start_asking(self) -> None:
        """This node takes part in a round it may not hear the end of: unless it
        knows the outcome, ask the peers after ``learn_retry`` ms."""
        if self.learned is None and self.ask_wait is None and self.options["learn_retry"] is not None:
            self.ask_wait = float(self.options["learn_retry"])
            self.set_timer(LearnTimeout(), self.ask_wait)

    def on_learn_timeout(self, timer: LearnTimeout) -> None:
        """Still no ``Learn``: ask every peer, and ask again later (twice as long)."""
        if self.learned is not None or self.ask_wait is None:
            return
        self.note("ask")
        self.broadcast(Ask(), include_self=False)
        self.ask_wait = min(self.ask_wait * 2, self.options["learn_retry_max"])
        self.set_timer(LearnTimeout(), self.ask_wait)

    def on_ask(self, msg: Ask, src: str) -> None:
        """A peer asks what was chosen: answer if this node has learned it."""
        if self.learned is not None:
            self.send(src, Learn(self.learned_ballot, self.learned))

    def on_recover(self) -> None:
        """Back from a crash with only what was on disk: find out what was chosen meanwhile."""
        super().on_recover()
        self.start_asking()

    # ---- acceptor -----------------------------------------------------------
    def remember_vote(self) -> None:
        """Acceptors write promise and vote to disk before they reply."""
        if "acceptor-forgets-on-crash" not in self.bugs:
            self.persist(promised=self.promised, accepted_ballot=self.accepted_ballot,
                         accepted_value=self.accepted_value)

    def on_prepare(self, msg: Prepare, src: str) -> None:
        """Phase 1b: promise never to answer ballots <= n nor accept ballots < n,
        and report the highest-numbered proposal accepted so far."""
        self.highest_round_seen = max(self.highest_round_seen, msg.ballot.round)
        if self.promised is not None and msg.ballot <= self.promised:
            self.send(src, Reject(msg.ballot, self.promised))
            return
        self.promised = msg.ballot
        self.note("promised", ballot=msg.ballot)
        self.remember_vote()
        self.start_asking()
        if "promise-omits-accepted" in self.bugs:
            self.send(src, Promise(msg.ballot, None, None))
        else:
            self.send(src, Promise(msg.ballot, self.accepted_ballot, self.accepted_value))
        self.preempted(msg.ballot)  # our own proposal, if any, is now outbid

    def on_accept(self, msg: Accept, src: str) -> None:
        """Phase 2b: accept unless a higher ballot was promised (promise 2)."""
        self.highest_round_seen = max(self.highest_round_seen, msg.ballot.round)
        below_promise = self.promised is not None and msg.ballot < self.promised
        if below_promise and "accept-below-promise" not in self.bugs:
            self.send(src, Reject(msg.ballot, self.promised))
            return
        if not below_promise:
            self.promised = msg.ballot
        self.accepted_ballot, self.accepted_value = msg.ballot, msg.value
        self.note("accepted", ballot=msg.ballot, value=msg.value)
        self.remember_vote()
        self.start_asking()
        self.send(src, Accepted(msg.ballot, msg.value))


# ---- scenario validation ----------------------------------------------------
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
        v.number(f"{field}.multiplier", value["multiplier"], minimum=1)
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


def _validate_propose(v, field: str, value: Any, nodes: list[str]) -> None:
    v.object(field, value, {"node", "value"}, {"round"})
    v.node(f"{field}.node", value["node"], nodes)
    v.of_type(f"{field}.value", value["value"], str | int | float, "a string or number")
    if "round" in value:
        v.of_type(f"{field}.round", value["round"], int, "a whole number")
        v.number(f"{field}.round", value["round"], minimum=1)


def _perform(sim, options: dict[str, Any], action: str, value: Any) -> None:
    sim.invoke(value["node"], "propose", value["value"], value.get("round", 0))


# ---- summary and report -------------------------------------------------------
def chosen_moments(trace, acceptors: int) -> list[dict[str, Any]]:
    """Each ``{ballot, value, at, seq, acceptors}`` a majority of ``acceptors`` accepted, by time.

    A value is **chosen** at the moment a majority of acceptors has accepted it
    under one ballot: ``at`` (and ``seq``) is that majority's last acceptance.
    This reads the acceptors' ``accepted`` events (what the run recorded), so it
    holds whether or not anybody has found out yet; *learning* it comes later.

    >>> from paxoslab.trace import Trace
    >>> t = Trace()
    >>> for time, node in [(3, "S3"), (6, "S4"), (6, "S5"), (10, "S1")]:
    ...     t.add(time, "accepted", node=node, payload={"ballot": "4.5", "value": "X"})
    >>> chosen_moments(t, acceptors=5)
    [{'ballot': '4.5', 'value': 'X', 'at': 6, 'seq': 2, 'acceptors': ['S3', 'S4', 'S5']}]
    """
    majority = acceptors // 2 + 1
    votes: dict[tuple[str, Any], set[str]] = {}
    moments = []
    for e in trace.of_kind("accepted"):
        key = (e.payload["ballot"], e.payload["value"])
        voters = votes.setdefault(key, set())
        if e.node not in voters:
            voters.add(e.node)
            if len(voters) == majority:
                moments.append({"ballot": key[0], "value": key[1], "at": e.time, "seq": e.seq,
                                "acceptors": sorted(voters)})
    return moments


def _summarize(sim) -> dict[str, Any]:
    """``learned``/``learned_at`` per node; ``decided``, and ``decided_at`` = its chosen moment.

    ``learned`` is what each node knows was chosen at the end (read from the
    node, or from its disk if it is down) and ``learned_at`` when it first
    learned that value.  ``decided`` is the value the run decided: the value
    the nodes learned (null if no node learned one, or if nodes learned
    different values, which only a bug can cause).  ``decided_at`` is the
    moment that value was *chosen* — a majority of acceptors accepted it under
    one ballot — which comes before anyone can learn it.  A value can be chosen
    without anybody finding out for a long time (a duel that keeps pre-empting
    the proposers, lesson 03): ``decided`` stays null until somebody learns it.
    """
    learned = {}
    for node_id in sim.node_ids:
        node = sim.nodes.get(node_id)
        learned[node_id] = node.learned if node is not None else sim.stable[node_id].get("learned")
    learned_at: dict[str, float | None] = dict.fromkeys(sim.node_ids)
    for e in sim.trace.of_kind("learned"):
        if learned_at.get(e.node) is None and e.payload["value"] == learned.get(e.node):
            learned_at[e.node] = e.time
    values = {v for v in learned.values() if v is not None}
    decided = values.pop() if len(values) == 1 else None
    moments = [m for m in chosen_moments(sim.trace, len(sim.node_ids)) if m["value"] == decided]
    return {
        "learned": learned,
        "learned_at": learned_at,
        "decided": decided,
        "ballots": [e.payload["ballot"] for e in sim.trace.of_kind("ballot")],
        "decided_at": moments[0]["at"] if decided is not None and moments else None,
        **_liveness(sim, decided),  # ballots_per_node, preemptions, livelocked
    }


def _liveness(sim, decided: Any) -> dict[str, Any]:
    """How hard the proposers tried: ballots started and pre-emptions per node, and
    ``livelocked``: nothing decided by the end while some live proposer was still trying."""
    ballots = dict.fromkeys(sim.node_ids, 0)
    preemptions = dict.fromkeys(sim.node_ids, 0)
    for event in sim.trace.of_kind("ballot", "preempted"):
        (ballots if event.kind == "ballot" else preemptions)[event.node] += 1
    trying = any(node is not None and node.phase in ("prepare", "accept", "backoff")
                 for node in sim.nodes.values())
    return {"ballots_per_node": ballots, "preemptions": preemptions,
            "livelocked": decided is None and trying}


def _describe(summary: Mapping[str, Any]) -> list[str]:

    at = summary["decided_at"]
    when = {n: t for n, t in summary["learned_at"].items() if t is not None}
    learned = "  ".join(
        f"{node}={show(v)}" + (f" (t={when[node]:g})" if node in when else "")
        for node, v in summary["learned"].items())
    return [
        f"decided    {show(summary['decided'])}"
        + (f"  (chosen at t={at:g})" if at is not None else ""),
        f"learned    {learned if when else per_node(summary['learned'])}",
        f"ballots    {', '.join(summary['ballots']) or '-'}",
    ]


def _ballot_key(ballot: str | None) -> tuple[int, int]:
    """``"4.5"`` -> ``(4, 5)`` (None sorts lowest), to compare ballots as the trace writes them."""
    if ballot is None:
        return (-1, -1)
    round_, node = str(ballot).split(".")
    return (int(round_), int(node))


def _state_changes(trace, nodes) -> list[tuple[float, int, str, dict[str, Any]]]:
    """Each node's ``promised`` / ``accepted`` / ``learned`` after every change, from the trace.

    Follows the acceptor's rules as the run recorded them: a promise raises
    ``promised``; accepting ``(b, v)`` sets ``accepted`` and raises ``promised``
    to ``b`` if it was lower; a crash leaves the node ``down``; a recovery
    restores what it had written to disk (the ``recover`` event carries it).
    """
    blank = {"promised": None, "accepted": None, "learned": None, "down": False}
    state = {n: dict(blank) for n in nodes}
    changes = []
    for e in trace.events:
        if e.node not in state or e.kind not in ("promised", "accepted", "learned", "crash",
                                                   "recover"):
            continue
        s, p = dict(state[e.node]), e.payload or {}
        if e.kind == "promised":
            s["promised"] = p["ballot"]
        elif e.kind == "accepted":
            s["accepted"] = f"({p['ballot']}, {p['value']})"
            if _ballot_key(p["ballot"]) > _ballot_key(s["promised"]):
                s["promised"] = p["ballot"]
        elif e.kind == "learned":
            s["learned"] = p["value"]
        elif e.kind == "crash":
            s["down"] = True
        else:  # recover: back from the disk, nothing else
            ballot = p.get("accepted_ballot")
            s = {"promised": p.get("promised"),
                 "accepted": f"({ballot}, {p.get('accepted_value')})" if ballot else None,
                 "learned": p.get("learned"), "down": False}
        state[e.node] = s
        changes.append((e.time, e.seq, e.node, s))
    return changes


def _moments(trace, nodes) -> list[dict[str, Any]]:
    """The chosen moment(s): ``kind="chosen"`` with the ballot, value and the majority."""
    out, first = [], {}
    for m in chosen_moments(trace, len(nodes)):
        majority = ", ".join(m["acceptors"])
        again = m["value"] in first
        if again:
            text = (f"({m['ballot']}, {m['value']}) now has a majority too ({majority}); "
                    f"{m['value']} was already chosen at t={first[m['value']]:g}")
        else:
            first[m["value"]] = m["at"]
            text = (f"{m['value']} is chosen: a majority ({majority}) has now accepted "
                    f"({m['ballot']}, {m['value']})")
        out.append({"kind": "chosen", "time": m["at"], "seq": m["seq"], "value": m["value"],
                    "ballot": m["ballot"], "again": again, "text": text})
    return out


def _ballot_source(payload: Mapping[str, Any]) -> str:
    source = payload.get("adopted_from")
    return f"adopted from ballot {source}" if source else "its own value: no promise carried one"


SENTENCES = {
    "propose": lambda e, p: f"{e.node} is asked to propose {p['value']}",
    "ballot": lambda e, p: f"{e.node} starts ballot {p['ballot']} and sends Prepare {p['ballot']}",
    "promised": lambda e, p: f"{e.node} promises {p['ballot']}",
    "phase2": lambda e, p: f"{e.node} has promises from a majority for {p['ballot']}: "
                           f"sends Accept {p['ballot']} {p['value']} ({_ballot_source(p)})",
    "accepted": lambda e, p: f"{e.node} accepts ({p['ballot']}, {p['value']})",
    "chosen": lambda e, p: f"{e.node} has Accepted {p['ballot']} from a majority, so it knows "
                           f"{p['value']} was chosen: it sends Learn {p['value']} to every learner",
    "learned": lambda e, p: f"{e.node} learns {p['value']} (now it knows {p['value']} was chosen)",
    "preempted": lambda e, p: f"{e.node} abandons {p['ballot']} (higher ballot {p['by']} seen), "
                              f"retries in {p['wait']:.3g} ms",
    "timeout": lambda e, p: f"{e.node} hears no majority for {p['ballot']} within {p['waited']:.3g} ms: "
                            f"gives it up, retries in {p['wait']:.3g} ms",
    "ask": lambda e, p: f"{e.node} has not learned the outcome yet: asks its peers",
    "send:Reject": lambda e, p: f"{e.src} rejects {e.dst}'s ballot {p['ballot']}: "
                                f"it promised {p['promised']}",
}

COLORS = {
    "Prepare": "#1f77b4", "Promise": "#0f9aaa", "Accept": "#2ca02c", "Accepted": "#8c564b",
    "Reject": "#d62728", "Learn": "#9467bd",
    "Ask": "#bcbd22",
}


def _ignored_for_good(sim, src: str, dst: str, msg: Any, spent: frozenset[str]) -> bool:
    """A message whose delivery, now or later, changes nothing that decides what a node
    does (``spent``: the nodes that start no more ballots in this search):

    * a ``Promise`` for a ballot or phase its proposer has left;
    * an ``Accepted`` to a node that has learned a value: it counts replies only
      until it learns, and ``learned`` is persisted and never reset (a proposer
      that has left the ballot still counts them, see ``on_accepted``);
    * a ``Reject`` that names a promise no higher than its proposer's ballot, or one
      for a ballot its proposer has left that does not raise the round its next
      ballot starts from — or that proposer starts no more ballots;
    * a ``Prepare`` or ``Accept`` that its acceptor turns down, now and for good,
      without raising the round its own next ballot would start from, sent by a
      proposer that has left that ballot and starts no more: the ``Reject`` it would
      bring back is ignored for good.

    Why for good: a proposer leaves prepare for accept, and accept for done or
    back-off, never the other way within one ballot, and each new ballot is
    higher than any before it, even after a crash (the round is persisted).
    After a crash ``highest_round_seen`` may be raised again, but a raise up to
    ``round`` leaves the next ballot the same.  An acceptor's promise only grows
    and is persisted before it replies, unless ``acceptor-forgets-on-crash`` is on
    (then no request is dropped); with ``accept-below-promise`` on, no ``Accept`` is.
    No other bug changes how ballots are numbered, promised or left.

    >>> sim = type("World", (), {})()
    >>> node = PaxosNode("S1", ["S1", "S2", "S3"]); sim.nodes = {"S1": node}
    >>> node.propose("X"); node.ballot, node.phase
    (Ballot(round=1, node=1), 'prepare')
    >>> _ignored_for_good(sim, "S2", "S1", Promise(node.ballot, None, None), frozenset())
    False
    >>> _ignored_for_good(sim, "S2", "S1", Accepted(node.ballot, "X"), frozenset())
    False
    >>> outbid = Reject(node.ballot, Ballot(1, 2))
    >>> _ignored_for_good(sim, "S2", "S1", outbid, frozenset({"S1"}))  # pre-empts this ballot
    False
    >>> node.phase = "backoff"  # left it: only the next ballot's round could change
    >>> [_ignored_for_good(sim, "S2", "S1", Reject(node.ballot, Ballot(2, 2)), spent)
    ...  for spent in (frozenset(), frozenset({"S1"}))]
    [False, True]
    """
    node = sim.nodes.get(dst)
    if node is None:
        return False
    kind = type(msg)
    if kind is Promise:
        return msg.ballot != node.ballot or node.phase != "prepare"
    if kind is Accepted:
        return node.learned is not None
    if kind is Reject:
        if node.ballot is not None and msg.promised <= node.ballot:
            return True  # outbids nothing, now or later; raises the round past nothing
        if msg.ballot == node.ballot and node.phase in ("prepare", "accept"):
            return False
        round_ = msg.promised.round
        return dst in spent or (round_ <= node.highest_round_seen and round_ <= node.round)
    if kind is Prepare or kind is Accept:
        promised = node.promised
        if promised is None or src not in spent or "acceptor-forgets-on-crash" in node.bugs:
            return False
        if kind is Prepare:
            refused = msg.ballot <= promised
        else:
            refused = msg.ballot < promised and "accept-below-promise" not in node.bugs
        if not refused or (dst not in spent and msg.ballot.round > node.round):
            return False
        proposer = sim.nodes.get(src)
        return (proposer is None or msg.ballot != proposer.ballot
                or proposer.phase not in ("prepare", "accept"))
    return False


def _same_effect_as(sim, src: str, dst: str, msg: Any) -> Any:
    """An ``Accept`` its acceptor turns down for good has, whenever it is delivered, the
    effect of a ``Prepare`` for the same ballot (both bring back the same ``Reject``
    and raise the same round): the search treats the two alike.  Any other message
    is itself.  (With ``accept-below-promise`` or ``acceptor-forgets-on-crash`` on,
    nothing is turned down for good.)

    >>> sim = type("World", (), {})()
    >>> node = PaxosNode("S3", ["S1", "S2", "S3"]); sim.nodes = {"S3": node}
    >>> node.promised = Ballot(2, 2)
    >>> _same_effect_as(sim, "S1", "S3", Accept(Ballot(1, 1), "X"))
    Prepare(ballot=Ballot(round=1, node=1))
    """
    if type(msg) is not Accept:
        return msg
    node = sim.nodes.get(dst)
    if (node is None or node.promised is None or not msg.ballot < node.promised
            or node.bugs & {"accept-below-promise", "acceptor-forgets-on-crash"}):
        return msg
    return Prepare(msg.ballot)


def _may_start_ballot(node: PaxosNode | None, actions: tuple[str, ...]) -> bool:
    """A node starts a ballot when an action asks it (to propose, say), or retrying one:
    in phase prepare or accept (pre-empted or timed out, it retries) or backing off.
    Crashing and recovering start none (a recovered node is idle).

    >>> _may_start_ballot(None, ("recover",)), _may_start_ballot(None, ("recover", "propose"))
    (False, True)
    """
    return any(a not in ("crash", "recover") for a in actions) or (
        node is not None and node.phase in ("prepare", "accept", "backoff"))


# ---- safety monitors ----------------------------------------------------------
def _votes_of(sim) -> list[tuple[Any, Any, str]]:
    """The (ballot, value, acceptor) votes visible in the last step: the stepping
    node's accepted proposal and every Accepted message sent."""
    votes = [(msg.ballot, msg.value, src) for src, _, msg in sim.step_sent
             if isinstance(msg, Accepted)] if sim.step_sent else []
    node = sim.nodes.get(sim.step_node) if sim.step_node is not None else None
    if node is not None and getattr(node, "accepted_ballot", None) is not None:
        votes.append((node.accepted_ballot, node.accepted_value, sim.step_node))
    return votes


class Agreement(Monitor):
    """At most one value is chosen, and no learner learns a value that was not chosen.

    A value is chosen once a majority of acceptors has accepted it under one
    ballot.  What an acceptor accepted is read from its state
    (``accepted_ballot``, ``accepted_value``) and from the ``Accepted``
    messages it sends; what a learner learned from its ``learned`` field.
    """

    property = "agreement"

    def __init__(self, node_ids, options) -> None:
        super().__init__(node_ids, options)
        self.majority = len(self.node_ids) // 2 + 1
        #: (ballot, value) -> the acceptors that accepted it
        self.votes: dict[tuple[Any, Any], frozenset[str]] = {}
        #: (value, ballot, acceptors, time) for each value chosen, in order
        self.chosen: tuple[tuple[Any, Any, tuple[str, ...], float], ...] = ()
        self.reported: frozenset[tuple[str, Any]] = frozenset()
        self._key: frozenset | None = None

    def key(self):
        """The values chosen, and the votes for the others: votes for a chosen value can
        change no verdict, so worlds that differ only by them are alike."""
        if self._key is None:
            chosen = frozenset(c[0] for c in self.chosen)
            self._key = (chosen, frozenset(item for item in self.votes.items()
                                           if item[0][1] not in chosen))
        return self._key

    def fork(self) -> Agreement:
        twin = object.__new__(Agreement)
        twin.__dict__ = self.__dict__.copy()
        twin.votes = dict(self.votes)
        return twin

    def after_step(self, sim) -> list[Violation]:
        found = []
        for ballot, value, acceptor in _votes_of(sim):
            voters = self.votes.get((ballot, value), frozenset())
            if acceptor in voters:
                continue
            voters = self.votes[ballot, value] = voters | {acceptor}
            self._key = None
            if len(voters) < self.majority or any(c[0] == value for c in self.chosen):
                continue
            voters = tuple(sorted(voters))
            self.chosen += ((value, ballot, voters, sim.now),)
            if len(self.chosen) > 1:
                first = self.chosen[0]
                found.append(Violation(
                    self.property, sim.now,
                    f"two values chosen: {first[0]!r} (ballot {first[1]}, accepted by "
                    f"{', '.join(first[2])} at t={first[3]:g}) and {value!r} (ballot "
                    f"{ballot}, accepted by {', '.join(voters)})",
                    tuple(sorted(set(first[2]) | set(voters))),
                ))
        node_id = sim.step_node
        node = sim.nodes.get(node_id) if node_id is not None else None
        learned = getattr(node, "learned", None) if node is not None else None
        if (learned is not None and (node_id, learned) not in self.reported
                and not any(c[0] == learned for c in self.chosen)):
            self.reported = self.reported | {(node_id, learned)}
            chosen = ", ".join(repr(c[0]) for c in self.chosen) or "nothing"
            found.append(Violation(
                self.property, sim.now,
                f"{node_id} learned {learned!r}, which no majority accepted under one ballot "
                f"(chosen so far: {chosen})",
                (node_id,),
            ))
        return found


class Validity(Monitor):
    """Only a value that some client proposed can be learned."""

    property = "validity"

    def __init__(self, node_ids, options) -> None:
        super().__init__(node_ids, options)
        self.proposed: frozenset[Any] = frozenset()
        self.reported: frozenset[tuple[str, Any]] = frozenset()

    def key(self):
        return self.proposed

    def after_step(self, sim) -> list[Violation]:
        node_id = sim.step_node
        node = sim.nodes.get(node_id) if node_id is not None else None
        if node is None:
            return []
        value = getattr(node, "value", None)
        if value is not None and value not in self.proposed:
            self.proposed = self.proposed | {value}
        learned = getattr(node, "learned", None)
        if learned is None or learned in self.proposed or (node_id, learned) in self.reported:
            return []
        self.reported = self.reported | {(node_id, learned)}
        return [Violation(self.property, sim.now,
                          f"{node_id} learned {learned!r}, which nobody proposed", (node_id,))]


def _a_value_is_chosen(sim) -> bool:
    return any(m.chosen for m in sim.monitors if isinstance(m, Agreement))


SPEC = ProtocolSpec(
    name="basic-paxos",
    node_class=PaxosNode,
    messages=MESSAGES,
    bugs=BUGS,
    perform=_perform,
    summarize=_summarize,
    summary_keys=frozenset({"learned", "learned_at", "decided", "ballots", "decided_at",
                            "ballots_per_node", "preemptions", "livelocked"}),
    monitors=(Agreement, Validity),
    goals={"a value can be chosen": _a_value_is_chosen},
    ballot_of=lambda msg: msg.ballot if isinstance(msg, Prepare) else None,
    ignored_for_good=_ignored_for_good,
    may_start_ballot=_may_start_ballot,
    same_effect_as=_same_effect_as,
    ballot_fields=("highest_round_seen",),  # read by start_ballot only
    anonymous=frozenset({Reject, Learn}),  # on_reject and on_learn never read ``src``
    option_validators=OPTION_VALIDATORS,
    actions={"propose": _validate_propose},
    action_node=lambda action, value: value["node"] if action == "propose" else None,
    describe=_describe,
    sentences=SENTENCES,
    colors=COLORS,
    marks={
        "accepted": Mark("|", "#2ca02c", lambda p: "", "accepted (a vote)"),
        "learned": Mark("*", "#9467bd", lambda p: f"learned {p['value']}",
                        "learned (knows the\nchosen value)"),
    },
    state_changes=_state_changes,
    moments=_moments,
    moment_legend={"chosen": "chosen (a majority\naccepted one ballot)"},
)
