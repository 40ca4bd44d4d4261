"""The bulk grader's worker: a submitted notebook's code runs here, in a process of its own,
and answers calls of the student's functions; the checks run in the grading process.

The grading process (:mod:`paxoslab.homework.grade`) starts one worker per submission
(``python -I -c ...``; for a replica's world, ``python -s -P -c ...`` with ``PYTHONHASHSEED``
the only ``PYTHON*`` variable of the environment it is given; with resource limits set
before it runs, in a session of its own, in
an empty scratch folder, its stdout and stderr at ``/dev/null``) and talks to it over one
socket, in JSON messages framed by their length (:func:`write_message`, :func:`read_message`):

* ``run``: import the exercise's module, put in place the world the grading process chose
  for this worker if it chose one (``setup``: a function of paxoslab's called with it, e.g.
  exercise 01's replica worlds, :func:`paxoslab.homework.state_machine.install_process_world`),
  make ``qN.check()``, ``hint()``, ``solution()``
  and ``replay()`` do nothing (their output is not graded), install the audit hook, then
  execute the notebook's code cells in order in one namespace (IPython ``%`` and ``!`` lines
  skipped), stopping at the first cell that raises, as *Run All* does; answer which of the
  exercise's names are callable;
* ``call``: call one of them with the given arguments and answer the value, or the
  exception it raised (its type and message, and which of the student's functions raised
  it).  A :class:`~paxoslab.node.Node` argument travels as plain data (its class by name,
  its public fields, the effects it had queued, its random stream) and comes back the
  same way: the fields it has now and the effects the call queued (sends, writes,
  timers, notes), which the grading process replays on its own node through the node's
  own methods, so that the exercise's rules (e.g. a write asked for after a send lands
  late) are the grading process's, not something the submission could change.  A
  ``random.Random`` argument comes back with the state the call left it in, and the
  grading process's ``random`` module is mirrored into the worker's for the call and back
  (a check that seeds it, so that a policy drawing from it is graded the same on every
  attempt, seeds the student's draws too).  Other arguments are copies: a change the
  function makes to a list it was given does not come back.  A value that is a builtin
  container or number at heart (a ``defaultdict``, NumPy's ``int64``) travels as that builtin.

Values travel as tagged JSON (:func:`encode`, :func:`decode`): atoms, tuples, lists,
dicts, sets, ``random.Random`` states, and instances of classes defined in ``paxoslab``
(frozen dataclasses and named tuples such as ``Ballot`` and the messages, or plain objects
such as the key-value store), by module and name, resolved only among modules already
imported; a plain object in an answer only of a class the call sent.  Nothing is unpickled:
a worker cannot make the grading process run code of its choosing.

A check that must arrange the student's surroundings for a call (exercise 01 gives each
replica its own clock, random numbers and hash seed) runs that code where the function
runs with :func:`remote`.  What that code arranges, the submission can undo in its own
worker; what it cannot undo is what the grading process fixed when it started the worker
(its ``PYTHONHASHSEED``) or put in place before the first cell: a question that must be sure
of its replicas' surroundings asks for a worker per replica (``replica_worlds``, see
:func:`paxoslab.homework.grade.grade_question`).

What the worker may not do.  Its limits (set before it runs Python): CPU seconds, address
space, no core files, and no file may grow (``RLIMIT_FSIZE`` 0, ``SIGXFSZ`` ignored: a write
fails), so it cannot write a library to load.  Its audit hook (:func:`guard`,
``sys.addaudithook``: it cannot be removed) refuses: opening files other than those of the
installed Python and packages (``sys.prefix``, ``sys.base_prefix``, site-packages, the
``paxoslab`` package), the course's scenarios (``data/scenarios``), ``/usr``, ``/etc``,
``/dev/null``, ``/dev/urandom`` and its scratch folder, and always the paths the grader names
(the reference solutions, the other submissions, the grades); listing folders outside those;
starting processes (``subprocess``, ``os.system``, ``os.exec*``, ``os.spawn*``,
``os.posix_spawn``, ``os.fork``); sockets; ``ctypes`` (loading a library, looking up or
calling a C function: ``ctypes`` itself is imported before the hook, as NumPy's import
needs); importing ``cffi``, ``_testcapi`` or the sub-interpreter modules; sending signals
(``os.kill``: the grading process; ``os.pidfd_open`` and ``signal.pidfd_send_signal``,
which CPython does not audit, are taken out of their modules); changing resource limits;
``gc.get_objects`` and
``get_referrers``, ``sys.settrace`` and ``setprofile`` and ``code.__new__`` (what could reach
into the hook's own variables or forge bytecode); removing, renaming or creating files and
folders outside the scratch folder.  The hook binds everything it uses when it is made and
compares paths as text (``..`` resolved, symbolic links not followed), so replacing
``os.path``, builtins or this module's functions does not change its answers.

What it does not prevent — it is not an operating-system sandbox: code that reaches the
operating system or the interpreter's memory in ways CPython does not audit (a C extension
module that opens files itself, bytecode crafted through ``marshal``, a fresh ``posix``
module made with ``_imp.create_builtin`` to signal another process, a bug of the
interpreter used on purpose); following a symbolic link that already exists inside an
allowed folder; reading what the hook allows (the library's own source is readable);
threads; anything inside the worker itself (its answers are what the submission does, so
that changes only its own grade).  Whoever gets past the hook and reads a reference solution
gets the grade of the code it then runs: to be sure, grade on a copy of the course without
``notebooks/exercises/solutions`` (the grader does not need it), under an unprivileged
account or in a container.  The grading process relies on none of the worker's checks for
its verdicts: a worker that dies, overruns its limits, answers late or answers nonsense only
turns its submission's grade into ``timeout`` or ``error``.  The worker runs as the grader's
user (as root if the grader does).
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import random
import struct
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Any

#: the largest message either side accepts (bytes)
MAX_MESSAGE = 32 * 2 ** 20
#: how deep values may nest
MAX_DEPTH = 60
_HEADER = struct.Struct("!Q")


class CodecError(ValueError):
    """A value that cannot travel between the worker and the grading process."""


# ---- framing ------------------------------------------------------------------------
def write_message(fd: int, message: dict[str, Any]) -> None:
    """Write ``message`` as length-prefixed JSON to the file descriptor ``fd``."""
    data = json.dumps(message, separators=(",", ":")).encode()
    data = _HEADER.pack(len(data)) + data
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def read_exactly(fd: int, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise EOFError("the other side closed the connection")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def read_message(fd: int) -> dict[str, Any]:
    """Read one message written by :func:`write_message` (blocking)."""
    (size,) = _HEADER.unpack(read_exactly(fd, _HEADER.size))
    if size > MAX_MESSAGE:
        raise CodecError(f"a message of {size:,} bytes (at most {MAX_MESSAGE:,})")
    return json.loads(read_exactly(fd, size))


# ---- values ---------------------------------------------------------------------------
_ATOMS = (type(None), bool, int, float, str)


def class_path(cls: type) -> str | None:
    """``"module:qualname"`` of a class defined in paxoslab that can be found again by that
    name, or None.

    >>> from paxoslab.protocols.basic_paxos.node import Ballot
    >>> class_path(Ballot), class_path(dict)
    ('paxoslab.protocols.basic_paxos.node:Ballot', None)
    """
    module = getattr(cls, "__module__", "") or ""
    if module != "paxoslab" and not module.startswith("paxoslab."):
        return None
    path = f"{module}:{cls.__qualname__}"
    try:
        return path if resolve(path) is cls else None
    except CodecError:
        return None


def resolve(path: str) -> type:
    """The class named ``"module:qualname"``: a module of paxoslab's that is already imported
    (nothing is imported on a peer's word)."""
    module, _, qualname = str(path).partition(":")
    if not (module == "paxoslab" or module.startswith("paxoslab.")) or module not in sys.modules:
        raise CodecError(f"unknown class {path!r}")
    value: Any = sys.modules[module]
    for part in qualname.split("."):
        if not part.isidentifier() or part.startswith("__"):
            raise CodecError(f"unknown class {path!r}")
        value = getattr(value, part, None)
    if not isinstance(value, type):
        raise CodecError(f"unknown class {path!r}")
    return value


def resolve_function(path: str) -> Callable:
    """The function named ``"module:qualname"`` in one of paxoslab's modules already imported
    (what :func:`remote` calls the student's function through)."""
    import types

    module, _, qualname = str(path).partition(":")
    if not (module == "paxoslab" or module.startswith("paxoslab.")) or module not in sys.modules:
        raise CodecError(f"unknown function {path!r}")
    value: Any = sys.modules[module]
    for part in qualname.split("."):
        if not part.isidentifier() or part.startswith("__"):
            raise CodecError(f"unknown function {path!r}")
        value = getattr(value, part, None)
    if not isinstance(value, types.FunctionType | types.MethodType) \
            or not str(getattr(value, "__module__", "")).startswith("paxoslab"):
        raise CodecError(f"unknown function {path!r}")
    return value


def remote(fn: Callable, via: str, *args: Any, **kwargs: Any) -> Any:
    """``via(fn, *args, **kwargs)``, where the student's function runs.

    In a notebook (``fn`` is the student's own function) that is here; under the bulk grader
    (``fn`` is a proxy for a function in a worker) it is in the worker, so that a check that
    must arrange the student's surroundings for a call (exercise 01 gives each replica its
    own clock, random numbers and hash seed, by swapping names in ``fn.__globals__``) does it
    where the function really runs.  ``via`` is ``"paxoslab.module:function"``; arguments
    and result are plain data (see :func:`encode`).
    """
    proxied = getattr(fn, "paxoslab_remote", None)
    if proxied is not None:
        return proxied(via, *args, **kwargs)
    return resolve_function(via)(fn, *args, **kwargs)


def _is_namedtuple(cls: type) -> bool:
    return issubclass(cls, tuple) and hasattr(cls, "_fields") and hasattr(cls, "_make")


def random_state(state: tuple) -> list:
    """A ``random.Random().getstate()`` as JSON: ``[version, [625 ints], gauss_next]``."""
    version, internal, gauss = state
    return [version, list(internal), gauss]


def state_of_random(data: Any) -> tuple:
    """The inverse of :func:`random_state`, checked (a malformed state is a :class:`CodecError`)."""
    try:
        version, internal, gauss = data
        if type(version) is not int or not all(type(i) is int for i in internal) \
                or not (gauss is None or type(gauss) is float):
            raise TypeError("not ints")
        state = (version, tuple(internal), gauss)
        random.Random(0).setstate(state)
    except (TypeError, ValueError, OverflowError) as exc:
        raise CodecError(f"malformed random state: {exc}") from None
    return state


def encode(value: Any, depth: int = 0, seen: set[type] | None = None) -> Any:
    """``value`` as tagged JSON (see the module docstring); :class:`CodecError` if it cannot travel.
    ``seen`` collects the classes sent as plain objects (``inst``): the only ones an answer
    may hold (:func:`decode`'s ``plain``).

    >>> from paxoslab.protocols.basic_paxos.node import Ballot
    >>> encode((Ballot(1, 2), None))["v"]
    [{'$': 'obj', 'cls': 'paxoslab.protocols.basic_paxos.node:Ballot', 'v': [1, 2]}, None]
    >>> decode(encode({"a": [1, {2}]})) == {"a": [1, {2}]}
    True
    """
    if depth > MAX_DEPTH:
        raise CodecError("a value nested too deeply")
    kind = type(value)
    if kind in _ATOMS:
        return value
    deeper = depth + 1
    if kind is tuple:
        return {"$": "tuple", "v": [encode(v, deeper, seen) for v in value]}
    if kind is list:
        return {"$": "list", "v": [encode(v, deeper, seen) for v in value]}
    if kind is dict:
        return {"$": "dict", "v": [[encode(k, deeper, seen), encode(v, deeper, seen)]
                                   for k, v in value.items()]}
    if kind is set or kind is frozenset:
        return {"$": kind.__name__, "v": [encode(v, deeper, seen) for v in value]}
    if kind is bytes:
        return {"$": "bytes", "v": value.decode("latin-1")}
    if kind is random.Random:
        return {"$": "random", "v": random_state(value.getstate())}
    path = class_path(kind)
    if path is not None:
        if _is_namedtuple(kind):
            return {"$": "obj", "cls": path, "v": [encode(v, deeper, seen) for v in value]}
        if dataclasses.is_dataclass(kind):
            return {"$": "obj", "cls": path, "v": {f.name: encode(getattr(value, f.name), deeper, seen)
                                                   for f in dataclasses.fields(kind)}}
        from ..node import Node
        if hasattr(value, "__dict__") and not isinstance(value, Node) and not hasattr(kind, "__slots__") \
                and not isinstance(value, (int, float, str, bytes, tuple, list, dict, set, frozenset)):
            if seen is not None:
                seen.add(kind)
            return {"$": "inst", "cls": path,
                    "v": {k: encode(v, deeper, seen) for k, v in vars(value).items()}}
    # anything else that is a builtin container or number at heart travels as that (a
    # defaultdict as a dict, NumPy's integers as int): what a check does with it is the same
    for base in (bool, int, float, str, bytes, tuple, list, dict, set, frozenset):
        if isinstance(value, base) and base is not bool:
            return encode(base(value), depth, seen)
    if kind.__module__ == "numpy" and hasattr(value, "item"):  # numpy.bool_, float64, int64...
        item = value.item()
        if type(item) in _ATOMS:
            return item
    raise CodecError(f"a {kind.__module__}.{kind.__qualname__} cannot be carried between processes "
                     "(use plain values: numbers, strings, None, tuples, lists, dicts, sets, and the "
                     "exercise's own types)")


def decode(data: Any, depth: int = 0, plain: frozenset[type] | None = None) -> Any:
    """The value :func:`encode` made ``data`` of; :class:`CodecError` for anything else.
    ``plain``: the classes a plain object (``inst``) may be of (None: any of paxoslab's)."""
    if depth > MAX_DEPTH:
        raise CodecError("a value nested too deeply")
    kind = type(data)
    if kind in _ATOMS:
        return data
    if kind is not dict:
        raise CodecError(f"unexpected {kind.__name__} in a message")
    tag, items = data.get("$"), data.get("v")
    deeper = depth + 1
    if tag in ("tuple", "list", "set", "frozenset"):
        if type(items) is not list:
            raise CodecError(f"malformed {tag}")
        values = [decode(v, deeper, plain) for v in items]
        try:
            return {"tuple": tuple, "list": list, "set": set, "frozenset": frozenset}[tag](values)
        except TypeError as exc:  # an unhashable member of a set
            raise CodecError(f"malformed {tag}: {exc}") from None
    if tag == "dict":
        if type(items) is not list or not all(type(p) is list and len(p) == 2 for p in items):
            raise CodecError("malformed dict")
        try:
            return {decode(k, deeper, plain): decode(v, deeper, plain) for k, v in items}
        except TypeError as exc:
            raise CodecError(f"malformed dict: {exc}") from None
    if tag == "bytes" and type(items) is str:
        return items.encode("latin-1")
    if tag == "random":
        rng = random.Random(0)
        rng.setstate(state_of_random(items))
        return rng
    if tag in ("obj", "inst"):
        return _decode_object(tag, resolve(data.get("cls")), items, deeper, plain)
    raise CodecError(f"unknown tag {tag!r} in a message")


def _decode_object(tag: str, cls: type, items: Any, depth: int, plain: frozenset[type] | None) -> Any:
    from ..node import Node
    if tag == "obj" and _is_namedtuple(cls):
        if type(items) is not list or len(items) != len(cls._fields):
            raise CodecError(f"malformed {cls.__qualname__}")
        return cls._make(decode(v, depth, plain) for v in items)
    if tag == "obj" and dataclasses.is_dataclass(cls):
        names = [f.name for f in dataclasses.fields(cls)]
        if type(items) is not dict or sorted(items) != sorted(names):
            raise CodecError(f"malformed {cls.__qualname__}")
        obj = object.__new__(cls)
        for name in names:
            object.__setattr__(obj, name, decode(items[name], depth, plain))
        return obj
    if tag == "inst" and not issubclass(cls, Node) and not hasattr(cls, "__slots__") \
            and not dataclasses.is_dataclass(cls) and not issubclass(cls, BaseException) \
            and (plain is None or cls in plain):
        if type(items) is not dict or not all(type(k) is str for k in items):
            raise CodecError(f"malformed {cls.__qualname__}")
        obj = object.__new__(cls)
        obj.__dict__.update({k: decode(v, depth, plain) for k, v in items.items()})
        return obj
    raise CodecError(f"a {cls.__qualname__} cannot be carried this way")


# ---- nodes ----------------------------------------------------------------------------
def node_class_path(node: Any) -> str:
    """The nearest class of ``node``'s that can be found by name (a class made with ``type()``
    for an exercise cannot: its base can)."""
    for cls in type(node).__mro__:
        path = class_path(cls)
        if path is not None:
            return path
    raise CodecError(f"no class of {type(node).__qualname__} is importable by name")


def public_fields(node: Any) -> dict[str, Any]:
    return {k: v for k, v in vars(node).items() if not k.startswith("_")}


def encode_node(node: Any, seen: set[type] | None = None) -> dict[str, Any]:
    """A node argument as plain data: its class by name, identity, clock, public fields, the
    effects it has queued so far and its random stream."""
    return {"$": "node", "cls": node_class_path(node), "id": node.id, "cluster": list(node.cluster),
            "now": node.now, "fields": encode(public_fields(node), 0, seen),
            "effects": encode(list(node._effects), 0, seen), "after_persist": bool(node._after_persist),
            "rng": encode(node.rng)}


def decode_node(data: dict[str, Any]) -> Any:
    """The worker's copy of a node argument (an instance of the class it names)."""
    from ..node import Node
    cls = resolve(data["cls"])
    if not issubclass(cls, Node):
        raise CodecError(f"{data['cls']} is not a node class")
    fields = decode(data["fields"])
    node = cls(data["id"], list(data["cluster"]), fields.get("options"))
    for name, value in fields.items():
        setattr(node, name, value)
    node._now = float(data["now"])
    node._effects = list(decode(data["effects"]))
    node._after_persist = bool(data["after_persist"])
    node.use_rng(decode(data["rng"]))
    return node


def node_changes(node: Any, effects_before: int) -> dict[str, Any]:
    """What a call did to a node: its public fields now, the effects it queued, its random stream."""
    return {"fields": encode(public_fields(node)), "effects": encode(list(node._effects[effects_before:])),
            "rng": encode(node.rng)}


# ---- the worker -------------------------------------------------------------------------
class _Sink(io.TextIOBase):
    """Where the submission's prints go: counted, not kept."""

    def __init__(self) -> None:
        self.lines = 0

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.lines += str(text).count("\n")
        return len(text)


def lexical(path: str, cwd: str) -> str:
    """``path`` made absolute against ``cwd`` and normalised by its text alone (``.``, ``..``,
    repeated ``/``), with str methods only: what the audit hook compares (symbolic links are
    not followed; the worker may create none outside its scratch folder).

    >>> lexical("../b/./c//d", "/x/y")
    '/x/b/c/d'
    """
    if not path.startswith("/"):
        path = cwd + "/" + path
    parts: list = []
    for part in path.split("/"):
        if part == "..":
            if parts:
                parts.pop()
        elif part and part != ".":
            parts.append(part)
    return "/" + "/".join(parts)


#: audit events refused outright (prefix match on the event name)
REFUSED_EVENTS = ("subprocess.", "os.system", "os.exec", "os.spawn", "os.posix_spawn", "os.fork",
                  "os.forkpty", "pty.", "socket.", "ctypes.", "os.kill", "os.killpg", "signal.pthread_kill",
                  "resource.setrlimit", "resource.prlimit", "os.setuid", "os.chroot", "sys.remote_exec",
                  "_posixsubprocess.", "os.add_dll_directory", "webbrowser.", "urllib.", "ftplib.",
                  "smtplib.", "http.", "imaplib.", "poplib.", "telnetlib.", "nntplib.",
                  # what could reach into the hook's own variables, forge bytecode, or start an
                  # interpreter the hook does not watch
                  "gc.get_objects", "gc.get_referrers", "gc.get_referents", "sys.settrace",
                  "sys.setprofile", "code.__new__", "cpython.PyInterpreterState_New", "sqlite3.")
#: modules a submission may not import: C code that reaches the operating system or the
#: interpreter's memory without an audit event
REFUSED_MODULES = ("cffi", "_cffi_backend", "_testcapi", "_testinternalcapi", "_testmultiphase",
                   "_xxsubinterpreters", "_xxinterpchannels", "_interpreters", "_interpchannels")
#: events that change the file system: allowed only inside the scratch folder
WRITE_EVENTS = ("os.mkdir", "os.remove", "os.rmdir", "os.rename", "os.symlink", "os.link", "os.chmod",
                "os.chown", "os.truncate", "os.utime", "shutil.", "os.chflags", "os.lchflags", "os.mkfifo",
                "os.mknod", "os.removexattr", "os.setxattr")
#: events that read a folder's or file's path
READ_EVENTS = ("open", "os.listdir", "os.scandir", "glob.glob", "os.chdir")


def guard(readable: Sequence[str], writable: Sequence[str], refused: Sequence[str]) -> Callable:
    """The audit hook (see the module docstring): ``readable`` folders may be read,
    ``writable`` ones also written, ``refused`` paths never touched.

    Everything the hook uses is bound here, once: builtins, ``os.getcwd`` and the folder
    lists (tuples) are its own variables, and it compares paths with str methods only, so that
    a submission that replaces ``os.path`` functions, builtins or this module's globals does
    not change its answers (``tests/test_grade.py`` checks that its code loads no global).
    """
    import types

    _type, _str, _bytes, _int, _len, _repr = type, str, bytes, int, len, repr
    _denied, getcwd, cwd0 = PermissionError, os.getcwd, os.getcwd()
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
    refused_events, write_events, read_events = REFUSED_EVENTS, WRITE_EVENTS, READ_EVENTS
    refused_modules = REFUSED_MODULES + tuple(m + "." for m in REFUSED_MODULES)
    # a function object of its own (the module's lexical could be given other code)
    normal = types.FunctionType(lexical.__code__, {"__builtins__": {}}, "lexical")

    def folders(paths: Sequence[str]) -> tuple:
        return tuple(f for p in paths for f in (lexical(p, cwd0), lexical(os.path.realpath(p), cwd0)))

    readable_, writable_, refused_ = folders(readable), folders(writable), folders(refused)

    def inside(where: str, folders: tuple) -> bool:
        for folder in folders:
            if where == folder or where.startswith(folder + "/") or folder == "/":
                return True
        return False

    def check_path(event: str, path: Any, write: bool) -> None:
        kind = _type(path)
        if kind is _int:  # a file descriptor the worker already holds
            return
        if kind is _bytes:
            path = path.decode("utf-8", "surrogateescape")
        elif kind is not _str:
            raise _denied("paxoslab grader: " + event + " refused (not a path)")
        where = normal(path, getcwd())
        if inside(where, refused_):
            raise _denied("paxoslab grader: " + event + " " + _repr(path) + " refused (a grader's file)")
        if inside(where, writable_):
            return
        if write or not inside(where, readable_):
            raise _denied("paxoslab grader: " + event + " " + _repr(path) + " refused (outside the "
                          "installed packages)")

    def hook(event: str, args: tuple) -> None:
        if event.startswith(refused_events):
            raise _denied("paxoslab grader: " + event + " refused in a graded submission")
        if event == "import" and _len(args) > 0 and _type(args[0]) is _str \
                and (args[0] + ".").startswith(refused_modules):
            raise _denied("paxoslab grader: import " + args[0] + " refused in a graded submission")
        if event == "open":
            path = args[0] if _len(args) > 0 else None
            mode = args[1] if _len(args) > 1 else None
            flags = args[2] if _len(args) > 2 else None
            write = (_type(mode) is _str and ("w" in mode or "a" in mode or "x" in mode or "+" in mode)) \
                or (_type(flags) is _int and (flags & write_flags) != 0)
            check_path(event, path, write)
        elif event.startswith(write_events):
            for arg in args[:2]:
                if _type(arg) is _str or _type(arg) is _bytes:
                    check_path(event, arg, True)
        elif event in read_events:
            path = args[0] if _len(args) > 0 and args[0] is not None else "."
            check_path(event, path, False)

    return hook


def allowed_folders() -> list[str]:
    """What a worker may read: the installed Python and packages, the library, system files."""
    import site
    import sysconfig

    import paxoslab
    folders = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
               os.path.dirname(paxoslab.__file__), "/usr", "/etc", "/dev/null", "/dev/urandom"}
    for name in ("stdlib", "platstdlib", "purelib", "platlib"):
        folders.add(sysconfig.get_paths().get(name) or sys.prefix)
    try:
        folders.update(site.getsitepackages())
    except AttributeError:
        pass
    return sorted(folders)


def _cell_source(source: str) -> str:
    """A cell's code without IPython's ``%magic`` and ``!shell`` lines (a ``%%`` cell is skipped)."""
    if source.lstrip().startswith("%%"):
        return ""
    lines = []
    for line in source.splitlines():
        stripped = line.lstrip()
        if stripped.startswith(("%", "!")):
            line = line[: len(line) - len(stripped)] + "pass"
        lines.append(line)
    return "\n".join(lines)


def _quiet_questions() -> None:
    """``qN.check()`` and friends do nothing in a worker: their output is not graded."""
    from . import Question

    def nothing(self, *args, **kwargs):
        return None

    for name in ("check", "hint", "solution", "replay"):
        setattr(Question, name, nothing)


def _without_unaudited_signals() -> None:
    """Take away ``os.pidfd_open`` and ``signal.pidfd_send_signal``: they reach another
    process (the grading process) without an audit event, as ``os.kill`` would with one."""
    import posix
    import signal as signal_module

    for module, name in ((os, "pidfd_open"), (posix, "pidfd_open"), (signal_module, "pidfd_send_signal"),
                         (sys.modules.get("_signal"), "pidfd_send_signal")):
        if module is not None and hasattr(module, name):
            delattr(module, name)


def _describe_exception(exc: BaseException, names: Sequence[str], fn: Callable | None) -> dict[str, Any]:
    frames = []
    tb = exc.__traceback__
    last = None
    while tb is not None:
        frames.append(tb.tb_frame.f_code.co_name)
        last = tb.tb_frame.f_code
        tb = tb.tb_next
    culprit = None
    for name in frames:
        if name in names:
            culprit = name
    try:
        message = str(exc)
    except Exception:  # noqa: BLE001 - a __str__ that raises
        message = "(its message could not be read)"
    return {"type": type(exc).__name__, "message": message[:2000],
            "culprit": culprit, "here": fn is not None and last is getattr(fn, "__code__", None),
            "trace": "".join(traceback.format_exception(exc))[-4000:]}


class Worker:
    """The worker's side of the conversation (one per submission)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.namespace: dict[str, Any] = {"__name__": "__main__", "display": lambda *a, **k: None}
        self.names: list[str] = []
        self.sink = _Sink()

    def serve(self) -> None:
        write_message(self.fd, {"op": "hello", "pid": os.getpid()})
        while True:
            try:
                request = read_message(self.fd)
            except EOFError:
                return
            op = request.get("op")
            if op == "run":
                answer = self.run(request)
            elif op == "call":
                answer = self.call(request)
            else:
                return
            try:
                write_message(self.fd, answer)
            except CodecError as exc:
                write_message(self.fd, {"op": "broken", "message": str(exc)})

    def run(self, request: dict[str, Any]) -> dict[str, Any]:
        import importlib

        self.names = list(request["names"])
        importlib.import_module(request["module"])
        setup = request.get("setup")
        if isinstance(setup, dict):  # the world the grading process chose for this worker, put in
            resolve_function(str(setup.get("via")))(setup)  # place before any of the submission's code
        importlib.import_module("ctypes")  # opens the process's own symbols once (NumPy imports it);
        # after the hook, every ctypes.dlopen, dlsym and foreign call is refused
        _quiet_questions()
        _without_unaudited_signals()
        sys.addaudithook(guard(request["readable"], request["writable"], request["refused"]))
        sys.stdout = sys.stderr = self.sink
        error, executed = None, 0
        for index, source in request["cells"]:
            try:
                code = compile(_cell_source(source), f"<cell {index}>", "exec")
                exec(code, self.namespace)  # noqa: S102 - the submission, in its own process
            except BaseException as exc:  # noqa: BLE001 - stop at the first cell that raises, as Run All
                error = {"cell": index, **_describe_exception(exc, self.names, None)}
                break
            executed += 1
        callable_names = [n for n in self.names if callable(self.namespace.get(n))]
        return {"op": "ran", "executed": executed, "error": error, "callable": callable_names,
                "printed": self.sink.lines}

    def call(self, request: dict[str, Any]) -> dict[str, Any]:
        seq, name = request.get("seq"), request.get("name")
        answer: dict[str, Any] = {"op": "answer", "seq": seq}
        fn = self.namespace.get(name) if name in self.names else None
        if not callable(fn):
            answer["raised"] = {"type": "NameError", "message": f"name {name!r} is not defined",
                                "culprit": None, "here": False, "trace": ""}
            return answer
        nodes: list[tuple[Any, int]] = []

        def arg(data: Any) -> Any:
            if type(data) is dict and data.get("$") == "node":
                node = decode_node(data)
                nodes.append((node, len(node._effects)))
                return node
            return decode(data)

        try:
            args = [arg(a) for a in request["args"]]
            kwargs = {k: arg(v) for k, v in request["kwargs"].items()}
        except CodecError as exc:
            answer["raised"] = {"type": "CodecError", "message": str(exc), "culprit": None,
                                "here": False, "trace": ""}
            return answer
        try:
            via = resolve_function(request["via"]) if "via" in request else None
        except CodecError as exc:
            answer["raised"] = {"type": "CodecError", "message": str(exc), "culprit": None,
                                "here": False, "trace": ""}
            return answer
        try:
            if "random" in request:  # the grading process's random module, mirrored
                random.setstate(state_of_random(request["random"]))
            value = fn(*args, **kwargs) if via is None else via(fn, *args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - the student's exception is the finding
            answer["raised"] = _describe_exception(exc, self.names, fn)
        else:
            try:
                same = [k for k, (node, _) in enumerate(nodes) if node is value]
                # a node argument given back (``return node``) comes back as that argument
                answer["value"] = {"$": "node-argument", "v": same[0]} if same else encode(value)
            except CodecError as exc:
                answer["raised"] = {"type": "TypeError", "message": f"{name}() returned {exc}",
                                    "culprit": name, "here": True, "trace": ""}
        try:
            answer["nodes"] = [node_changes(node, before) for node, before in nodes]
        except CodecError as exc:
            answer.pop("value", None)
            answer["raised"] = {"type": "TypeError", "message": f"{name}() left on the node {exc}",
                                "culprit": name, "here": True, "trace": ""}
            answer["nodes"] = []
        try:
            answer["random"] = random_state(random.getstate())
            answer["rngs"] = [random_state(a.getstate()) for a in (*args, *kwargs.values())
                              if type(a) is random.Random]
        except Exception:  # noqa: BLE001 - the submission replaced its random module
            answer["random"], answer["rngs"] = None, []
        answer["printed"] = self.sink.lines
        return answer


def main(fd: int) -> None:
    """Serve the grading process on file descriptor ``fd`` until it hangs up."""
    Worker(fd).serve()
