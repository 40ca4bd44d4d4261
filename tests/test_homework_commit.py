"""Exercise 05 (the leader's commit rule) is graded too: the reference solution passes within
20 s, the mistakes students make fail with the right property on every attempt (the same
shortest counterexample twice), a rule that never moves is "no progress", and the exercise's
node with the library's rule runs as the library's node."""

from __future__ import annotations

import json
import re

import pytest
from homework_notebooks import exercise_namespace

import paxoslab as pl
from paxoslab.homework import CORRECT, INCORRECT, NOT_ATTEMPTED, SOLUTIONS, build, commit
from paxoslab.protocols.multi_paxos.node import MultiPaxosNode

NOTEBOOK = "05_commit.ipynb"


def namespace_of(student: bool = False, extra: str = "") -> tuple[dict, tuple]:
    return exercise_namespace(NOTEBOOK, commit, student, extra)


def grade(question: int, extra: str = "", student: bool = False):
    _, questions = namespace_of(student, extra)
    return questions[question - 1].evaluate()


@pytest.mark.parametrize("question", [1, 2])
def test_reference_solution_is_correct(question):
    verdict = grade(question)
    assert verdict.status == CORRECT, verdict.text
    assert verdict.text.startswith("✔ correct")
    assert verdict.seconds < 20


WRONG = {
    "count the leader twice": (1, "leader-completeness", "homework-commit-ahead", """
        def stored_on_majority(match, index):
            return 2 + sum(1 for m in match if m >= index) > (len(match) + 1) // 2
        """),
    "forget the +1 of a majority": (1, "leader-completeness", "homework-commit-ahead", """
        def stored_on_majority(match, index):
            return 1 + sum(1 for m in match if m >= index) >= (len(match) + 1) // 2
        """),
    "the highest match index instead of the majority's": (
        1, "leader-completeness", "homework-commit-five", """
        def stored_on_majority(match, index):
            return max(match) >= index
        """),
    "the leader does not count itself": (1, "no progress", "homework-commit-progress", """
        def stored_on_majority(match, index):
            return sum(1 for m in match if m >= index) > (len(match) + 1) // 2
        """),
    "commit an old-term entry by counting": (2, "leader-completeness", "homework-commit-figure-8", """
        def commit_index(match, log, term, commit):
            for n in range(len(log), commit, -1):
                if stored_on_majority(match, n):
                    return n
            return commit
        """),
    "check the term of the last entry, not of the one committed": (
        2, "leader-completeness", "homework-commit-figure-8", """
        def commit_index(match, log, term, commit):
            if not log or log[-1][0] != term:
                return commit
            for n in range(len(log), commit, -1):
                if stored_on_majority(match, n):
                    return n
            return commit
        """),
    "commit the whole log once a majority stores an entry of the term": (
        2, "leader-completeness", "homework-commit-ahead", """
        def commit_index(match, log, term, commit):
            for n in range(len(log), commit, -1):
                if log[n - 1][0] == term and stored_on_majority(match, n):
                    return len(log)
            return commit
        """),
    "the majority's match index, without the term": (2, "leader-completeness", "homework-commit-figure-8", """
        def commit_index(match, log, term, commit):
            indexes = sorted(list(match) + [len(log)], reverse=True)
            return max(commit, indexes[len(indexes) // 2])
        """),
    "do nothing": (2, "no progress", "homework-commit-progress", """
        def commit_index(match, log, term, commit):
            return commit
        """),
}


@pytest.mark.parametrize("mistake", list(WRONG))
def test_a_wrong_solution_fails_with_its_property_every_time(mistake):
    question, prop, preset, code = WRONG[mistake]
    first, second = grade(question, code), grade(question, code)
    for verdict in (first, second):
        assert verdict.status == INCORRECT, verdict.text
        assert verdict.property == prop, verdict.text
        assert verdict.counterexample is not None
        assert verdict.counterexample.scenario["name"].startswith(preset)
        assert verdict.seconds < 20
    assert first.counterexample.scenario == second.counterexample.scenario
    if prop == "no progress":
        assert verdict.text.startswith("✘ incorrect: no progress")
    else:
        assert verdict.found_by == "search"
        assert re.search(r"^\s+1\. ", verdict.text, re.M) and f"q{question}.replay()" in verdict.text


@pytest.mark.parametrize("mistake, mark", [
    ("the highest match index instead of the majority's",
     "◀ your stored_on_majority(match=(1, 0, 0, 0), index=1) returned True"),
    ("commit an old-term entry by counting",
     "◀ your commit_index(match=(0, 1), log terms [1], term=3, commit=0) returned 1"),
])
def test_the_counterexample_marks_what_the_students_function_answered(mistake, mark):
    question, _, _, code = WRONG[mistake]
    assert mark in grade(question, code).text


def test_the_replay_runs_the_students_code():
    _, (q1, q2) = namespace_of(extra=WRONG["commit an old-term entry by counting"][3])
    assert q2.evaluate().property == "leader-completeness"
    replayed = q2.replay(draw=False)
    assert replayed.violations and replayed.violations[0].property == "leader-completeness"
    with pytest.raises(pl.ScenarioError):  # the library's node commits nothing: the schedule cannot go on
        pl.run_scenario(q2.counterexample)


def test_skeletons_are_not_attempted(capsys):
    _, bound = namespace_of(student=True)
    for q in bound:
        q.check(draw=False)
        assert q.verdict.status == NOT_ATTEMPTED
    assert capsys.readouterr().out.count("◯ not attempted") == 2


def test_an_index_that_is_not_one_is_a_finding():
    verdict = grade(2, """
        def commit_index(match, log, term, commit):
            return stored_on_majority(match, len(log)) if log else commit
        """)
    assert verdict.status == INCORRECT and verdict.property == "error"
    assert "returned False" in verdict.text and "an index" in verdict.text


def test_an_unwritten_helper_is_named():
    verdict = grade(2, """
        def stored_on_majority(match, index):
            raise NotImplementedError("write stored_on_majority()")
        """)
    assert verdict.status == INCORRECT
    assert "stored_on_majority() still raises NotImplementedError" in verdict.text


@pytest.mark.parametrize("name", ["multi-paxos-leader-crash", "multi-paxos-partition",
                                  "multi-paxos-follower-crash", "multi-paxos-figure-8-safe"])
def test_the_commit_node_with_the_reference_runs_as_the_librarys(name, scenario):
    namespace, _ = namespace_of()
    plain = pl.run_scenario(scenario(name), node_class=MultiPaxosNode).summary()
    for functions in ({}, {"stored_on_majority": namespace["stored_on_majority"]},
                      {"commit_index": namespace["commit_index"]}):
        assert pl.run_scenario(scenario(name), node_class=commit.node_class(functions)).summary() == plain


def test_student_notebook_holds_no_solution():
    student = build.student_notebook(json.loads((SOLUTIONS / NOTEBOOK).read_text(encoding="utf-8")))
    text = json.dumps(student)
    assert "BEGIN SOLUTION" not in text and "Solution notebook" not in text
    assert text.count("raise NotImplementedError") == 2


def test_the_counterexample_is_the_same_in_another_process():
    import os
    import subprocess
    import sys
    from pathlib import Path

    mistake = "commit an old-term entry by counting"
    here = grade(2, WRONG[mistake][3]).counterexample.scenario["schedule"]
    script = (f"import json, sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
              f"from test_homework_commit import grade, WRONG; "
              f"v = grade(2, WRONG[{mistake!r}][3]); "
              f"print('SCHEDULE', json.dumps(v.counterexample.scenario['schedule']))")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONHASHSEED": "12345"}).stdout
    assert json.loads(out.split("SCHEDULE ", 1)[1]) == json.loads(json.dumps(here))
