"""The bulk grader: honest submissions get the grade ``qN.check()`` gives them, and a submission
that patches the checker in its own process, loops, allocates without bound, reads the
grader's files or tampers with the conversation is graded for what it did — never "correct".

The submissions are small notebooks in ``tests/submissions/`` (and the exercises' own
solution and student notebooks)."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

import paxoslab as pl
from paxoslab.homework import SOLUTIONS, acceptor, voting
from paxoslab.homework.grade import (
    COLUMNS,
    CORRECT,
    ERROR,
    INCORRECT,
    NOT_ATTEMPTED,
    TIMEOUT,
    GradeError,
    Limits,
    _first_lines,
    apply_changes,
    exercises,
    grade_submission,
    identify,
    read_cells,
)
from paxoslab.homework.sandbox import CodecError, decode, encode, encode_node
from paxoslab.protocols.basic_paxos.node import Accept, Ballot, PaxosNode

HERE = Path(__file__).parent
SUBMISSIONS = HERE / "submissions"
STUDENT = SOLUTIONS.parent
#: small limits, so that a submission that loops or hoards is stopped in seconds
LIMITS = Limits(timeout=5, cpu_seconds=60, memory_mb=512)


def graded(path: Path, questions=(), tmp_path: Path | None = None, limits: Limits = LIMITS):
    out = str(tmp_path / "counterexamples") if tmp_path is not None else None
    result = grade_submission(str(path), questions=questions, limits=limits, out_dir=out)
    return {row["question"]: row for row in result.rows}


def statuses(rows: dict) -> dict:
    return {q: row["status"] for q, row in rows.items()}


# ---- honest submissions -------------------------------------------------------------------------
EXERCISES = exercises()
#: to keep the suite short, the slow searches' questions are left out here (all of them pass
#: in a full run: python -m paxoslab grade notebooks/exercises/solutions/*.ipynb)
QUICK = {"02": (4,), "03": (2,)}


def notebook(folder: Path, module) -> Path:
    path = folder / module.EXERCISE.notebook
    if not path.exists():
        pytest.skip(f"{path} is not built yet")
    return path


def test_reference_solution_is_all_correct():
    rows = graded(SOLUTIONS / "04_voting.ipynb")
    assert statuses(rows) == {1: CORRECT, 2: CORRECT, 3: CORRECT}, rows


@pytest.mark.parametrize("name", sorted(set(EXERCISES) - {"voting"}))
def test_every_exercise_reference_is_correct_through_the_worker(name):
    """Through the worker too: on_accept(node, msg, src) runs on a copy of the node whose fields,
    sends and writes come back; backoff_delay(failures, rng) draws from an rng that comes back;
    exercise 01's replicas each arrange the function's world where it runs."""
    module = EXERCISES[name]
    rows = graded(notebook(SOLUTIONS, module), questions=QUICK.get(module.EXERCISE.number, ()))
    assert set(statuses(rows).values()) == {CORRECT}, rows


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_unmodified_student_notebook_is_not_attempted(name):
    module = EXERCISES[name]
    rows = graded(notebook(STUDENT, module))
    assert set(statuses(rows).values()) == {NOT_ATTEMPTED}, rows
    assert len(rows) == len(module.EXERCISE.questions)


def test_wrong_solution_is_incorrect_with_the_property_and_a_scenario_file(tmp_path):
    rows = graded(SUBMISSIONS / "wrong_length_only.ipynb", questions=(1,), tmp_path=tmp_path)
    row = rows[1]
    assert (row["status"], row["property"]) == (INCORRECT, "leader-completeness"), row
    scenario = json.loads(Path(row["counterexample"]).read_text(encoding="utf-8"))
    assert scenario["schedule"] and scenario["protocol"] == "multi-paxos"
    assert "node_class=voting.node_class({'up_to_date': up_to_date})" in scenario["description"]
    # the scenario replays; with the student's up_to_date in the node it breaks the property
    namespace = {"up_to_date": lambda log, last_index, last_term: last_index >= len(log)}
    node_class = voting.node_class(namespace)
    result = pl.run_scenario(scenario, node_class=node_class)
    assert "leader-completeness" in {v["property"] for v in result.summary()["violations"]}


# ---- adversarial submissions ----------------------------------------------------------------------
def test_patching_the_checker_in_its_own_process_changes_nothing():
    """Question.evaluate, check(), INCORRECT, search and every Multi-Paxos monitor patched
    in the submission's process: the verdicts are computed here."""
    rows = graded(SUBMISSIONS / "patches_checker.ipynb", questions=(1, 2))
    assert (rows[1]["status"], rows[1]["property"]) == (INCORRECT, "leader-completeness"), rows
    assert (rows[2]["status"], rows[2]["property"]) == (INCORRECT, "election-safety"), rows


def test_patching_only_the_monitors_changes_nothing():
    """Monitors that never report a violation fool a check in the submission's own process
    (q1.check() there says correct); the grader's monitors are its own."""
    rows = graded(SUBMISSIONS / "patches_monitors.ipynb", questions=(1,))
    assert (rows[1]["status"], rows[1]["property"]) == (INCORRECT, "leader-completeness"), rows


def test_patching_the_exercise_node_in_its_own_process_changes_nothing():
    """A reply sent before the write, with the exercise's late-write rule patched away in the
    submission's process: the rule is applied here, to the effects the call brought back."""
    rows = graded(SUBMISSIONS / "acceptor_patches_disk.ipynb", questions=(4,))
    assert (rows[4]["status"], rows[4]["property"]) == (INCORRECT, "agreement"), rows


def test_endless_loop_at_top_level_times_out():
    rows = graded(SUBMISSIONS / "loops_at_top.ipynb", limits=Limits(timeout=2, cpu_seconds=60, memory_mb=512))
    assert set(statuses(rows).values()) == {TIMEOUT}, rows
    assert "did not finish within 2 s" in rows[1]["detail"]


def test_endless_loop_in_a_function_times_out_that_question_only():
    rows = graded(SUBMISSIONS / "loops_in_function.ipynb")
    assert statuses(rows) == {1: TIMEOUT, 2: TIMEOUT, 3: CORRECT}, rows
    assert "up_to_date() did not answer" in rows[1]["detail"]


@pytest.mark.parametrize("name, question", [("allocates.ipynb", 3), ("allocates_at_top.ipynb", 1)])
def test_allocating_without_bound_is_stopped(name, question):
    """At the memory limit the allocation fails (error); a worker slower than the time limit
    is stopped first (timeout). Either way the other questions are graded."""
    rows = graded(SUBMISSIONS / name, questions=(question,))
    assert rows[question]["status"] in (ERROR, TIMEOUT), rows
    if rows[question]["status"] == ERROR:
        assert "MemoryError" in rows[question]["detail"]


def test_reading_the_solution_notebook_is_refused():
    rows = graded(SUBMISSIONS / "reads_solution.ipynb")
    assert set(statuses(rows).values()) == {ERROR}, rows
    assert "PermissionError" in rows[1]["detail"] and "04_voting.ipynb" in rows[1]["detail"]


def test_a_function_that_gives_its_node_back_is_graded_as_in_a_notebook():
    rows = graded(SUBMISSIONS / "returns_the_node.ipynb", questions=(3,))
    assert rows[3]["status"] == CORRECT, rows


def test_an_honest_notebook_may_use_numpy_pandas_and_matplotlib():
    rows = graded(SUBMISSIONS / "uses_libraries.ipynb", questions=(1,))
    assert rows[1]["status"] == CORRECT, rows


@pytest.mark.parametrize("name, refused", [("escapes.ipynb", "os.kill"), ("shells_out.ipynb", "subprocess"),
                                           ("calls_c.ipynb", "ctypes"), ("writes_a_file.ipynb", "too large"),
                                           ("starts_an_interpreter.ipynb", "_xxsubinterpreters"),
                                           ("signals_by_pidfd.ipynb", "has no attribute 'pidfd_open'")])
def test_signals_and_processes_are_refused(name, refused):
    """The worker's parent is this test process: had the signal been sent, it would have ended."""
    rows = graded(SUBMISSIONS / name, questions=(1,))
    assert rows[1]["status"] == ERROR and refused in rows[1]["detail"], rows


def test_raising_at_import_is_an_error_not_a_grade_of_later_cells():
    rows = graded(SUBMISSIONS / "raises_at_import.ipynb")
    assert set(statuses(rows).values()) == {ERROR}, rows
    assert "RuntimeError: no luck" in rows[1]["detail"]


def test_garbage_on_the_wire_is_an_error():
    rows = graded(SUBMISSIONS / "writes_to_the_grader.ipynb", questions=(1,))
    assert rows[1]["status"] == ERROR and "not an answer" in rows[1]["detail"], rows


def test_reaching_into_the_audit_hook_changes_nothing():
    """A refusal's traceback shows the hook's frames: the submission changes every list it finds
    there, and the hook still refuses (its folders are tuples, its helpers its own)."""
    rows = graded(SUBMISSIONS / "tampers_with_the_hook.ipynb", questions=(1,))
    assert rows[1]["status"] == ERROR and "04_voting.ipynb' refused" in rows[1]["detail"], rows


def test_the_audit_hook_loads_no_global():
    """What a submission can replace (builtins, os.path, this module's globals) is never looked
    up by the hook: every name it uses is its own variable."""
    import dis
    import types

    from paxoslab.homework.sandbox import guard

    hook = guard(["/usr"], ["/tmp/scratch"], ["/usr/secret"])
    todo, seen = [hook], {}
    while todo:
        fn = todo.pop()
        if id(fn) in seen:
            continue
        seen[id(fn)] = fn.__name__
        loads = [i.argval for i in dis.get_instructions(fn) if i.opname in ("LOAD_GLOBAL", "LOAD_NAME")]
        assert loads == [], (fn.__name__, loads)
        todo += [c.cell_contents for c in fn.__closure__ or ()
                 if isinstance(c.cell_contents, types.FunctionType)]
    assert {"hook", "check_path", "inside", "lexical"} <= set(seen.values())
    with pytest.raises(PermissionError, match="grader's file"):
        hook("open", ("/usr/secret/x", "r", 0))
    with pytest.raises(PermissionError, match="outside"):
        hook("open", ("/usr/../etc/../work/x", "r", 0))
    with pytest.raises(PermissionError, match="outside"):
        hook("open", ("/usr/x", "w", 0))
    hook("open", ("/usr/lib/x", "r", 0))
    hook("open", ("/tmp/scratch/out", "w", 0))


def test_hanging_up_and_running_on_is_an_error():
    rows = graded(SUBMISSIONS / "hangs_up.ipynb", questions=(1,))
    assert rows[1]["status"] == ERROR and "hung up" in rows[1]["detail"], rows


def test_random_draws_are_graded_as_the_notebook_grades_them(tmp_path):
    """backoff_delay(failures, rng) draws from its rng argument and from the random module: both
    come back from the worker, so the sweep sees the draws the check sees in a notebook."""
    from paxoslab.homework import proposer

    cells = ["from paxoslab.homework import proposer\nq1, q2 = proposer.bind(globals())",
             "import random\n\ndef backoff_delay(failures, rng):\n"
             "    return random.uniform(0, 100) + rng.uniform(0, 20)"]
    path = tmp_path / "draws.ipynb"
    path.write_text(json.dumps({"cells": [{"cell_type": "code", "metadata": {}, "outputs": [],
                                           "execution_count": None, "source": c} for c in cells],
                                "metadata": {}, "nbformat": 4, "nbformat_minor": 5}), encoding="utf-8")
    namespace: dict = {}
    for cell in cells:
        exec(cell, namespace)
    here = proposer.EXERCISE.questions[1].evaluate()
    there = graded(path, questions=(2,))[2]
    assert there["status"] == here.status
    assert there["detail"] == " ".join(_first_lines(here.text).split()), (here.text, there)  # the same counts


def test_a_check_can_run_its_own_code_where_the_students_function_runs():
    """sandbox.remote(fn, "paxoslab.module:function", *args): in a notebook the function runs
    here; under the grader, in the worker, beside the student's function."""
    from paxoslab.homework import sandbox as sb
    from paxoslab.homework.grade import Sandbox
    from paxoslab.homework.state_machine import EXERCISE

    assert sb.remote(lambda: ["here"], "paxoslab.homework:_call_in_handler") == ["here"]
    worker = Sandbox("paxoslab.homework.state_machine", EXERCISE.student_names, LIMITS, [])
    try:
        worker.start()
        assert "diverging_log" in worker.run(read_cells(SOLUTIONS / "01_state_machine.ipynb")).callable
        proxy = worker.proxy("diverging_log")
        log = proxy()
        assert log and sb.remote(proxy, "paxoslab.homework:_call_in_handler") == log
        with pytest.raises(Exception, match="unknown function"):
            sb.remote(proxy, "os:system")
        assert worker.failure is None  # a refused path is the call's exception, not the worker's end
    finally:
        worker.stop()


# ---- exercise 01: replicas that a submission cannot make alike -----------------------------------------
ALIKE = ["alike_set_order.ipynb", "alike_random.ipynb", "alike_clock.ipynb", "alike_real_clock.ipynb",
         "alike_reseeded.ipynb"]


@pytest.mark.parametrize("name", ALIKE)
def test_worlds_made_alike_fool_the_check_in_one_process(name, monkeypatch):
    """What the adversarial submissions below do: apply_once patched so that every replica is in
    S1's world (hash seed, random numbers, clock); in the student's own kernel q1.check() then
    says correct, though the machine reads a set's order, random numbers or the clock."""
    from paxoslab.homework import state_machine

    monkeypatch.setattr(state_machine, "apply_once", state_machine.apply_once)  # put back after
    namespace: dict = {"__name__": "__main__"}
    for _, source in read_cells(SUBMISSIONS / name):
        if not source.startswith("q1.check()"):
            exec(source, namespace)  # noqa: S102 - our own test submission
    assert namespace["q1"].evaluate().status == CORRECT


@pytest.mark.parametrize("name", [*ALIKE, "plain_string_set.ipynb"])
def test_replicas_made_alike_still_differ_each_in_a_process_of_its_own(name):
    """Under the grader each replica also runs in a worker of its own, started with its own
    PYTHONHASHSEED, random seed and clock offset before any cell runs, the logs in another order,
    and S2 at least a second after S1: what the submission patched in one worker changes that
    worker only. A machine reading a set's order, random numbers, the clock (also the real clock,
    reached past the offset, to the second), or a random stream it seeds again at every log's
    start, is incorrect, never correct. (plain_string_set patches nothing: a set of plain
    strings, whose order one process cannot vary.)"""
    rows = graded(SUBMISSIONS / name, questions=(1,))
    assert (rows[1]["status"], rows[1]["property"]) == (INCORRECT, "replica-consistency"), rows


def test_a_notebook_that_loops_only_in_a_replicas_worker_times_out():
    rows = graded(SUBMISSIONS / "loops_in_a_replica.ipynb")
    assert statuses(rows) == {1: TIMEOUT, 2: NOT_ATTEMPTED}, rows
    assert "did not finish within 5 s" in rows[1]["detail"], rows


def test_replicas_in_processes_of_their_own_grade_the_same_every_time():
    first = graded(SUBMISSIONS / "alike_set_order.ipynb", questions=(1,))[1]
    second = graded(SUBMISSIONS / "alike_set_order.ipynb", questions=(1,))[1]
    assert first["detail"] == second["detail"] and "each in a process of its own" in first["detail"]


def test_a_replica_that_catches_up_in_another_process_must_end_as_the_other():
    """A machine that seeds its random numbers again whenever it is given the empty state gives
    the same states for a log applied from the start, in any process and any order of logs; S2
    catching up from S1's state (sent to its process as data, as a snapshot) does not. (The
    processes here are closures with a random stream of their own each, called as the grader
    calls its workers.)"""
    import random

    from paxoslab.homework import state_machine as sm

    def machine(seed):
        rng = random.Random(seed)

        def apply(state, command):
            if not state:
                rng.seed(7)
            return {**state, command.split()[1]: f"token-{rng.getrandbits(32)}"}
        return apply

    replicas = [machine(r) for r in range(3)]
    fn = machine(9)
    fn.paxoslab_replicas = lambda: replicas
    logs = [["token a", "token b", "token c"], ["token x"]]
    firsts = [[{}, *sm.apply_log(fn, log)["states"]] for log in logs]
    verdict = sm._in_processes(sm.q1, fn, logs, firsts)
    assert (verdict.property, verdict.facts["cause"]) == ("replica-consistency", "snapshot"), verdict.text
    assert "S2, in a process of its own, was given S1's state after #1" in verdict.text
    def calm(state, command):  # tokens that are a function of the state: no finding
        return {**state, command.split()[1]: f"token-{len(state)}"}

    calm.paxoslab_replicas = lambda: [calm] * 3
    firsts = [[{}, *sm.apply_log(calm, log)["states"]] for log in logs]
    assert sm._in_processes(sm.q1, calm, logs, firsts) == len(logs)


def test_a_replica_process_world_is_in_place_before_the_submission_runs():
    """install_process_world (what a replica's worker runs before the first cell): the clocks of
    time ahead by the replica's offset, its random numbers seeded; pandas still imports (a
    datetime module with its classes replaced would stop it)."""
    script = """
import json, random, time
real = time.time()
from paxoslab.homework import state_machine as sm
sm.install_process_world(sm.PROCESS_WORLDS[2])
ahead = time.time() - real
days = time.localtime().tm_yday - time.localtime(real).tm_yday
drawn = random.random()
random.seed(sm.PROCESS_WORLDS[2]["random_seed"])
import pandas
print(json.dumps([ahead, days, drawn == random.random(), pandas.Timestamp(0).year]))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                         check=True).stdout
    ahead, days, seeded, year = json.loads(out)
    from paxoslab.homework.state_machine import CLOCK_STEP
    assert abs(ahead - 2 * CLOCK_STEP) < 5 and days in (2, 3, -362, -363, -364) and seeded and year == 1970


# ---- pieces -------------------------------------------------------------------------------------------
def test_values_travel_as_tagged_json_and_nothing_else_is_decoded():
    value = {"log": ((1, "set x 1"),), "seen": {Ballot(1, 2)}, "raw": b"\x00", "none": None, "f": 1.5}
    assert decode(json.loads(json.dumps(encode(value)))) == value
    for bad in ({"$": "obj", "cls": "os:system", "v": []},
                {"$": "obj", "cls": "builtins:eval", "v": []},
                {"$": "inst", "cls": "paxoslab.homework.grade:subprocess", "v": {}},
                {"$": "inst", "cls": "paxoslab.protocols.basic_paxos.node:PaxosNode", "v": {}},
                {"$": "obj", "cls": "paxoslab.not_imported_anywhere:X", "v": []},
                {"$": "pickle", "v": "..."}):
        with pytest.raises(CodecError):
            decode(bad)
    with pytest.raises(CodecError):
        encode(object())
    # what is a builtin container or number at heart travels as that builtin
    from collections import defaultdict
    assert decode(encode(defaultdict(int, a=1))) == {"a": 1}
    assert decode(encode({"n": __import__("numpy").int64(3)})) == {"n": 3}
    # a plain object (not a frozen record) comes back only of a class that was sent
    from paxoslab.statemachine import KeyValueStore
    seen: set = set()
    data = json.loads(json.dumps(encode({"kv": KeyValueStore()}, 0, seen)))
    assert seen == {KeyValueStore} and isinstance(decode(data, 0, frozenset(seen))["kv"], KeyValueStore)
    with pytest.raises(CodecError):
        decode(data, 0, frozenset())


def test_a_node_call_brought_back_equals_the_call_made_here():
    """What on_accept does to a node, run on a copy decoded from plain data and brought back,
    is what it does to the node itself (fields and effects, in order)."""
    def on_accept(node, msg, src):
        node.promised = node.accepted_ballot = msg.ballot
        node.accepted_value = msg.value
        node.send(src, acceptor.Accepted(msg.ballot, msg.value))  # a reply before the write
        node.persist(promised=node.promised, accepted_ballot=msg.ballot, accepted_value=msg.value)

    from paxoslab.homework import sandbox

    node_class = acceptor.node_class({})
    here, there = node_class("S3", ["S1", "S2", "S3"]), node_class("S3", ["S1", "S2", "S3"])
    message = Accept(Ballot(1, 1), "X")
    on_accept(here, message, "S1")
    copy = sandbox.decode_node(json.loads(json.dumps(encode_node(there))))
    assert type(copy) is acceptor.AcceptorExerciseNode
    copy.persist = lambda **fields: PaxosNode.persist(copy, **fields)  # patched in the worker
    on_accept(copy, message, "S1")
    del copy.persist
    apply_changes(there, json.loads(json.dumps(sandbox.node_changes(copy, 0))), None)
    assert there.state() == here.state()
    assert there.take_effects() == here.take_effects()  # the late write is the grader's rule


def test_the_exercise_is_found_by_name_by_import_or_by_option():
    known = exercises()
    assert {"acceptor", "voting"} <= set(known)
    assert identify("x/02_acceptor.ipynb", [], known=known) is known["acceptor"]
    assert identify("renamed.ipynb", ["from paxoslab.homework import voting"], known=known) is known["voting"]
    assert identify("renamed.ipynb", [], "04", known) is known["voting"]
    with pytest.raises(GradeError, match="renamed.ipynb: which exercise"):
        identify("renamed.ipynb", ["import os"], known=known)


# ---- the command line ------------------------------------------------------------------------------
def test_command_line_writes_the_table(tmp_path):
    table = tmp_path / "grades.csv"
    run = subprocess.run(
        [sys.executable, "-m", "paxoslab", "grade", str(SOLUTIONS / "04_voting.ipynb"),
         str(SUBMISSIONS / "wrong_length_only.ipynb"), str(SUBMISSIONS / "raises_at_import.ipynb"),
         "--questions", "1", "--csv", str(table), "--workers", "2", "--memory", "512"],
        capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert len(lines) == 3 and "04_voting.ipynb: exercise 04: q1 correct" in lines[0], run.stdout
    with open(table, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
    assert tuple(reader.fieldnames) == COLUMNS
    assert [(r["question"], r["status"], r["property"]) for r in rows] == [
        ("1", CORRECT, ""), ("1", INCORRECT, "leader-completeness"), ("1", ERROR, "")]
    assert Path(rows[1]["counterexample"]).parent == tmp_path / "counterexamples"
    assert Path(rows[1]["counterexample"]).exists()


def test_a_submission_that_kills_its_grading_process_loses_only_its_own_rows(tmp_path):
    """It gets past the audit hook (a fresh posix module has pidfd_open) and kills its parent:
    that is a grading process of its own, so the command goes on with the next submission."""
    table = tmp_path / "grades.csv"
    run = subprocess.run(
        [sys.executable, "-m", "paxoslab", "grade", str(SUBMISSIONS / "kills_its_grader.ipynb"),
         str(SUBMISSIONS / "wrong_length_only.ipynb"), "--questions", "1", "--csv", str(table),
         "--memory", "512"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    with open(table, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["status"], r["property"]) for r in rows] == [(ERROR, ""), (INCORRECT, "leader-completeness")]
    assert "grading process was killed" in rows[0]["detail"]


@pytest.mark.parametrize("make, problem", [
    (lambda d: d / "missing.ipynb", "no such file"),
    (lambda d: (d / "notes.ipynb").write_text("not json") and d / "notes.ipynb", "not a notebook"),
    (lambda d: (d / "other.ipynb").write_text('{"cells": []}') and d / "other.ipynb", "which exercise"),
    (lambda d: SOLUTIONS / "04_voting.ipynb", "--workers must be between 1 and"),
    (lambda d: SOLUTIONS / "04_voting.ipynb", "--questions 7: exercise 04 has questions 1, 2, 3"),
])
def test_command_line_bad_input_is_one_line_and_exit_2(tmp_path, make, problem):
    path = make(tmp_path)
    options = {"--workers": "999" if "workers" in problem else "1",
               "--questions": "1,7" if "questions" in problem else "1"}
    run = subprocess.run([sys.executable, "-m", "paxoslab", "grade", str(path), "--csv",
                          str(tmp_path / "g.csv"), *(w for pair in options.items() for w in pair)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and str(path) in run.stderr and problem in run.stderr
