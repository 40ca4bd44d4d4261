"""Exercise 01's checker is graded too: the reference solutions pass, each mistake students
really make (reading the clock or random numbers, iterating a set, a global counter, changing
the state given, raising on a valid command, doing nothing) fails with its property and its
cause on every attempt and in any process, and the smr hook that runs a student's machine
leaves lesson 01's protocol as it was."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from homework_notebooks import exercise_namespace
from hypothesis import given, settings
from hypothesis import strategies as st

import paxoslab as pl
from paxoslab.homework import CORRECT, INCORRECT, NOT_ATTEMPTED, SOLUTIONS, build
from paxoslab.homework import state_machine as sm
from paxoslab.protocols.smr import ReplicaNode

NAME = "01_state_machine.ipynb"


def notebook_namespace(student: bool = False, extra: str = "") -> tuple[dict, tuple]:
    return exercise_namespace(NAME, sm, student, extra)


def grade(question: int, extra: str = "", student: bool = False):
    _, questions = notebook_namespace(student, extra)
    return questions[question - 1].evaluate()


def reference_apply() -> str:
    """The reference apply as a student would type it (markers removed)."""
    return build.solution_blocks(SOLUTIONS / NAME)[1]


def variant(old: str, new: str, imports: str = "") -> str:
    """The reference apply with one change (a mistake)."""
    source = reference_apply()
    assert old in source, old
    return imports + "\n" + source.replace(old, new)


# ---- the reference solutions pass, each check within 20 s --------------------------------------
@pytest.mark.parametrize("question", [1, 2])
def test_reference_solution_is_correct(question):
    verdict = grade(question)
    assert verdict.status == CORRECT, verdict.text
    assert verdict.text.startswith("✔ correct")
    assert verdict.seconds < 20


def test_q2_names_the_command_and_shows_a_run():
    verdict = grade(2)
    assert verdict.facts["verb"] == "back"
    assert "'back' is the non-deterministic command" in verdict.text
    assert "time.time()" in verdict.text
    run = sm.q2.shown_run
    assert {v.property for v in run.violations} == {"replica-consistency"}


# ---- the mistakes students make fail with the right property and cause, every time -------------
TOKEN = ('        count = new.get("_tokens", 0) + 1  # the counter lives in the state, like everything '
         'else\n        new["_tokens"] = count\n')
WRONG = {
    "token from the clock": (1, "replica-consistency", "clock", variant(
        'new[key] = f"token-{count}"', "new[key] = str(time.time())", "import time")),
    "token from datetime.now": (1, "replica-consistency", "clock", variant(
        'new[key] = f"token-{count}"', "new[key] = datetime.now().isoformat()",
        "from datetime import datetime")),
    "token from uuid4": (1, "replica-consistency", "randomness", variant(
        'new[key] = f"token-{count}"', "new[key] = uuid.uuid4().hex", "import uuid")),
    "token from random": (1, "replica-consistency", "randomness", variant(
        'new[key] = f"token-{count}"', "new[key] = str(random.random())", "import random")),
    "pick at random": (1, "replica-consistency", "randomness", variant(
        "chosen = min(members)", "chosen = random.choice(sorted(members))", "import random")),
    "pick with set.pop": (1, "replica-consistency", "set order", variant(
        "chosen = min(members)", "chosen = set(members).pop()")),
    "pick the first a set yields": (1, "replica-consistency", "set order", variant(
        "chosen = min(members)", "chosen = next(iter(members))")),
    "token from a global counter": (1, "replica-consistency", "global", variant(
        TOKEN, "        global COUNT\n        COUNT += 1\n        count = COUNT\n", "COUNT = 0")),
    "token from itertools.count": (1, "replica-consistency", "global", variant(
        TOKEN, "        count = next(TOKENS)\n", "import itertools\nTOKENS = itertools.count(1)")),
    "change the state in place": (1, "replica-consistency", "input", variant(
        "new = copy.deepcopy(state)", "new = state")),
    "a shallow copy": (1, "replica-consistency", "input", variant(
        "new = copy.deepcopy(state)", "new = dict(state)").replace(
        "new[key] = members - {chosen}", "members.remove(chosen)")),
    "del of a missing key raises": (1, "error", None, variant("new.pop(key, None)", "del new[key]")),
    "incr of a missing key raises": (1, "error", None, variant(
        "new[key] = new.get(key, 0) + 1", "new[key] += 1")),
    "pick from an empty set raises": (1, "error", None, variant(
        "if members:\n            chosen = min(members)", "if True:\n            chosen = min(members)")),
    "forget to return": (1, "error", None, variant("    return new\n", "    pass\n")),
    "count as a string": (1, "spec", None, variant(
        "new[key] = new.get(key, 0) + 1", "new[key] = str(int(new.get(key, 0)) + 1)")),
    "tokens that repeat after some logs": (1, "spec", None, variant(
        TOKEN, '        count = sum(1 for k in new if not k.startswith("_")) + 1\n')),
    "do nothing": (1, "no progress", None, """
        def apply(state, command):
            return state
        """),
    "q2 empty log": (2, "no progress", None, """
        def diverging_log():
            return []
        """),
    "q2 nobody waits": (2, "no divergence", None, """
        def diverging_log():
            return ["add b1", "lend b1 ann", "back b1"]
        """),
    "q2 the decoys": (2, "no divergence", None, """
        def diverging_log():
            return ["add b1", "lend b1 ann", "renew b1", "renew b1", "renew b1", "lend b1 bob",
                    "leave bob"]
        """),
    "q2 not a command": (2, "error", None, """
        def diverging_log():
            return ["add b1", "borrow b1 ann"]
        """),
}


@pytest.mark.parametrize("mistake", list(WRONG))
def test_a_wrong_solution_fails_with_its_property_every_time(mistake):
    question, prop, cause, code = WRONG[mistake]
    first, second = grade(question, code), grade(question, code)
    for verdict in (first, second):
        assert verdict.status == INCORRECT, verdict.text
        assert verdict.property == prop, verdict.text
        assert verdict.facts.get("cause") == cause, verdict.text
        assert verdict.seconds < 20
    assert first.facts.get("log") == second.facts.get("log")
    json.dumps(first.facts)  # the bulk grader can store what a check found
    if prop == "replica-consistency":  # two replicas, the command, the two states
        a, b = first.facts["states"]
        assert a != b
        assert re.search(r"S1 (and S\d first differ after #\d+|has .* and S3 has)", first.text), first.text
    if cause not in (None, "input"):  # the shortest log, through the protocol with the student's code
        assert first.counterexample is not None and "q1.replay()" in first.text
        assert first.counterexample.scenario["options"]["machine"] == "external"


@pytest.mark.parametrize("mistake, log", [
    ("token from the clock", ["token t"]),
    ("token from a global counter", ["token t"]),
    ("change the state in place", ["incr hits"]),
])
def test_the_counterexample_is_the_shortest(mistake, log):
    question, _, _, code = WRONG[mistake]
    assert grade(question, code).facts["log"] == log


def test_a_set_order_counterexample_is_three_commands():
    log = grade(1, WRONG["pick with set.pop"][3]).facts["log"]
    assert len(log) == 3 and log[-1] == "pick team lead"
    assert all(c.startswith("join team ") for c in log[:2])


@pytest.mark.parametrize("mistake", ["pick with set.pop", "token from the clock"])
def test_the_verdict_is_the_same_in_another_process(mistake):
    here = grade(1, WRONG[mistake][3]).facts
    script = (f"import json, sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
              f"from test_homework_state_machine import grade, WRONG; "
              f"v = grade(1, WRONG[{mistake!r}][3]); "
              f"print('FACTS', json.dumps([v.property, v.facts['cause'], v.facts['log'], v.facts['states']], "
              f"default=sorted))")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONHASHSEED": "4242"}).stdout
    there = json.loads(out.split("FACTS ", 1)[1])
    assert there == json.loads(json.dumps(["replica-consistency", here["cause"], here["log"], here["states"]],
                                          default=sorted))


def test_the_replay_runs_the_students_code():
    _, (q1, _) = notebook_namespace(extra=WRONG["token from the clock"][3])
    assert q1.evaluate().property == "replica-consistency"
    replayed = q1.replay(draw=False)
    assert {v.property for v in replayed.violations} == {"replica-consistency"}
    with pytest.raises(ValueError, match="external"):  # the library alone cannot run it
        pl.run_scenario(q1.counterexample)


# ---- not attempted, code that raises or loops, check() never raises ---------------------------
def test_skeletons_are_not_attempted(capsys):
    _, bound = notebook_namespace(student=True)
    for q in bound:
        q.check(draw=False)
        assert q.verdict.status == NOT_ATTEMPTED
    assert capsys.readouterr().out.count("◯ not attempted") == 2


def test_a_function_missing_from_the_notebook_is_not_attempted():
    verdict = sm.EXERCISE.bind({})[0].evaluate()
    assert verdict.status == NOT_ATTEMPTED and "define apply()" in verdict.text


def test_student_code_that_loops_is_stopped():
    verdict = grade(1, variant('new[key] = f"token-{count}"', "while count:\n            pass"))
    assert verdict.status == INCORRECT and verdict.property == "error"
    assert "did not return" in verdict.text
    assert verdict.seconds < 20


def test_a_very_slow_machine_is_not_verified(monkeypatch):
    monkeypatch.setattr(sm, "SEARCH_SECONDS", 0.05)
    verdict = grade(1, variant("    return new\n", "    time.sleep(0.001)\n    return new\n", "import time"))
    assert verdict.status == INCORRECT and verdict.property == "unverified"
    assert "very slow" in verdict.text


def test_check_never_raises(capsys):
    namespace, (q1, _) = notebook_namespace()
    namespace["apply"] = lambda state, command: 1 / 0
    q1.check(draw=False)
    assert "✘ incorrect: your apply() raised ZeroDivisionError" in capsys.readouterr().out


def test_hints_and_solution(capsys):
    _, (q1, q2) = notebook_namespace(student=True)
    for _ in range(5):
        q1.hint()
    q2.solution()
    out = capsys.readouterr().out
    assert [int(n) for n in re.findall(r"^Hint (\d+) of", out, re.M)] == [1, 2, 3, 4, 4]
    assert '"back b1"' in out and "BEGIN SOLUTION" not in out


# ---- the worlds: each replica its own clock, random numbers and hash seed ----------------------
MACHINES = """
import random
import time

def reads_the_world(state, command):
    return {"t": time.time(), "r": random.random()}

def imports_inside(state, command):
    import datetime
    from time import time_ns
    return {"d": str(datetime.date.today()), "t": time_ns()}
"""


def test_each_replica_reads_its_own_clock_and_random_numbers():
    import random
    space: dict = {}
    exec(MACHINES, space)
    for machine, keys in ((space["reads_the_world"], ("t", "r")), (space["imports_inside"], ("d", "t"))):
        states = sm.replay(["x"], machine)
        for k in keys:
            assert len({s[k] for s in states}) == 3, (machine, states)
        assert sm.replay(["x"], machine) == states  # the same every time
    random.seed(5)
    mine = random.random()
    random.seed(5)
    sm.replay(["x"], space["reads_the_world"])
    assert random.random() == mine  # the caller's random numbers are untouched


def test_a_set_of_words_iterates_in_another_order_on_each_replica():
    words = "ann bob cid dan eve fay gus hal".split()
    orders = []
    for replica in range(3):
        command = sm.World(replica).command("join " + " ".join(words))
        orders.append([str(w) for w in set(command.split()[1:])])
    assert orders[0] != orders[1] and orders[2] != orders[0] and orders[2] != orders[1]
    assert sorted(orders[0]) == sorted(words)
    two = [[str(w) for w in {sm.World(r).word("ann"), sm.World(r).word("bob")}] for r in range(2)]
    assert two[0] == list(reversed(two[1]))  # S2 iterates in the reverse of S1's order


def test_the_verb_is_a_plain_string_for_a_dispatch_table():
    command = sm.World(1).command("set x 1")
    verb, key, value = command.split()
    assert type(verb) is str and {"set": 1}[verb] == 1
    assert key == "x" and hash(key) != hash("x")


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.lists(st.sampled_from(["set a 1", "set a 2", "del a", "incr n", "del n", "join team ann",
                                 "join team bob", "join team cid", "pick team lead", "token t", "del t"]),
                max_size=12))
def test_the_reference_machine_agrees_on_every_log(log):
    namespace, _ = notebook_namespace()
    replay = sm.Runner(namespace["apply"]).replay(log)
    assert replay.divergence() is None and replay.mutated is None


def test_set_pop_differs_between_replicas_for_most_pairs_of_names():
    def machine(state, command):
        words = command.split()
        new = dict(state)
        if words[0] == "join":
            new["team"] = new.get("team", set()) | {words[2]}
        elif new.get("team"):
            team = set(new["team"])
            new["lead"] = team.pop()
            new["team"] = team
        return new

    names = ["ann", "bob", "cid", "dan", "eve"]
    pairs = [(a, b) for a in names for b in names if a < b]
    differ = 0
    for a, b in pairs:
        states = sm.replay([f"join team {a}", f"join team {b}", "pick team lead"], machine)
        assert {s["lead"] for s in states} <= {a, b}
        differ += len({s["lead"] for s in states}) > 1
    assert differ >= len(pairs) // 2


# ---- under the bulk grader: the student's code in a worker, the world put in place there ----
def test_the_bulk_grader_grades_exercise_01_as_check_does(tmp_path):
    grade_module = pytest.importorskip("paxoslab.homework.grade")
    solution = json.loads((SOLUTIONS / NAME).read_text(encoding="utf-8"))
    paths = {}
    for name, (old, new) in {"reference": ("", ""),
                             "setpop": ("chosen = min(members)", "chosen = set(members).pop()"),
                             "inplace": ("new = copy.deepcopy(state)", "new = state")}.items():
        nb = json.loads(json.dumps(solution))
        for cell in nb["cells"]:
            cell["source"] = "".join(cell["source"]).replace(old, new) if old else cell["source"]
        paths[name] = tmp_path / f"{name}.ipynb"
        paths[name].write_text(json.dumps(nb), encoding="utf-8")
    rows = {}
    for name, path in paths.items():
        graded = grade_module.grade_submission(str(path), out_dir=str(tmp_path / "out"))
        rows[name] = [(r["status"], r["property"]) for r in graded.rows]
    assert rows["reference"] == [("correct", ""), ("correct", "")]
    assert rows["setpop"][0] == ("incorrect", "replica-consistency")
    assert rows["inplace"][0] == ("incorrect", "replica-consistency")


# ---- the smr hook --------------------------------------------------------------------------
def test_a_node_class_brings_its_machine_and_external_scenarios_need_one():
    preset = Path(__file__).resolve().parent.parent / "data" / "scenarios" / "homework-smr-replicas.json"
    data = sm.with_log(pl.load_scenario(preset), ["incr n", "incr n"])
    with pytest.raises(ValueError, match="brings its own machine"):
        pl.run_scenario(data)
    namespace, _ = notebook_namespace()
    result = pl.run_scenario(data, node_class=sm.node_class({"apply": namespace["apply"]}))
    assert result.summary()["state"] == {n: {"n": 2} for n in ("S1", "S2", "S3")}


def test_an_external_machine_is_named_in_the_unknown_machine_error():
    data = {"name": "x", "protocol": "smr", "nodes": ["S1"], "options": {"machine": "abacus"}}
    with pytest.raises(pl.ScenarioError, match="external"):
        pl.run_scenario(data)


def test_the_plain_replica_builds_the_named_machine():
    assert type(ReplicaNode("S1", ["S1"], {"machine": "bank"}).new_machine()).__name__ == "BankAccount"


# ---- one source for both notebooks ------------------------------------------------------------
def test_the_student_notebook_is_what_the_build_makes():
    made = build.student_notebook(json.loads((SOLUTIONS / NAME).read_text(encoding="utf-8")))
    stored = json.loads((SOLUTIONS.parent / NAME).read_text(encoding="utf-8"))
    assert build.sources(stored) == build.sources(made)
    text = json.dumps(made)
    assert "BEGIN SOLUTION" not in text and "Solution notebook" not in text
    assert "min(members)" not in text and "back b1" not in text
