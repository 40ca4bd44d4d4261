"""The instructor's bulk grader: ``python -m paxoslab grade SUBMISSIONS/*.ipynb [--csv grades.csv]``.

Each submitted notebook is graded question by question, with a verdict computed here, in
the grading process, by the exercise's own checks (the same ones ``qN.check()`` runs in a
notebook).  The student's code never runs here: it runs in a worker process of its own
(:mod:`paxoslab.homework.sandbox`, with CPU-time, memory and file-size limits and an audit
hook), which executes the notebook's code cells and then answers calls of the student's
functions.  Here each of those functions is a *proxy* (:class:`Sandbox.proxy`) that sends
its arguments to the worker and returns the answer, so the search, the timed runs, the
monitors and the verdict are this process's, whatever the submission changed in its own
(``paxoslab.homework``, the monitors, ``check()``, ``CORRECT``).

Each row of the table is one submission and question, with ``status`` one of:

* ``correct``, ``incorrect`` (the ``property`` broken, e.g. ``agreement`` or
  ``no progress``; its counterexample is written as a scenario file), ``not attempted``
  (the skeleton is unchanged or the function is missing), as ``qN.check()`` says;
* ``error``: the submission's code raised (at import, in a cell, or in one of its
  functions during the check), its worker died (e.g. at the memory limit) or answered
  something that is not an answer;
* ``timeout``: running the notebook took longer than ``timeout`` seconds of wall time, one
  of its functions did not answer within :data:`CALL_SECONDS`, the worker used up its CPU
  time, or the check could not finish within its own time budget.

Exercise 01's first question (a state machine applied on three replicas) gets a worker per
replica: the submission's own is S1's, and S2 and S3 each get one, started with a hash seed
(``PYTHONHASHSEED``), random seed and clock of their own put in place before the notebook's
first cell (:func:`grade_question`, :func:`paxoslab.homework.state_machine._in_processes`),
so that what a submission patches in one worker cannot make the replicas alike.

A question whose function loops or kills its worker does not take the other questions
with it: the next question starts a fresh worker (the notebook is run again).  A notebook
whose run itself times out or dies is not run again.  :func:`grade` grades each submission
in a grading process of its own (a pool of ``workers`` of them), so a submission that gets
past the worker's defences and kills its grading process loses only its own rows.

What the worker is kept from doing, and what it is not (it is not an operating-system
sandbox), is in :mod:`paxoslab.homework.sandbox`.  The grader does not need the reference
solutions: to be sure no submission reads them, grade on a copy of the course without
``notebooks/exercises/solutions``, under an account of its own.
"""

from __future__ import annotations

import builtins
import csv
import functools
import importlib
import json
import os
import pkgutil
import random
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from ..node import CancelTimer, Node, Note, Persist, PersistAppend, PersistTruncate, Send, SetTimer
from . import CORRECT, HANDLER_SECONDS, INCORRECT, NOT_ATTEMPTED, SOLUTIONS, Exercise, Question
from .sandbox import (
    _HEADER,
    MAX_MESSAGE,
    CodecError,
    decode,
    encode,
    encode_node,
    public_fields,
    random_state,
    state_of_random,
)

__all__ = ["COLUMNS", "STATUSES", "Limits", "GradeError", "exercises", "identify", "grade_submission",
           "grade"]

ERROR, TIMEOUT = "error", "timeout"
#: the five statuses a row may have
STATUSES = (CORRECT, INCORRECT, NOT_ATTEMPTED, ERROR, TIMEOUT)
#: the table's columns, in order
COLUMNS = ("submission", "exercise", "question", "status", "property", "seconds", "detail",
           "counterexample")
#: wall time one call of a student's function may take (below the checks' own handler limit,
#: so that the proxy, not the check, notices and the worker is stopped)
CALL_SECONDS = max(0.5, HANDLER_SECONDS - 0.5)
#: wall time a worker may take to start (import the library)
START_SECONDS = 60.0


class GradeError(ValueError):
    """Bad input for the grader: the message is one line naming the file."""

    def __init__(self, source: str, problem: str) -> None:
        self.source, self.problem = source, problem
        super().__init__(f"{source}: {problem}")

    def __reduce__(self) -> tuple:
        return type(self), (self.source, self.problem)


@dataclass(frozen=True)
class Limits:
    """What one worker may use: ``timeout`` seconds of wall time to run the notebook,
    ``cpu_seconds`` of CPU time in all, ``memory_mb`` of address space."""

    timeout: float = 60.0
    cpu_seconds: int = 120
    memory_mb: int = 2048


# ---- finding the exercise ------------------------------------------------------------------
_EXERCISES: dict[str, ModuleType] = {}


def exercises() -> dict[str, ModuleType]:
    """The exercise modules of :mod:`paxoslab.homework` (those with an ``EXERCISE``), by name
    (found once per process)."""
    from .. import homework

    if _EXERCISES:
        return dict(_EXERCISES)
    found = _EXERCISES
    for info in pkgutil.iter_modules(homework.__path__):
        if info.name in ("build", "grade", "paths", "sandbox") or info.name.startswith("_"):
            continue
        try:
            module = importlib.import_module(f"{homework.__name__}.{info.name}")
        except Exception as exc:  # noqa: BLE001 - one broken module must not stop the grader
            print(f"paxoslab: warning: paxoslab.homework.{info.name} could not be imported "
                  f"({type(exc).__name__}: {exc}); its exercise cannot be graded", file=sys.stderr)
            continue
        if isinstance(getattr(module, "EXERCISE", None), Exercise):
            found[info.name] = module
    return dict(found)


_IMPORT = re.compile(r"^\s*(?:from\s+paxoslab\.homework\s+import\s+([\w\s,()]+)"
                     r"|import\s+paxoslab\.homework\.(\w+)"
                     r"|from\s+paxoslab\.homework\.(\w+)\s+import)", re.MULTILINE)


def identify(path: str, cells: Sequence[str], choice: str | None = None,
             known: Mapping[str, ModuleType] | None = None) -> ModuleType:
    """The exercise a submission answers: ``choice`` (``--exercise``: ``02``, ``acceptor`` or
    ``02_acceptor.ipynb``) if given, else the one whose notebook has the submission's file
    name, else the one its code imports (``from paxoslab.homework import acceptor``)."""
    known = exercises() if known is None else known

    def by(word: str) -> ModuleType | None:
        word = word.strip()
        for name, module in known.items():
            ex = module.EXERCISE
            if word in (name, ex.number, ex.notebook, Path(ex.notebook).stem):
                return module
        return None

    if choice:
        module = by(choice)
        if module is None:
            names = ", ".join(f"{m.EXERCISE.number} ({n})" for n, m in sorted(known.items()))
            raise GradeError(path, f"--exercise {choice!r} is not an exercise (there are {names})")
        return module
    module = by(Path(path).name)
    if module is not None:
        return module
    named = []
    for match in _IMPORT.finditer("\n".join(cells)):
        words = match.group(1) or match.group(2) or match.group(3) or ""
        named += [w for w in re.split(r"[\s,()]+", words) if w and w in known]
    if len(set(named)) == 1:
        return known[named[0]]
    why = "it imports several" if named else "its name is no exercise's and it imports none"
    raise GradeError(path, f"which exercise is this? {why}; name it with --exercise")


def read_cells(path: str) -> list[tuple[int, str]]:
    """The code cells of a notebook: (cell number counted from 1, source)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise GradeError(path, "no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise GradeError(path, f"cannot be read ({exc})") from None
    try:
        notebook = json.loads(text)
    except ValueError as exc:
        raise GradeError(path, f"not a notebook (not JSON: {exc})") from None
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    if not isinstance(cells, list):
        raise GradeError(path, "not a notebook (no list of cells)")
    code = []
    for number, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(str(s) for s in source)
        code.append((number, str(source)))
    return code


# ---- the worker, seen from here ------------------------------------------------------------
class WorkerFailed(BaseException):
    """The worker did not answer as it should (late, dead, or nonsense).  A BaseException, so
    that neither the simulator nor the check takes it for the student's exception: it ends
    the question, and :attr:`Sandbox.failure` says how to grade it."""


_RAISERS: dict[str, Callable] = {}


def _frame_named(name: str) -> Callable:
    """A function called ``name`` that raises what it is given: the checks find the student's
    function on a traceback by its name (which of their functions raised)."""
    if name not in _RAISERS:
        namespace: dict[str, Any] = {}
        exec(f"def {name}(exc):\n    raise exc\n", namespace)  # noqa: S102 - name is an identifier
        _RAISERS[name] = namespace[name]
    return _RAISERS[name]


_BUILTIN_ERRORS = {name: value for name, value in vars(builtins).items()
                   if isinstance(value, type) and issubclass(value, Exception)}


def _exception(raised: Mapping[str, Any]) -> Exception:
    """The student's exception, rebuilt here from its type name and message (a builtin
    exception type, or an Exception subclass of the same name)."""
    name = str(raised.get("type", "Exception"))
    name = name if name.isidentifier() and len(name) < 80 else "Exception"
    message = str(raised.get("message", ""))
    cls = _BUILTIN_ERRORS.get(name)
    if cls is None:
        cls = type(name, (Exception,), {"__module__": "submission"})
    try:
        return cls(message)
    except Exception:  # noqa: BLE001 - an exception type that wants other arguments
        return type(name, (Exception,), {"__module__": "submission"})(message)


@dataclass
class Ran:
    """What running the notebook did: cells executed, the first cell that raised, the
    exercise's names that are callable now."""

    executed: int
    error: dict[str, Any] | None
    callable: list[str]


class Sandbox:
    """One worker process and the conversation with it."""

    def __init__(self, exercise_module: str, names: Sequence[str], limits: Limits,
                 refused: Sequence[str], world: Mapping[str, Any] | None = None) -> None:
        self.module, self.names, self.limits, self.refused = exercise_module, list(names), limits, refused
        #: the world this worker is started in (a replica's, see :func:`grade_question`): its
        #: ``hash_seed`` becomes the worker's ``PYTHONHASHSEED``, and the whole dict is handed
        #: to the function ``via`` names in the worker before any of the submission's code
        self.world = dict(world) if world is not None else None
        self.proc: subprocess.Popen | None = None
        self.sock: socket.socket | None = None
        self.scratch: str | None = None
        #: (status, detail) once the worker failed; every later call fails at once
        self.failure: tuple[str, str] | None = None
        self.seq = 0
        self.calls = 0
        self.ran: Ran | None = None
        self.launched = self.sent = 0.0

    # ---- life cycle --------------------------------------------------------------------
    def start(self) -> None:
        """Start the worker and wait for its greeting."""
        self.launch()
        self.greeted()

    def launch(self) -> None:
        """Start the worker process (not waiting for it: :meth:`greeted`)."""
        import paxoslab

        root = str(Path(paxoslab.__file__).resolve().parents[1])
        ours, theirs = socket.socketpair()
        self.sock = ours
        self.scratch = tempfile.mkdtemp(prefix="paxoslab-grade-")
        bootstrap = ("import sys\n"
                     "try:\n    import paxoslab\n"
                     f"except ImportError:\n    sys.path.append({root!r})\n"
                     "from paxoslab.homework.sandbox import main\n"
                     f"main({theirs.fileno()})\n")
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": self.scratch,
               "TMPDIR": self.scratch, "MPLCONFIGDIR": self.scratch, "MPLBACKEND": "Agg",
               "LANG": "C.UTF-8", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
               "MKL_NUM_THREADS": "1"}
        flags = ["-I"]
        if self.world is not None:  # a hash seed of the grader's choice: -I without -E (the
            # environment is this dict, nothing else), so that PYTHONHASHSEED counts
            env["PYTHONHASHSEED"] = str(int(self.world["hash_seed"]))
            flags = ["-s", "-P"]
        limits = self.limits

        cpu, memory = int(limits.cpu_seconds), int(limits.memory_mb) * 2 ** 20
        # no file may grow (a write fails, EFBIG): a submission cannot write a library to load
        wanted = [(resource.RLIMIT_CPU, (cpu, cpu + 5)), (resource.RLIMIT_AS, (memory, memory)),
                  (resource.RLIMIT_FSIZE, (0, 0)), (resource.RLIMIT_CORE, (0, 0))]

        def restrict() -> None:  # in the child, before it runs Python
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write fails instead of killing
            for which, (soft, hard) in wanted:
                old_soft, old_hard = resource.getrlimit(which)
                if old_hard != resource.RLIM_INFINITY:  # never above what the grader has itself
                    soft, hard = min(soft, old_hard), min(hard, old_hard)
                try:
                    resource.setrlimit(which, (soft, hard))
                except (ValueError, OSError):  # a platform that does not enforce it (RLIMIT_AS on macOS)
                    pass

        try:
            self.proc = subprocess.Popen(
                [sys.executable, *flags, "-c", bootstrap], pass_fds=[theirs.fileno()], cwd=self.scratch,
                env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True, preexec_fn=restrict)  # noqa: PLW1509 - limits before exec
        finally:
            theirs.close()
        self.launched = time.monotonic()

    def greeted(self) -> None:
        """Wait for the greeting of the worker :meth:`launch` started."""
        try:
            hello = self._receive(self.launched + START_SECONDS)
        except BaseException as exc:
            self._fail_from(exc, "while the worker started")
        if hello.get("op") != "hello":
            self._fail(ERROR, "the worker did not start as it should")

    def run(self, cells: Sequence[tuple[int, str]]) -> Ran:
        """Execute the notebook's code cells in the worker (within ``limits.timeout``)."""
        self.send_cells(cells)
        return self.ran_cells()

    def send_cells(self, cells: Sequence[tuple[int, str]]) -> None:
        """Ask the worker to run the notebook's code cells (the answer: :meth:`ran_cells`)."""
        from . import paths

        readable: list[str] = []
        request = {"op": "run", "module": self.module, "names": self.names, "cells": [list(c) for c in cells],
                   "readable": readable, "writable": [self.scratch], "refused": list(self.refused)}
        if self.world is not None:
            request["setup"] = self.world
        from .sandbox import allowed_folders
        readable += [f for f in allowed_folders() if not _inside_any(f, [str(paths.SOLUTIONS)])]
        readable.append(str(paths.SCENARIOS))  # the course's scenarios: a notebook may run them
        if self.failure is not None:
            raise WorkerFailed(self.failure[1])
        try:
            self._send(request)
        except BaseException as exc:
            self._fail_from(exc, "the notebook's cells")
        self.sent = time.monotonic()

    def ran_cells(self) -> Ran:
        """What running the cells did (see :meth:`send_cells`)."""
        answer = self._answer(self.sent + self.limits.timeout, self.limits.timeout, "the notebook's cells")
        if answer.get("op") != "ran" or not isinstance(answer.get("callable"), list):
            self._fail(ERROR, "the worker answered nonsense to running the notebook")
        names = [n for n in answer["callable"] if isinstance(n, str) and n in self.names]
        error = answer.get("error") if isinstance(answer.get("error"), dict) else None
        executed = answer.get("executed")
        self.ran = Ran(executed if isinstance(executed, int) else 0, error, names)
        return self.ran

    def stop(self) -> None:
        """End the worker (and anything it started) and remove its scratch folder."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if self.proc is not None:
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)
            self.scratch = None

    @property
    def alive(self) -> bool:
        return self.failure is None and self.proc is not None and self.proc.poll() is None

    # ---- calls ---------------------------------------------------------------------------
    def proxy(self, name: str) -> Callable:
        """A function named ``name`` that calls the student's ``name`` in the worker."""
        if not name.isidentifier():
            raise ValueError(f"{name!r} is not a function name")
        namespace: dict[str, Any] = {"_sandbox": self, "_frame_named": _frame_named}
        exec(f"def {name}(*args, **kwargs):\n"  # noqa: S102 - name is one of the exercise's names
             f"    raised, culprit, here, value = _sandbox.call({name!r}, args, kwargs)\n"
             f"    if raised is None:\n"
             f"        return value\n"
             f"    if here:\n"
             f"        raise raised\n"
             f"    _frame_named(culprit or '_in_what_it_called')(raised)\n"
             f"def remote(via, *args, **kwargs):\n"
             f"    raised, culprit, here, value = _sandbox.call({name!r}, args, kwargs, via)\n"
             f"    if raised is None:\n"
             f"        return value\n"
             f"    _frame_named(culprit or {name!r})(raised)\n", namespace)
        proxy = namespace[name]
        proxy.paxoslab_remote = namespace["remote"]
        return proxy

    def call(self, name: str, args: tuple, kwargs: dict,
             via: str | None = None) -> tuple[Exception | None, str | None, bool, Any]:
        """Call the student's ``name`` in the worker: (exception, which function raised it,
        raised by ``name`` itself, value).  Node arguments get the call's changes.  ``via``
        (``"paxoslab.module:function"``): the worker calls ``function(student_fn, *args,
        **kwargs)`` instead (see :func:`paxoslab.homework.sandbox.remote`)."""
        if self.failure is not None:
            raise WorkerFailed(self.failure[1])
        nodes = [a for a in (*args, *kwargs.values()) if isinstance(a, Node)]
        rngs = [a for a in (*args, *kwargs.values()) if type(a) is random.Random]
        seen: set[type] = set()  # the only classes an answer may hold as plain objects
        try:
            request = {"op": "call", "name": name, "random": random_state(random.getstate()),
                       "args": [encode_node(a, seen) if isinstance(a, Node) else encode(a, 0, seen)
                                for a in args],
                       "kwargs": {k: encode_node(v, seen) if isinstance(v, Node) else encode(v, 0, seen)
                                  for k, v in kwargs.items()}}
        except CodecError as exc:  # the check's data, not the student's: the check cannot run here
            self._fail(ERROR, f"the grader cannot send {name}() its arguments ({exc}); this check "
                              "cannot run with the function in a worker")
        if via is not None:
            request["via"] = via
        self.seq += 1
        self.calls += 1
        request["seq"] = self.seq
        answer = self._exchange(request, CALL_SECONDS, f"{name}()")
        try:
            if answer.get("op") != "answer" or answer.get("seq") != self.seq:
                raise CodecError("an answer to another question")
            changes = answer.get("nodes", [])
            if not isinstance(changes, list) or len(changes) != len(nodes):
                raise CodecError("an answer that does not match the call")
            for node, change in zip(nodes, changes, strict=True):
                apply_changes(node, change, frozenset(seen))
            states = answer.get("rngs") or []
            if answer.get("random") is not None:
                mirrored = state_of_random(answer["random"])
                if mirrored != random.getstate():
                    random.setstate(mirrored)
            if len(states) != len(rngs) and answer.get("random") is not None:
                raise CodecError("an answer that does not match the call")
            if states:
                for rng, state in zip(rngs, states, strict=True):
                    rng.setstate(state_of_random(state))
            raised = answer.get("raised")
            if raised is not None:
                if not isinstance(raised, dict):
                    raise CodecError("a malformed exception")
                culprit = raised.get("culprit")
                culprit = culprit if isinstance(culprit, str) and culprit in self.names else None
                return _exception(raised), culprit, bool(raised.get("here")) and culprit == name, None
            value = answer.get("value")
            if isinstance(value, dict) and value.get("$") == "node-argument":
                return None, None, False, nodes[value["v"]]
            return None, None, False, decode(value, 0, frozenset(seen))
        except Exception as exc:  # noqa: BLE001 - whatever the worker sent: not an answer
            self._fail(ERROR, f"the worker's answer to {name}() is not an answer "
                              f"({type(exc).__name__}: {str(exc)[:200]})")
            raise AssertionError("unreachable") from None

    # ---- the wire --------------------------------------------------------------------------
    def _exchange(self, request: dict[str, Any], seconds: float, what: str) -> dict[str, Any]:
        if self.failure is not None:
            raise WorkerFailed(self.failure[1])
        try:
            self._send(request)
        except BaseException as exc:
            self._fail_from(exc, what)
        return self._answer(time.monotonic() + seconds, seconds, what)

    def _answer(self, deadline: float, seconds: float, what: str) -> dict[str, Any]:
        if self.failure is not None:
            raise WorkerFailed(self.failure[1])
        try:
            return self._receive(deadline)
        except TimeoutError:
            verb = "did not finish" if what == "the notebook's cells" else "did not answer"
            self._fail(TIMEOUT, f"{what} {verb} within {seconds:g} s of wall time")
        except BaseException as exc:
            self._fail_from(exc, what)
        raise AssertionError("unreachable")

    def _send(self, message: dict[str, Any]) -> None:
        data = json.dumps(message, separators=(",", ":")).encode()
        assert self.sock is not None
        self.sock.settimeout(10.0)
        self.sock.sendall(_HEADER.pack(len(data)) + data)

    def _receive(self, deadline: float) -> dict[str, Any]:
        (size,) = _HEADER.unpack(self._exactly(_HEADER.size, deadline))
        if size > MAX_MESSAGE:
            raise CodecError(f"an answer of {size:,} bytes")
        answer = json.loads(self._exactly(size, deadline))
        if not isinstance(answer, dict):
            raise CodecError("an answer that is not a message")
        return answer

    def _exactly(self, size: int, deadline: float) -> bytes:
        assert self.sock is not None
        buffer = bytearray()
        while len(buffer) < size:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            self.sock.settimeout(left)
            chunk = self.sock.recv(min(size - len(buffer), 1 << 20))
            if not chunk:
                raise EOFError
            buffer += chunk
        return bytes(buffer)

    def _fail_from(self, exc: BaseException, what: str) -> None:
        if isinstance(exc, WorkerFailed):
            raise exc
        if isinstance(exc, KeyboardInterrupt):
            self.stop()
            raise exc
        if isinstance(exc, TimeoutError):
            self._fail(TIMEOUT, f"{what} did not answer in time")
        if isinstance(exc, (EOFError, ConnectionError)):
            try:
                code = self.proc.wait(timeout=2) if self.proc is not None else None
            except subprocess.TimeoutExpired:
                self._fail(ERROR, f"the worker hung up during {what}")
            if code is not None and code < 0 and -code in (signal.SIGXCPU, signal.SIGKILL):
                self._fail(TIMEOUT, f"the worker used up its {self.limits.cpu_seconds} s of CPU time "
                                    f"during {what}")
            how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit status {code}"
            self._fail(ERROR, f"the worker died during {what} ({how}; the memory limit is "
                              f"{self.limits.memory_mb} MB)")
        if isinstance(exc, Exception):  # malformed, undecodable, too deep...
            self._fail(ERROR, f"the worker's answer during {what} is not an answer "
                              f"({type(exc).__name__}: {str(exc)[:200]})")
        # anything else (e.g. the checks' own handler time limit) interrupted the conversation
        self._fail(TIMEOUT, f"{what} was interrupted ({type(exc).__name__}: {exc})")

    def _fail(self, status: str, detail: str) -> None:
        if self.failure is None:
            self.failure = (status, detail)
        self.stop()
        raise WorkerFailed(detail)


def _inside_any(path: str, folders: Sequence[str]) -> bool:
    path = os.path.realpath(path)
    return any(path == os.path.realpath(f) or path.startswith(os.path.realpath(f) + os.sep)
               for f in folders)


def _same(a: Any, b: Any) -> bool:
    try:
        return type(a) is type(b) and bool(a == b)
    except Exception:  # noqa: BLE001 - a value that cannot be compared: take the new one
        return False


_REPLAY = {Send, SetTimer, CancelTimer, Persist, PersistAppend, PersistTruncate, Note}


def apply_changes(node: Node, change: Any, plain: frozenset[type] | None = frozenset()) -> None:
    """Bring what a call did to a node in the worker over to ``node``: its public fields, then
    the effects it queued, each replayed through ``node``'s own methods (so the exercise's
    node class decides what a send or a write means), then its random stream.  ``plain``: the
    classes the call sent as plain objects (e.g. a key-value store): the only ones the changes
    may hold as such."""
    if not isinstance(change, dict):
        raise CodecError("malformed node changes")
    fields = decode(change.get("fields"), 0, plain)
    effects = decode(change.get("effects"), 0, plain)
    rng = decode(change.get("rng"), 0, plain)
    if not isinstance(fields, dict) or not all(isinstance(k, str) and k.isidentifier()
                                               and not k.startswith("_") for k in fields):
        raise CodecError("malformed node fields")
    if not isinstance(effects, list) or not all(type(e) in _REPLAY for e in effects):
        raise CodecError("malformed effects")
    current = public_fields(node)
    for name in current:
        if name not in fields:
            delattr(node, name)
    for name, value in fields.items():
        if name not in current or not _same(current[name], value):
            setattr(node, name, value)
    for effect in effects:
        kind = type(effect)
        if kind is Send:
            node.send(effect.dst, effect.msg)
        elif kind is SetTimer:
            node.set_timer(effect.timer, effect.delay)
        elif kind is CancelTimer:
            node.cancel_timer(effect.timer)
        elif kind is Persist:
            if not isinstance(effect.fields, dict) or not all(isinstance(k, str) for k in effect.fields):
                raise CodecError("malformed write")
            node.persist(**effect.fields)
        elif kind is PersistAppend:
            node.persist_append(effect.field, *effect.items)
        elif kind is PersistTruncate:
            node.persist_truncate(effect.field, effect.length)
        elif kind is Note:
            if not isinstance(effect.payload, dict) or not all(isinstance(k, str) for k in effect.payload):
                raise CodecError("malformed note")
            node.note(effect.event, **effect.payload)
    if isinstance(rng, random.Random) and rng.getstate() != node.rng.getstate():
        node.rng.setstate(rng.getstate())


# ---- grading one submission -------------------------------------------------------------------
@dataclass
class Graded:
    """One submission's rows and its line of the summary."""

    submission: str
    exercise: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        marks = []
        for row in self.rows:
            mark = f"q{row['question']} {row['status']}" if row["question"] != "" else row["status"]
            if row["status"] == INCORRECT and row["property"]:
                mark += f" ({row['property']})"
            marks.append(mark)
        return f"{self.submission}: exercise {self.exercise}: {', '.join(marks)} ({self.seconds:.1f} s)"


def _first_lines(text: str, count: int = 2, width: int = 400) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()][:count]
    out = " ".join(lines)
    for mark in ("✔ ", "✘ ", "◯ "):
        out = out.replace(mark, "")
    return out if len(out) <= width else out[: width - 1] + "…"


class _Submission:
    """A submission's worker, started again for the next question after one failed.  In an
    exercise with a question that asks for a worker per replica, it is started in the first
    replica's world (:func:`grade_question`)."""

    def __init__(self, path: str, cells: Sequence[tuple[int, str]], module: ModuleType, limits: Limits,
                 refused: Sequence[str]) -> None:
        self.path, self.cells, self.module, self.limits = path, cells, module, limits
        self.refused = refused
        self.sandbox: Sandbox | None = None
        worlds = [getattr(q, "replica_worlds", None) for q in module.EXERCISE.questions]
        #: the world of the submission's own worker: the first replica's, if a question has replicas
        self.world: Mapping[str, Any] | None = next((w[0] for w in worlds if w), None)
        #: the notebook's run itself failed (timed out, died): not tried again
        self.run_failure: tuple[str, str] | None = None

    def worker(self) -> Sandbox:
        if self.sandbox is not None and self.sandbox.alive:
            return self.sandbox
        if self.run_failure is not None:
            raise WorkerFailed(self.run_failure[1])
        if self.sandbox is not None:
            self.sandbox.stop()
        sandbox = self.sandbox = Sandbox(self.module.__name__, self.module.EXERCISE.student_names,
                                         self.limits, self.refused, self.world)
        try:
            sandbox.start()
            sandbox.run(self.cells)
        except WorkerFailed:
            self.run_failure = sandbox.failure or (ERROR, "the worker failed")
            raise
        return sandbox

    def close(self) -> None:
        if self.sandbox is not None:
            self.sandbox.stop()


class _Replicas:
    """A worker per replica for a question that asks for them (``question.replica_worlds``:
    one dict per replica, see :func:`grade_question`): the first replica's is the submission's
    own worker if that was started in its world; the others' are all started (and given the
    notebook's cells) when the check first calls one of them, each waited for when the check
    first calls it, and all stopped with the question."""

    def __init__(self, submission: _Submission, worlds: Sequence[Mapping[str, Any]], own: Sandbox) -> None:
        self.submission, self.worlds = submission, [dict(w) for w in worlds]
        #: the submission's own worker, if it is the first replica's (started in its world)
        self.own = own if own.world is not None and own.world == self.worlds[0] else None
        if self.own is not None:
            self.worlds = self.worlds[1:]
        self.sandboxes: list[Sandbox | None] = [None] * len(self.worlds)

    def proxies(self, name: str) -> list[Callable]:
        """The student's ``name`` in each replica's worker."""
        mine = [self._proxy(k, name) for k in range(len(self.worlds))]
        return mine if self.own is None else [self.own.proxy(name), *mine]

    def _proxy(self, k: int, name: str) -> Callable:
        proxies: list[Callable] = []

        def proxy() -> Callable:
            if not proxies:
                proxies.append(self.sandbox(k).proxy(name))
            return proxies[0]

        def call(*args: Any, **kwargs: Any) -> Any:
            return proxy()(*args, **kwargs)

        def remote(via: str, *args: Any, **kwargs: Any) -> Any:
            return proxy().paxoslab_remote(via, *args, **kwargs)

        call.__name__ = call.__qualname__ = name
        call.paxoslab_remote = remote
        return call

    def sandbox(self, k: int) -> Sandbox:
        """Replica ``k``'s worker, its cells run (the first call starts them all)."""
        s = self.submission
        if not any(self.sandboxes):
            boxes = self.sandboxes = [Sandbox(s.module.__name__, s.module.EXERCISE.student_names, s.limits,
                                              s.refused, world) for world in self.worlds]
            for box in boxes:
                box.launch()
            for box in boxes:
                box.greeted()
            for box in boxes:
                box.send_cells(s.cells)
        sandbox = self.sandboxes[k]
        assert sandbox is not None
        if sandbox.ran is None:
            sandbox.ran_cells()
        return sandbox

    @property
    def failure(self) -> tuple[str, str] | None:
        for sandbox in self.sandboxes:
            if sandbox is not None and sandbox.failure is not None:
                return sandbox.failure
        return None

    def close(self) -> None:
        for sandbox in self.sandboxes:
            if sandbox is not None:
                sandbox.stop()


def grade_question(submission: _Submission, question: Question) -> dict[str, Any]:
    """One row: grade ``question`` with the submission's functions, called in its worker.

    A question with ``replica_worlds`` (exercise 01's first: a machine applied on three
    replicas) also gets a worker per replica, each started in the world its dict names (its
    ``hash_seed`` as ``PYTHONHASHSEED``; the dict handed to the function ``via`` names in
    the worker before the first cell, e.g. to seed its random numbers and set its clock); the
    first replica's is the submission's own worker, started in that world: the proxy of each
    of the student's functions carries ``paxoslab_replicas()``, the same function in each
    replica's worker.  What the submission changes in one worker then changes that worker
    only: it cannot make the replicas' processes alike.
    """
    ex: Exercise = submission.module.EXERCISE
    row: dict[str, Any] = {"question": question.number, "property": "", "detail": "", "counterexample": None}
    try:
        sandbox = submission.worker()
    except WorkerFailed:
        status, detail = submission.run_failure or (ERROR, "the worker failed")
        return {**row, "status": status, "detail": detail}
    ran = sandbox.ran
    assert ran is not None
    missing = [n for n in question.names if n not in ran.callable]
    if missing and ran.error is not None:
        e = ran.error
        return {**row, "status": ERROR,
                "detail": f"cell {e.get('cell')} of the notebook raised {e.get('type')}: "
                          f"{str(e.get('message'))[:200]} (so {', '.join(n + '()' for n in missing)} "
                          f"was never defined)"}
    namespace = {name: sandbox.proxy(name) for name in ran.callable}
    worlds = getattr(question, "replica_worlds", None)
    replicas = _Replicas(submission, worlds, sandbox) if worlds else None
    if replicas is not None:
        for name, proxy in namespace.items():
            proxy.paxoslab_replicas = functools.partial(replicas.proxies, name)
    ex.bind(namespace)
    try:
        verdict = question.evaluate()
    except WorkerFailed:
        verdict = None
    finally:
        failure = sandbox.failure or (replicas.failure if replicas is not None else None)
        if replicas is not None:
            replicas.close()
    if failure is not None:  # whatever the check made of it, a worker failed
        status, detail = failure
        return {**row, "status": status, "detail": detail}
    assert verdict is not None
    row["detail"] = _first_lines(verdict.text)
    if verdict.status == CORRECT:
        return {**row, "status": CORRECT}
    if verdict.status == NOT_ATTEMPTED:
        return {**row, "status": NOT_ATTEMPTED}
    if verdict.property == "error":
        return {**row, "status": ERROR, "detail": _first_lines(verdict.text, 3).removeprefix("incorrect: ")}
    if verdict.property == "unverified":
        return {**row, "status": TIMEOUT}
    row.update(status=INCORRECT, property=verdict.property or "")
    row["_counterexample"] = verdict.counterexample.scenario if verdict.counterexample is not None else None
    return row


def grade_submission(path: str, exercise: str | None = None, questions: Sequence[int] | None = None,
                     limits: Limits = Limits(), out_dir: str | None = None,
                     refused: Sequence[str] = (), name: str | None = None) -> Graded:
    """Grade one notebook: one row per question (see the module docstring).  Counterexamples
    are written as scenario files to ``out_dir`` (named ``name``-``NN``-q``N``.json)."""
    start = time.perf_counter()
    cells = read_cells(path)
    module = identify(path, [source for _, source in cells], exercise)
    ex: Exercise = module.EXERCISE
    graded = Graded(path, ex.number)
    chosen = [q for q in ex.questions if not questions or q.number in questions]
    refused = [str(SOLUTIONS), *refused, path]
    submission = _Submission(path, cells, module, limits, refused)
    try:
        for question in chosen:
            began = time.perf_counter()
            row = grade_question(submission, question)
            scenario = row.pop("_counterexample", None)
            if scenario is not None and out_dir is not None:
                os.makedirs(out_dir, exist_ok=True)
                file = Path(out_dir) / f"{name or Path(path).stem}-{ex.number}-q{question.number}.json"
                short = module.__name__.rsplit(".", 1)[-1]
                functions = ", ".join(f"{n!r}: {n}" for n in question.names)
                scenario = {**scenario, "description": (
                    f"{row['property']} with {Path(path).name}'s {', '.join(question.names)} (exercise "
                    f"{ex.number}, question {question.number}); it shows the violation only with the "
                    f"student's code: replay it with their functions, in their notebook: pl.run_scenario("
                    f"'{file.name}', node_class={short}.node_class({{{functions}}})). "
                    f"{scenario.get('description', '')}").strip()}
                file.write_text(json.dumps(scenario, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
                row["counterexample"] = str(file)
            row.update(submission=path, exercise=ex.number, seconds=round(time.perf_counter() - began, 2),
                       detail=" ".join(str(row.get("detail") or "").split()))  # one line in the table
            graded.rows.append({c: row.get(c) for c in COLUMNS})
    finally:
        submission.close()
        ex.bind({})
    graded.seconds = time.perf_counter() - start
    return graded


def _grade_one(job: tuple) -> Graded:
    path, exercise, questions, limits, out_dir, refused, name, number = job
    try:
        return grade_submission(path, exercise, questions, limits, out_dir, refused, name)
    except GradeError:
        raise
    except Exception as exc:  # noqa: BLE001 - the grader's own failure: a row that says so
        graded = Graded(path, number)
        graded.rows.append({"submission": path, "exercise": number, "question": "", "status": ERROR,
                            "property": "", "seconds": 0, "detail": f"the grader failed: "
                                                                    f"{type(exc).__name__}: {exc}",
                            "counterexample": None})
        graded.rows[-1]["_grader_failed"] = True
        return graded


def _leave_ctrl_c_to_the_parent() -> None:
    """A pool process ignores Ctrl-C: the command stops the pool (no traceback per process)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _names(paths: Sequence[str]) -> list[str]:
    """A file-name stem per submission, unique (``alice``, or ``a_alice`` where stems repeat)."""
    stems = [Path(p).stem for p in paths]
    return [s if stems.count(s) == 1 else re.sub(r"[^\w.-]+", "_", str(Path(p).with_suffix("")))
            for s, p in zip(stems, paths, strict=True)]


def grade(paths: Sequence[str], csv_path: str = "grades.csv", workers: int = 1, exercise: str | None = None,
          questions: Sequence[int] | None = None, limits: Limits = Limits(),
          out: Callable[[str], None] = print) -> tuple[int, int]:
    """Grade every submission; write the table to ``csv_path`` and counterexamples beside it
    (``counterexamples/``); ``out`` gets one line per submission.  Returns (submissions
    graded, submissions the grader itself failed on).  Bad input raises :class:`GradeError`
    before anything is graded."""
    known = exercises()
    which = []  # each submission's exercise number
    for path in paths:  # bad input is found before anything runs
        ex = identify(path, [source for _, source in read_cells(path)], exercise, known).EXERCISE
        which.append(ex.number)
        numbers = [q.number for q in ex.questions]
        unknown = [n for n in questions or () if n not in numbers]
        if unknown:
            raise GradeError(path, f"--questions {unknown[0]}: exercise {ex.number} has questions "
                                   f"{', '.join(map(str, numbers))}")
    out_dir = str(Path(csv_path).resolve().parent / "counterexamples")
    refused = [str(Path(p).resolve()) for p in paths] + [str(Path(csv_path).resolve()), out_dir]
    jobs = [(p, exercise, tuple(questions or ()), limits, out_dir, refused, n, number)
            for p, n, number in zip(paths, _names(paths), which, strict=True)]
    try:
        handle = open(csv_path, "w", newline="", encoding="utf-8")  # noqa: SIM115
    except OSError as exc:
        raise GradeError(csv_path, f"cannot write the table ({exc})") from None
    graded = failed = 0
    from concurrent.futures import ProcessPoolExecutor

    # each submission is graded in a process of its own (a pool of them), never in this one: a
    # submission that gets past the hook and kills its grading process loses only its own rows
    pool = ProcessPoolExecutor(max(1, min(workers, len(jobs))), initializer=_leave_ctrl_c_to_the_parent)
    try:
        writer = csv.DictWriter(handle, COLUMNS, lineterminator="\n")
        writer.writeheader()
        futures = [pool.submit(_grade_one, job) for job in jobs]
        for job, future in zip(jobs, futures, strict=True):
            try:
                result = future.result()
            except BrokenProcessPool:  # some grading process died: grade this one alone
                result = _grade_alone(job)
            bad = any(row.pop("_grader_failed", False) for row in result.rows)
            writer.writerows(result.rows)
            handle.flush()
            out(result.summary())
            graded += not bad
            failed += bad
    finally:
        handle.close()
        pool.shutdown(wait=True, cancel_futures=True)
    return graded, failed


def _grade_alone(job: tuple) -> Graded:
    """Grade one submission in a grading process of its own; if that process dies too, the
    submission is the one that killed it: one row that says so."""
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(1, initializer=_leave_ctrl_c_to_the_parent) as alone:
        try:
            return alone.submit(_grade_one, job).result()
        except BrokenProcessPool:
            path, number = job[0], job[-1]
            graded = Graded(path, number)
            graded.rows.append({"submission": path, "exercise": number, "question": "",
                                "status": ERROR, "property": "", "seconds": 0, "counterexample": None,
                                "detail": "its grading process was killed (by the submission, or for "
                                          "lack of memory): nothing of it was graded"})
            return graded


def max_workers() -> int:
    """The most ``--workers``: one per CPU (each grades a submission with a full CPU's search)."""
    return os.cpu_count() or 1
