"""Exercise 03: the proposer (lessons 02 and 03, Basic Paxos).

The student writes the proposer's two decisions, in the shapes of the library's
(:mod:`paxoslab.protocols.basic_paxos.node`):

1. ``choose_value(promises, own)`` — the value rule of phase 2 (Lamport's phase 2a; lesson
   02): from a majority's promises, each ``(accepted_ballot, accepted_value)`` in the order
   they arrived (``(None, None)``: that acceptor had accepted nothing), the value to send in
   ``Accept(n, value)`` with where it came from: the highest-numbered accepted proposal
   reported, exactly as reported, or ``(None, own)`` if none was
   (:func:`~paxoslab.protocols.basic_paxos.node.choose_value`);
2. ``backoff_delay(failures, rng)`` — how long a proposer waits (ms) after the
   ``failures``-th failed ballot since it was asked for its value, before it tries a higher
   one (lesson 03; :meth:`PaxosNode.backoff_delay` with :func:`exponential_window`).

Question 1 plugs the student's rule into :meth:`PaxosNode.decide_value` and is checked
as the other exercises are: breadth-first searches of small presets for safety (one of
them, ``homework-proposer-two-values``, puts two different values under two ballots into
one proposer's promises, so that a rule that adopts the first or the lowest of them is
caught every time) and timed runs for progress (a value chosen and learned by the end of
each).

Question 2 plugs the student's policy into :meth:`PaxosNode.backoff_delay`.  A back-off
cannot break safety (a wait only changes when the next ballot starts); what it must do
is keep a three-proposer duel *live*, on networks it is not told about, without costing
more than the network needs.  That is measured, not searched: a seeded sweep
(:func:`paxoslab.experiments.sweep`, :data:`DUEL_SEEDS`) of each of :data:`DUELS`, three
proposers at once on networks whose delays are fixed (so that only the back-off is
random).  On the two wide-area networks (125 ms one way and 500 ms) a value must be chosen
and learned by the run's end in at least :data:`DUEL_THRESHOLD` of the runs, else "no
progress".  On the local network (1 ms, the winner crashing) it must be within the run's
200 ms in as many; if not, the first run without one runs on to
:data:`DEADLINE_LOOK_AHEAD`: "too slow" if a value is chosen by then (the verdict shows
that run, and the waits the policy drew in it), "no progress" if not.  What the threshold
is and why, which mistakes fail which duel and which do not fail (measured on the
reference, its variants and the usual mistakes), is written beside it.  The notebook's
closing section is :meth:`BackoffQuestion.discuss`: it measures the back-offs the
notebook asks students to try and says what the measurements show, once the student's
own back-off is correct.
"""

from __future__ import annotations

import math
import os
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
from ..wording import ms
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
#: a policy is correct when a value is chosen and learned in at least this many of the runs of
#: each duel (by the run's end; in the last, within its 200 ms).  Every message takes a fixed
#: time, so the proposers' only randomness is their back-off, and a policy without randomness
#: runs the same on every seed.  Measured (30 seeds; the duels at 125 ms one way to t=5 s, at
#: 500 ms to t=30 s, at 1 ms with S5 crashing to t=200 ms), a value chosen and learned in how
#: many runs (the proposer whose ballot got a value chosen learns it one message delay later, so
#: only a value chosen in a run's last message delay would go uncounted):
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
#: stretch needs, which a growing wait reaches: see :data:`SCAN`.
DUEL_THRESHOLD = 27
#: what ``python benchmarks/backoff_duels.py scan`` found (it prints these beside its own
#: counts): random duels (fixed per-link delays, links cut, staggered starts, two to five
#: proposers, crashes), each run with four growing waits without randomness; in
#: ``reference_better`` of them one of those chose nothing by t=60 s while the reference chose
#: a value in at least 27 of 30 runs, every time ``100 * failures``; run on to t=600 s, it was
#: ``slow`` to grow (a value chosen at ``slow_chosen_at`` ms) or left with ``no_proposer``
#: (scripted crashes took every proposer down before a value was chosen; a recovered node does
#: not propose again), and ``stuck`` (still trying, nothing chosen) in none.
SCAN = {"duels": 6000, "seed": 1, "reference_better": 4, "slow": 1, "slow_chosen_at": 65554.0,
        "no_proposer": 3, "stuck": 0}


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
    name, in how many of the runs a value was chosen and learned (in a deadline duel, within
    its end), the median, first and last time until chosen (ms, None if never) and whether
    that meets the threshold.

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
                     "first_decided_at": float(times.min()) if len(times) else None,
                     "last_decided_at": float(times.max()) if len(times) else None,
                     "passes": len(times) >= DUEL_THRESHOLD})
    return rows


def _ms(t: float) -> str:
    """A time in ms as a verdict shows it: whole ms from 100 ms on, else to a tenth."""
    return f"{t:.0f}" if t >= 100 else f"{t:.1f}"


def _one_way(scenario: Mapping[str, Any]) -> float | None:
    """The scenario's one-way message delay (ms) if every message takes the same time, else None."""
    delay = scenario.get("network", {}).get("delay", {})
    return float(delay["fixed"]) if isinstance(delay, dict) and "fixed" in delay else None


def _waits(result, before: float | None) -> list[str]:
    """The ballots the proposers gave up in ``result`` (up to ``before``), as the verdict tells
    them (times as the run's summary writes them): 'S1 gave ballot 1.1 up at t=1 ms and
    waited 1000 ms'."""
    told = []
    for e in result.trace.of_kind("preempted", "timeout"):
        if before is not None and e.time > before:
            break
        wait = e.payload.get("wait")
        if wait is None:
            continue
        why = "" if e.kind == "preempted" else " (its phase timed out)"
        told.append(f"{e.node} gave ballot {e.payload['ballot']} up at t={ms(e.time)} ms{why} "
                    f"and waited {ms(wait)} ms")
    return told


class BackoffQuestion(Question):
    """Question 2: the back-off policy, graded by seeded sweeps of the duel on three networks
    (liveness and its cost are measured over many runs, not searched: a wait changes no
    safety property)."""

    #: the number of give-ups a "too slow" verdict lists (the rest are counted)
    WAITS_SHOWN = 6

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: whether a check of this question said correct since the notebook was bound
        self.earned = False

    def evaluate(self) -> Verdict:
        verdict = super().evaluate()
        if verdict.status == CORRECT:
            self.earned = True
        return verdict

    def discuss(self) -> None:
        """The notebook's closing section: the back-offs it asks students to try, measured on
        the three duels, and what that shows (it discusses this question's answer, so it is
        printed only once :meth:`check` has said correct)."""
        if not self.earned:
            print(f"Question {self.number} first: this section discusses its answer; run "
                  f"q{self.number}.check() until it says correct.")
            return
        print(discussion(closing_measurements()))

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
            "✔ correct: with your backoff_delay() three dueling proposers stay live on each of the "
            "three networks, and on the local one a value is chosen soon after the winner crashes:",
            *lines]), facts=facts)

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
        runs = (f"a value was chosen and learned {within} in {chosen} of {len(table)} seeded runs "
                f"(the check needs at least {DUEL_THRESHOLD})")
        if chosen >= DUEL_THRESHOLD:
            return {**facts, "runs_text": runs, "description": scenario["description"]}
        seed = int(table.loc[table["decided"].isna(), "seed"].iloc[0])
        if duel.deadline:
            later = self._shown(scenario, seed, cls, until=DEADLINE_LOOK_AHEAD)
            late = later.summary()
            decided_at = late["decided_at"]
            facts["look_ahead"] = {"seed": seed, "until": DEADLINE_LOOK_AHEAD, "decided_at": decided_at}
            if decided_at is not None:
                return self._too_slow(scenario, seed, later, runs, facts)
        result = self._shown(scenario, seed, cls, until=duel.shown)
        shown = self._stuck_run(result, seed, duel.shown)
        if not duel.deadline:
            text = "\n".join([
                f"✘ incorrect: no progress. No safety property broke, but in {scenario['name']} {runs}.",
                f"  The duel: {scenario['description']}.", *shown])
        else:  # not slow: stuck (a wait that shrinks, say)
            text = "\n".join([
                f"✘ incorrect: no progress. No safety property broke, but in {scenario['name']} {runs}, "
                f"and run on to t={DEADLINE_LOOK_AHEAD:g} ms the run with seed {seed} chose none either "
                f"({len(late['ballots'])} ballots started by then).",
                f"  The duel: {scenario['description']}.", *shown])
        return Verdict(INCORRECT, "no progress", text, result, "run", facts=facts)

    def _stuck_run(self, result, seed: int, shown: float) -> list[str]:
        """The lines that show a run without a value chosen, up to ``shown`` ms (and, if its
        last event came earlier, who was waiting then and until when)."""
        s = result.summary()
        last = result.end_time
        quiet = ""
        if last < shown:  # the run's summary says 'ran to' its last event: say why it is earlier
            until: dict[str, float] = {}
            for e in result.trace.of_kind("preempted", "timeout"):
                until[e.node] = e.time + (e.payload.get("wait") or 0)
            waiting = sorted(node for node, t in until.items() if t > last)
            quiet = f" (its last event at t={ms(last)} ms"
            if waiting:
                ends = sorted({until[node] for node in waiting})
                quiet += (f"; then {' and '.join(waiting)} {'was' if len(waiting) == 1 else 'were'} "
                          f"waiting, until t={' and '.join(ms(t) for t in ends)} ms")
            quiet += ")"
        return [
            f"  The first run without a value chosen (seed {seed}), its first {shown:g} ms{quiet}: "
            f"{len(s['ballots'])} ballots started, {sum(s['preemptions'].values())} of them pre-empted "
            "by a higher one; none accepted by a majority:",
            indent(result.describe()),
            f"Replay it with your code: q{self.number}.replay()",
        ]

    def _too_slow(self, scenario: dict[str, Any], seed: int, result, runs: str,
                  facts: dict[str, Any]) -> Verdict:
        """The verdict on a policy whose first run without a value in time chose one later:
        that run to its end, with the waits the policy drew in it."""
        s = result.summary()
        chosen_at = s["decided_at"]
        waits = _waits(result, chosen_at)
        listed = "; ".join(waits[:self.WAITS_SHOWN])
        if len(waits) > self.WAITS_SHOWN:
            listed += f"; and {len(waits) - self.WAITS_SHOWN} more"
        one_way = _one_way(scenario)
        trip = f" A round trip here is {2 * one_way:g} ms." if one_way is not None else ""
        times = sorted({e.time for e in result.trace if e.time <= chosen_at})
        gap = max(zip(times, times[1:], strict=False), key=lambda pair: pair[1] - pair[0], default=None)
        if gap is not None and one_way is not None and gap[1] - gap[0] > 10 * one_way:
            trip += (f" The diagram does not draw waits: its empty stretch from t={ms(gap[0])} to "
                     f"t={ms(gap[1])} ms is your proposers waiting.")
        text = "\n".join([
            f"✘ incorrect: too slow. No safety property broke, and your back-off keeps the duels on "
            f"the wide-area networks live, but in {scenario['name']} {runs}.",
            f"  The duel: {scenario['description']}.",
            f"  The first run without a value in time (seed {seed}), run on: a value was chosen at "
            f"t={ms(chosen_at)} ms. Before that, your proposers gave {len(waits)} ballots up: "
            f"{listed}.{trip}",
            f"  That run, to its last event at t={ms(result.end_time)} ms: {len(s['ballots'])} ballots "
            f"started, {sum(s['preemptions'].values())} of them pre-empted by a higher one:",
            indent(result.describe()),
            f"Replay it with your code: q{self.number}.replay()",
        ])
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


# ---- the closing section: what the three duels measure -----------------------------------------
WINDOW_LABEL = "doubling from 10 ms, no randomness"
#: the back-offs the notebook's closing section asks students to try, and one that grows
#: without randomness, in the order of its table
TRIED: dict[str, Callable] = {
    "fixed 10": lambda failures, rng: 10,
    "uniform(0, 120)": lambda failures, rng: rng.uniform(0, 120),
    "fixed 130": lambda failures, rng: 130,
    "uniform(0, 200)": lambda failures, rng: rng.uniform(0, 200),
    "fixed 520": lambda failures, rng: 520,
    "uniform(0, 800)": lambda failures, rng: rng.uniform(0, 800),
    WINDOW_LABEL: lambda failures, rng: min(10 * 2 ** (failures - 1), 2000),
}
#: lesson 03's lecture duel (two proposers) with a fixed wait just short of what ends it, and
#: a random one never longer: (label, the node's ``options.backoff``)
LECTURE_WAITS = (("a fixed wait of 0.9 ms", {"policy": "fixed", "base": 0.9}),
                 ("a random wait of 0-1 ms", {"policy": "uniform", "jitter": 1}))
LECTURE_SEEDS = range(20)
LECTURE_UNTIL = 200


def closing_measurements() -> dict[str, Any]:
    """What the closing section prints beside its words: each of :data:`TRIED` on every duel
    (:func:`measure`), the fixed 520 ms wait's local duel run on, the duels' one-way delays and
    lengths, and lesson 03's lecture duel with :data:`LECTURE_WAITS` (a few seconds)."""
    duels = [Preset(d.file).load() for d in DUELS]
    table = {name: measure(fn) for name, fn in TRIED.items()}
    local = {**duels[2], "until": DEADLINE_LOOK_AHEAD}
    saved = random.getstate()
    random.seed(0)
    try:
        late = run_scenario(local, node_class=node_class({"backoff_delay": TRIED["fixed 520"]}),
                            max_handler_seconds=None).summary()["decided_at"]
    finally:
        random.setstate(saved)
    lecture = {k: v for k, v in Preset("basic-paxos-livelock.json").load().items() if k != "expect"}
    lecture = {**lecture, "until": LECTURE_UNTIL}
    ended = {}
    for label, backoff in LECTURE_WAITS:
        data = {**lecture, "options": {**lecture.get("options", {}), "backoff": backoff}}
        ended[label] = sum(run_scenario(data, seed=seed, detailed=False).summary()["decided"] is not None
                           for seed in LECTURE_SEEDS)
    return {"table": table, "late": late, "one_way": [_one_way(d) for d in duels],
            "until": [d["until"] for d in duels], "runs": len(DUEL_SEEDS), "lecture": ended,
            "lecture_runs": len(LECTURE_SEEDS), "lecture_until": LECTURE_UNTIL}


def _cell(row: Mapping[str, Any]) -> str:
    return f"{row['chosen']:2} of {row['runs']}" + (f", {_ms(row['median_decided_at'])} ms"
                                                     if row["chosen"] else "")


def closing_claims(m: Mapping[str, Any]) -> list[tuple[str, bool]]:
    """What the words of :func:`discussion` take for granted about the measurements ``m``,
    each with whether it holds (a test checks that every one does)."""
    t = {name: [row["chosen"] for row in rows] for name, rows in m["table"].items()}
    med = {name: [row["median_decided_at"] for row in rows] for name, rows in m["table"].items()}
    n, fast, slow, lan = m["runs"], *m["one_way"]
    doubling = m["table"][WINDOW_LABEL]
    never_grow = [name for name in TRIED if name != WINDOW_LABEL]
    lecture_fixed, lecture_random = (m["lecture"][label] for label, _ in LECTURE_WAITS)
    return [
        ("fixed 10 and uniform(0, 120) end no wide-area duel",
         t["fixed 10"][:2] == t["uniform(0, 120)"][:2] == [0, 0]),
        ("fixed 130 ends every run of the first duel, all at S5's first Accept (three one-way delays)",
         t["fixed 130"][0] == n and med["fixed 130"][0] == 3 * fast
         and m["table"]["fixed 130"][0]["last_decided_at"] == 3 * fast),
        ("fixed 130 ends no run of the slower duel", t["fixed 130"][1] == 0),
        ("130 ms is more than the first duel's one-way delay, less than the slower one's", fast < 130 < slow),
        ("uniform(0, 200) passes the first duel and ends none of the second",
         t["uniform(0, 200)"][0] >= DUEL_THRESHOLD and t["uniform(0, 200)"][1] == 0),
        ("fixed 520 and uniform(0, 800) pass both wide-area duels",
         all(c >= DUEL_THRESHOLD for c in t["fixed 520"][:2] + t["uniform(0, 800)"][:2])),
        ("fixed 520 and uniform(0, 800) fail the local duel",
         t["fixed 520"][2] < DUEL_THRESHOLD and t["uniform(0, 800)"][2] < DUEL_THRESHOLD),
        ("fixed 520, run on, gets a value chosen", m["late"] is not None and m["late"] > m["until"][2]),
        ("a fixed 10 passes the local duel", t["fixed 10"][2] >= DUEL_THRESHOLD),
        ("no back-off that never grows passes all three duels",
         all(min(t[name]) < DUEL_THRESHOLD for name in never_grow)),
        ("the doubling back-off gets a value chosen in every run of every duel, every run the same",
         all(row["chosen"] == n and row["first_decided_at"] == row["last_decided_at"] for row in doubling)),
        ("in lesson 03's lecture duel the fixed wait ends no run and the random one ends every run",
         lecture_fixed == 0 and lecture_random == m["lecture_runs"]),
        ("the local network's round trip is short", lan is not None and 2 * lan < 10),
    ]


def _how_to_scan() -> str:
    """How to run the scan from where this kernel runs (or where the script lives)."""
    from .paths import locate
    script = locate("benchmarks") / "backoff_duels.py"
    if not script.exists():
        return "That scan is benchmarks/backoff_duels.py scan in the course's repository (a few minutes)."
    try:
        where = os.path.relpath(script)
    except ValueError:  # another drive (Windows)
        where = str(script)
    return (f"That scan takes a few minutes: !python {where} scan in a cell; add -n 200 for a "
            "tenth of it.")


def discussion(m: Mapping[str, Any]) -> str:
    """The closing section as printed: the table of :func:`closing_measurements` and what it
    shows (Length, Growth, Randomness), every number formatted from ``m``."""
    t, runs = m["table"], m["runs"]
    fast, slow, lan = m["one_way"]

    def c(name: str, duel: int) -> int:
        return t[name][duel]["chosen"]

    def at(name: str, duel: int) -> str:
        return _ms(t[name][duel]["median_decided_at"])

    width = max(len(name) for name in t) + 2
    heads = [f"{fast:g} ms one way", f"{slow:g} ms one way", f"{lan:g} ms, S5 crashes"]
    lines = [f"{'back-off':{width}}" + "".join(f"{h:>22}" for h in heads)]
    for name, rows in t.items():
        lines.append(f"{name:{width}}" + "".join(f"{_cell(row):>22}" for row in rows))
    ends = m["until"]
    lines.append(f"(in how many of the {runs} runs a value was chosen and learned, "
                 f"by t={ends[0] / 1000:g} s, t={ends[1] / 1000:g} s and within {ends[2]:g} ms; "
                 "the median time until chosen)")
    lines.append(f"fixed 520 on the local network, run on to t={DEADLINE_LOOK_AHEAD:g} ms: a value chosen "
                 f"at t={_ms(m['late'])} ms")
    doubling = t[WINDOW_LABEL]
    fixed_l, random_l = (label for label, _ in LECTURE_WAITS)
    scan = SCAN
    paragraphs = [
        f"Length. A fixed 10 and uniform(0, 120) never end a wide-area duel ({c('fixed 10', 0)} of "
        f"{runs} each, on both networks); a fixed 130 ends the first in every run ({c('fixed 130', 0)} "
        f"of {runs}) at t={at('fixed 130', 0)} ms, when S5's first Accept arrives. Why, when every "
        f"message takes the same time and the three proposers start together? A ballot carries its "
        f"proposer's id, so three ballots started at the same moment "
        f"are not tied: S5's is the highest, and every acceptor promises it. What S5's Accept then "
        f"needs is a quiet stretch (lesson 03): no newer Prepare may reach the acceptors before it. "
        f"Here every proposer is also an acceptor and gives its ballot up the moment it promises a "
        f"higher one, at t={fast:g} ms, when the higher Prepares reach it; its own next Prepare takes "
        f"another {fast:g} ms to arrive, so it must wait more than one one-way delay ({fast:g} ms, "
        f"half a round trip), or that Prepare gets there before S5's Accept. (A proposer that "
        f"heard of the higher ballot only through a Reject would hear of it later, and need a "
        f"shorter wait.) On the slower network one one-way delay is {slow:g} ms, and there 130 ms "
        f"never ends the duel ({c('fixed 130', 1)} of {runs}).",

        f"Growth. A wait that never grows fits the networks it was chosen for: uniform(0, 200) gets a "
        f"value chosen in {c('uniform(0, 200)', 0)} of {runs} runs on the first network and in "
        f"{c('uniform(0, 200)', 1)} on the second. Choose it long enough for the slower network, a "
        f"fixed 520 or uniform(0, 800), and it passes both wide-area duels ({c('fixed 520', 0)} and "
        f"{c('fixed 520', 1)}; {c('uniform(0, 800)', 0)} and {c('uniform(0, 800)', 1)} of {runs}), "
        f"but it is just as long on the local network, where a round trip is {2 * lan:g} ms: once S5 "
        f"has crashed, its two rivals sit out their waits before either can win. The fixed 520 gets a "
        f"value chosen within {m['until'][2]:g} ms in {c('fixed 520', 2)} of the {runs} runs (at "
        f"t={_ms(m['late'])} ms when the run goes on), uniform(0, 800) in {c('uniform(0, 800)', 2)}. "
        f"The short waits do well there (a fixed 10: {c('fixed 10', 2)} of {runs}, a median of "
        f"{at('fixed 10', 2)} ms) and fail on the wide-area networks: none of these waits that never "
        f"grow passes all three duels. A wait that doubles after each failure starts short and grows "
        f"to whatever the network needs without being told the round trip: the last line, "
        f"{doubling[0]['chosen']}, {doubling[1]['chosen']} and {doubling[2]['chosen']} of {runs} on "
        f"all three networks.",

        f"Randomness. That last back-off is not random, and it passes all three duels, every run the "
        f"same (a value chosen at t={_ms(doubling[0]['median_decided_at'])}, "
        f"{_ms(doubling[1]['median_decided_at'])} and {_ms(doubling[2]['median_decided_at'])} ms). "
        f"That is not luck of these three networks: a Paxos duel does not need randomness to end, once "
        f"its waits outgrow the message delays. The ballots' node ids already break the tie between "
        f"proposers that start a ballot together, and what ends the duel is a wait long enough for the "
        f"winner's quiet stretch, which a growing wait reaches. We looked for a duel in which a "
        f"growing wait without randomness stays stuck, in {scan['duels']:,} random duels (links of "
        f"different delays, links cut, staggered starts, two to five proposers, crashes), and found "
        f"none. In {scan['reference_better']} of them the reference did better: 100 * failures grew "
        f"too slowly ({scan['slow']} duel, a value at t={scan['slow_chosen_at'] / 1000:.1f} s), or "
        f"scripted crashes took every proposer down before a value was chosen ({scan['no_proposer']} "
        f"duels). {_how_to_scan()} So the check does not ask for randomness, and "
        f"does not fail a back-off that has none. Randomness helps where the waits are too short and "
        f"nothing else pulls the proposers apart: in lesson 03's lecture duel (two proposers), "
        f"{fixed_l} gets a value chosen and learned by t={m['lecture_until']:g} ms in "
        f"{m['lecture'][fixed_l]} of {m['lecture_runs']} runs, {random_l} in {m['lecture'][random_l]} "
        f"(the two proposers drift apart). And Raft needs it: in an election each candidate votes for "
        f"itself, a split vote elects nobody, and Raft randomises its election timeouts so that split "
        f"votes are rare. Paxos Made Simple (section 2.4) says this about electing a distinguished "
        f"proposer: by the FLP result, a reliable election must use randomness or real time "
        f"(timeouts). A back-off counts in real time too; growing is what lets it outlast delays it "
        f"was not told.",
    ]
    wrong = [claim for claim, holds in closing_claims(m) if not holds]
    if wrong:  # the words below assume these; say so rather than print them as if true
        lines.append("\n(The words below do not match these measurements: " + "; ".join(wrong) + ".)")
    return "\n".join(lines) + "\n\n" + "\n\n".join(paragraphs)


class ProposerExercise(Exercise):
    """Exercise 03: binding the notebook also forgets that question 2 was answered (its closing
    section is shown again only after a check says correct)."""

    def bind(self, namespace: Mapping[str, Any]) -> tuple[Question, ...]:
        for q in self.questions:
            if isinstance(q, BackoffQuestion):
                q.earned = False
        return super().bind(namespace)


EXERCISE = ProposerExercise(
    number="03",
    notebook="03_proposer.ipynb",
    presets=[Preset("homework-proposer-two-values.json"), Preset("homework-proposer-race.json"),
             Preset("homework-proposer-progress.json", kind="runs", seeds=range(10))],
    build=node_class,
    probes={"choose_value": _probe_choose_value, "backoff_delay": _probe_backoff_delay},
    properties=PAXOS_PROPERTIES,
    correct_words="Basic Paxos stays safe and gets a value chosen and learned",
    progress_words="had a value chosen and learned by their end",
    no_progress_words="no value was chosen and learned by the end",
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
    "through. Here every proposer is also an acceptor and gives its ballot up the moment its own "
    "acceptor promises a higher one, so one that comes back sooner than about half a round trip "
    "sends a Prepare that reaches the acceptors before that Accept. You are not told the round "
    "trip: it is 250 ms in one duel, 1 s in another and 2 ms in the third.",
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
