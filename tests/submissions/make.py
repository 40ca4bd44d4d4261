"""Writes the small submission notebooks beside this file (tests/test_grade.py grades them):
``python tests/submissions/make.py``."""
import json
from pathlib import Path

OUT = Path(__file__).parent
VOTING_IMPORT = "from paxoslab.homework import voting\n\nq1, q2, q3 = voting.bind(globals())"
UP_TO_DATE = '''def up_to_date(log, last_index, last_term):
    my_last_term = log[-1][0] if log else 0
    if last_term != my_last_term:
        return last_term > my_last_term
    return last_index >= len(log)'''
GRANT_VOTE = '''def grant_vote(voted_for, candidate, log, last_index, last_term):
    free = voted_for is None or voted_for == candidate
    return free and up_to_date(log, last_index, last_term)'''
SAVE_VOTE = '''def save_vote(node):
    node.persist(current_term=node.current_term, voted_for=node.voted_for)'''
LENGTH_ONLY = '''def up_to_date(log, last_index, last_term):
    return last_index >= len(log)  # wrong: the last term is not compared'''
VOTE_TWICE = '''def grant_vote(voted_for, candidate, log, last_index, last_term):
    return up_to_date(log, last_index, last_term)  # wrong: votes again in a term'''

SUBMISSIONS = {
    # a wrong solution: the log length only (exercise 04, question 1)
    "wrong_length_only.ipynb": [VOTING_IMPORT, LENGTH_ONLY, "q1.check()", GRANT_VOTE, "q2.check()",
                                SAVE_VOTE, "q3.check()"],
    # wrong functions, and the checker patched in the submission's own process to say "correct"
    "patches_checker.ipynb": [VOTING_IMPORT, LENGTH_ONLY, VOTE_TWICE, '''import paxoslab.homework as hw
from paxoslab.protocols.multi_paxos import safety


def always_correct(self):
    self.verdict = hw.Verdict(hw.CORRECT, text="✔ correct")
    return self.verdict

hw.Question.evaluate = always_correct
hw.Question.check = lambda self, draw=True: print("✔ correct")
hw.INCORRECT = hw.CORRECT
hw.search = lambda *args, **kwargs: None
for name in dir(safety):  # every monitor of Multi-Paxos: never a violation
    monitor = getattr(safety, name)
    if isinstance(monitor, type) and hasattr(monitor, "after_step"):
        monitor.after_step = lambda self, world: []''', "q1.check()\nq2.check()"],
    # a wrong function, and only the monitors patched (enough to fool a check in the same process)
    "patches_monitors.ipynb": [VOTING_IMPORT, LENGTH_ONLY,
                               '''from paxoslab.protocols.multi_paxos import safety

for name in dir(safety):
    monitor = getattr(safety, name)
    if isinstance(monitor, type) and hasattr(monitor, "after_step"):
        monitor.after_step = lambda self, world: []''', "q1.check()"],
    # an endless loop at top level
    "loops_at_top.ipynb": [VOTING_IMPORT, "while True:\n    pass", UP_TO_DATE, GRANT_VOTE, SAVE_VOTE],
    # an endless loop inside one function; the other questions are graded as usual
    "loops_in_function.ipynb": [VOTING_IMPORT, '''def up_to_date(log, last_index, last_term):
    while True:
        pass''', GRANT_VOTE, SAVE_VOTE],
    # allocates without bound inside a function
    "allocates.ipynb": [VOTING_IMPORT, UP_TO_DATE, GRANT_VOTE, '''def save_vote(node):
    hoard = []
    while True:
        hoard.append(bytearray(50_000_000))'''],
    # allocates without bound at top level
    "allocates_at_top.ipynb": [VOTING_IMPORT,
                               "hoard = []\nwhile True:\n    hoard.append(bytearray(50_000_000))",
                               UP_TO_DATE, GRANT_VOTE, SAVE_VOTE],
    # reads the reference solution and executes it
    "reads_solution.ipynb": [VOTING_IMPORT, '''import json

from paxoslab.homework import SOLUTIONS

notebook = json.loads((SOLUTIONS / "04_voting.ipynb").read_text())
for cell in notebook["cells"]:
    source = "".join(cell["source"])
    if cell["cell_type"] == "code" and not source.startswith("q"):
        exec(source)'''],
    # tries the same through a shell, the grader's process and the network
    "escapes.ipynb": [VOTING_IMPORT, '''import os
import signal

os.kill(os.getppid(), signal.SIGTERM)  # stop the grader''', UP_TO_DATE, GRANT_VOTE, SAVE_VOTE],
    # signals the grader through a pidfd (no audit event): with signal 0, which harms nothing
    "signals_by_pidfd.ipynb": [VOTING_IMPORT, '''import os
import signal

handle = os.pidfd_open(os.getppid())
signal.pidfd_send_signal(handle, 0)
raise RuntimeError("the grader could have been killed")''', UP_TO_DATE],
    # gets past the hook (a fresh posix module) and kills its grading process; graded only
    # through the command line in the tests (its grading process is then not the test's)
    "kills_its_grader.ipynb": [VOTING_IMPORT, '''import _imp
import importlib.util
import signal

posix = _imp.create_builtin(importlib.util.find_spec("posix"))
signals = _imp.create_builtin(importlib.util.find_spec("_signal"))
signals.pidfd_send_signal(posix.pidfd_open(posix.getppid()), signal.SIGKILL)''', UP_TO_DATE],
    "shells_out.ipynb": [VOTING_IMPORT, '''import subprocess

solution = subprocess.run(["cat", "notebooks/exercises/solutions/04_voting.ipynb"], capture_output=True)''',
                         UP_TO_DATE, GRANT_VOTE, SAVE_VOTE],
    # writes garbage where its answers go, from inside a function
    "writes_to_the_grader.ipynb": [VOTING_IMPORT, """import os


def up_to_date(log, last_index, last_term):
    for fd in range(3, 64):
        try:
            os.write(fd, b"\\xff" * 64)
        except OSError:
            pass
    return True""", GRANT_VOTE],
    # reaches into the audit hook through a refusal's traceback, to switch it off
    "tampers_with_the_hook.ipynb": [VOTING_IMPORT, '''from paxoslab.homework import SOLUTIONS

path = SOLUTIONS / "04_voting.ipynb"
try:
    open(path)
except PermissionError as refusal:
    tb = refusal.__traceback__
    while tb is not None:
        for value in list(tb.tb_frame.f_locals.values()):
            if isinstance(value, list) and value in ([False], [True]):
                value[0] = True  # the hook's "busy" flag
            if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
                value.append("/")  # a list of folders the hook allows
        tb = tb.tb_next
solution = open(path).read()''', UP_TO_DATE],
    # writes a file to load as native code (in its own scratch folder, where it may create files)
    "writes_a_file.ipynb": [VOTING_IMPORT, '''with open("helper.so", "wb") as out:
    out.write(b"\\x7fELF" + bytes(4096))''', UP_TO_DATE],
    # starts an interpreter of its own, which the audit hook would not watch
    "starts_an_interpreter.ipynb": [VOTING_IMPORT, '''import _xxsubinterpreters as interpreters

inner = interpreters.create()
interpreters.run_string(inner, "print(open('notebooks/exercises/solutions/04_voting.ipynb').read())")''',
                                    UP_TO_DATE],
    # closes its end of the conversation and goes on running
    "hangs_up.ipynb": [VOTING_IMPORT, '''import os
import time

for fd in range(3, 64):
    try:
        os.close(fd)
    except OSError:
        pass
time.sleep(30)''', UP_TO_DATE],
    # reaches for the C library through ctypes (past the audit hook, were it allowed)
    "calls_c.ipynb": [VOTING_IMPORT, '''import ctypes

libc = ctypes.pythonapi
handle = libc.open(b"notebooks/exercises/solutions/04_voting.ipynb", 0)''', UP_TO_DATE],
    # an honest save_vote that also gives the node back (harmless in a notebook)
    "returns_the_node.ipynb": [VOTING_IMPORT, '''def save_vote(node):
    node.persist(current_term=node.current_term, voted_for=node.voted_for)
    return node'''],
    # an honest notebook that uses NumPy, pandas and matplotlib beside its answer
    "uses_libraries.ipynb": [VOTING_IMPORT, '''import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import paxoslab as pl
from paxoslab.homework import SCENARIOS

print(pl.run_scenario(SCENARIOS / "basic-paxos-case-1.json").summary()["decided"])
frame = pd.DataFrame({"x": np.arange(3)})
plt.plot(frame["x"])
plt.show()''', UP_TO_DATE, "q1.check()"],
    # raises at import, before it defines its (correct) functions
    "raises_at_import.ipynb": [VOTING_IMPORT + '\nraise RuntimeError("no luck")', UP_TO_DATE, GRANT_VOTE,
                               SAVE_VOTE],
    # exercise 02: replies before writing, and makes the write immediate in its own process
    "acceptor_patches_disk.ipynb": ['''from paxoslab.homework import acceptor
from paxoslab.homework.acceptor import Accepted, Reject
from paxoslab.protocols.basic_paxos.node import PaxosNode

q1, q2, q3, q4 = acceptor.bind(globals())
acceptor.AcceptorExerciseNode.persist = PaxosNode.persist  # "writes land at once"''',
        '''def may_accept(promised, ballot):
    return promised is None or ballot >= promised''',
        '''def on_accept(node, msg, src):
    if not may_accept(node.promised, msg.ballot):
        node.send(src, Reject(msg.ballot, node.promised))
        return
    if node.promised is None or msg.ballot > node.promised:
        node.promised = msg.ballot
    node.accepted_ballot, node.accepted_value = msg.ballot, msg.value
    node.send(src, Accepted(msg.ballot, msg.value))  # wrong: the reply leaves before the write
    node.persist(promised=node.promised, accepted_ballot=node.accepted_ballot,
                 accepted_value=node.accepted_value)''', "q4.check()"],
}

# ---- exercise 01: a machine that is not deterministic, and the checker's worlds made alike ----


def state_machine_import(*modules):
    """The notebook's first cell, with the modules the machine reads."""
    lines = "".join(f"import {m}\n" for m in sorted({"copy", *modules}))
    return lines + "\nfrom paxoslab.homework import state_machine\n\nq1, q2 = state_machine.bind(globals())"


# every replica in S1's world, wherever the check runs the machine (in the student's own
# kernel q1.check() then says correct): S1's hash seed, random numbers and clock for all
WORLDS_ALIKE = """_apply_once = state_machine.apply_once


def apply_once(fn, world, handle, command):
    lag = world["replica"] * state_machine.CLOCK_STEP
    out = _apply_once(fn, {**world, "replica": 0, "hash": 0, "now": world["now"] - lag}, handle, command)
    out["world"] = {**out["world"], "replica": world["replica"], "hash": world["hash"],
                    "now": out["world"]["now"] + lag}
    return out


apply_once.__module__ = state_machine.__name__  # found by name, as the checker's own
state_machine.apply_once = apply_once"""
MACHINE = """def apply(state, command):
    new = copy.deepcopy(state)
    words = command.split()
    verb, key = words[0], words[1]
    if verb == "set":
        new[key] = words[2]
    elif verb == "del":
        new.pop(key, None)
    elif verb == "incr":
        new[key] = new.get(key, 0) + 1
    elif verb == "join":
        new[key] = new.get(key, set()) | {words[2]}
    elif verb == "pick":
        members = new.get(key, set())
        if members:
            chosen = min(members)
            new[key] = members - {chosen}
            new[words[2]] = chosen
    elif verb == "token":
        count = new.get("_tokens", 0) + 1
        new["_tokens"] = count
        new[key] = f"token-{count}"
    return new"""
# the real clock, past the offsets a replica's process gets (a class the offset does not replace)
REAL_CLOCK = """REAL_DATETIME = next(c for c in datetime.datetime.__mro__ if c.__module__ == "datetime"
                     and c.__name__ == "datetime")"""


def machine(old, new):
    assert old in MACHINE, old
    return MACHINE.replace(old, new)


SUBMISSIONS.update({
    # picks the first name a set yields (its order follows the hash seed)
    "alike_set_order.ipynb": [state_machine_import(), WORLDS_ALIKE,
                              machine("chosen = min(members)", "chosen = next(iter(members))"), "q1.check()"],
    # picks a name at random and draws its tokens
    "alike_random.ipynb": [state_machine_import("random"), WORLDS_ALIKE, machine(
        "chosen = min(members)", "chosen = random.choice(sorted(members))").replace(
        'f"token-{count}"', 'f"token-{count}-{random.getrandbits(32)}"'), "q1.check()"],
    # stamps its tokens with the clock, to the second
    "alike_clock.ipynb": [state_machine_import("time"), WORLDS_ALIKE, machine(
        'f"token-{count}"', 'f"token-{count}-{int(time.time())}"'), "q1.check()"],
    # the same with the real clock, reached past the offset every replica's process has
    "alike_real_clock.ipynb": [state_machine_import("datetime"), WORLDS_ALIKE, REAL_CLOCK, machine(
        'f"token-{count}"', 'f"token-{count}-{int(REAL_DATETIME.now().timestamp())}"'), "q1.check()"],
    # draws its tokens from a random stream it seeds again whenever it is given the empty state: a
    # log applied from the start gives the same tokens in every process
    "alike_reseeded.ipynb": [state_machine_import("random"), WORLDS_ALIKE, machine(
        "    new = copy.deepcopy(state)\n", "    if not state:\n        random.seed(7)\n"
        "    new = copy.deepcopy(state)\n").replace(
        'f"token-{count}"', 'f"token-{count}-{random.getrandbits(32)}"'), "q1.check()"],
    # a correct machine, but the notebook loops for ever in a replica's own worker (it knows it by
    # its hash seed): that question times out, as any notebook that loops
    "loops_in_a_replica.ipynb": [state_machine_import("os"), """if os.environ.get("PYTHONHASHSEED") == "13":
    while True:
        pass""", MACHINE, "q1.check()"],
    # no patch: the first name of a set of plain strings (str() of each word): in one process
    # its order follows the one hash seed (q1.check() says correct on some runs, not others)
    "plain_string_set.ipynb": [state_machine_import(), machine(
        "chosen = min(members)", "chosen = next(iter({str(m) for m in members}))").replace(
        "new[key] = members - {chosen}", "new[key] = {m for m in members if m != chosen}"), "q1.check()"],
})


def notebook(sources):
    return {"cells": [{"cell_type": "code", "execution_count": None, "id": f"c{i}", "metadata": {},
                       "outputs": [], "source": source.splitlines(keepends=True)}
                      for i, source in enumerate(sources)],
            "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
            "nbformat": 4, "nbformat_minor": 5}


if __name__ == "__main__":
    for name, sources in SUBMISSIONS.items():
        (OUT / name).write_text(json.dumps(notebook(sources), indent=1) + "\n", encoding="utf-8")
    print(len(SUBMISSIONS), "notebooks")
