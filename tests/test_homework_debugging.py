"""Exercise 06 (debugging a broken node) is graded too: the search finds the suspect node's
bug, the right answers pass and wrong ones are told only that they are wrong (the answers
are in no file a student gets), the optional fix is graded like the other exercises, and the
exercise's node with the library's merge runs as the library's node."""

from __future__ import annotations

import inspect
import json

import pytest
from homework_notebooks import exercise_namespace

import paxoslab as pl
from paxoslab.homework import CORRECT, INCORRECT, NOT_ATTEMPTED, SOLUTIONS, build, debugging
from paxoslab.protocols.multi_paxos.node import MultiPaxosNode

NOTEBOOK = "06_debugging.ipynb"


def namespace_of(student: bool = False, extra: str = "") -> tuple[dict, tuple]:
    """The notebook without its checks and its search, then ``extra``; the exercise bound to it."""
    return exercise_namespace(NOTEBOOK, debugging, student, extra, skip=("pl.search",))


def grade(question: int, extra: str = "", student: bool = False):
    _, questions = namespace_of(student, extra)
    return questions[question - 1].evaluate()


def test_the_search_finds_the_suspects_bug_and_the_library_is_safe():
    found = pl.search(debugging.SCENARIO, node_class=debugging.SuspectNode, progress=False)
    assert found.property == "leader-completeness"
    assert len(found.counterexample.scenario["schedule"]) == 10
    assert "S2  log: [[1, \"no-op\"], [1, \"set x 1\"]] -> [[1, \"no-op\"]]" in found.explain()
    assert pl.search(debugging.SCENARIO, progress=False).violation is None


@pytest.mark.parametrize("name", ["multi-paxos-leader-crash", "multi-paxos-partition",
                                  "multi-paxos-follower-crash", "multi-paxos-backup",
                                  "multi-paxos-client-retry"])
def test_the_suspect_looks_fine_in_the_lessons_timed_runs(name, scenario):
    assert pl.run_scenario(scenario(name), node_class=debugging.SuspectNode).violations == []


@pytest.mark.parametrize("question", [1, 2, 3])
def test_reference_answers_are_correct(question):
    verdict = grade(question)
    assert verdict.status == CORRECT, verdict.text
    assert verdict.seconds < 20


@pytest.mark.parametrize("question, answer", [
    (1, "state-machine-safety"), (1, "log-matching"), (2, "D"), (2, "B"), (2, "a")])
def test_a_wrong_choice_is_told_wrong_without_the_answer(question, answer):
    name = {1: "reported_property", 2: "broken_rule"}[question]
    verdict = grade(question, f"def {name}():\n    return {answer!r}\n")
    assert verdict.status == INCORRECT and verdict.property == "wrong choice"
    assert "leader-completeness" not in verdict.text and "'C'" not in verdict.text


@pytest.mark.parametrize("answer", [" Leader-Completeness ", "c", " C"])
def test_answers_are_read_loosely(answer):
    question, name = (1, "reported_property") if len(answer.strip()) > 1 else (2, "broken_rule")
    assert grade(question, f"def {name}():\n    return {answer!r}\n").status == CORRECT


def test_a_choice_question_shows_no_solution(capsys):
    _, (q1, q2, q3) = namespace_of(student=True)
    capsys.readouterr()
    q1.solution()
    q2.solution()
    out = capsys.readouterr().out
    assert "has no solution to show" in out and "leader-completeness" not in out and "return" not in out
    q3.solution()
    assert "def merge(" in capsys.readouterr().out


def test_an_answer_that_is_no_choice_is_said_so():
    verdict = grade(2, "def broken_rule():\n    return 3\n")
    assert verdict.status == INCORRECT and verdict.property == "not a choice"


def test_the_answers_are_in_no_file_a_student_gets():
    source = inspect.getsource(debugging)
    assert "leader-completeness\"\n" not in source.split("_ANSWERS")[1][:400]
    stored = (SOLUTIONS.parent / NOTEBOOK).read_text(encoding="utf-8")  # as built and executed
    made = json.dumps(build.student_notebook(json.loads((SOLUTIONS / NOTEBOOK).read_text(encoding="utf-8"))))
    for student in (stored, made):
        assert "Model explanation" not in student and "BEGIN SOLUTION" not in student
        assert 'return \\"leader-completeness\\"' not in student and 'return \\"C\\"' not in student
        assert "violation of" not in student  # the search's output is not stored in the student copy


WRONG_FIXES = {
    "the suspect's own merge": ("leader-completeness", """
        def merge(log, prev_index, entries):
            return log[:prev_index] + entries
        """),
    "never delete, only append what is new": ("error", """
        def merge(log, prev_index, entries):
            return log + entries[len(log) - prev_index:]
        """),
    "do nothing": ("error", """
        def merge(log, prev_index, entries):
            return log
        """),
}


@pytest.mark.parametrize("mistake", list(WRONG_FIXES))
def test_a_wrong_fix_fails_every_time(mistake):
    prop, code = WRONG_FIXES[mistake]
    first, second = grade(3, code), grade(3, code)
    for verdict in (first, second):
        assert verdict.status == INCORRECT, verdict.text
        assert verdict.property == prop, verdict.text
        assert verdict.seconds < 20
    assert first.text == second.text
    if prop != "error":
        assert first.counterexample.scenario == second.counterexample.scenario
        assert "◀ your merge(log terms [1, 1], prev_index=0, entries terms [1]) returned log terms [1]" \
            in first.text


def test_skeletons_are_not_attempted(capsys):
    _, bound = namespace_of(student=True)
    for q in bound:
        q.check(draw=False)
        assert q.verdict.status == NOT_ATTEMPTED
    assert capsys.readouterr().out.count("◯ not attempted") == 3


@pytest.mark.parametrize("name", ["multi-paxos-leader-crash", "multi-paxos-partition",
                                  "multi-paxos-follower-crash", "multi-paxos-backup"])
def test_the_exercise_node_with_the_librarys_merge_runs_as_the_librarys(name, scenario):
    namespace, _ = namespace_of()
    plain = pl.run_scenario(scenario(name), node_class=MultiPaxosNode).summary()
    assert pl.run_scenario(scenario(name), node_class=debugging.DebugExerciseNode).summary() == plain
    mine = debugging.node_class({"merge": namespace["merge"]})
    assert pl.run_scenario(scenario(name), node_class=mine).summary() == plain


class Rewritten(MultiPaxosNode):
    """The library's node with its merge rewritten to what it was: searched, as the exercise's
    node is, without the hints argued for the library's own class."""

    def decide_merge(self, prev_index, prev_term, entries):
        return super().decide_merge(prev_index, prev_term, entries)


def test_the_exercise_node_searches_as_the_librarys():
    for name in ("homework-debug-suspect", "homework-debug-conflict"):
        path = f"data/scenarios/{name}.json"
        plain = pl.search(path, node_class=Rewritten, progress=False)
        mine = pl.search(path, node_class=debugging.DebugExerciseNode, progress=False)
        assert (plain.complete, plain.states, plain.violation) == (mine.complete, mine.states, mine.violation)
