"""Exercise 01: a deterministic state machine, and the command that makes replicas diverge
(lesson 01, state machine replication).

1. ``apply(state, command)`` — the student writes a small state machine as a function: a
   key-value store with counters, sets of names and fresh tokens (:data:`COMMANDS`).  It
   returns the new state and leaves the one it was given as it was;
2. ``diverging_log()`` — given a lending library's machine (:func:`library_apply`) one of
   whose commands is not deterministic, the student writes a log after which two replicas
   differ.

What the check does for question 1:

* **the spec**, on one replica: a fixed tour of every command, edge cases included
  (deleting a missing key, counting a missing key, picking from an empty set), each step
  compared with what the command must do.  A machine that never changes its state is
  "incorrect: no progress"; one that raises on a valid command is a finding ("error");
* **determinism**: the tour and a fixed battery of seeded random logs are each applied on
  three replicas, and every replica must be in the same state after every command (and S1's
  steps must be the spec's).  A real replica is a process of its own, on a machine of its own: its clock,
  its random numbers and its hash seed (the order in which a set of names iterates) are its
  own.  The check gives each replica its own, so that a machine that reads any of them
  fails **every time** (not by luck): while replica ``k`` applies a command, the names
  ``time``, ``datetime``, ``uuid`` and ``secrets`` the machine's module holds (and the
  functions imported from them, and those modules imported inside the function) are
  replica ``k``'s, the ``random`` module draws from
  replica ``k``'s own generator, and the words of the command hash as replica ``k``'s
  process would hash them (:class:`World`).  The replicas run one after another in one
  process, so a machine that keeps state in a global shares it between them, and the second
  replica starts where the first left off;
* **its input stays as it was**: a replica keeps the state each command returned (a
  snapshot, Raft §7, is such a state, handed to a replica that catches up): a replica that
  catches up from a snapshot of another must end in the same state;
* **the protocol**: the tour through lesson 01's replication protocol (``smr``) in the
  scenarios ``homework-smr-*.json``, with the student's machine in every replica.

The log that breaks determinism (the first failing log, cut down until no command of it can be
left out) is told as three replicas side by side, with the command after which two of them
first differ, their two states and the cause (what the machine read, the global that changed,
or the hash seed); and it is run through the protocol (``q1.replay()``), so the check draws
the lesson's diagram.  Everything is seeded: a wrong machine fails the same way on every
attempt and in any process (whatever ``PYTHONHASHSEED`` is).

Question 2 checks the student's log: valid commands, two replicas that differ after it (the
run that shows it), and the same log without the command that made them differ keeping every
replica equal.

Where the student's function runs: every call goes through :func:`apply_once`, by
:func:`paxoslab.homework.sandbox.remote`, so that the world is put in place where the
function really runs (in a notebook, here; under the bulk grader, in its worker).  The states
a call returns stay there, kept by handle (a replica keeps the very object its machine
returned, and a replica that catches up from a snapshot gets that object); what comes back is
plain data, and the replicas, their comparison and the verdict are the checking process's.

Under the bulk grader that worker is the submission's own, and what :class:`World` arranges
there the submission can undo (patch :func:`apply_once`, so that every replica's world is
S1's).  So, once question 1 has found nothing, the grader applies the logs again with each
replica in a process of its own (:func:`_in_processes`): the submission's worker is S1's,
started in S1's :data:`PROCESS_WORLDS` world, and S2 and S3 get workers of their own, each
with its own ``PYTHONHASHSEED``, random seed and clock offset put in place before the
notebook's first cell, the logs in another order, S2 a second after S1, and S2 catching up
from S1's states; the grading process compares the states.  In a notebook nothing of this
runs, and ``q1.check()`` is as described above.
"""

from __future__ import annotations

import copy
import datetime as _datetime
import functools
import hashlib
import inspect
import json
import random as _random
import secrets as _secrets
import sys
import time
import time as _time
import uuid as _uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from ..node import Node
from ..protocols.smr import EXTERNAL, ReplicaNode
from ..runner import Result, run_scenario
from ..sim import HandlerError, SimulationStalled
from ..statemachine import CommandError, StateMachine
from ..watchdog import HandlerTimeLimit, handler_time_limit
from ..wording import ms
from . import (
    CORRECT,
    HANDLER_SECONDS,
    INCORRECT,
    SEARCH_SECONDS,
    Exercise,
    Preset,
    Question,
    Verdict,
    _draw,
    _Probe,
    _student_frame,
    indent,
)
from .sandbox import CodecError, decode, encode, remote

__all__ = ["COMMANDS", "EXERCISE", "ExerciseMachine", "World", "bind", "library_apply", "node_class",
           "replay", "show_library"]

#: the commands of question 1's machine, as the notebook tells them
COMMANDS = {
    "set KEY VALUE": "KEY holds the string VALUE",
    "del KEY": "KEY is gone (deleting a key that is not there changes nothing)",
    "incr KEY": "KEY holds a count, one more than before (a missing key counts from 0)",
    "join KEY NAME": "KEY holds a set of names; NAME is in it (a missing key starts as the empty set)",
    "pick KEY DEST": "one name of the set at KEY, whichever you like, leaves the set and DEST holds it "
                     "(an empty or missing set: nothing changes)",
    "token KEY": "KEY holds a new token: a string that no earlier token command gave",
}

# ---- the world a replica reads from: its own clock, random numbers and hash seed ------------
#: replica S1's clock starts at 2026-01-01 00:00 UTC; each further replica's a day, an hour,
#: a minute and 1.5 s later (so a date, an hour or a second read from it differs too)
BASE_CLOCK = 1_767_225_600.0
CLOCK_STEP = 90_061.5
#: each read of a replica's clock finds it this much later (time passes between commands)
CLOCK_TICK = 1.25
#: the replicas of the checks
REPLICAS = ("S1", "S2", "S3")


@functools.lru_cache(maxsize=65536)
def _name_hash(replica: int, text: str) -> int:
    """How replica ``replica``'s process hashes ``text``: S1 and S3 with keys of their own,
    S2 the bitwise complement of S1 (a set of names iterates in S2 in the reverse of S1's order,
    unless two names share a slot)."""
    key = b"paxoslab-S3" if replica % 3 == 2 else b"paxoslab-S1"
    value = int.from_bytes(hashlib.blake2b(text.encode("utf-8", "surrogatepass"), key=key,
                                           digest_size=8).digest(), "little", signed=True)
    return ~value if replica % 3 == 1 else value


def _name_class(replica: int) -> type[str]:
    """The ``str`` of replica ``replica``: equal to a plain string, hashed as that replica's
    process hashes it; the words and pieces cut from it are of the same kind."""

    def keep(method: str) -> Callable:
        plain = getattr(str, method)

        def cut(self, *args, **kwargs):
            out = plain(self, *args, **kwargs)
            if isinstance(out, str):
                return cls(out)
            return type(out)(cls(x) if isinstance(x, str) else x for x in out)
        cut.__name__ = method
        return cut

    body: dict[str, Any] = {"__slots__": (), "__module__": __name__,
                            "__hash__": lambda self: _name_hash(replica, str.__str__(self)),
                            "__doc__": f"A word as replica {REPLICAS[replica % 3]}'s process hashes it."}
    for method in ("split", "rsplit", "partition", "rpartition", "strip", "lstrip", "rstrip", "lower",
                   "upper", "casefold", "title", "capitalize", "removeprefix", "removesuffix",
                   "replace", "splitlines", "__getitem__"):
        body[method] = keep(method)
    cls = type(f"Word{replica % 3 + 1}", (str,), body)
    return cls


def _command_class(replica: int, name: type[str]) -> type[str]:
    """A whole command for replica ``replica``: its first word (the verb) is a plain string,
    as a dispatch table wants it; every other word is ``name``."""

    def split(self, *args, **kwargs):
        words = str.split(self, *args, **kwargs)
        return [str(w) if i == 0 else name(w) for i, w in enumerate(words)]

    def rsplit(self, *args, **kwargs):
        words = str.rsplit(self, *args, **kwargs)
        return [str(w) if i == 0 else name(w) for i, w in enumerate(words)]

    def partition(self, sep):
        head, s, rest = str.partition(self, sep)
        return str(head), s, name(rest)

    def strip(self, *args):
        return cls(str.strip(self, *args))

    body = {"__slots__": (), "__module__": __name__, "split": split, "rsplit": rsplit,
            "partition": partition, "strip": strip,
            "__doc__": f"A command as replica {REPLICAS[replica % 3]} receives it."}
    cls = type(f"Command{replica % 3 + 1}", (str,), body)
    return cls


_NAMES = tuple(_name_class(r) for r in range(3))
_COMMANDS = tuple(_command_class(r, _NAMES[r]) for r in range(3))


class _Module:
    """A module as one replica sees it: some attributes replaced, the others the real ones."""

    def __init__(self, real: Any, **replaced: Any) -> None:
        self._real, self._replaced = real, replaced

    def __getattr__(self, name: str) -> Any:
        if name in self._replaced:
            return self._replaced[name]
        return getattr(self._real, name)

    def __repr__(self) -> str:
        return repr(self._real)


class World:
    """What replica ``replica`` reads from outside its state: its own clock (starting
    :data:`CLOCK_STEP` later per replica), its own random numbers and its own hash seed
    (``hash``: whose; the replica's own unless a check says otherwise).

    :meth:`call` calls a machine's function with that world in place; what it read is in
    :attr:`reads` (``"time.time()"``, ``"random"``...).  Where the world stands (its clock
    and how many calls it made, which seed the next random numbers) is plain data,
    :meth:`to_dict`, so that it can travel to where the function runs (:func:`apply_once`).
    """

    def __init__(self, replica: int, hash: int | None = None) -> None:  # noqa: A002 - as a field
        self.replica = replica
        self.hash = replica if hash is None else hash
        self.now = BASE_CLOCK + replica * CLOCK_STEP
        self.calls = 0
        self.rng = _random.Random(0)
        self.word = _NAMES[self.hash % 3]
        self.command = _COMMANDS[self.hash % 3]
        self.reads: list[str] = []
        self.replacements = self._replacements()

    def to_dict(self) -> dict[str, Any]:
        return {"replica": self.replica, "hash": self.hash, "now": self.now, "calls": self.calls}

    # -- the clock ----------------------------------------------------------------------
    def clock(self, what: str) -> float:
        self.reads.append(what)
        self.now += CLOCK_TICK
        return self.now

    def _replacements(self) -> dict[int, tuple[Any, Any]]:
        """id(real object) -> (real object, this replica's)."""
        w = self
        dt, tm, uu = _datetime, _time, _uuid  # the real modules, whatever a swap does

        class datetime(dt.datetime):  # noqa: N801 - as the module names it
            @classmethod
            def now(cls, tz=None):
                return dt.datetime.fromtimestamp(w.clock("datetime.now()"), tz)

            @classmethod
            def utcnow(cls):
                return dt.datetime.fromtimestamp(w.clock("datetime.utcnow()"), dt.timezone.utc).replace(
                    tzinfo=None)

            @classmethod
            def today(cls):
                return dt.datetime.fromtimestamp(w.clock("datetime.today()"))

        class date(dt.date):  # noqa: N801
            @classmethod
            def today(cls):
                return dt.date.fromtimestamp(w.clock("date.today()"))

        def at(secs, what):
            return w.clock(what) if secs is None else secs

        clock = {
            "time": lambda: w.clock("time.time()"),
            "time_ns": lambda: int(w.clock("time.time_ns()") * 1e9),
            "monotonic": lambda: w.clock("time.monotonic()"),
            "monotonic_ns": lambda: int(w.clock("time.monotonic_ns()") * 1e9),
            "perf_counter": lambda: w.clock("time.perf_counter()"),
            "perf_counter_ns": lambda: int(w.clock("time.perf_counter_ns()") * 1e9),
            "ctime": lambda secs=None: tm.ctime(at(secs, "time.ctime()")),
            "localtime": lambda secs=None: tm.localtime(at(secs, "time.localtime()")),
            "gmtime": lambda secs=None: tm.gmtime(at(secs, "time.gmtime()")),
            "strftime": lambda fmt, t=None: tm.strftime(
                fmt, tm.localtime(w.clock("time.strftime()")) if t is None else t),
        }

        def drawn(what: str, make: Callable) -> Callable:
            def draw(*args, **kwargs):
                w.reads.append(what)
                return make(*args, **kwargs)
            return draw

        rng = self.rng
        uuids = {
            "uuid4": drawn("uuid.uuid4()", lambda: uu.UUID(int=rng.getrandbits(128), version=4)),
            "uuid1": drawn("uuid.uuid1()", lambda *a, **k: uu.UUID(
                int=(int(w.clock("uuid.uuid1()") * 1e7) << 64) | rng.getrandbits(64), version=1)),
        }
        secret = {
            "token_hex": drawn("secrets.token_hex()", lambda n=16: rng.randbytes(n).hex()),
            "token_bytes": drawn("secrets.token_bytes()", lambda n=16: rng.randbytes(n)),
            "token_urlsafe": drawn("secrets.token_urlsafe()", lambda n=16: rng.randbytes(n).hex()),
            "randbelow": drawn("secrets.randbelow()", lambda n: rng.randrange(n)),
            "choice": drawn("secrets.choice()", lambda seq: rng.choice(seq)),
        }
        table: dict[int, tuple[Any, Any]] = {}

        def put(real: Any, mine: Any) -> None:
            table[id(real)] = (real, mine)

        put(tm, _Module(tm, **clock))
        for name, fn in clock.items():
            put(getattr(tm, name), fn)
        put(dt, _Module(dt, datetime=datetime, date=date))
        put(dt.datetime, datetime)
        put(dt.date, date)
        put(uu, _Module(uu, **uuids))
        for name, fn in uuids.items():
            put(getattr(uu, name), fn)
        put(_secrets, _Module(_secrets, **secret))
        for name, fn in secret.items():
            put(getattr(_secrets, name), fn)
        return table

    # -- a call with this world in place ----------------------------------------------------
    @contextmanager
    def in_place(self, functions: Sequence[Callable]) -> Iterator[None]:
        """While the block runs, the functions' modules see this replica's clock, random
        numbers and the like, and so does an ``import time`` (or ``datetime``, ``uuid``,
        ``secrets``) inside them; names and modules restored after."""
        swapped = []
        seen = set()
        for fn in functions:
            space = getattr(fn, "__globals__", None)
            if space is None or id(space) in seen:
                continue
            seen.add(id(space))
            for name, value in list(space.items()):
                entry = self.replacements.get(id(value))
                if entry is not None and entry[0] is value:
                    swapped.append((space, name, value))
                    space[name] = entry[1]
        imported = []  # an import inside the function finds this replica's module too
        for real in (_time, _datetime, _uuid, _secrets):
            if sys.modules.get(real.__name__) is real:
                imported.append(real)
                sys.modules[real.__name__] = self.replacements[id(real)][1]
        seed = 1_000_003 * (self.replica + 1) + self.calls
        self.calls += 1
        self.rng.seed(seed)  # uuid and secrets draw from it
        mine = _random.Random(seed + 500_009).getstate()  # the random module's, for this call
        outside = _random.getstate()
        _random.setstate(mine)
        try:
            yield
        finally:
            if _random.getstate() != mine:
                self.reads.append("random")
            _random.setstate(outside)
            for real in imported:
                sys.modules[real.__name__] = real
            for space, name, value in swapped:
                space[name] = value

    def call(self, fn: Callable, state: Any, command: str) -> Any:
        """``fn(state, command)`` as this replica runs it (the command's words are this
        replica's strings)."""
        with self.in_place([fn]):
            return fn(state, self.command(command))


# ---- states as plain values -----------------------------------------------------------------
def plain(value: Any) -> Any:
    """A state as plain values: every string a plain ``str``, tuples as lists, sets as sets;
    anything else by its ``repr`` (a datetime, an object)."""
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, bool | int | float) or value is None:
        return value
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, set | frozenset):
        return {plain(v) for v in value}
    return repr(value)


def jsonable(value: Any) -> Any:
    """A plain state as JSON: a set as its sorted list."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    if isinstance(value, set):
        return sorted((jsonable(v) for v in value), key=repr)
    return value


def key(state: Any) -> str:
    """One string per state: two replicas are in the same state when their keys are equal."""
    return json.dumps(jsonable(plain(state)), sort_keys=True)


def shown(state: Any) -> str:
    """A state as the verdicts write it: ``{'n': 2, 'team': {'ann', 'bob'}}`` (sets sorted)."""
    def text(v: Any) -> str:
        if isinstance(v, dict):
            return "{" + ", ".join(f"{text(k)}: {text(x)}" for k, x in sorted(v.items(), key=lambda kv: str(
                kv[0]))) + "}"
        if isinstance(v, set):
            return "{" + ", ".join(sorted(text(x) for x in v)) + "}" if v else "set()"
        if isinstance(v, list):
            return "[" + ", ".join(text(x) for x in v) + "]"
        return repr(v)
    return text(plain(state))


# ---- the student's machine inside a replica ---------------------------------------------------
#: the states a machine returned, by handle, where the machine runs: a check sends a handle
#: back and the machine gets that very object, as a replica keeps it (cleared by :func:`forget`)
_KEPT: dict[int, Any] = {}
_HANDLES = [0]
_WORLDS: dict[tuple[int, int], World] = {}


def _keep(state: Any) -> int:
    _HANDLES[0] += 1
    _KEPT[_HANDLES[0]] = state
    return _HANDLES[0]


def forget(fn: Callable) -> None:
    """Drop the states kept where ``fn`` runs (a check starts with it)."""
    _KEPT.clear()


def apply_once(fn: Callable, world: dict[str, Any], handle: int | None, command: str) -> dict[str, Any]:
    """``fn(state, command)`` in the world ``world`` (:meth:`World.to_dict`), where ``fn``
    runs: in a notebook that is here, under the bulk grader in its worker
    (:func:`paxoslab.homework.sandbox.remote`).  ``state`` is the object kept under
    ``handle`` (None: a new empty state), as a replica keeps the state it has.  What comes
    back is plain data: ``given`` (the handle of the state given) and ``handle`` (of the new
    one), the new ``state``, the ``world`` after the call, what the call ``read``,
    ``changed`` (the state it was given, before and after the call, if the call changed it)
    and ``raised`` (the exception's type and message, or what is wrong with the answer)."""
    w = _WORLDS.get((world["replica"], world["hash"]))
    if w is None:
        w = _WORLDS[(world["replica"], world["hash"])] = World(world["replica"], world["hash"])
    w.now, w.calls, w.reads = float(world["now"]), int(world["calls"]), []
    if handle is None or handle not in _KEPT:
        handle = _keep({})
    given = _KEPT[handle]
    before = plain(given)
    out: dict[str, Any] = {"given": handle, "handle": None, "state": None, "raised": None, "changed": None}
    try:
        new = w.call(fn, given, command)
    except Exception as exc:  # noqa: BLE001 - the student's exception is the finding
        out["raised"] = {"type": type(exc).__name__, "message": str(exc)}
    else:
        if isinstance(new, dict):
            out["state"], out["handle"] = plain(new), _keep(new)
        else:
            out["raised"] = {"type": "returned", "message": f"apply() returned {plain(new)!r} for "
                                                             f"{command!r}, not the new state (a dict)"}
        after = plain(given)
        if key(after) != key(before):
            out["changed"] = [before, after]
    out["world"], out["read"] = w.to_dict(), list(w.reads)
    return out


VIA = f"{__name__}:apply_once"


# ---- under the bulk grader: each replica in a process of its own ------------------------------
#: the worlds of question 1's replicas when each runs in a worker of its own (the bulk grader
#: starts one per replica, :func:`paxoslab.homework.grade.grade_question`): the hash seed
#: (``PYTHONHASHSEED``, fixed when the process starts), the seed of its ``random`` module and
#: its clock's offset, put in place before any of the submission's code (:func:`install_process_world`)
PROCESS_WORLDS = tuple({"via": f"{__name__}:install_process_world", "replica": r, "hash_seed": 11 + r,
                        "random_seed": 1_000_003 * (r + 1), "clock_offset": r * CLOCK_STEP} for r in range(3))
#: seconds of real time between S1's pass over the logs and the others' (so that the real
#: clock, read at one-second resolution, differs between them too)
CLOCK_GAP = 1.0
#: the functions each replica's worker applies logs with, and how many logs per call
APPLY_LOGS = f"{__name__}:apply_logs"
CATCH_UP = f"{__name__}:catch_up"
LOGS_PER_CALL = 16
#: logs per call of :func:`catch_up` (each tries every point of its log: a log of n commands
#: applies about n²/2, so that a machine as slow as question 1 allows answers within a call's time)
CATCH_UPS_PER_CALL = 4


def install_process_world(world: Mapping[str, Any]) -> None:
    """Put replica ``world["replica"]``'s world in place in this process, for good: its
    ``random`` module seeded with ``world["random_seed"]``, and every clock of ``time``
    ``world["clock_offset"]`` seconds ahead.  The bulk grader's worker for that replica calls
    it before any of the submission's code (its hash seed is the process's own:
    ``PYTHONHASHSEED``, set when it started).  ``datetime``'s clocks are left as they are:
    its classes cannot be changed, and a module whose classes are replaced breaks C
    extensions that import it (pandas does not import at all).

    The submission can change what this put in place (patch ``time`` back, reseed ``random``),
    but only in its own process: see :func:`_in_processes` for what that leaves it.
    """
    _random.seed(int(world["random_seed"]))
    offset = float(world["clock_offset"])
    if not offset:
        return
    tm = _time
    real = {name: getattr(tm, name) for name in (
        "time", "time_ns", "monotonic", "monotonic_ns", "perf_counter", "perf_counter_ns", "clock_gettime",
        "clock_gettime_ns", "localtime", "gmtime", "ctime", "asctime", "strftime")}
    ns = int(offset * 1e9)

    def now() -> float:
        return real["time"]() + offset

    def ahead(name: str) -> Callable:
        fn = real[name]
        return (lambda *args: fn(*args) + ns) if name.endswith("_ns") else (lambda *args: fn(*args) + offset)

    mine: dict[str, Callable] = {name: ahead(name) for name in real
                                 if name.startswith(("time", "monotonic", "perf_counter", "clock_gettime"))}
    mine.update({
        "localtime": lambda secs=None: real["localtime"](now() if secs is None else secs),
        "gmtime": lambda secs=None: real["gmtime"](now() if secs is None else secs),
        "ctime": lambda secs=None: real["ctime"](now() if secs is None else secs),
        "asctime": lambda t=None: real["asctime"](real["localtime"](now()) if t is None else t),
        "strftime": lambda fmt, t=None: real["strftime"](fmt, real["localtime"](now()) if t is None else t),
    })
    for name, fn in mine.items():
        setattr(tm, name, fn)


def apply_log(fn: Callable, log: Sequence[str], start: Any = None, snapshots: bool = False) -> dict[str, Any]:
    """``log`` applied by ``fn`` from ``start`` (None: the empty state), one command after the
    other, where ``fn`` runs and in that process's own world (no :class:`World`: under the
    bulk grader each replica's worker is a process of its own, :func:`install_process_world`).
    Plain data: ``states``, the state after each command (as :func:`plain` values), ``raised``
    (None, or the exception's ``type`` and ``message`` and the ``index`` of its command) and,
    if asked, ``snapshots``: each state as it travels between processes (:func:`~paxoslab.
    homework.sandbox.encode`; None for one that cannot), for a replica that catches up."""
    state: Any = {} if start is None else start
    out: dict[str, Any] = {"states": [], "raised": None}
    if snapshots:
        out["snapshots"] = []
    for index, command in enumerate(log, start=1):
        try:
            new = fn(state, str(command))
        except Exception as exc:  # noqa: BLE001 - the student's exception is the finding
            out["raised"] = {"type": type(exc).__name__, "message": str(exc), "index": index}
            return out
        if not isinstance(new, dict):
            out["raised"] = {"type": "returned", "index": index,
                             "message": f"apply() returned {plain(new)!r} for {command!r}, not the new state "
                                        "(a dict)"}
            return out
        out["states"].append(plain(new))
        if snapshots:
            try:
                out["snapshots"].append(encode(new) if _travels(new) else None)
            except CodecError:
                out["snapshots"].append(None)
        state = new
    return out


_BUILTINS = (dict, list, tuple, set, frozenset, str, int, float, bool, type(None), bytes)


def _travels(value: Any, depth: int = 0) -> bool:
    """True if ``value`` is made of builtin values only (no subclass such as a ``defaultdict``,
    which would travel as its base): it comes back from :func:`encode` as it was.

    >>> _travels({"team": {"ann"}, "_n": (1, 2.5)}), _travels({"n": __import__("collections").Counter()})
    (True, False)
    """
    kind = type(value)
    if kind not in _BUILTINS or depth > 50:
        return False
    if kind is dict:
        return all(_travels(k, depth + 1) and _travels(v, depth + 1) for k, v in value.items())
    if kind in (list, tuple, set, frozenset):
        return all(_travels(v, depth + 1) for v in value)
    return True


def apply_logs(fn: Callable, logs: Sequence[Sequence[str]], snapshots: bool = False) -> list[dict[str, Any]]:
    """:func:`apply_log` of each log, in order (one call from the grading process for several)."""
    return [apply_log(fn, log, snapshots=snapshots) for log in logs]


def catch_up(fn: Callable, items: Sequence[tuple[Sequence[str], Sequence[Any]]]) -> list[list[Any]]:
    """For each ``(log, snapshots)`` and each ``k``: the rest of the log after command ``k``,
    applied (:func:`apply_log`) from ``snapshots[k - 1]`` (another replica's state after ``k``
    commands, as it travels, :func:`apply_log`), or None where there is none."""
    out: list[list[Any]] = []
    for log, snaps in items:
        mine: list[Any] = []
        for k, snap in enumerate(snaps, start=1):
            mine.append(None if snap is None or k >= len(log) else apply_log(fn, log[k:], decode(snap)))
        out.append(mine)
    return out


class StudentRaised(Exception):
    """The student's function raised (told by type and message: it may have run elsewhere)."""

    def __init__(self, kind: str, message: str, command: str) -> None:
        super().__init__(f"{message}" if kind == "returned" else f"{kind}: {message}")
        self.kind, self.message, self.command = kind, message, command


class ExerciseMachine(StateMachine):
    """A state machine given as a function ``fn(state, command) -> new state``, run in
    replica ``replica``'s :class:`World`, from the empty state ``{}``."""

    def __init__(self, fn: Callable, replica: int = 0) -> None:
        self.fn = fn
        self.world = World(replica).to_dict()
        self.handle: int | None = None
        self.state: Any = {}

    def apply(self, command: str) -> str:
        out = remote(self.fn, VIA, self.world, self.handle, command)
        self.world = out["world"]
        if out["raised"]:
            raise StudentRaised(out["raised"]["type"], out["raised"]["message"], command)
        self.state, self.handle = out["state"], out["handle"]
        return "ok"

    def snapshot(self) -> Any:
        return jsonable(self.state)


class ExerciseReplica(ReplicaNode):
    """Lesson 01's replica with a machine given as a function (:attr:`machine_fn`), each
    replica in a world of its own."""

    machine_fn: Callable | None = None

    def new_machine(self) -> StateMachine:
        fn = type(self).machine_fn
        if fn is None:
            return super().new_machine()
        return ExerciseMachine(fn, self.cluster.index(self.id))


def node_class(functions: Mapping[str, Callable]) -> type[Node]:
    """The replica that runs the student's ``apply`` (question 1), or the library machine
    (question 2: the log is the answer, the machine is given)."""
    fn = functions.get("apply", library_apply)
    return type("StudentReplica" if "apply" in functions else "LibraryReplica", (ExerciseReplica,),
                {"__module__": __name__, "machine_fn": staticmethod(fn)})


# ---- question 2's machine: a lending library --------------------------------------------------
DAY = 24 * 3600


def library_apply(state, command):
    """A lending library: books on a shelf, loans, and people waiting for a book.

    add BOOK         a copy of BOOK goes on the shelf
    lend BOOK NAME   NAME borrows BOOK from the shelf, or the copy held for NAME;
                     if there is none, NAME waits for BOOK (first come, first served)
    renew BOOK       the loan of BOOK goes on (at most twice)
    back BOOK        BOOK comes back: held for the first who waits, or on the shelf
    leave NAME       NAME stops waiting for any book
    """
    words = command.split()
    new = copy.deepcopy(state)
    shelf = new.setdefault("shelf", [])
    loans = new.setdefault("loans", {})
    waiting = new.setdefault("waiting", {})
    holds = new.setdefault("holds", {})
    verb = words[0] if words else ""
    if verb == "add" and len(words) == 2:
        shelf.append(words[1])
    elif verb == "lend" and len(words) == 3:
        book, name = words[1], words[2]
        if book in shelf:
            shelf.remove(book)
            loans[book] = {"to": name, "renewals": 0}
        elif holds.get(book, {}).get("for") == name:
            del holds[book]
            loans[book] = {"to": name, "renewals": 0}
        elif name not in waiting.get(book, []):
            waiting.setdefault(book, []).append(name)
    elif verb == "renew" and len(words) == 2:
        loan = loans.get(words[1])
        if loan is not None and loan["renewals"] < 2:
            loan["renewals"] += 1
    elif verb == "back" and len(words) == 2:
        book = words[1]
        if loans.pop(book, None) is not None:
            queue = waiting.get(book, [])
            if queue:
                holds[book] = {"for": queue.pop(0), "until": time.time() + 3 * DAY}
            else:
                shelf.append(book)
    elif verb == "leave" and len(words) == 2:
        for book in sorted(waiting):
            if words[1] in waiting[book]:
                waiting[book].remove(words[1])
    else:
        raise CommandError(f"not a library command: {command!r} (add BOOK, lend BOOK NAME, "
                           "renew BOOK, back BOOK, leave NAME)")
    return new


def show_library() -> None:
    """Print the library machine of question 2 (its code is the puzzle)."""
    print(inspect.getsource(library_apply))


# ---- replaying a log on several replicas --------------------------------------------------
@dataclass
class Raised(Exception):
    """A machine raised (or returned no state) while a replica applied a command."""

    replica: int
    index: int
    command: str
    state: Any
    kind: str
    message: str


@dataclass
class Replay:
    """A log applied on each replica: ``keys[r][i]`` is replica r's state after i commands
    (``states`` the same as plain values), ``reads[r][i]`` what it read applying command i."""

    log: list[str]
    keys: list[list[str]] = field(default_factory=list)
    states: list[list[Any]] = field(default_factory=list)
    reads: list[list[list[str]]] = field(default_factory=list)
    #: (replica, index, the state it was given, the same after the call) where apply changed its input
    mutated: tuple[int, int, Any, Any] | None = None

    def divergence(self) -> tuple[int, int] | None:
        """(index, replica): the first command after which a replica differs from S1."""
        for i in range(1, len(self.log) + 1):
            for r in range(1, len(self.keys)):
                if self.keys[r][i] != self.keys[0][i]:
                    return i, r
        return None


class Runner:
    """Calls a machine's function for the checks, one command at a time (:func:`apply_once`,
    where the function runs), each call under the handler time limit (through a node, which
    the watchdog watches).  The replicas, their states and every comparison are here."""

    def __init__(self, fn: Callable) -> None:
        self.fn = fn
        self.probe = _Probe("check", ["check"])

    def apply(self, world: dict, handle: int | None, command: str) -> dict[str, Any]:
        self.probe.call("run", (lambda: remote(self.fn, VIA, world, handle, command),), 0.0)
        return self.probe.result

    def forget(self) -> None:
        self.probe.call("run", (lambda: remote(self.fn, f"{__name__}:forget"),), 0.0)

    def fingerprint(self) -> dict[str, str]:
        """:func:`fingerprint` of the function, where it runs."""
        self.probe.call("run", (lambda: remote(self.fn, f"{__name__}:fingerprint"),), 0.0)
        return self.probe.result

    def replay(self, log: Sequence[str], replicas: int = 3, same_hash: bool = False) -> Replay:
        """Apply ``log`` on each replica, one replica after the other (as the check does)."""
        out = Replay(list(log))
        for r in range(replicas):
            world = World(r, 0 if same_hash else r).to_dict()
            state: Any = {}
            handle = None
            keys, states, reads = [key(state)], [state], [[]]
            for i, command in enumerate(log, start=1):
                answer = self.apply(world, handle, command)
                world = answer["world"]
                if answer["changed"] and out.mutated is None:
                    out.mutated = (r, i, *answer["changed"])
                if answer["raised"]:
                    raise Raised(r, i, command, state, answer["raised"]["type"], answer["raised"]["message"])
                state, handle = answer["state"], answer["handle"]
                keys.append(key(state))
                states.append(state)
                reads.append(answer["read"])
            out.keys.append(keys)
            out.states.append(states)
            out.reads.append(reads)
        return out

    def from_snapshot(self, log: Sequence[str]) -> tuple[int, Any, Any] | None:
        """A replica that catches up from S1's state after command k (the very object S1
        kept) and applies the rest: (k, its end state, S1's) for the first k where the two
        differ."""
        world = World(0).to_dict()
        handle, kept = None, []
        for command in log:
            answer = self.apply(world, handle, command)
            kept.append(answer["given"])
            if answer["raised"]:
                return None
            world, handle, end = answer["world"], answer["handle"], answer["state"]
        for k in range(len(log)):
            other, mine, state = World(0).to_dict(), kept[k], None
            for command in log[k:]:
                answer = self.apply(other, mine, command)
                if answer["raised"]:
                    return k, f"an error ({answer['raised']['type']}: {answer['raised']['message']})", end
                other, mine, state = answer["world"], answer["handle"], answer["state"]
            if key(state) != key(end):
                return k, state, end
        return None


# ---- question 1: the spec, step by step ------------------------------------------------------
TOUR = ["set color red", "set color blue", "incr hits", "incr hits", "del color", "del color",
        "join team ann", "join team bob", "join team ann", "token t", "token u", "token t",
        "pick team lead", "pick crew boss", "del hits", "incr hits", "pick team lead", "pick team lead",
        "join team cid", "set lead dan"]


def _visible(state: Mapping) -> dict:
    """What the spec speaks of: keys not starting with ``_``, an empty set as no key."""
    return {k: v for k, v in state.items()
            if not (isinstance(k, str) and k.startswith("_")) and not (isinstance(v, set) and not v)}


def spec_problem(before: Mapping, command: str, after: Mapping, tokens: set) -> str | None:
    """What is wrong with ``after`` as the state after ``command`` from ``before`` (plain
    states), or None.  ``tokens``: the tokens given so far (a new one is added)."""
    b, a = _visible(before), _visible(after)
    words = command.split()
    verb, k = words[0], words[1]
    expected: dict | None = None
    if verb == "set":
        expected = {**b, k: words[2]}
    elif verb == "del":
        expected = {x: v for x, v in b.items() if x != k}
    elif verb == "incr":
        expected = {**b, k: b.get(k, 0) + 1}
        if k in a and (not isinstance(a[k], int) or isinstance(a[k], bool)):
            return f"{k} must hold a count (an int), not {a[k]!r}"
    elif verb == "join":
        if k in a and not isinstance(a[k], set):
            return f"{k} must hold a set of names, not {shown(a[k])}"
        expected = {**b, k: b.get(k, set()) | {words[2]}}
    elif verb == "pick":
        dest = words[2]
        members = b.get(k, set())
        if not members:
            expected = b
        else:
            chosen = a.get(dest)
            if chosen not in members:
                return (f"{dest} must hold one of the names in {k} ({shown(members)}), "
                        f"not {shown(chosen) if dest in a else 'nothing'}")
            expected = {**b, dest: chosen, k: members - {chosen}}
            expected = {x: v for x, v in expected.items() if not (isinstance(v, set) and not v)}
    elif verb == "token":
        given = a.get(k)
        if not isinstance(given, str):
            return f"{k} must hold a token (a string), not {shown(given) if k in a else 'nothing'}"
        if given in tokens:
            return f"{k} holds {given!r}, a token given before: a token must be new"
        tokens.add(given)
        expected = {**b, k: given}
    if expected is not None and a != expected:
        return f"the state must be {shown(expected)}"
    return None


# ---- question 1: the battery of logs --------------------------------------------------------
def battery(count: int = 160, seed: int = 2026) -> list[list[str]]:
    """The seeded random logs every check applies (the same in any process)."""
    rng = _random.Random(seed)
    names = ["ann", "bob", "cid", "dan", "eve"]
    makers = [
        (3, lambda: f"set {rng.choice('ab')} {rng.choice('123')}"),
        (2, lambda: f"del {rng.choice(['a', 'b', 'n', 'team', 't'])}"),
        (3, lambda: "incr n"),
        (5, lambda: f"join team {rng.choice(names)}"),
        (3, lambda: "pick team lead"),
        (3, lambda: f"token {rng.choice('tu')}"),
    ]
    weights = [w for w, _ in makers]
    logs = []
    for _ in range(count):
        length = rng.randint(2, 9)
        logs.append([rng.choices(makers, weights)[0][1]() for _ in range(length)])
    return logs


def shrink(log: list[str], fails: Callable[[list[str]], bool]) -> list[str]:
    """A shortest-by-deletion log that still fails: drop commands one at a time while it does."""
    changed = True
    while changed:
        changed = False
        for i in range(len(log)):
            shorter = log[:i] + log[i + 1:]
            if shorter and fails(shorter):
                log, changed = shorter, True
                break
    return log


# ---- verdict texts -----------------------------------------------------------------------
_OF_ITS_PROCESS = ("your apply() reads something of its process that is neither in the state nor in the "
                   "command (the order in which a set of plain strings iterates, random numbers, the clock, "
                   "or what the logs it applied before left behind)")
CAUSES = {
    "snapshot": "Applied from the empty state, each replica in a process of its own, the replicas agreed; "
                "from another's state, not: your apply() keeps something outside the state it returns "
                "(what the commands it applied before left behind in its process), or reads something of "
                "its process that is neither in the state nor in the command",
    "process": "Applied one after the other in one process, as q1.check() runs them, the replicas "
               "agreed; each in a process of its own, with its own hash seed (PYTHONHASHSEED), random "
               "numbers and clock, and with the logs in another order, they did not: " + _OF_ITS_PROCESS,
    "twice": "The same log gave one state in one process and another in another: " + _OF_ITS_PROCESS,
    "clock": "Your apply() reads the clock ({calls}): each replica applies a command at its own "
             "moment, on a clock of its own, so each stores another time",
    "randomness": "Your apply() draws random numbers ({calls}): every replica rolls its own dice",
    "global": "Your apply() keeps state outside the state it returns: {calls} while the replicas "
              "applied the log, one after the other in this process, so S2 started where S1 left off, "
              "and S3 where S2 did (a replica's "
              "whole state must be in what apply returns: that is what it snapshots, stores and "
              "hands to a replica that catches up)",
    "set order": "Your apply() depends on the hashes of strings, most often through the order in "
                 "which a set of names iterates, which follows them: Python hashes strings with a seed "
                 "of its own in every process (PYTHONHASHSEED), so on each replica a set iterates in "
                 "another order. The check gives each replica its own hash seed",
    "input": "Your apply() changed the state it was given",
    "local": "Your apply() reads something that is neither in the state nor in the command",
}


def _meaning(command: str) -> str:
    """What the spec says a command's verb does: ``'del KEY': KEY is gone (...)``."""
    verb = command.split()[0]
    form = next(c for c in COMMANDS if c.startswith(verb + " "))
    return f"{form!r}: {COMMANDS[form]}"


def _ids(log: Sequence[str]) -> str:
    return ", ".join(f"#{i} {c!r}" for i, c in enumerate(log, start=1))


def _side_by_side(replay: Replay, upto: int) -> list[str]:
    lines = []
    for i in range(1, upto + 1):
        lines.append(f"  #{i} {replay.log[i - 1]!r}")
        for r in range(len(replay.states)):
            lines.append(f"      {REPLICAS[r]}: {shown(replay.states[r][i])}")
    return lines


class StateMachineQuestion(Question):
    """A question of exercise 01: graded by ``grade(question, function)`` (no node search)."""

    def __init__(self, exercise: Exercise, number: int, names: Sequence[str], title: str,
                 hints: Sequence[str], grade: Callable[[StateMachineQuestion, Callable], Verdict]) -> None:
        super().__init__(exercise, number, names, title, hints)
        self.grade = grade
        #: a run a correct verdict draws (question 2: the student's log through the protocol)
        self.shown_run: Result | None = None
        #: under the bulk grader, a worker per replica started in each of these worlds
        #: (:func:`_in_processes`; question 1: :data:`PROCESS_WORLDS`)
        self.replica_worlds: Sequence[Mapping[str, Any]] | None = None

    def check(self, draw: bool = True) -> None:
        """Grade and print the verdict; draw the run that shows it (never raises)."""
        verdict = self.evaluate()
        print(verdict.text)
        run = verdict.counterexample if verdict.counterexample is not None else self.shown_run
        if draw and run is not None:
            title = (f"q{self.number}: {verdict.property}" if verdict.status == INCORRECT
                     else f"q{self.number}: your log through the replication protocol")
            _draw(run, title)

    def _evaluate(self) -> Verdict:
        functions = self.exercise.functions()
        unready = self.unready(functions)
        if unready is not None:
            return unready
        with handler_time_limit(HANDLER_SECONDS):
            return self.grade(self, functions[self.names[0]])

    def raised(self, exc: BaseException, what: str) -> Verdict:
        """A verdict for student code that raised (or looped) while ``what``."""
        original = getattr(exc, "original", None) or exc
        if isinstance(original, HandlerTimeLimit):
            return Verdict(INCORRECT, "error", f"✘ incorrect: your code did not return within "
                                               f"{HANDLER_SECONDS:g} s (an endless loop?) while {what}.")
        if isinstance(original, StudentRaised):
            if original.kind == "returned":
                return Verdict(INCORRECT, "spec", f"✘ incorrect: {original}\n  while {what}.")
            return Verdict(INCORRECT, "error", f"✘ incorrect: your {self.names[0]}() raised {original} on "
                                               f"{original.command!r}\n  while {what}.")
        culprit = _student_frame(original, self.exercise.student_names) or self.names[0]
        return Verdict(INCORRECT, "error", f"✘ incorrect: your {culprit}() raised "
                                           f"{type(original).__name__}: {original}\n  while {what}.")

    def run_log(self, preset: Preset, log: Sequence[str], fn: Callable) -> Result:
        """``log`` through the replication protocol in ``preset``'s network, with ``fn`` as
        every replica's machine."""
        cls = node_class({"apply": fn} if fn is not library_apply else {})
        return run_scenario(with_log(preset.load(), log), node_class=cls, max_handler_seconds=None)


def with_log(scenario: dict, log: Sequence[str], step: float = 1.0) -> dict:
    """``scenario`` with its client commands replaced by ``log`` (one every ``step`` ms, sent
    to the sequencer) and a machine the node class brings (``"machine": "external"``)."""
    data = copy.deepcopy(scenario)
    data["options"] = {**data.get("options", {}), "machine": EXTERNAL}
    others = [e for e in data.get("events", []) if "submit" not in e]
    data["events"] = sorted(others + [{"at": i * step, "submit": {"command": c}} for i, c in enumerate(log)],
                            key=lambda e: e["at"])
    data["until"] = max(data.get("until", 100), len(log) * step + 50)
    data["expect"] = {"violations": []}
    data["description"] = f"{data.get('description', '')}; the log: {'; '.join(log)}"
    return data


# ---- question 1: grading ------------------------------------------------------------------
def grade_apply(q: StateMachineQuestion, fn: Callable) -> Verdict:
    runner = Runner(fn)
    # 1. the spec, on one replica: the tour, step by step
    try:
        runner.forget()
        steps = _tour(runner)
    except HandlerTimeLimit as exc:
        return q.raised(exc, "one replica applied the spec's tour")
    changed = any(answer["state"] is not None and key(_visible(answer["state"])) != key(_visible(before))
                  for _, before, answer in steps)
    tokens: set = set()
    for i, (command, before, answer) in enumerate(steps, start=1):
        if answer["raised"]:
            return _raised_on_valid(q, answer["raised"]["type"], answer["raised"]["message"], command,
                                    before, TOUR[:i])
        after = answer["state"]
        problem = spec_problem(before, command, after, tokens)
        if problem and not changed:
            return Verdict(INCORRECT, "no progress", "\n".join([
                "✘ incorrect: no progress. Your apply() never changed the state: after "
                f"{TOUR[0]!r} on the empty state it returned {shown(steps[0][2]['state'])}.",
                "  A machine that does nothing is deterministic, and useless: every replica agrees on "
                "an empty state.",
            ]))
        if problem:
            return Verdict(INCORRECT, "spec", "\n".join([
                f"✘ incorrect: {command!r} does not do what the spec says: {problem}.",
                f"  The log so far: {_ids(TOUR[:i])}",
                f"  state before #{i}: {shown(before)}",
                f"  your apply returned: {shown(after)}",
                f"  ({_meaning(command)}.)",
            ]))
    # 2. determinism on three replicas, 3. its input unchanged
    logs = [TOUR] + battery()
    replays, mutated = 0, None
    firsts: list[list[Any]] = []  # S1's states after each command of each log
    deadline = _time.perf_counter() + SEARCH_SECONDS
    for log in logs:
        if _time.perf_counter() > deadline:
            return Verdict(INCORRECT, "unverified", f"✘ not verified: applying {replays} of {len(logs)} logs "
                                                    f"on three replicas took over {SEARCH_SECONDS:g} s; is "
                                                    "your apply() very slow?")
        try:
            replay = runner.replay(log)
            # a kept state can change only if some call changed the state it was given
            snap = runner.from_snapshot(log) if replay.mutated and replay.divergence() is None else None
        except Raised as found:
            return _raised_on_valid(q, found.kind, found.message, found.command, found.state,
                                    log[:found.index], REPLICAS[found.replica])
        except HandlerTimeLimit as exc:
            return q.raised(exc, f"replicas applied the log {_ids(log)}")
        replays += 1
        firsts.append(replay.states[0])
        if replay.divergence() is not None:
            return _diverged(q, runner, fn, log)
        wrong = _spec_verdict(replay)
        if wrong is not None:
            return wrong
        if snap is not None:
            return _mutated(q, runner, log)
        if replay.mutated is not None and mutated is None:
            mutated = log
    if mutated is not None:  # changed its input, though no replica that catches up showed it
        return _mutated(q, runner, mutated)
    # 4. the replication protocol
    runs = 0
    for preset in q.exercise.presets:
        try:
            result = q.run_log(preset, TOUR, fn)
        except (HandlerError, SimulationStalled) as exc:
            return q.raised(exc, f"the replication protocol ran {preset.file}")
        v = result.summary()["violations"]
        if v:
            return Verdict(INCORRECT, v[0]["property"], "\n".join([
                f"✘ incorrect: {v[0]['property']} is broken in a run of the replication protocol "
                f"({preset.file}): {v[0]['detail']}",
                indent(result.describe()),
                f"Replay it with your code: q{q.number}.replay()"]), result, "run")
        runs += 1
    # 5. under the bulk grader: each replica in a process of its own
    try:
        apart = _in_processes(q, fn, logs, firsts)
    except HandlerTimeLimit as exc:
        return q.raised(exc, "replicas, each in a process of its own, applied the logs")
    if isinstance(apart, Verdict):
        return apart
    return Verdict(CORRECT, text="\n".join([
        f"✔ correct: your apply() does what each command says ({len(TOUR)} steps of the spec, edge "
        "cases included), and replicas that apply the same log end in the same state:",
        f"  {replays} logs ({sum(len(g) for g in logs)} commands) applied on three replicas, each with "
        "its own clock, random numbers and hash seed, agreed after every command;",
        *([f"  and again with each replica in a process of its own (its own PYTHONHASHSEED, random "
           f"numbers and clock, the logs in another order): the {apart} logs agreed;"] if apart else []),
        "  a replica that catches up from another's state after any command ends as the other does;",
        f"  {runs} runs of the replication protocol (homework-smr-*.json) ended with every replica in "
        "the same state.",
    ]), facts={"logs": replays, "runs": runs, **({"in_processes": apart} if apart else {})})


def _orders(count: int) -> list[list[int]]:
    """The order in which each replica's process applies the logs: S1 in order, S2 backwards,
    S3 shuffled (seeded), so that what a process applied before a log differs between them."""
    shuffled = list(range(count))
    _random.Random(3).shuffle(shuffled)
    return [list(range(count)), list(reversed(range(count))), shuffled]


def _replay_of(log: Sequence[str], answers: Sequence[Mapping[str, Any]]) -> Replay:
    """A :class:`Replay` of ``log`` made of each replica's :func:`apply_log` answer."""
    out = Replay(list(log))
    for answer in answers:
        states = [{}, *answer["states"]]
        out.states.append(states)
        out.keys.append([key(state) for state in states])
        out.reads.append([[] for _ in states])
    return out


def _apply_logs(fns: Sequence[Callable], logs: Sequence[Sequence[str]], orders: Sequence[Sequence[int]],
                gap: float = 0.0) -> list[dict[int, dict[str, Any]]]:
    """Each replica's answers (:func:`apply_log`, where its function runs), by log: replica
    ``r`` applies ``logs`` in the order ``orders[r]``, one replica after the other, the second
    starting at least ``gap`` seconds after the first ended (the time a worker takes to start
    counts: the second's is started first, with a call that applies nothing)."""
    answers: list[dict[int, dict[str, Any]]] = []
    first_ended = None
    for fn, order in zip(fns, orders, strict=True):
        if first_ended is not None and gap > 0:
            remote(fn, APPLY_LOGS, [])
            _time.sleep(max(0.0, gap - (_time.monotonic() - first_ended)))
            gap = 0.0
        mine: dict[int, dict[str, Any]] = {}
        for start in range(0, len(order), LOGS_PER_CALL):
            chunk = order[start:start + LOGS_PER_CALL]
            # no handler time limit here: only the bulk grader gets here, and each call to a worker
            # has its own (a worker's first call also starts it, which takes longer)
            got = remote(fn, APPLY_LOGS, [list(logs[i]) for i in chunk], not answers)  # S1's snapshots too
            if not isinstance(got, list) or len(got) != len(chunk):
                raise TypeError(f"apply_logs answered {str(got)[:200]}")  # not what apply_logs answers
            for i, answer in zip(chunk, got, strict=True):
                if not isinstance(answer, dict) or not isinstance(answer.get("states"), list) \
                        or not (answer.get("raised") is None or isinstance(answer["raised"], dict)):
                    raise TypeError(f"apply_log answered {str(answer)[:200]}")
                mine[i] = answer
        answers.append(mine)
        if first_ended is None:
            first_ended = _time.monotonic()
    return answers


def _in_processes(q: StateMachineQuestion, fn: Callable, logs: Sequence[Sequence[str]],
                  firsts: Sequence[Sequence[Any]]) -> Verdict | int | None:
    """Under the bulk grader (``fn.paxoslab_replicas``: the student's function in a worker per
    replica, each started in its :data:`PROCESS_WORLDS` world), ``logs`` applied on three
    replicas each in a process of its own: a verdict if they differ, or from S1's states
    beside the others in one process (``firsts``), or a step the spec does not allow; else
    the number of logs.  In a notebook (no such attribute): None, nothing runs.

    Why: in one process the replicas' worlds are what :class:`World` arranges around each call,
    and a submission can change :class:`World` and :func:`apply_once` in its own process (the
    bulk grader's worker) so that every replica's world is the same.  A process of its own per
    replica cannot be made alike that way: its hash seed is fixed when it starts (a set of
    plain strings iterates in another order), its random numbers are seeded and the clocks of its
    ``time`` module set ahead (:func:`install_process_world`) before any of the submission's
    code runs, it applies
    the logs in another order (:func:`_orders`: state a process keeps between calls, a global
    counter or a random stream it seeds itself, differs), and S2 starts at least
    :data:`CLOCK_GAP` s of real time after S1 ended (the real clock differs at one-second
    resolution even if the submission puts it back).  The states are compared here, as plain
    data.

    Then S2, in its own process, catches up from each of S1's states, sent to it as data (a
    snapshot travels between processes so; :func:`_catch_up`), and must end as S1 did: a
    machine that resets what it keeps between calls whenever it is given the empty state (a
    random stream seeded again there) gives the same states for every log from the start, in
    every process and order, but not from the middle of one.

    What a submission can still do (it is graded for what its code does, in each process):

    * read the real clock at a resolution coarser than the gap (the minute, the hour, the
      date) while it neutralises :class:`World` in its worker: through ``datetime`` (whose
      clocks :func:`install_process_world` cannot set ahead), or past the offset of ``time``
      (a fresh ``time`` module made with ``_imp.create_builtin``, a file's modification time):
      replicas that run within seconds of each other on one computer read the same minute,
      and no grading run of a few seconds tells them apart (a one-second resolution is
      caught: the gap);
    * read what every process on the grading computer shares: the host's name, the user, the
      files the audit hook lets it read (real replicas on other computers would differ);
    * replace :func:`apply_logs`, :func:`catch_up` or :func:`apply_once` in its worker by a
      deterministic machine of its own: it is graded as that machine, whatever its ``apply``
      says (a deterministic machine in disguise is still a deterministic machine).
    Nothing the audit hook could refuse cheaply closes more: replacing a module's function
    raises no audit event (only setting a class's attribute does, ``object.__setattr__``),
    and whatever a worker answers is the submission's word.  A catch-up is tried only from
    states made of what travels as data (dicts, lists, tuples, sets, strings, numbers): a
    machine whose state holds objects of its own classes is compared on the logs alone.
    """
    spread = getattr(fn, "paxoslab_replicas", None)
    if spread is None:
        return None
    fns = list(spread())
    answers = _apply_logs(fns, logs, _orders(len(logs)), CLOCK_GAP)
    for i, log in enumerate(logs):
        mine = [answers[r][i] for r in range(len(fns))]
        for r, answer in enumerate(mine):
            raised = answer["raised"]
            if raised is not None:
                index = min(max(1, int(raised.get("index", 1))), len(log))
                states = [{}, *answer["states"]]
                before = states[index - 1] if index - 1 < len(states) else states[-1]
                return _raised_on_valid(q, str(raised.get("type")), str(raised.get("message")),
                                        log[index - 1], before, log[:index],
                                        f"{REPLICAS[r]} (in a process of its own)")
        replay = _replay_of(log, mine)
        if replay.divergence() is not None:
            return _diverged_in_processes(q, fns, log, replay)
        if replay.keys[0] != [key(state) for state in firsts[i]]:
            return _twice(log, replay, firsts[i])
        wrong = _spec_verdict(replay)
        if wrong is not None:
            return wrong
    caught = _catch_up(q, fns[1], logs, answers[0])
    return caught if caught is not None else len(logs)


def _catch_up(q: StateMachineQuestion, fn: Callable, logs: Sequence[Sequence[str]],
              firsts: Mapping[int, Mapping[str, Any]]) -> Verdict | None:
    """S2, in its own process, catches up from each of S1's states (sent as data, as a snapshot
    travels between processes) and applies the rest of each log: a verdict where it raises or
    ends elsewhere than S1."""
    items = [(i, list(logs[i]), list(firsts[i].get("snapshots") or [])) for i in range(len(logs))]
    items = [item for item in items if any(x is not None for x in item[2])]
    for start in range(0, len(items), CATCH_UPS_PER_CALL):
        chunk = items[start:start + CATCH_UPS_PER_CALL]
        got = remote(fn, CATCH_UP, [(log, snaps) for _, log, snaps in chunk])
        if not isinstance(got, list) or len(got) != len(chunk):
            raise TypeError(f"catch_up answered {str(got)[:200]}")
        for (i, log, _), runs in zip(chunk, got, strict=True):
            mine = firsts[i]["states"]
            for k, run in enumerate(runs if isinstance(runs, list) else [], start=1):
                if run is None:
                    continue
                raised = run.get("raised") if isinstance(run, dict) else None
                states = run.get("states") if isinstance(run, dict) else None
                if raised is not None or not isinstance(states, list):
                    raised = raised if isinstance(raised, dict) else {}
                    index = k + min(max(1, int(raised.get("index", 1))), len(log) - k)
                    who = f"S2 (in a process of its own, caught up from S1's state after #{k})"
                    return _raised_on_valid(q, str(raised.get("type")), str(raised.get("message")),
                                            log[index - 1], mine[index - 2], log[:index], who)
                for j, state in enumerate(states, start=k + 1):
                    if key(state) != key(mine[j - 1]):
                        return _caught_up_elsewhere(log, k, j, mine[j - 1], state)
    return None


def _caught_up_elsewhere(log: Sequence[str], k: int, j: int, mine: Any, theirs: Any) -> Verdict:
    return Verdict(INCORRECT, "replica-consistency", "\n".join([
        "✘ incorrect: replica-consistency is broken: a replica that catches up from another's snapshot "
        f"does not end as the other does. {CAUSES['snapshot']}.",
        f"  The log: {_ids(log)}",
        f"  S2, in a process of its own, was given S1's state after #{k} (as data: a snapshot, Raft §7, "
        "travels between processes so) and applied the rest of the log; after "
        f"#{j} {log[j - 1]!r} S1 has {shown(mine)} and S2 has {shown(theirs)}.",
    ]), facts={"cause": "snapshot", "log": list(log), "command": log[j - 1], "replicas": ("S1", "S2"),
               "states": (jsonable(mine), jsonable(theirs))})


def _diverged_in_processes(q: StateMachineQuestion, fns: Sequence[Callable], log: Sequence[str],
                           replay: Replay) -> Verdict:
    """replica-consistency, from replicas that each ran in a process of their own: the log up to
    the command after which they first differ, cut down while it still shows it (run again,
    without the clock gap: a log that does not show it again is kept), three replicas side by side."""
    index, _ = replay.divergence()
    log = list(log[:index])
    replay = Replay(log, [k[:index + 1] for k in replay.keys], [s[:index + 1] for s in replay.states],
                    [r[:index + 1] for r in replay.reads])
    found: dict[tuple, Replay] = {tuple(log): replay}

    def fails(candidate: list[str]) -> bool:
        try:
            answers = _apply_logs(fns, [candidate], [[0]] * len(fns))
        except TypeError:
            return False
        if any(answer[0]["raised"] for answer in answers):
            return False
        again = _replay_of(candidate, [answer[0] for answer in answers])
        if again.divergence() is None:
            return False
        found[tuple(candidate)] = again
        return True

    cut = shrink(list(log), fails)
    replay = found[tuple(cut)]
    index, r = replay.divergence()
    command = cut[index - 1]
    text = [
        "✘ incorrect: replica-consistency is broken: three replicas applied the same log, in the "
        f"same order, each in a process of its own, and did not end in the same state. {CAUSES['process']}.",
        f"  The log that shows it{', cut down while it still does' if len(cut) < len(log) else ''} "
        f"({len(cut)} command{'s' if len(cut) > 1 else ''}), applied on three replicas, each in a process "
        "of its own:",
        *_side_by_side(replay, index),
        f"  {REPLICAS[0]} and {REPLICAS[r]} first differ after #{index} {command!r}: "
        f"{REPLICAS[0]} has {shown(replay.states[0][index])}, {REPLICAS[r]} has "
        f"{shown(replay.states[r][index])}.",
    ]
    return Verdict(INCORRECT, "replica-consistency", "\n".join(text),
                   facts={"cause": "process", "log": cut, "command": command,
                          "replicas": (REPLICAS[0], REPLICAS[r]),
                          "states": (jsonable(replay.states[0][index]), jsonable(replay.states[r][index]))})


def _twice(log: Sequence[str], replay: Replay, first: Sequence[Any]) -> Verdict:
    """replica-consistency: S1 applied ``log`` beside the others in one process and again in a
    process of its own (where all three agreed), and ended in different states."""
    index = next(i for i in range(1, len(log) + 1) if replay.keys[0][i] != key(first[i]))
    return Verdict(INCORRECT, "replica-consistency", "\n".join([
        "✘ incorrect: replica-consistency is broken: S1 applied the same log twice, once beside S2 and "
        "S3 in one process (as q1.check() runs them) and once in a process of its own (where S2 and S3, "
        f"each in a process of its own, agreed with it), and did not end in the same state. "
        f"{CAUSES['twice']}.",
        f"  The log: {_ids(log)}",
        f"  After #{index} {log[index - 1]!r}, S1 had {shown(first[index])} in one process and "
        f"{shown(replay.states[0][index])} in a process of its own.",
    ]), facts={"cause": "twice", "log": list(log), "command": log[index - 1], "replicas": ("S1", "S1"),
               "states": (jsonable(first[index]), jsonable(replay.states[0][index]))})


def _spec_verdict(replay: Replay) -> Verdict | None:
    """A spec verdict for the first step of S1 in ``replay`` that the spec does not allow."""
    tokens: set = set()
    states = replay.states[0]
    for i, command in enumerate(replay.log, start=1):
        problem = spec_problem(states[i - 1], command, states[i], tokens)
        if problem:
            return Verdict(INCORRECT, "spec", "\n".join([
                f"✘ incorrect: {command!r} does not do what the spec says: {problem}.",
                f"  The log so far: {_ids(replay.log[:i])}",
                f"  state before #{i}: {shown(states[i - 1])}",
                f"  your apply returned: {shown(states[i])}",
                f"  ({_meaning(command)}.)",
            ]), facts={"log": replay.log[:i], "command": command})
    return None


def _tour(runner: Runner) -> list[tuple[str, Any, dict]]:
    """The spec's tour on one replica: (command, state before, the answer) for each step, up
    to the first that raised."""
    world, handle, state, steps = World(0).to_dict(), None, {}, []
    for command in TOUR:
        answer = runner.apply(world, handle, command)
        steps.append((command, state, answer))
        if answer["raised"]:
            break
        world, handle, state = answer["world"], answer["handle"], answer["state"]
    return steps


def _raised_on_valid(q: StateMachineQuestion, kind: str, message: str, command: str, before: Any,
                     log: Sequence[str], replica: str = "S1") -> Verdict:
    if kind == "returned":
        return Verdict(INCORRECT, "spec", f"✘ incorrect: {message}.")
    return Verdict(INCORRECT, "error", "\n".join([
        f"✘ incorrect: your apply() raised {kind}: {message} on {command!r}, a valid command: a state "
        "machine must carry out every valid command, on every replica (one that raises stops the "
        "replica).",
        f"  {replica} applied {_ids(log)}; the state before the last was {shown(before)}.",
        f"  ({_meaning(command)}.)",
    ]))


def _diverged(q: StateMachineQuestion, runner: Runner, fn: Callable, log: list[str]) -> Verdict:
    def fails(candidate: list[str]) -> bool:
        try:
            return runner.replay(candidate).divergence() is not None
        except Raised:
            return False

    log = shrink(list(log), fails)
    before = runner.fingerprint()
    replay = runner.replay(log)
    after = runner.fingerprint()
    index, r = replay.divergence()
    reads = sorted({x for rr in replay.reads for step in rr[1:index + 1] for x in step})
    clock = [x for x in reads if "(" in x and x.split(".")[0] in ("time", "datetime", "date")
             or x == "uuid.uuid1()"]
    drawn = [x for x in reads if x not in clock]
    changed = sorted(n for n in after if before.get(n) != after[n])
    if clock:
        cause, calls = "clock", ", ".join(clock)
    elif drawn:
        cause, calls = "randomness", ", ".join("the random module" if x == "random" else x for x in drawn)
    elif changed:
        cause = "global"
        calls = "; ".join(f"{n} went from {before.get(n, '(not there)')} to {after[n]}" for n in changed[:3])
    elif runner.replay(log, same_hash=True).divergence() is None:
        cause, calls = "set order", ""
    else:
        cause, calls = "local", ""
    command = log[index - 1]
    text = [
        "✘ incorrect: replica-consistency is broken: three replicas applied the same log, in the "
        f"same order, and did not end in the same state. {CAUSES[cause].format(calls=calls)}.",
        f"  The log that shows it, cut down until no command can be left out ({len(log)} "
        f"command{'s' if len(log) > 1 else ''}), applied on three replicas:",
        *_side_by_side(replay, index),
        f"  {REPLICAS[0]} and {REPLICAS[r]} first differ after #{index} {command!r}: "
        f"{REPLICAS[0]} has {shown(replay.states[0][index])}, {REPLICAS[r]} has "
        f"{shown(replay.states[r][index])}.",
    ]
    result = None
    try:
        result = q.run_log(q.exercise.presets[0], log, fn)
    except (HandlerError, SimulationStalled):
        pass
    if result is not None and result.violations:
        text.append(f"  The same log through the replication protocol: {result.violations[0].detail}")
        text.append(f"Replay it with your code: q{q.number}.replay()   (the scenario is "
                    f"q{q.number}.counterexample)")
    else:
        result = None
    return Verdict(INCORRECT, "replica-consistency", "\n".join(text), result, "run" if result else None,
                   facts={"cause": cause, "log": log, "command": command,
                          "replicas": (REPLICAS[0], REPLICAS[r]),
                          "states": (jsonable(replay.states[0][index]), jsonable(replay.states[r][index]))})


def _mutated(q: StateMachineQuestion, runner: Runner, log: list[str]) -> Verdict:
    def fails(candidate: list[str]) -> bool:
        try:
            return runner.from_snapshot(candidate) is not None
        except Raised:
            return False

    shown_log = shrink(list(log), fails) if fails(log) else log
    found = runner.from_snapshot(shown_log)
    replay = runner.replay(shown_log)
    r, i, given, then = replay.mutated if replay.mutated else (0, 1, None, None)
    text = [
        "✘ incorrect: replica-consistency is broken: your apply() changed the state it was given. "
        "A replica keeps the state each command returned: a snapshot (Raft §7) is such a state, "
        "handed to a replica that catches up; it must not change afterwards.",
    ]
    if given is not None:
        text.append(f"  Applying #{i} {shown_log[i - 1]!r}, your apply() turned the state it was given, "
                    f"{shown(given)}, into {shown(then)}.")
    if found is not None:
        k, mine, end = found
        start = f"S1's snapshot after #{k}" if k else "S1's start state"
        text += [
            f"  The log: {_ids(shown_log)}",
            f"  S3 catches up from {start} and applies the rest of the log; S1 applies the whole log. "
            f"After #{len(shown_log)} S1 has {shown(end)} and S3 has "
            f"{mine if isinstance(mine, str) else shown(mine)}.",
        ]
    return Verdict(INCORRECT, "replica-consistency", "\n".join(text),
                   facts={"cause": "input", "log": shown_log, "replicas": ("S1", "S3"),
                          "states": (jsonable(found[2]), jsonable(found[1])) if found else None})


def fingerprint(fn: Callable) -> dict[str, str]:
    """The plain values a function can keep state in (its module's variables, its defaults,
    attributes and closure), by repr."""
    out: dict[str, str] = {}
    for name, value in getattr(fn, "__globals__", {}).items():
        if name.startswith("_") or name in ("In", "Out", "get_ipython", "exit", "quit") or callable(value) \
                or inspect.ismodule(value):
            continue
        try:
            out[name] = repr(value)[:60]
        except Exception:  # noqa: BLE001, S112 - a value without a repr keeps no visible state
            continue
    if getattr(fn, "__defaults__", None):
        out[f"{fn.__name__}'s default arguments"] = repr(fn.__defaults__)[:60]
    for name, value in getattr(fn, "__dict__", {}).items():
        out[f"{fn.__name__}.{name}"] = repr(value)[:60]
    for name, cell in zip(fn.__code__.co_freevars, fn.__closure__ or (), strict=False):
        try:
            out[name] = repr(cell.cell_contents)[:60]
        except ValueError:
            continue
    return out


# ---- question 2: grading -----------------------------------------------------------------------
def grade_log(q: StateMachineQuestion, fn: Callable) -> Verdict:
    q.shown_run = None
    try:
        log = fn()
    except Exception as exc:  # noqa: BLE001
        return q.raised(exc, "it made its log")
    if not isinstance(log, list | tuple) or not all(isinstance(c, str) for c in log):
        return Verdict(INCORRECT, "error", f"✘ incorrect: diverging_log() returned {log!r}: it must "
                                           "return a list of commands (strings), e.g. ['add b1', ...].")
    log = [str(c) for c in log]
    if not log:
        return Verdict(INCORRECT, "no progress", "✘ incorrect: no progress. An empty log shows "
                                                 "nothing: every replica stays in the empty state.")
    runner = Runner(library_apply)
    runner.forget()
    try:
        replay = runner.replay(log)
    except Raised as found:
        return Verdict(INCORRECT, "error", f"✘ incorrect: {found.command!r} (#{found.index}) is not a "
                                           f"command of the library: {found.message}")
    result = q.run_log(q.exercise.presets[0], log, library_apply)
    found = replay.divergence()
    if found is None:
        end = replay.states[0][-1]
        return Verdict(INCORRECT, "no divergence", "\n".join([
            f"✘ incorrect: after your log ({_ids(log)}) every replica is in the same state:",
            f"  {shown(end)}",
            "  The replicas apply the same commands in the same order; which line of library_apply "
            "reads something that is neither in the state nor in the command, and what must the "
            "state be for that line to run?",
        ]), result, "run")
    index, r = found
    q.shown_run = result
    command = log[index - 1]
    verb = command.split()[0]
    without = [c for c in log if c.split()[0] != verb]
    calm = runner.replay(without).divergence() is None if without else True
    reads = sorted({x for rr in replay.reads for x in rr[index]})
    mine, theirs = replay.states[0][index], replay.states[r][index]
    differ = [k for k in sorted(set(mine) | set(theirs), key=str) if mine.get(k) != theirs.get(k)]
    text = [
        f"✔ correct: your log makes the replicas diverge. After #{index} {command!r}"
        + (f" (library_apply read {', '.join(reads)})" if reads else "") + ":",
        *(f"  {REPLICAS[x]}'s {k}: {shown(replay.states[x][index].get(k))}" for k in differ for x in (0, r)),
        f"  The same log without its '{verb}' commands keeps all three replicas equal: '{verb}' is the "
        "non-deterministic command." if calm else
        f"  (Without its '{verb}' commands the replicas still differ: look again.)",
        "  The replication protocol's run of your log shows it too"
        + (f" ({result.violations[0].property} broken at t={ms(result.violations[0].time)} ms)."
           if result.violations else "."),
    ]
    return Verdict(CORRECT, text="\n".join(text),
                   facts={"command": command, "verb": verb, "log": log,
                          "replicas": (REPLICAS[0], REPLICAS[r]),
                          "states": (jsonable(mine), jsonable(theirs))})


def _probe_apply(fn: Callable) -> str | None:
    out = fn({}, "set x 1")
    if not isinstance(out, dict):
        return (f"apply({{}}, 'set x 1') returned {out!r}: it must return the new state, a dict "
                "(did you change the state and forget to return it?)")
    return None


def _probe_log(fn: Callable) -> None:
    fn()


EXERCISE = Exercise(
    number="01",
    notebook="01_state_machine.ipynb",
    presets=[Preset("homework-smr-replicas.json", kind="runs"),
             Preset("homework-smr-recover.json", kind="runs")],
    build=node_class,
    probes={"apply": _probe_apply, "diverging_log": _probe_log},
    properties={
        "replica-consistency": "Replicas that applied the same commands are in different states.",
        "spec": "A command did not do what the spec says.",
        "no divergence": "After the log every replica is in the same state.",
    },
    correct_words="replicas that apply the same log end in the same state",
    progress_words="ended consistent",
    no_progress_words="the machine never changed its state",
)


def _question(names: Sequence[str], title: str, hints: Sequence[str],
              grade: Callable) -> StateMachineQuestion:
    q = StateMachineQuestion(EXERCISE, len(EXERCISE.questions) + 1, names, title, hints, grade)
    EXERCISE.questions.append(q)
    return q


q1 = _question(["apply"], "a deterministic state machine", [
    "Start from a copy of the state (copy.deepcopy(state)), change the copy, return it: the state you "
    "were given stays as it was.",
    "Deleting or counting a key that is not there, and picking from a set that is empty or missing, "
    "are valid commands: new.pop(key, None), new.get(key, 0), and check the set before picking.",
    "Every replica must pick the same name: not set.pop() or next(iter(...)) (a set iterates in hash "
    "order, which differs between processes), not random.choice; e.g. the smallest name, min(...).",
    "A token must be new on every replica alike: no clock, no random, no global counter. Keep a counter "
    "in the state itself, under a key of your own that starts with '_', and build the token from it.",
], grade_apply)
q1.replica_worlds = PROCESS_WORLDS
q2 = _question(["diverging_log"], "the command that makes replicas diverge", [
    "Read library_apply line by line: which line uses something that is neither in the state nor in "
    "the command?",
    "That line runs only in one situation. Which commands must come before it?",
    "Someone must be waiting for a book when it comes back: add it, lend it to one person, let a second "
    "one ask for it, then bring it back.",
], grade_log)


def replay(log: Sequence[str], fn: Callable = library_apply, replicas: int = 3) -> list[Any]:
    """The state of each replica after ``log`` (each replica in a world of its own, as the
    checks run them): a quick experiment before writing the answer.

    >>> replay(["add b1", "lend b1 ann"])[0]["loans"]
    {'b1': {'to': 'ann', 'renewals': 0}}
    """
    with handler_time_limit(HANDLER_SECONDS):
        out = Runner(fn).replay(list(log), replicas=replicas)
    return [out.states[r][-1] for r in range(replicas)]


def bind(namespace: Mapping[str, Any]):
    """``q1, q2 = bind(globals())``: the checkers read your functions from there."""
    return EXERCISE.bind(namespace)
