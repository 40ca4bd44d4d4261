"""Exercise 03: the proposer (lessons 02 and 03, Basic Paxos).

The student writes the proposer's two decisions, in the shapes of the library's
(:mod:`paxoslab.protocols.basic_paxos.node`):

1. ``choose_value(promises, own)`` — phase 2a's value rule (lesson 02): from a majority's
   promises, each ``(accepted_ballot, accepted_value)`` in the order they arrived
   (``(None, None)``: that acceptor had accepted nothing), the proposal to send: the
   highest-numbered accepted proposal reported, or ``(None, own)`` if none was
   (:func:`~paxoslab.protocols.basic_paxos.node.choose_value`);
2. ``backoff_delay(failures, rng)`` — how long a proposer waits (ms) after the
   ``failures``-th failed ballot before it tries a higher one (lesson 03;
   :meth:`PaxosNode.backoff_delay` with :func:`exponential_window`).

Question 1 plugs the student's rule into :meth:`PaxosNode.decide_value` and is checked
as the other exercises are: breadth-first searches of small presets for safety (one of
them, ``homework-proposer-two-values``, puts two different values under two ballots into
one proposer's promises, so that a rule that adopts the first or the lowest of them is
caught every time) and timed runs for progress.

Question 2 plugs the student's policy into :meth:`PaxosNode.backoff_delay`.  A back-off
cannot break safety (a wait only changes when the next ballot starts); what it must do
is keep a three-proposer duel *live*, on networks it is not told about, without costing
more than the network needs.  That is measured, not searched: a seeded sweep
(:func:`paxoslab.experiments.sweep`, :data:`DUEL_SEEDS`) of each of :data:`DUELS`, three
proposers at once on networks whose delays are fixed (so that only the back-off is
random): 125 ms one way and 500 ms, where a value must be chosen in at least
:data:`DUEL_THRESHOLD` of the runs ("no progress" otherwise), and 1 ms with the winner
crashing, where it must be chosen within the run's 200 ms in as many ("too slow"
otherwise: a wait that never grows must be long enough for the slow network, and it
costs that much on the fast one too).  What the threshold is and why, which mistakes
fail which duel and which do not fail (measured on the reference, its variants and the
usual mistakes), is written beside it.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..experiments import sweep
from ..node import Node
from ..protocols.basic_paxos.node import Ballot, PaxosNode, exponential_window
from ..runner import run_scenario
from ..sim import HandlerError, SimulationStalled
from ..watchdog import HandlerTimeLimit, handler_time_limit
from . import (
    CORRECT,
    HANDLER_SECONDS,
    INCORRECT,
    PAXOS_PROPERTIES,
    Exercise,
    Preset,
    Question,
    StudentError,
    Verdict,
    indent,
    record,
    show,
)

__all__ = ["Ballot", "DUELS", "Duel", "DUEL_SEEDS", "DUEL_THRESHOLD", "EXERCISE", "PaxosNode", "bind",
           "exponential_window", "measure", "node_class"]


class NothingToPropose(Exception):
    """The student's ``choose_value`` returned None: the proposer sends no ``Accept``."""


def _pair(value: Any) -> str:
    """A promise's report as the marks show it: ``(1.2, 'Y')`` or ``(None, None)``."""
    ballot, accepted = value
    return f"({show(ballot)}, {accepted!r})"


class ProposerExerciseNode(PaxosNode):
    """The library's node; the student's rules replace :meth:`PaxosNode.decide_value` and
    :meth:`PaxosNode.backoff_delay` (see :func:`node_class`)."""

    def on_promise(self, msg: Any, src: str) -> None:
        """Phase 2a as the library's; a ``choose_value`` that returns None proposes nothing
        (the ballot then times out and the proposer tries again)."""
        try:
            super().on_promise(msg, src)
        except NothingToPropose:
            pass


def node_class(functions: Mapping[str, Callable]) -> type[Node]:
    """A subclass of :class:`PaxosNode` that calls the given student functions (by name:
    ``choose_value``, ``backoff_delay``) for its rules."""
    body: dict[str, Any] = {"__module__": __name__}
    if "choose_value" in functions:
        fn_c = functions["choose_value"]

        def decide_value(self: PaxosNode, promises: Any) -> tuple[Ballot | None, Any]:
            reported = [tuple(p) for p in promises]
            answer = fn_c(list(reported), self.value)
            shown = "None" if answer is None else (_pair(answer) if _is_pair(answer) else repr(answer))
            record(lambda: f"choose_value(promises=[{', '.join(_pair(p) for p in reported)}], "
                           f"own={self.value!r}) returned {shown}")
            if answer is None:
                raise NothingToPropose
            if not _is_pair(answer):
                raise StudentError(f"choose_value returned {answer!r}, not a pair (ballot, value)")
            return tuple(answer)
        body["decide_value"] = decide_value
    if "backoff_delay" in functions:
        fn_b = functions["backoff_delay"]

        def backoff_delay(self: PaxosNode) -> float:
            wait = fn_b(self.failures, self.rng)
            problem = _bad_wait(wait)
            if problem:
                raise StudentError(f"backoff_delay({self.failures}, rng) returned {problem}")
            return float(wait)
        body["backoff_delay"] = backoff_delay
    return type("StudentProposer", (ProposerExerciseNode,), body)


def _is_pair(answer: Any) -> bool:
    return isinstance(answer, tuple | list) and len(answer) == 2


def _bad_wait(wait: Any) -> str | None:
    """What is wrong with a wait a student's ``backoff_delay`` returned (None: nothing)."""
    if isinstance(wait, bool) or not isinstance(wait, int | float):
        return f"{wait!r}: return the wait in ms, a number >= 0"
    if not math.isfinite(wait) or wait < 0:
        return f"{wait!r}: a wait is a finite number of ms, >= 0"
    return None


def _probe_choose_value(fn: Callable) -> str | None:
    reported = [(None, None), (Ballot(3, 1), "X"), (Ballot(2, 5), "Y")]
    for promises in (reported, [(None, None), (None, None)]):
        answer = fn(list(promises), "Z")
        if answer is not None and not _is_pair(answer):
            return (f"choose_value({promises}, 'Z') returned {answer!r}: it must return a pair "
                    "(ballot, value): the accepted proposal it adopts, or (None, own)")
    return None


def _probe_backoff_delay(fn: Callable) -> str | None:
    for failures in (1, 2, 5):
        wait = fn(failures, random.Random(0))
        problem = _bad_wait(wait)
        if problem:
            return f"backoff_delay({failures}, rng) returned {problem}"
    return None


# ---- question 2: the duel, measured -----------------------------------------------------------
@dataclass(frozen=True)
class Duel:
    """One duel of question 2: its preset, how much of a failing run the verdict shows (and
    draws), in ms, and whether the run's end is a deadline (a value chosen later is "too
    slow") or only a horizon (a run without a value by then is "no progress")."""

    file: str
    shown: float
    deadline: bool = False


#: the three-proposer duels the back-off must keep live, on networks it is not told about:
#: every message takes 125 ms one way; 500 ms; 1 ms, with the winner of the first collision
#: crashing before its Accept, so that the value is chosen as soon as the others' wait allows
DUELS = (Duel("homework-proposer-duel.json", 600), Duel("homework-proposer-duel-slow.json", 2400),
         Duel("homework-proposer-duel-lan.json", 200, deadline=True))
#: their seeds: fixed, so a policy gets the same verdict on every attempt
DUEL_SEEDS = range(30)
#: after a run of the deadline duel without a value, the same seed runs on to this (ms) to say
#: when a value is chosen
DEADLINE_LOOK_AHEAD = 6000
#: a policy is correct when a value is chosen in at least this many of the runs of each duel
#: (in the last, within its 200 ms).  Every message takes a fixed time, so the proposers' only
#: randomness is their back-off, and a policy without randomness runs the same on every seed.
#: Measured (30 seeds; the duels at 125 ms one way to t=5 s, at 500 ms to t=30 s, at 1 ms with
#: S5 crashing to t=200 ms), a value chosen in how many runs:
#:
#: ==========================================================  ======  ======  =========
#: policy (ms; k failures, w = min(10 * 2 ** (k-1), 2000))     125 ms  500 ms  1 ms, LAN
#: ==========================================================  ======  ======  =========
#: the reference: uniform(0, w)                                30      30      30
#: doubling from 5, 20 or 50 ms; capped at 1000 or 5000 ms     30      30      30
#: uniform(w / 2, w); expovariate(1 / w)                       30      30      30
#: no wait                                                     0       0       --
#: fixed 10, 50 or 120                                         0       0       30
#: fixed 130                                                   30      0       30
#: fixed 200 or 500                                            30      0       0
#: fixed 520, 1000, 2000 or 5000                               30      30      0
#: uniform(0, 10) or uniform(0, 120)                           0       0       30
#: uniform(0, 150)                                             13      0       30
#: uniform(0, 200)                                             28      0       30
#: uniform(0, 600)                                             30      17      19
#: uniform(0, 800)                                             30      29      15
#: uniform(0, 1500), (0, 3000), (0, 6000)                      30      30      12, 6, 2
#: w without randomness, or 10 * 2 ** (k-1) uncapped           30      30      30
#: 100 * k; w + 7                                              30      30      30
#: ==========================================================  ======  ======  =========
#:
#: (--: not measured, a livelock on a 1 ms network takes millions of messages; the check stops
#: at the first duel failed, in the order of the columns.)  The reference over seeds 0-299:
#: 300 of 300 in each, the slowest chosen at t=3154, 17250 and 14 ms (the median at 1967,
#: 10433 and 6.5 ms over seeds 0-29).  27 (90 %) leaves the reference three runs of slack
#: in each duel.  The first two catch a wait that is too short for their network (a fixed
#: wait of 500 ms or less, a window that never grows and is 0-600 ms or narrower); the third
#: catches one that is long enough for the 500 ms network without growing: it costs that much
#: on a network whose round trip is 2 ms (a fixed 520 ms: chosen at t=524 ms).  Not caught: a
#: wait that grows without randomness (doubling: chosen at t=1675, 10740 and 14 ms; 100 ms per
#: failure: 825, 7500 and 104 ms).  The ballots' node ids break every tie between proposers that
#: start a ballot together, and what ends a Paxos duel is a wait longer than the winner's quiet
#: stretch needs, which a growing wait reaches.  No duel was found in which one stays stuck
#: (``benchmarks/backoff_duels.py scan``: 6,000 random duels with fixed per-link delays, links
#: cut, staggered starts, two to five proposers, crashes; where a growing wait without randomness
#: chose nothing by t=60 s and the reference did in 27 of 30 runs, four duels, it was 100 ms per
#: failure, either slow to grow (a value at t=65.6 s) or outrun by scripted crashes that leave no
#: proposer).
DUEL_THRESHOLD = 27


def _sweep(scenario: dict[str, Any], cls: type[Node]):
    """The duel's seeded sweep with ``cls`` (a policy that draws from the random module is
    seeded too), failing runs as rows."""
    saved = random.getstate()
    random.seed(0)
    try:
        with handler_time_limit(HANDLER_SECONDS):
            return sweep(scenario, seeds=list(DUEL_SEEDS), node_class=cls, progress=False, on_error="row")
    finally:
        random.setstate(saved)


def measure(backoff_delay: Callable) -> list[dict[str, Any]]:
    """Every duel of question 2 (each one, even after one failed) with ``backoff_delay``: its
    name, in how many of the runs a value was chosen (in a deadline duel, within its end), the
    median time until chosen (ms, None if never) and whether that meets the threshold.

    >>> [(d["duel"], d["chosen"], d["passes"]) for d in measure(lambda failures, rng: 520)]
    [('homework-proposer-duel', 30, True), ('homework-proposer-duel-slow', 30, True), \
('homework-proposer-duel-lan', 0, False)]
    """
    cls = node_class({"backoff_delay": backoff_delay})
    rows = []
    for duel in DUELS:
        table = _sweep(Preset(duel.file).load(), cls)
        times = table["decided_at"].dropna()
        rows.append({"duel": duel.file.removesuffix(".json"), "chosen": len(times), "runs": len(table),
                     "median_decided_at": float(times.median()) if len(times) else None,
                     "passes": len(times) >= DUEL_THRESHOLD})
    return rows


def _ms(t: float) -> str:
    """A time in ms as a verdict shows it: whole ms from 100 ms on, else to a tenth."""
    return f"{t:.0f}" if t >= 100 else f"{t:.1f}"


class BackoffQuestion(Question):
    """Question 2: the back-off policy, graded by seeded sweeps of the duel on three networks
    (liveness and its cost are measured over many runs, not searched: a wait changes no
    safety property)."""

    def _evaluate(self) -> Verdict:
        ex = self.exercise
        functions = ex.functions()
        (name,) = self.names
        unready = self.unready(functions)
        if unready is not None:
            return unready
        cls = ex.node_class({name: functions[name]})
        lines, duels = [], []
        for duel in DUELS:
            verdict = self._duel(Preset(duel.file).load(), duel, cls)
            if isinstance(verdict, Verdict):
                return verdict
            duels.append(verdict)
            lines.append(f"  {verdict['name']}: {verdict['runs_text']}; median time until chosen "
                         f"{_ms(verdict['median_decided_at'])} ms.\n    ({verdict['description']})")
        facts = {k: duels[0][k] for k in ("runs", "chosen", "threshold", "median_decided_at")}
        facts["duels"] = [{k: v for k, v in d.items() if k not in ("runs_text", "description")}
                          for d in duels]
        facts["sweep_seconds"] = sum(d["sweep_seconds"] for d in duels)
        return Verdict(CORRECT, text="\n".join([
            "✔ correct: with your backoff_delay() three dueling proposers stay live on every "
            "network, and on the local one a value is chosen soon after the winner crashes:", *lines]),
            facts=facts)

    def _duel(self, scenario: dict[str, Any], duel: Duel, cls: type[Node]) -> Verdict | dict[str, Any]:
        """One duel's sweep: its facts, or the verdict if it failed."""
        started = time.perf_counter()
        table = _sweep(scenario, cls)
        seconds = time.perf_counter() - started
        failed = table[table["error"].notna()]
        if len(failed):
            return self._rerun_failure(scenario, int(failed["seed"].iloc[0]), cls)
        broken = table[table["n_violations"] > 0]
        if len(broken):  # a wait cannot break safety; if it ever did, say so
            seed = int(broken["seed"].iloc[0])
            result = self._shown(scenario, seed, cls, until=None)
            v = result.summary()["violations"][0]
            return Verdict(INCORRECT, v["property"],
                           f"✘ incorrect: {v['property']} is broken ({scenario['name']}, seed "
                           f"{seed}): {v['detail']}\nReplay it with your code: q{self.number}.replay()",
                           result, "run")
        chosen = int(table["decided"].notna().sum())
        median = float(table["decided_at"].dropna().median()) if chosen else None
        facts = {"name": scenario["name"], "runs": len(table), "chosen": chosen,
                 "threshold": DUEL_THRESHOLD, "median_decided_at": median, "sweep_seconds": seconds,
                 "deadline": scenario["until"] if duel.deadline else None}
        within = f"within {scenario['until']:g} ms" if duel.deadline else f"by t={scenario['until']:g} ms"
        runs = (f"a value was chosen {within} in {chosen} of {len(table)} seeded runs "
                f"(the check needs at least {DUEL_THRESHOLD})")
        if chosen >= DUEL_THRESHOLD:
            return {**facts, "runs_text": runs, "description": scenario["description"]}
        seed = int(table.loc[table["decided"].isna(), "seed"].iloc[0])
        result = self._shown(scenario, seed, cls, until=duel.shown)
        s = result.summary()
        shown = [
            f"  The first run without a value chosen (seed {seed}), its first {duel.shown:g} ms: "
            f"{len(s['ballots'])} ballots started, {sum(s['preemptions'].values())} of them pre-empted "
            "by a higher one; none accepted by a majority:",
            indent(result.describe()),
            f"Replay it with your code: q{self.number}.replay()",
        ]
        if not duel.deadline:
            text = "\n".join([
                f"✘ incorrect: no progress. No safety property broke, but in {scenario['name']} {runs}.",
                f"  The duel: {scenario['description']}.", *shown])
            return Verdict(INCORRECT, "no progress", text, result, "run", facts=facts)
        later = self._shown(scenario, seed, cls, until=DEADLINE_LOOK_AHEAD).summary()["decided_at"]
        facts["look_ahead"] = {"seed": seed, "until": DEADLINE_LOOK_AHEAD, "decided_at": later}
        if later is None:  # not slow: stuck (a wait that shrinks, say)
            text = "\n".join([
                f"✘ incorrect: no progress. No safety property broke, but in {scenario['name']} {runs}, "
                f"and run on to t={DEADLINE_LOOK_AHEAD:g} ms the run with seed {seed} chose none either.",
                f"  The duel: {scenario['description']}.", *shown])
            return Verdict(INCORRECT, "no progress", text, result, "run", facts=facts)
        text = "\n".join([
            f"✘ incorrect: too slow. No safety property broke, and your back-off keeps the duels on "
            f"the wide-area networks live, but in {scenario['name']} {runs}.",
            f"  The duel: {scenario['description']}.",
            f"  Run on, the run with seed {seed} chose a value at t={_ms(later)} ms. A round trip here "
            "is 2 ms: a back-off that starts small and grows with failures gets a value chosen within a "
            "few round trips. A wait that is long enough for the 500 ms network from the first failure "
            "on (a fixed wait, or a window that never grows) costs that much on this network too.",
            *shown])
        return Verdict(INCORRECT, "too slow", text, result, "run", facts=facts)

    def replay(self, draw: bool = True):
        """Run the last counterexample again with your code (a policy that draws from the
        random module gets the same draws as in the check)."""
        saved = random.getstate()
        random.seed(0)
        try:
            return super().replay(draw)
        finally:
            random.setstate(saved)

    def _shown(self, scenario: dict[str, Any], seed: int, cls: type[Node], until: float | None):
        """One run of the sweep again, in detail (up to ``until``), as a scenario that
        replays it: its seed written in."""
        data = {**scenario, "seed": seed, "expect": {}}
        if until is not None:
            data["until"] = until
        saved = random.getstate()
        random.seed(0)
        try:
            with handler_time_limit(HANDLER_SECONDS):
                return run_scenario(data, node_class=cls, max_handler_seconds=None)
        finally:
            random.setstate(saved)

    def _rerun_failure(self, scenario: dict[str, Any], seed: int, cls: type[Node]) -> Verdict:
        try:
            self._shown(scenario, seed, cls, until=None)
        except (HandlerError, SimulationStalled) as exc:
            return self._failure(exc, f"the duel with seed {seed}")
        except HandlerTimeLimit as exc:  # pragma: no cover - the watchdog reports it as a HandlerError
            return self._failure(exc, f"the duel with seed {seed}")
        return Verdict(INCORRECT, "error", f"✘ incorrect: a run of the duel (seed {seed}) failed "
                                           "in the sweep but not when run alone")


EXERCISE = Exercise(
    number="03",
    notebook="03_proposer.ipynb",
    presets=[Preset("homework-proposer-two-values.json"), Preset("homework-proposer-race.json"),
             Preset("homework-proposer-progress.json", kind="runs", seeds=range(10))],
    build=node_class,
    probes={"choose_value": _probe_choose_value, "backoff_delay": _probe_backoff_delay},
    properties=PAXOS_PROPERTIES,
    correct_words="Basic Paxos stays safe and decides",
    progress_words="decided a value",
    no_progress_words="no value was ever decided",
)

q1 = EXERCISE.question(["choose_value"], "the value rule", [
    "If no promise carries an accepted proposal, the proposer is free: (None, own). "
    "Otherwise it is not free at all: it must propose a value some acceptor already accepted.",
    "Which one? Several promises may carry different values, accepted under different ballots. "
    "The order in which the promises arrived means nothing: it is an accident of the network.",
    "Take the proposal with the highest-numbered ballot (ballots compare like tuples: "
    "Ballot(2, 1) < Ballot(2, 3) < Ballot(3, 1)); skip the (None, None) entries, since None "
    "does not compare with a ballot.",
    "Why the highest: once a value v is chosen under ballot b, every higher-numbered proposal "
    "must have value v (Paxos Made Simple, P2b). Your majority of promises shares an acceptor "
    "with the majority that accepted v, and that acceptor reports a proposal numbered b or "
    "higher, which (by the same argument) carries v. A lower-numbered report may be a value "
    "that lost.",
])
q2 = BackoffQuestion(EXERCISE, 2, ["backoff_delay"], "the back-off", [
    "Lesson 03: the proposer with the highest ballot needs a quiet stretch to get its Accept "
    "through; a turned-down proposer that comes back sooner than about half a round trip sends "
    "a Prepare that reaches the acceptors before that Accept. Here you are not told the round trip: "
    "it is 250 ms in one duel, 1 s in another and 2 ms in the third.",
    "Let the wait start small and grow with failures: it soon exceeds half the round trip, "
    "whatever that is, and where a round trip is short it stays short. A wait that is long from "
    "the first failure on (a fixed 520 ms) is long enough everywhere, and costs that much where a "
    "round trip is 2 ms. Drawing it at random (rng.uniform(0, window)) spreads proposers that "
    "failed together apart; here the ballots' node ids already break their ties, so the check "
    "does not require it, but it is how a back-off is usually written.",
    "Start small (10 ms) and double the window after each failure; cap it (say at 2000 ms) so "
    "a proposer cut off for a long time does not wait for ever: "
    "rng.uniform(0, min(10 * 2 ** (failures - 1), 2000)).",
])
EXERCISE.questions.append(q2)


def bind(namespace: Mapping[str, Any]) -> tuple[Question, ...]:
    """``q1, q2 = bind(globals())``: the checkers read your functions from there."""
    return EXERCISE.bind(namespace)
