"""Homework: exercises where students write a protocol's rules, and the checkers that grade them.

In an exercise notebook (Kaggle-Learn style)::

    from paxoslab.homework import acceptor
    q1, q2, q3, q4 = acceptor.bind(globals())   # the checkers read your functions from here

    def may_promise(promised, ballot):
        ...
    q1.check()      # "not attempted", "incorrect: ..." with a counterexample, or "correct"
    q1.hint()       # one more hint per call
    q1.solution()   # the reference solution (if this copy of the course has it)

A check plugs the student's functions into a subclass of the library's node (the rest of the
protocol is the library's) and runs it through the exercise's presets
(``data/scenarios/homework-*.json``):

* **safety**: a breadth-first search of each small preset (every interleaving of
  deliveries, losses where allowed, crashes and scenario actions): a violation comes
  back as the *shortest* counterexample, told step by step and drawn;
* **progress**: timed runs over fixed seeds whose ``expect`` says something was decided
  (``{"decided": {"not": null}}``) or a leader elected: a node that does nothing is
  safe, and it is "incorrect: no progress".

Everything is deterministic (search and seeds), so a wrong solution fails the same way on
every attempt.  Student code that raises or loops for ever (the per-handler time limit,
:mod:`paxoslab.watchdog`) is a finding, "incorrect: your may_accept raised ...", never a
crash of ``check()``.  ``check()`` prints; :meth:`Question.evaluate` returns the
:class:`Verdict` (tests and the bulk grader read that).

Reference solutions live outside the package, in ``notebooks/exercises/solutions/``:
``solution()`` prints the question's block from there, or says the solutions are not part
of this copy of the course.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import sys
import textwrap
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..node import Node
from ..runner import Result, build_simulation, run_scenario
from ..scenario import load as load_scenario
from ..search import search
from ..sim import HandlerError, SimulationStalled
from ..watchdog import HandlerTimeLimit, handler_time_limit
from .paths import SCENARIOS, SOLUTIONS, locate

__all__ = ["NOT_ATTEMPTED", "INCORRECT", "CORRECT", "Exercise", "Question", "Verdict",
           "PAXOS_PROPERTIES", "RAFT_PROPERTIES",
           "SCENARIOS", "SOLUTIONS", "locate"]

NOT_ATTEMPTED, INCORRECT, CORRECT = "not attempted", "incorrect", "correct"


#: what each Basic Paxos property means, in a verdict (Paxos Made Simple §2.1)
PAXOS_PROPERTIES = {
    "agreement": "Two different values were chosen (each accepted by a majority under one "
                 "ballot), or a node learned a value that was not chosen.",
    "validity": "A value nobody proposed was chosen.",
}
#: what each Raft property means, in a verdict (Raft Figure 3); a commit index covers
#: what its server takes as committed, which only the commit rule makes committed
RAFT_PROPERTIES = {
    "election-safety": "Two leaders were elected in the same term (Raft Figure 3, Election Safety: "
                       "at most one leader per term).",
    "leader-append-only": "A leader overwrote or deleted an entry of its own log (Raft Figure 3, "
                          "Leader Append-Only).",
    "log-matching": "Two logs hold an entry with the same index and term but differ before it "
                    "(Raft Figure 3, Log Matching).",
    "leader-completeness": "A later leader lacks an entry that a server's commit index had covered "
                           "(Raft Figure 3, Leader Completeness: a committed entry is in the log of "
                           "every later leader).",
    "state-machine-safety": "Two servers applied different commands at the same index (Raft Figure 3, "
                            "State Machine Safety).",
}

#: wall-time limit for one call of a student's function (a loop is stopped and named)
HANDLER_SECONDS = 2.0
#: wall-time budget of one preset's search: presets are sized to end far below it
SEARCH_SECONDS = 15.0


@dataclass
class Verdict:
    """What a check found: ``status`` (not attempted / incorrect / correct), the
    ``property`` broken (``"no progress"`` for a node that never gets anywhere), the text
    shown to the student and, when there is one, the run that shows it."""

    status: str
    property: str | None = None
    text: str = ""
    counterexample: Result | None = None
    #: where the counterexample came from: "search" (shortest) or "run" (a seeded timed run)
    found_by: str | None = None
    seconds: float = 0.0
    facts: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.text


class StudentError(Exception):
    """A student's function raised, or returned something it must not."""


@dataclass(frozen=True)
class Preset:
    """One scenario of a check: ``search`` (BFS, safety) or ``runs`` (timed, over ``seeds``)."""

    file: str
    kind: str = "search"
    seeds: Sequence[int] = (0,)
    #: elections (or ballots) each node may start in the search
    max_ballots: int = 1

    def load(self) -> dict[str, Any]:
        return json.loads((SCENARIOS / self.file).read_text(encoding="utf-8"))


def _raised_here(exc: BaseException, fn: Callable) -> bool:
    """True when ``exc`` was raised by ``fn``'s own code (not by something it called)."""
    tb = exc.__traceback__
    last = None
    while tb is not None:
        last = tb.tb_frame.f_code
        tb = tb.tb_next
    return last is getattr(fn, "__code__", None)


def _origin(exc: BaseException) -> BaseException:
    """The student's exception inside a HandlerError (or the exception itself)."""
    return getattr(exc, "original", None) or exc


def _student_frame(exc: BaseException, names: Sequence[str]) -> str | None:
    """The name of the innermost function of the student's (by name) on the traceback."""
    found = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.name in names:
            found = frame.name
    return found


#: while a counterexample is told, the calls of the student's functions in the current step
_RECORDED: list[str] | None = None


def record(text: Callable[[], str]) -> None:
    """Note a call of a student's function (``text`` is only built while a counterexample is told)."""
    if _RECORDED is not None:
        _RECORDED.append(text())


def show(value: Any) -> str:
    """An argument as the notes show it: ballots as ``1.2``, a log by its length and last term.

    >>> show(((1, "a"), (2, "b"))), show(()), show("S1"), show(None)
    ('a log of 2 ending in term 2', 'an empty log', "'S1'", 'None')
    """
    if isinstance(value, tuple) and not hasattr(value, "_fields") and all(
            isinstance(e, tuple) and e and isinstance(e[0], int) for e in value):
        return f"a log of {len(value)} ending in term {value[-1][0]}" if value else "an empty log"
    if hasattr(value, "label"):
        return value.label()
    return str(value) if hasattr(value, "_fields") else repr(value)


def your_calls(scenario: Mapping[str, Any], node_class: type[Node]) -> dict[int, list[str]]:
    """Step number -> what the student's functions were called with and answered in that step
    of a counterexample (its ``schedule`` replayed with ``node_class``)."""
    global _RECORDED
    data = load_scenario(scenario)
    sim = build_simulation(data, data.get("seed", 0), detailed=False, node_class=node_class, timed=False)
    calls: dict[int, list[str]] = {}
    try:
        with handler_time_limit(HANDLER_SECONDS):
            sim.start()
            for number, entry in enumerate(data["schedule"], start=1):
                _RECORDED = []
                sim.step(sim.decode(entry))
                if _RECORDED:
                    calls[number] = _RECORDED
    finally:
        _RECORDED = None
    return calls


def mark_steps(lines: Sequence[str], calls: Mapping[int, list[str]]) -> list[str]:
    """``explain()``'s numbered steps with, after each step, the student's calls in it (◀)."""
    out: list[str] = []
    step = None
    numbered = re.compile(r"^\s*(\d+)\. ")

    def flush() -> None:
        for text in calls.get(step, []):
            out.append(f"         ◀ your {text}")

    for line in lines:
        match = numbered.match(line)
        if match:
            flush()
            step = int(match.group(1))
        elif not line.startswith(" "):
            flush()
            step = None
        out.append(line)
    flush()
    return out


class Question:
    """One question of an exercise: the functions the student writes for it, its hints,
    and how to build a node class from them."""

    #: what a "not attempted" verdict asks for, once the function is defined
    write_it = "Write its body, run the cell, then check again."

    def __init__(self, exercise: Exercise, number: int, names: Sequence[str], title: str,
                 hints: Sequence[str]) -> None:
        self.exercise, self.number, self.names, self.title = exercise, number, tuple(names), title
        self.hints = tuple(hints)
        self._hints_shown = 0
        self.verdict: Verdict | None = None

    def __repr__(self) -> str:
        return f"<exercise {self.exercise.number} question {self.number}: {self.title}>"

    # ---- what the student calls ------------------------------------------------------
    def check(self, draw: bool = True) -> None:
        """Grade the functions of this question and print the verdict (never raises)."""
        verdict = self.evaluate()
        print(verdict.text)
        if draw and verdict.counterexample is not None:
            _draw(verdict.counterexample, f"q{self.number}: {verdict.property}")

    def hint(self) -> None:
        """Print the next hint (each call shows one more)."""
        if not self.hints:
            print("No hints for this question.")
            return
        shown = min(self._hints_shown, len(self.hints) - 1)
        self._hints_shown = shown + 1
        print(f"Hint {shown + 1} of {len(self.hints)}: {self.hints[shown]}")
        if shown + 1 == len(self.hints):
            print(f"That was the last hint; q{self.number}.solution() shows a solution.")

    def solution(self) -> None:
        """Print the reference solution of this question, if this copy of the course has it."""
        text = self.exercise.solution_text(self.number)
        if text is None:
            print("The solutions are not part of this copy of the course: ask your instructor.")
            return
        print(f"Solution to question {self.number} ({self.title}):\n")
        print(text)

    def replay(self, draw: bool = True) -> Result | None:
        """Run the last counterexample again, with YOUR code, and tell it step by step."""
        if self.verdict is None or self.verdict.counterexample is None:
            print(f"Nothing to replay: run q{self.number}.check() first (a replay needs an "
                  "incorrect verdict's counterexample).")
            return None
        shown = self.verdict.counterexample
        node_class = self.node_class()
        try:
            with handler_time_limit(HANDLER_SECONDS):  # a timed run's counterexample: its own seed
                result = run_scenario(shown.scenario, seed=shown.seed, node_class=node_class,
                                      max_handler_seconds=None)
        except (HandlerError, SimulationStalled) as exc:
            print(f"Your code failed on the replay: {exc}")
            return None
        print(result.narrate())
        if draw:
            _draw(result, f"replay of q{self.number}'s counterexample with your code")
        return result

    def node_class(self) -> type[Node]:
        """The node class this question checks: your functions for it, the rest the library's."""
        functions = self.exercise.functions()
        return self.exercise.node_class({n: functions[n] for n in self.names if n in functions})

    @property
    def counterexample(self) -> dict[str, Any] | None:
        """The last counterexample as a scenario (a dict with its ``schedule``, or the
        ``seed`` of the timed run that failed), or None."""
        if self.verdict is None or self.verdict.counterexample is None:
            return None
        shown = self.verdict.counterexample
        return {**shown.scenario, "seed": shown.seed}

    # ---- grading -----------------------------------------------------------------------
    def evaluate(self) -> Verdict:
        """Grade and return the :class:`Verdict` (also kept as ``self.verdict``)."""
        start = time.perf_counter()
        printed = io.StringIO()  # a print in a rule would print once per search step
        try:
            with contextlib.redirect_stdout(printed):
                verdict = self._evaluate()
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # noqa: BLE001 - a check never crashes: say what happened
            verdict = Verdict(INCORRECT, "error", f"✘ incorrect: the check could not run your code: "
                                                   f"{type(exc).__name__}: {exc}")
        lines = printed.getvalue().count("\n")
        if lines:
            verdict.text += f"\n  (your code printed {lines:,} lines during the check; they are not shown)"
        verdict.seconds = time.perf_counter() - start
        self.verdict = verdict
        return verdict

    def _evaluate(self) -> Verdict:
        ex = self.exercise
        functions = ex.functions()
        unready = self.unready(functions)
        if unready is not None:
            return unready
        node_class = ex.node_class({n: functions[n] for n in self.names})
        facts: dict[str, Any] = {"searches": [], "runs": 0}
        for preset in ex.presets:
            data = preset.load()
            if preset.kind == "search":
                verdict = self._search(data, preset.max_ballots, node_class, facts)
            else:
                verdict = self._runs(data, preset.seeds, node_class, facts)
            if verdict is not None:
                return verdict
        yours = " and ".join(f"{n}()" for n in self.names)
        text = (f"✔ correct: with your {yours} in the library's node, {ex.correct_words}.\n"
                f"  safety: searching every interleaving of {len(facts['searches'])} small scenarios "
                f"found no violation;\n"
                f"  progress: {facts['runs']} of {facts['runs']} timed runs {ex.progress_words}.")
        return Verdict(CORRECT, text=text, facts=facts)

    def unready(self, functions: Mapping[str, Callable]) -> Verdict | None:
        """The verdict before any grading: not attempted (a function of this question not
        defined, or still raising NotImplementedError) or incorrect (its probe call failed);
        None when every function of the question is ready to be graded."""
        for name in self.names:
            if name not in functions:
                return Verdict(NOT_ATTEMPTED, text=f"◯ not attempted: define {name}() in a cell above "
                                                   f"and run that cell, then check again.")
        for name in self.names:
            problem = self.exercise.probe(name, functions[name])
            if problem == NOT_ATTEMPTED:
                return Verdict(NOT_ATTEMPTED, text=f"◯ not attempted: {name}() still raises "
                                                   f"NotImplementedError. {self.write_it}")
            if problem:
                return Verdict(INCORRECT, "error", f"✘ incorrect: {problem}")
        return None

    def _failure(self, exc: BaseException, where: str) -> Verdict:
        original = _origin(exc)
        names = [n for n in self.exercise.student_names]
        culprit = _student_frame(original, names)
        if isinstance(original, NotImplementedError) and culprit:
            detail = (f"{culprit}() still raises NotImplementedError (it is called here: write it "
                      "first)")
        elif isinstance(original, HandlerTimeLimit):
            who = f"your {culprit}()" if culprit else "a handler"
            detail = f"{who} did not return within {HANDLER_SECONDS:g} s (an endless loop?)"
        else:
            who = f"your {culprit}()" if culprit else "your code"
            detail = f"{who} raised {type(original).__name__}: {original}"
        return Verdict(INCORRECT, "error", f"✘ incorrect: {detail}\n  while running {where}:\n  {exc}")

    def _search(self, data: dict[str, Any], max_ballots: int, node_class: type[Node],
                facts: dict) -> Verdict | None:
        try:
            with handler_time_limit(HANDLER_SECONDS):
                result = search(data, node_class=node_class, max_seconds=SEARCH_SECONDS, progress=False,
                                max_ballots=max_ballots)
        except (HandlerError, SimulationStalled) as exc:
            return self._failure(exc, f"the search of {data['name']}")
        if result.counterexample is not None:
            steps = result.explain().splitlines()
            body = [line for line in steps[1:]
                    if not line.startswith(("goal '", "bounded:", "replay:", "replay with your node:",
                                            "violation of "))]
            try:
                body = mark_steps(body, your_calls(result.counterexample.scenario, node_class))
            except Exception:  # noqa: BLE001 - the steps stand without the marks
                pass
            v = result.violation
            meaning = self.exercise.properties.get(result.property, "")
            text = "\n".join([
                f"✘ incorrect: {result.property} is broken. {meaning}",
                f"  The shortest run that breaks it ({len(result.counterexample.scenario['schedule'])} "
                f"steps, found by searching every interleaving of {data['name']}: "
                f"{data.get('description', '')}).",
                "  ◀ marks what your function was asked, and what it answered, at that step:",
                *("  " + line for line in body),
                f"Replay it with your code: q{self.number}.replay()   "
                f"(the scenario is q{self.number}.counterexample)",
            ])
            return Verdict(INCORRECT, result.property, text, result.counterexample, "search",
                           facts={"violation": v.to_dict() if v else None})
        if not result.complete:
            return Verdict(INCORRECT, "unverified",
                           f"✘ not verified: the search of {data['name']} did not finish in "
                           f"{SEARCH_SECONDS:g} s ({result.stopped}); is your code very slow?")
        facts["searches"].append((data["name"], result.states))
        return None

    def _runs(self, data: dict[str, Any], seeds: Sequence[int], node_class: type[Node],
              facts: dict) -> Verdict | None:
        for seed in seeds:
            try:
                with handler_time_limit(HANDLER_SECONDS):
                    result = run_scenario(data, seed=seed, node_class=node_class, max_handler_seconds=None)
            except (HandlerError, SimulationStalled) as exc:
                return self._failure(exc, f"{data['name']} with seed {seed}")
            summary = result.summary()
            if summary["violations"]:
                v = summary["violations"][0]
                text = (f"✘ incorrect: {v['property']} is broken "
                        f"(a timed run of {data['name']}, seed {seed}): {v['detail']}\n"
                        f"Replay it with your code: q{self.number}.replay()")
                return Verdict(INCORRECT, v["property"], text, result, "run")
            if not summary["expect"]["ok"]:
                failed = summary["expect"]["failed"][0]
                text = (f"✘ incorrect: no progress. No safety property broke, but in a timed run of "
                        f"{data['name']} (seed {seed}: {data.get('description', '')}) "
                        f"{self.exercise.no_progress_words}: {failed['key']} is {failed['actual']!r} "
                        f"at t={result.end_time:g} ms.\n"
                        f"{indent(result.describe())}\n"
                        f"Replay it with your code: q{self.number}.replay()")
                return Verdict(INCORRECT, "no progress", text, result, "run")
            facts["runs"] += 1
        return None


def _draw(result: Result, title: str) -> None:
    """The run as a sequence diagram, shown now (a notebook displays it below the check)."""
    try:
        import matplotlib.pyplot as plt

        from ..plots import sequence_diagram
        sequence_diagram(result, title=title)
        plt.show()
    except Exception as exc:  # noqa: BLE001 - the verdict stands without its picture
        print(f"(the diagram could not be drawn: {type(exc).__name__}: {exc})", file=sys.stderr)


class Exercise:
    """An exercise: its questions, its presets, and how a node class is built from the
    student's functions (``build(functions) -> node class``; missing functions are the
    library's)."""

    def __init__(self, number: str, notebook: str, presets: Sequence[Preset],
                 build: Callable[[Mapping[str, Callable]], type[Node]],
                 probes: Mapping[str, Callable[[Callable], str | None]],
                 properties: Mapping[str, str], correct_words: str, progress_words: str,
                 no_progress_words: str) -> None:
        self.number, self.notebook, self.presets = number, notebook, tuple(presets)
        self.build, self.probes, self.properties = build, dict(probes), dict(properties)
        self.correct_words, self.progress_words = correct_words, progress_words
        self.no_progress_words = no_progress_words
        self.questions: list[Question] = []
        self.namespace: Mapping[str, Any] | None = None

    @property
    def student_names(self) -> list[str]:
        return [n for q in self.questions for n in q.names]

    def question(self, names: Sequence[str], title: str, hints: Sequence[str]) -> Question:
        q = Question(self, len(self.questions) + 1, names, title, hints)
        self.questions.append(q)
        return q

    def bind(self, namespace: Mapping[str, Any]) -> tuple[Question, ...]:
        """Read the student's functions from ``namespace`` (a notebook's ``globals()``)."""
        self.namespace = namespace
        for q in self.questions:
            q._hints_shown = 0
            q.verdict = None
        return tuple(self.questions)

    def functions(self) -> dict[str, Callable]:
        """The student's functions defined so far (by name)."""
        space = self.namespace or {}
        return {n: space[n] for n in self.student_names if callable(space.get(n))}

    def node_class(self, functions: Mapping[str, Callable]) -> type[Node]:
        return self.build(functions)

    def probe(self, name: str, fn: Callable) -> str | None:
        """Call ``fn`` once on a typical input (under the time limit): ``NOT_ATTEMPTED``
        if it raises NotImplementedError itself, a problem in words, or None."""
        try:
            with handler_time_limit(HANDLER_SECONDS):
                return _call_in_handler(lambda: self.probes[name](fn))
        except NotImplementedError as exc:
            if _raised_here(exc, fn):
                return NOT_ATTEMPTED
            culprit = _student_frame(exc, self.student_names) or name
            return f"{culprit}() still raises NotImplementedError (called by {name}(): write it first)"
        except HandlerTimeLimit:
            return f"{name}() did not return within {HANDLER_SECONDS:g} s: an endless loop?"
        except Exception as exc:  # noqa: BLE001 - the student's exception is the finding
            return f"your {name}() raised {type(exc).__name__}: {exc}"

    def solution_text(self, number: int) -> str | None:
        """The question's ``# BEGIN SOLUTION`` block from the solution notebook, or None."""
        path = SOLUTIONS / self.notebook
        if not path.exists():
            return None
        from .build import solution_blocks
        blocks = solution_blocks(path)
        return blocks.get(number)


class _Probe(Node):
    """A node whose only job is to run a probe through :meth:`Node.call`, so that the
    handler time limit (which watches calls into nodes) also stops a probe that loops."""

    def run(self, thunk: Callable[[], Any]) -> None:
        self.result = thunk()


def _call_in_handler(thunk: Callable[[], Any]) -> Any:
    probe = _Probe("probe", ["probe"])
    probe.call("run", (thunk,), 0.0)
    return probe.result


def indent(text: str) -> str:
    return textwrap.indent(text, "  ")
