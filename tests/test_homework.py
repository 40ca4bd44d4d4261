"""The homework checkers are graded too: the reference solutions pass, the mistakes students
really make fail with the right property on every attempt, skeletons are "not attempted",
student code that raises or loops is a finding, and the student notebooks are what the
build makes from the solution notebooks."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from homework_notebooks import exercise_namespace

import paxoslab as pl
from paxoslab.homework import CORRECT, INCORRECT, NOT_ATTEMPTED, SOLUTIONS, acceptor, build, voting
from paxoslab.protocols.basic_paxos.node import PaxosNode
from paxoslab.protocols.multi_paxos.node import MultiPaxosNode

EXERCISES = {"02": (acceptor, "02_acceptor.ipynb"), "04": (voting, "04_voting.ipynb")}


def notebook_namespace(number: str, student: bool = False, extra: str = "") -> tuple[dict, tuple]:
    """The exercise's notebook run without its checks, then ``extra``; the exercise bound to it."""
    module, name = EXERCISES[number]
    return exercise_namespace(name, module, student, extra)


def grade(number: str, question: int, extra: str = "", student: bool = False):
    _, questions = notebook_namespace(number, student, extra)
    return questions[question - 1].evaluate()


# ---- the reference solutions pass, each check within 20 s --------------------------------------
@pytest.mark.parametrize("number, question", [("02", 1), ("02", 2), ("02", 3), ("02", 4),
                                              ("04", 1), ("04", 2), ("04", 3)])
def test_reference_solution_is_correct(number, question):
    verdict = grade(number, question)
    assert verdict.status == CORRECT, verdict.text
    assert verdict.text.startswith("✔ correct")
    assert verdict.seconds < 20


# ---- the mistakes students make fail with the right property, every time ---------------------
WRONG = {
    "02 omit the accepted value from the promise": ("02", 2, "agreement", """
        def promise_for(ballot, accepted_ballot, accepted_value):
            return Promise(ballot, None, None)
        """),
    "02 accept below the promise": ("02", 3, "agreement", """
        def may_accept(promised, ballot):
            return True
        """),
    "02 promise any ballot": ("02", 1, "agreement", """
        def may_promise(promised, ballot):
            return True
        """),
    "02 reply before persisting": ("02", 4, "agreement", """
        def on_accept(node, msg, src):
            if not may_accept(node.promised, msg.ballot):
                node.send(src, Reject(msg.ballot, node.promised))
                return
            node.promised = max(node.promised, msg.ballot) if node.promised else msg.ballot
            node.accepted_ballot, node.accepted_value = msg.ballot, msg.value
            node.send(src, Accepted(msg.ballot, msg.value))
            node.persist(promised=node.promised, accepted_ballot=node.accepted_ballot,
                         accepted_value=node.accepted_value)
        """),
    "02 never persist": ("02", 4, "agreement", """
        def on_accept(node, msg, src):
            if not may_accept(node.promised, msg.ballot):
                node.send(src, Reject(msg.ballot, node.promised))
                return
            node.promised = max(node.promised, msg.ballot) if node.promised else msg.ballot
            node.accepted_ballot, node.accepted_value = msg.ballot, msg.value
            node.send(src, Accepted(msg.ballot, msg.value))
        """),
    "02 accept without raising the promise": ("02", 4, "agreement", """
        def on_accept(node, msg, src):
            if not may_accept(node.promised, msg.ballot):
                node.send(src, Reject(msg.ballot, node.promised))
                return
            node.accepted_ballot, node.accepted_value = msg.ballot, msg.value
            node.persist(promised=node.promised, accepted_ballot=node.accepted_ballot,
                         accepted_value=node.accepted_value)
            node.send(src, Accepted(msg.ballot, msg.value))
        """),
    "02 write the vote but not the raised promise": ("02", 4, "agreement", """
        def on_accept(node, msg, src):
            if not may_accept(node.promised, msg.ballot):
                node.send(src, Reject(msg.ballot, node.promised))
                return
            node.promised = msg.ballot
            node.accepted_ballot, node.accepted_value = msg.ballot, msg.value
            node.persist(accepted_ballot=node.accepted_ballot, accepted_value=node.accepted_value)
            node.send(src, Accepted(msg.ballot, msg.value))
        """),
    "02 do nothing (on_accept)": ("02", 4, "no progress", """
        def on_accept(node, msg, src):
            pass
        """),
    "02 do nothing (may_promise)": ("02", 1, "no progress", """
        def may_promise(promised, ballot):
            return False
        """),
    "04 vote twice in a term": ("04", 2, "election-safety", """
        def grant_vote(voted_for, candidate, log, last_index, last_term):
            return up_to_date(log, last_index, last_term)
        """),
    "04 compare log length only": ("04", 1, "leader-completeness", """
        def up_to_date(log, last_index, last_term):
            return last_index >= len(log)
        """),
    "04 compare last term only": ("04", 1, "leader-completeness", """
        def up_to_date(log, last_index, last_term):
            return last_term >= (log[-1][0] if log else 0)
        """),
    "04 no log check": ("04", 2, "leader-completeness", """
        def grant_vote(voted_for, candidate, log, last_index, last_term):
            return voted_for is None or voted_for == candidate
        """),
    "04 vote without persisting": ("04", 3, "election-safety", """
        def save_vote(node):
            pass
        """),
    "04 persist the vote but not the term": ("04", 3, "election-safety", """
        def save_vote(node):
            node.persist(voted_for=node.voted_for)
        """),
    "04 do nothing (grant_vote)": ("04", 2, "no progress", """
        def grant_vote(voted_for, candidate, log, last_index, last_term):
            return False
        """),
}


@pytest.mark.parametrize("mistake", list(WRONG))
def test_a_wrong_solution_fails_with_its_property_every_time(mistake):
    number, question, prop, code = WRONG[mistake]
    first, second = grade(number, question, code), grade(number, question, code)
    for verdict in (first, second):
        assert verdict.status == INCORRECT, verdict.text
        assert verdict.property == prop, verdict.text
        assert verdict.counterexample is not None
        assert verdict.seconds < 20
    assert first.counterexample.scenario == second.counterexample.scenario
    if prop == "no progress":
        assert verdict.text.startswith("✘ incorrect: no progress")
    else:  # the shortest counterexample, step by step, and a replay that runs the student's code
        assert verdict.found_by == "search"
        assert re.search(r"^\s+1\. ", verdict.text, re.M) and f"q{question}.replay()" in verdict.text
        assert "python -m paxoslab run" not in verdict.text  # that would run the library's node


@pytest.mark.parametrize("mistake", ["02 reply before persisting", "04 compare log length only"])
def test_the_counterexample_is_the_same_in_another_process(mistake):
    number, question, _, code = WRONG[mistake]
    here = grade(number, question, code).counterexample.scenario["schedule"]
    script = (f"import json, sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
              f"from test_homework import grade, WRONG; "
              f"v = grade({number!r}, {question}, WRONG[{mistake!r}][3]); "
              f"print('SCHEDULE', json.dumps(v.counterexample.scenario['schedule']))")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONHASHSEED": "12345"}).stdout
    there = json.loads(out.split("SCHEDULE ", 1)[1])
    assert there == json.loads(json.dumps(here))


@pytest.mark.parametrize("mistake, mark", [
    ("02 omit the accepted value from the promise",
     "◀ your promise_for(ballot=1.2, accepted_ballot=1.1, accepted_value='X') returned Promise 1.2 (-)"),
    ("02 accept below the promise", "◀ your may_accept(promised=1.2, ballot=1.1) returned True"),
    ("02 reply before persisting", "◀ your on_accept(A1.1 X from S1) sent Accepted 1.1; asked to write"),
    ("04 vote twice in a term", "◀ your grant_vote(voted_for='S1', candidate='S2', an empty log"),
    ("04 compare log length only",
     "◀ your up_to_date(a log of 1 ending in term 2, last_index=3, last_term=1) returned True"),
    ("04 vote without persisting", "◀ your save_vote() in term 1, having voted for 'S1': wrote nothing"),
])
def test_the_counterexample_marks_what_the_students_function_answered(mistake, mark):
    number, question, _, code = WRONG[mistake]
    assert mark in grade(number, question, code).text


def test_the_replay_runs_the_students_code():
    _, (q1, q2, q3, q4) = notebook_namespace("02", extra=WRONG["02 accept below the promise"][3])
    assert q3.evaluate().property == "agreement"
    replayed = q3.replay(draw=False)
    assert [v.property for v in replayed.violations] == ["agreement"]
    library = pl.run_scenario(q3.counterexample)  # the library's own node does not break
    assert library.violations == []


def test_a_timed_runs_counterexample_replays_on_the_seed_that_failed():
    """A verdict from a timed run keeps its seed: the replay and ``counterexample`` use it,
    not the seed the preset's file names."""
    from paxoslab.homework import Verdict

    _, (q1, q2, q3, q4) = notebook_namespace("02")
    data = pl.load_scenario("data/scenarios/homework-acceptor-progress.json")
    failed = pl.run_scenario(data, seed=data.get("seed", 0) + 3)
    q3.verdict = Verdict(INCORRECT, "no progress", "", failed, "run")
    assert q3.counterexample["seed"] == failed.seed
    replayed = q3.replay(draw=False)
    assert replayed.seed == failed.seed and replayed.summary() == failed.summary()


# ---- not attempted, and code that raises or loops ---------------------------------------------
@pytest.mark.parametrize("number, questions", [("02", 4), ("04", 3)])
def test_skeletons_are_not_attempted(number, questions, capsys):
    _, bound = notebook_namespace(number, student=True)
    for q in bound:
        q.check(draw=False)
        assert q.verdict.status == NOT_ATTEMPTED
    out = capsys.readouterr().out
    assert out.count("◯ not attempted") == questions


def test_a_function_missing_from_the_notebook_is_not_attempted():
    verdict = acceptor.EXERCISE.bind({})[0].evaluate()
    assert verdict.status == NOT_ATTEMPTED and "define may_promise()" in verdict.text


def test_an_unwritten_helper_is_named_not_blamed_on_the_caller():
    verdict = grade("02", 4, """
        def may_accept(promised, ballot):
            raise NotImplementedError("write may_accept()")
        """)
    assert verdict.status == INCORRECT
    assert "may_accept() still raises NotImplementedError (called by on_accept()" in verdict.text


def test_student_code_that_raises_is_a_finding():
    verdict = grade("02", 3, """
        def may_accept(promised, ballot):
            return ballot >= promised   # forgets that promised may be None
        """)
    assert verdict.status == INCORRECT and verdict.property == "error"
    assert "your may_accept() raised TypeError" in verdict.text


def test_student_code_that_raises_only_inside_a_run_is_a_finding():
    verdict = grade("04", 1, """
        def up_to_date(log, last_index, last_term):
            if len(log) > 1:
                raise IndexError("oops")
            return True
        """)
    assert verdict.status == INCORRECT and verdict.property == "error"
    assert "your up_to_date() raised IndexError: oops" in verdict.text


def test_student_code_that_loops_inside_the_search_is_stopped_and_named():
    verdict = grade("02", 3, """
        def may_accept(promised, ballot):
            while promised is not None and promised.node == 2 and ballot.node == 1:
                pass  # only when S3 promised S2 and S1's Accept arrives: never in the probe
            return True
        """)
    assert verdict.status == INCORRECT and verdict.property == "error"
    assert "your may_accept() did not return" in verdict.text and "Accept (A1.1 X)" in verdict.text
    assert verdict.seconds < 20


def test_check_never_raises(capsys):
    namespace, (q1, *_) = notebook_namespace("02")
    namespace["may_promise"] = lambda promised, ballot: 1 / 0
    q1.check(draw=False)
    assert "✘ incorrect: your may_promise() raised ZeroDivisionError" in capsys.readouterr().out


def test_prints_in_student_code_are_counted_not_shown(capsys):
    verdict = grade("04", 3, """
        def save_vote(node):
            print("saving", node.current_term)
            node.persist(current_term=node.current_term, voted_for=node.voted_for)
        """)
    assert verdict.status == CORRECT
    assert re.search(r"your code printed [\d,]+ lines during the check", verdict.text)
    assert "saving" not in capsys.readouterr().out


# ---- hints and solutions -------------------------------------------------------------------
def test_hints_come_one_more_per_call(capsys):
    _, (q1, *_) = notebook_namespace("04", student=True)
    for _ in range(4):
        q1.hint()
    out = capsys.readouterr().out
    total = len(q1.hints)
    assert [int(n) for n in re.findall(r"^Hint (\d+) of", out, re.M)] == [1, 2, 3, 3][:4]
    assert total == 3 and "q1.solution()" in out


def test_solution_prints_the_reference_block(capsys, monkeypatch):
    _, (q1, *_) = notebook_namespace("02", student=True)
    q1.solution()
    out = capsys.readouterr().out
    assert "return promised is None or ballot > promised" in out and "BEGIN SOLUTION" not in out
    monkeypatch.setattr("paxoslab.homework.SOLUTIONS", SOLUTIONS / "not-here")
    q1.solution()
    assert "not part of this copy of the course" in capsys.readouterr().out


# ---- the exercise nodes are the library's nodes when given the library's rules -------------------
@pytest.mark.parametrize("name", ["basic-paxos-case-1", "basic-paxos-case-2", "basic-paxos-case-3",
                                  "basic-paxos-crash-recover"])
def test_the_acceptor_node_with_the_reference_runs_as_the_librarys(name, scenario):
    namespace, _ = notebook_namespace("02")
    functions = {n: namespace[n] for n in ("may_promise", "promise_for", "may_accept", "on_accept")}
    mine = pl.run_scenario(scenario(name), node_class=acceptor.node_class(functions)).summary()
    theirs = pl.run_scenario(scenario(name), node_class=PaxosNode).summary()
    drop = ("digest",)
    assert {k: v for k, v in mine.items() if k not in drop} == {k: v for k, v in theirs.items()
                                                                 if k not in drop}


@pytest.mark.parametrize("name", ["multi-paxos-leader-crash", "multi-paxos-partition",
                                  "multi-paxos-follower-crash"])
def test_the_voting_node_with_the_reference_runs_as_the_librarys(name, scenario):
    namespace, _ = notebook_namespace("04")
    plain = pl.run_scenario(scenario(name), node_class=MultiPaxosNode).summary()
    assert pl.run_scenario(scenario(name), node_class=voting.node_class({})).summary() == plain
    functions = {n: namespace[n] for n in ("up_to_date", "grant_vote", "save_vote")}
    assert pl.run_scenario(scenario(name), node_class=voting.node_class(functions)).summary() == plain


def test_presets_and_solutions_are_found_from_a_notebook_when_installed_elsewhere(tmp_path):
    from paxoslab.homework import locate
    repo = SOLUTIONS.parents[2]
    found = locate("data/scenarios", root=tmp_path, cwd=repo / "notebooks" / "exercises")
    assert found == repo / "data" / "scenarios"
    assert locate("notebooks/exercises/solutions", root=tmp_path, cwd=repo / "notebooks" / "exercises") \
        == SOLUTIONS


# ---- one source for both notebook sets ------------------------------------------------------
def test_the_student_notebooks_are_what_the_build_makes():
    assert build.stale() == []


def test_student_notebooks_hold_no_solution():
    for _, name in EXERCISES.values():
        student = build.student_notebook(json.loads((SOLUTIONS / name).read_text(encoding="utf-8")))
        text = json.dumps(student)
        assert "BEGIN SOLUTION" not in text and "Solution notebook" not in text
        assert "raise NotImplementedError" in text
