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

(In the code: :meth:`PaxosNode.may_promise` is the first promise's test,
:meth:`PaxosNode.promise_for` the reply.)

Phase 2 — accept / accepted (接受).  With promises from a majority, the proposer
picks the value: if any promise carried an accepted proposal it *must* take the
value of the highest-numbered one; only if none did may it use its own.  It
sends ``Accept(n, value)``; acceptors accept unless they promised a higher
ballot meanwhile.  (In the code: :func:`choose_value` picks the value,
:meth:`PaxosNode.may_accept` is the second promise's test.)

Learning.  Acceptors answer ``Accepted`` to the proposer of the ballot, which
acts as that ballot's *distinguished learner* (Paxos Made Simple §2.3): it
counts the answers for every ballot it proposed, including ballots it has
since given up, and once a majority accepted one proposal it knows the value
is chosen — it has *learned* it — and tells every other learner.  (The other
option of §2.3, every acceptor telling every learner, lets learners hear one
message delay sooner but costs n² messages per ballot instead of about 2n; one
distinguished learner per ballot is the cheaper choice §2.3 describes, and it
keeps the diagrams readable.)
Giving a ballot up never "unchooses" it: a value accepted by a majority stays
chosen, and its proposer still learns it when the replies arrive.

Retrying.  A proposer that is turned down (an acceptor promised a higher
ballot) or that hears no majority within its phase timeout gives the ballot up,
waits (backs off) and retries with a higher ballot.  Two proposers that retry
at once keep pre-empting each other and never finish: that is the livelock of
lesson 03.  Paxos itself only promises safety; liveness needs the retries to
spread out — a randomised back-off whose random window doubles with every
failed ballot (the default), and a phase timeout that doubles each time it
fires, so that it soon exceeds the network's round trip whatever that is
(:meth:`PaxosNode.backoff_delay`).

Learning is retried too.  The proposer that saw its value chosen tells every
other node once; a node that has taken part (promised, accepted, proposed) or has
just recovered and still does not know the outcome asks its peers (``Ask``)
at growing intervals, and a peer that knows answers with ``Learn``.  So a lost
``Learn`` or a crash does not leave a live node ignorant for ever.

Acceptors write their promise and acceptance to stable storage before they
answer, so a crash cannot make them forget a vote (:meth:`PaxosNode.save`).

The four switchable bugs each break exactly one of these rules (see ``BUGS``),
and each lives inside the rule it breaks.

The rest of the protocol sits beside this file: ``safety.py`` (the properties
checked after every step, and the search's goals), ``story.py`` (summary,
narration, state tables), ``reductions.py`` (what the search may skip, and
why that is sound) and ``options.py`` (scenario options and actions).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from ...node import Node

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

#: what the monitors and the summary read a node's fields as (a node written from scratch must
#: keep them; see :func:`paxoslab.node.read_field`)
LEARNED = "the value it knows was chosen, or None"
PHASE = "what it is doing as a proposer: 'idle', 'prepare', 'accept', 'backoff' or 'done'"

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


def choose_value(promises: Iterable[tuple[Ballot | None, Any]], own: Any,
                 ignore_accepted: bool = False) -> tuple[Ballot | None, Any]:
    """The value-adoption rule of phase 2a: from a majority's promises, each ``(accepted
    ballot, accepted value)`` (``(None, None)``: nothing accepted), the proposal to send.

    It is the highest-numbered accepted proposal reported, or ``(None, own)`` when no
    promise carried one.  ``ignore_accepted`` is the bug ``proposer-ignores-accepted``:
    the proposer's own value, whatever the promises say.

    >>> reported = [(None, None), (Ballot(3, 1), "X"), (Ballot(2, 5), "Y")]
    >>> choose_value(reported, own="Z")
    (Ballot(round=3, node=1), 'X')
    >>> choose_value([(None, None), (None, None)], own="Z")
    (None, 'Z')
    >>> choose_value(reported, own="Z", ignore_accepted=True)
    (None, 'Z')
    """
    best: tuple[Ballot | None, Any] = (None, own)
    if ignore_accepted:
        return best
    for promise in promises:
        ballot = promise[0]
        if ballot is not None and (best[0] is None or ballot > best[0]):
            best = promise
    return best


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
             "value", "ballot", "phase", "promises", "accepts", "proposal",
             "failures", "timeout", "learned", "learned_ballot", "ask_wait")
    #: they only set delays (time-out, back-off): the search skips them
    TIMING = ("failures", "timeout", "ask_wait")
    CONFIG = ("options", "bugs", "index", "backoff_policy")

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
        self.proposal: Any = None  # the value of this ballot's Accept (counterexamples show it)
        self.failures = 0  # ballots of this proposal given up so far (pre-empted or timed out)
        self.timeout = float(self.options["proposal_timeout"])  # grows each time it fires
        # learner (learned persisted; the asking schedule volatile)
        self.learned: Any = None
        self.learned_ballot: Ballot | None = None
        self.ask_wait: float | None = None  # None: not asking (yet)

    # ---- Phase 1a (proposer): pick a ballot, send Prepare ----------------------------------------
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

    # ---- Phase 1b (acceptor): promise, or reject -------------------------------------------------
    def may_promise(self, ballot: Ballot) -> bool:
        """Promise 1: answer a ``Prepare`` only if its ballot is above every one promised.

        >>> node = PaxosNode("S3", ["S1", "S2", "S3"]); node.promised = Ballot(3, 1)
        >>> node.may_promise(Ballot(3, 1)), node.may_promise(Ballot(3, 2))
        (False, True)
        """
        return self.promised is None or ballot > self.promised

    def promise_for(self, ballot: Ballot) -> Promise:
        """The promise for ``ballot``: it reports the highest-numbered proposal accepted so
        far (nothing if none).  The bug ``promise-omits-accepted`` leaves that out.

        >>> node = PaxosNode("S3", ["S1", "S2", "S3"])
        >>> node.accepted_ballot, node.accepted_value = Ballot(3, 1), "X"
        >>> node.promise_for(Ballot(4, 2)).label()
        'Promise 4.2 (3.1,X)'
        """
        if "promise-omits-accepted" in self.bugs:
            return Promise(ballot, None, None)
        return Promise(ballot, self.accepted_ballot, self.accepted_value)

    def save(self) -> None:
        """Write promise and vote to stable storage; the reply leaves only after the
        write, so a crash cannot make the acceptor forget them (a recovered node gets
        back what was saved, :meth:`Node.restore`).  The bug
        ``acceptor-forgets-on-crash`` writes nothing: the node comes back blank.

        >>> from paxoslab.sim import Simulation
        >>> sim = Simulation(["S1"], make_node=lambda n: PaxosNode(n, ["S1"]))
        >>> sim.start(); sim.invoke("S1", "on_prepare", Prepare(Ballot(3, 1)), "S1")
        True
        >>> sim.crash("S1"); sim.recover("S1"); sim.node("S1").promised
        Ballot(round=3, node=1)
        """
        if "acceptor-forgets-on-crash" not in self.bugs:
            self.persist(promised=self.promised, accepted_ballot=self.accepted_ballot,
                         accepted_value=self.accepted_value)

    def on_prepare(self, msg: Prepare, src: str) -> None:
        """Phase 1b: promise never to answer ballots <= n nor accept ballots < n,
        and report the highest-numbered proposal accepted so far."""
        self.highest_round_seen = max(self.highest_round_seen, msg.ballot.round)
        if not self.may_promise(msg.ballot):
            self.send(src, Reject(msg.ballot, self.promised))
            return
        self.promised = msg.ballot
        self.note("promised", ballot=msg.ballot)
        self.save()
        self.start_asking()
        self.send(src, self.promise_for(msg.ballot))
        self.preempted(msg.ballot)  # our own proposal, if any, is now outbid

    # ---- Phase 2a (proposer): with a majority of promises, pick the value, send Accept -----------
    def on_promise(self, msg: Promise, src: str) -> None:
        """Phase 2a: on a majority of promises, pick the value (:func:`choose_value`: the
        highest-numbered accepted proposal reported, else its own) and send ``Accept``.
        Phase 2 gets a fresh phase timeout."""
        if msg.ballot != self.ballot or self.phase != "prepare":
            return
        self.promises[src] = (msg.accepted_ballot, msg.accepted_value)
        if len(self.promises) < self.majority:
            return
        adopted_from, value = self.decide_value(self.promises.values())
        ignored = {}
        if "proposer-ignores-accepted" in self.bugs:  # say what the bug threw away, if anything
            carried = choose_value(self.promises.values(), self.value)[0]
            ignored = {"ignored": carried} if carried is not None else {}
        self.proposal = value
        self.phase = "accept"
        self.promises = {}  # read only in phase prepare: forget who answered
        self.note("phase2", ballot=self.ballot, value=value, adopted_from=adopted_from, **ignored)
        self.broadcast(Accept(self.ballot, value))
        self.set_timer(PhaseTimeout(self.ballot), self.timeout)

    def decide_value(self, promises: Iterable[tuple[Ballot | None, Any]]) -> tuple[Ballot | None, Any]:
        """The value rule as this proposer applies it: :func:`choose_value` with its bug switch
        (a subclass, such as a homework exercise's, puts another rule here)."""
        return choose_value(promises, self.value, "proposer-ignores-accepted" in self.bugs)

    # ---- Phase 2b (acceptor): accept, or reject --------------------------------------------------
    def may_accept(self, ballot: Ballot) -> bool:
        """Promise 2: never accept a ballot below the one promised.  The bug
        ``accept-below-promise`` accepts any.

        >>> node = PaxosNode("S3", ["S1", "S2", "S3"]); node.promised = Ballot(3, 1)
        >>> node.may_accept(Ballot(2, 5)), node.may_accept(Ballot(3, 1))
        (False, True)
        """
        if "accept-below-promise" in self.bugs:
            return True
        return self.promised is None or ballot >= self.promised

    def on_accept(self, msg: Accept, src: str) -> None:
        """Phase 2b: accept unless a higher ballot was promised (promise 2); accepting
        a ballot raises the promise to it."""
        self.highest_round_seen = max(self.highest_round_seen, msg.ballot.round)
        if not self.may_accept(msg.ballot):
            self.send(src, Reject(msg.ballot, self.promised))
            return
        if self.promised is None or msg.ballot > self.promised:
            self.promised = msg.ballot
        self.accepted_ballot, self.accepted_value = msg.ballot, msg.value
        self.note("accepted", ballot=msg.ballot, value=msg.value)
        self.save()
        self.start_asking()
        self.send(src, Accepted(msg.ballot, msg.value))

    # ---- Learning (§2.3): the proposer counts Accepted, tells the learners; who missed it asks ---
    def on_accepted(self, msg: Accepted, src: str) -> None:
        """Learning (*Paxos Made Simple* §2.3): the proposer of a ballot is its
        distinguished learner.  It counts ``Accepted`` per proposal for every ballot
        it proposed, the ones it has since left too: a majority that accepted one
        proposal chose its value, whatever the proposer did since.  Counting that
        majority is how the proposer learns the value; then it tells every other
        learner."""
        if self.learned is not None:
            return
        proposal = (msg.ballot, msg.value)
        voters = self.accepts.get(proposal, frozenset())
        if src in voters:
            return
        voters |= {src}
        self.accepts = {**self.accepts, proposal: voters}
        if len(voters) != self.majority:
            return
        self.learn(msg.ballot, msg.value, counted=True)
        self.broadcast(Learn(msg.ballot, msg.value), include_self=False)

    def stop_proposing(self) -> None:
        """The outcome is known: no more ballots, time-outs or back-offs."""
        if self.phase in ("prepare", "accept", "backoff"):
            self.cancel_timer(PhaseTimeout(self.ballot))
            self.cancel_timer(Backoff())
            self.phase = "done"

    def on_learn(self, msg: Learn, src: str) -> None:
        """A peer reports a chosen value."""
        self.learn(msg.ballot, msg.value)

    def learn(self, ballot: Ballot, value: Any, counted: bool = False) -> None:
        """This node now knows ``value`` was chosen (``counted``: it counted the
        majority of ``Accepted`` itself): remember it on disk, stop proposing and asking."""
        if self.learned != value or self.learned_ballot is None:
            self.learned, self.learned_ballot = value, ballot
            self.note("learned", value=value, ballot=ballot, counted=counted)
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

    # ---- Retrying (progress, §2.4): give a ballot up, back off, try a higher one -----------------
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
        """How long to wait after the ``failures``-th failed ballot (see ``BACKOFF_POLICIES``).

        The exponential policy draws from :func:`exponential_window`, then cuts the
        wait to ``max``.

        >>> node = PaxosNode("S1", ["S1", "S2", "S3"], {"backoff": {"policy": "fixed", "base": 7}})
        >>> node.backoff_delay()
        7.0
        >>> node = PaxosNode("S1", ["S1", "S2", "S3"])  # exponential: jitter 10, doubling
        >>> node.failures = 3
        >>> 0 <= node.backoff_delay() <= 40
        True
        """
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
