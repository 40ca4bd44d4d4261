"""The command line.

``python -m paxoslab run FILE [--seed N] [--json] [--plot OUT.png] [--max-events N]``: one run.
Exit status (:data:`EXIT_CODES`): 0 when the run meets its ``expect`` and no
safety property is violated; 1 when an expectation is not met or a property
is violated (with or without an ``expect``); 2 when the input is bad (one line
on stderr naming the file, the field and the value); 3 when the run itself
failed — a node's handler raised (:class:`~paxoslab.sim.HandlerError`),
simulated time stood still (:class:`~paxoslab.sim.SimulationStalled`) or the
run reached ``--max-events`` (:class:`~paxoslab.sim.EventLimitReached`) — with
that error's text as one line on stderr.  Ctrl-C ends with one line and 130;
a reader that stops early (``run ... | head``) ends it quietly with 141.

``python -m paxoslab sweep FILE --set PATH=V1,V2 [--set ...] --seeds N [--workers K] [--csv OUT]``:
every combination of the ``--set`` values times seeds ``0..N-1``, one CSV row
per run (as :func:`paxoslab.experiments.sweep`), on stdout or into ``OUT``.
Values are JSON where they parse (``3``, ``null``, ``{"fixed": 5}``), else
strings.  A run that fails becomes a row with an ``error`` column (``--on-error
row``, the default; ``raise`` stops at the first one, exit 3).  Rows are written
as they finish and none is kept in memory (:class:`RowWriter`; on stdout after
the first hundred), so ``--seeds 20000000`` starts at once and its memory stays
flat; Ctrl-C keeps the rows written (one line, exit 130).
``--workers`` is at most :func:`max_workers`.  Exit status 0; 3 when some runs
failed (their rows are in the table); 2 for bad input as with ``run``.

``python -m paxoslab search FILE [--strategy bfs|random] [--max-states N]
[--max-seconds S] [--max-memory MB] [--json] [--save OUT.json]``: search the scenario's
interleavings; exit status 1 when a property is violated (the counterexample is
written to ``OUT.json``, by default ``<name>-counterexample.json`` here) or a
goal is never reached in a complete search; 2 for bad input.

``python -m paxoslab grade SUBMISSIONS/*.ipynb [--csv grades.csv] [--workers K] [--exercise NN]
[--questions 1,3] [--timeout S] [--cpu-seconds S] [--memory MB]``: grade homework notebooks
(:mod:`paxoslab.homework.grade`): each submission's code runs in a worker process of its own,
with CPU-time and memory limits; the checks and the verdicts are computed in the grading
process.  One CSV row per submission and question (``status``: correct, incorrect, not
attempted, error or timeout), each counterexample as a scenario file in ``counterexamples/``
beside the table, one line per submission on stdout.  Exit status 0 when every submission
was graded (whatever its grades); 2 for bad input (one line naming the file: missing, not a
notebook, no exercise found); 3 when the grader itself failed on a submission (its row says
so).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import sys
from collections.abc import Sequence
from typing import Any

from .runner import DEFAULT_MAX_EVENTS, run_scenario
from .scenario import ScenarioError
from .sim import EventLimitReached, HandlerError, SimulationStalled

EXIT_OK, EXIT_UNMET, EXIT_BAD_INPUT, EXIT_RUN_FAILED = 0, 1, 2, 3
EXIT_INTERRUPTED, EXIT_BROKEN_PIPE = 130, 141  # 128 + SIGINT, 128 + SIGPIPE, as a shell reports them
EXIT_CODES = {
    EXIT_OK: "the run met its expect and violated no safety property",
    EXIT_UNMET: "an expectation was not met or a safety property was violated",
    EXIT_BAD_INPUT: "bad input: one line naming the file and the field",
    EXIT_RUN_FAILED: "the run itself failed (a node's handler raised, time stood still, or it "
                     "reached --max-events)",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m paxoslab",
        description="Run paxoslab scenarios in the deterministic network simulator.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run one scenario file and report the outcome")
    run.add_argument("file", help="scenario JSON file (see data/scenarios/)")
    run.add_argument("--seed", type=int, default=None, help="override the scenario's seed")
    run.add_argument("--json", action="store_true", help="print the summary as JSON")
    run.add_argument("--plot", metavar="OUT.png", help="also save a sequence diagram")
    run.add_argument("--max-events", type=events_bound, default=DEFAULT_MAX_EVENTS, metavar="N",
                     help=f"stop (exit 3) after N events, or 'none' for no limit (default "
                          f"{DEFAULT_MAX_EVENTS:,}: keeps a run under about 1 GB)")
    add_sweep_parser(commands)
    search = commands.add_parser("search", help="search every interleaving for a violation")
    search.add_argument("file", help="scenario JSON file (see data/scenarios/search-*.json)")
    search.add_argument("--strategy", choices=["bfs", "random"], default="bfs",
                        help="bfs: shortest counterexample (default); random: seeded random walks")
    search.add_argument("--max-states", type=int, default=None, help="stop after N states")
    search.add_argument("--max-seconds", type=float, default=None, help="stop after S seconds")
    search.add_argument("--max-memory", type=memory_bound, default="auto", metavar="MB",
                        help="stop once the process holds MB megabytes, 'auto' (default: what it "
                             "holds plus 3/4 of the memory available) or 'none'")
    search.add_argument("--max-depth", type=int, default=None,
                        help="explore at most D >= 1 steps deep (default: bfs no bound, "
                             "random walks 200 steps)")
    search.add_argument("--max-ballots", type=int, default=1,
                        help="ballots each proposer may start, at least 1 (default 1)")
    search.add_argument("--seed", type=int, default=0, help="seed of the random walks")
    search.add_argument("--json", action="store_true", help="print the outcome as JSON")
    search.add_argument("--save", metavar="OUT.json",
                        help="where to write a counterexample (default <name>-counterexample.json)")
    add_grade_parser(commands)
    return parser


# ---- grade ----------------------------------------------------------------------
def add_grade_parser(commands) -> None:
    grade = commands.add_parser(
        "grade", help="grade homework notebooks; one CSV row per submission and question")
    grade.add_argument("files", nargs="+", metavar="SUBMISSION.ipynb", help="the submitted notebooks")
    grade.add_argument("--csv", default="grades.csv", metavar="OUT",
                       help="the table (default grades.csv); counterexamples go to counterexamples/ "
                            "beside it")
    grade.add_argument("--workers", type=int, default=1, metavar="K",
                       help="grade K submissions at once (at most one per CPU; default 1)")
    grade.add_argument("--exercise", default=None, metavar="NN",
                       help="the exercise (02, acceptor or 02_acceptor.ipynb) when a file name and "
                            "its imports do not tell")
    grade.add_argument("--questions", default=None, metavar="N,M",
                       help="grade only these questions (default: all)")
    grade.add_argument("--timeout", type=float, default=60.0, metavar="S",
                       help="wall seconds to run a notebook's cells (default 60)")
    grade.add_argument("--cpu-seconds", type=int, default=120, metavar="S",
                       help="CPU seconds a submission's worker may use in all (default 120)")
    grade.add_argument("--memory", type=int, default=2048, metavar="MB",
                       help="address space of a submission's worker (default 2048 MB)")


def cmd_grade(args: argparse.Namespace) -> int:
    from .homework.grade import GradeError, Limits, grade, max_workers

    try:
        if not 1 <= args.workers <= max_workers():
            raise GradeError(args.files[0], f"--workers must be between 1 and {max_workers()} (one per "
                                            f"CPU), got {args.workers}")
        try:
            questions = [int(q) for q in args.questions.split(",")] if args.questions else None
        except ValueError:
            raise GradeError(args.files[0], f"--questions must be numbers like 1,3, got "
                                            f"{args.questions!r}") from None
        for name, value, least in (("--timeout", args.timeout, 1), ("--cpu-seconds", args.cpu_seconds, 1),
                                   ("--memory", args.memory, 256)):
            if not value >= least:
                raise GradeError(args.files[0], f"{name} must be at least {least}, got {value}")
        limits = Limits(timeout=args.timeout, cpu_seconds=args.cpu_seconds, memory_mb=args.memory)
        graded, failed = grade(args.files, args.csv, args.workers, args.exercise, questions, limits,
                               out=lambda line: print(line, flush=True))
    except GradeError as exc:
        print(f"paxoslab: error: {one_line(str(exc))}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"{graded + failed} submissions graded into {args.csv}"
          + (f"; the grader failed on {failed} (see their rows)" if failed else ""), file=sys.stderr)
    return EXIT_RUN_FAILED if failed else EXIT_OK


# ---- sweep ----------------------------------------------------------------------
def add_sweep_parser(commands) -> None:
    sweep = commands.add_parser(
        "sweep", help="run a scenario over a grid of field values and many seeds; one CSV row per run")
    sweep.add_argument("file", help="scenario JSON file (see data/scenarios/)")
    sweep.add_argument("--set", dest="sets", action="append", default=[], metavar="PATH=V1,V2",
                       help="a scenario field and the values to try, e.g. "
                            "options.backoff.jitter=0,5,20 (repeat for a grid)")
    sweep.add_argument("--seeds", type=int, required=True, metavar="N", help="run seeds 0..N-1")
    sweep.add_argument("--workers", type=int, default=1, metavar="K",
                       help="worker processes (default 1: run in this process)")
    sweep.add_argument("--csv", metavar="OUT",
                       help="write the table here instead of stdout, each row as its run finishes")
    sweep.add_argument("--on-error", choices=["row", "raise"], default="row",
                       help="row: a run that fails becomes a row with an error column (default); "
                            "raise: stop at the first one")


def split_values(text: str) -> list[str]:
    """Split ``V1,V2`` at the commas outside brackets and quotes.

    >>> split_values('0,{"uniform": [1, 30]},"a,b"')
    ['0', '{"uniform": [1, 30]}', '"a,b"']
    """
    parts, depth, quoted, start = [], 0, False, 0
    for i, char in enumerate(text):
        if char == '"' and (i == 0 or text[i - 1] != "\\"):
            quoted = not quoted
        elif not quoted and char in "[{":
            depth += 1
        elif not quoted and char in "]}":
            depth -= 1
        elif not quoted and depth == 0 and char == ",":
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def parse_value(text: str) -> Any:
    """JSON if it parses (``5``, ``null``, ``[1, 30]``), else the text itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_grid(file: str, sets: Sequence[str]) -> dict[str, list[Any]]:
    """``["a.b=1,2", "c=x"]`` -> ``{"a.b": [1, 2], "c": ["x"]}``; a malformed one names itself."""
    grid: dict[str, list[Any]] = {}
    for item in sets:
        path, equals, values = item.partition("=")
        if not equals or not path.strip() or not values.strip():
            raise ScenarioError(file, "--set", f"expected PATH=V1,V2,..., got {item!r}")
        if path.strip() in grid:
            raise ScenarioError(file, "--set", f"{path.strip()} is set twice")
        grid[path.strip()] = [parse_value(v.strip()) for v in split_values(values)]
    return grid


def max_workers() -> int:
    """The most ``--workers`` allowed: 4 per CPU, at most 64 (more only queue for the CPUs)."""
    return min(64, 4 * (os.cpu_count() or 1))


def _ignore_sigint() -> None:  # a worker leaves Ctrl-C to the parent (no traceback per worker)
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


class RowWriter:
    """Writes sweep rows as CSV as they finish and keeps none of them in memory, so that an
    interrupted sweep keeps its rows and twenty million seeds need no more memory than ten.

    To a file (``path``): a row with a column not seen before (a failed run's ``error``, a
    per-node total that only some runs have) rewrites the file with the wider header,
    reading it back from disk.  To a stream (``stream``, e.g. stdout), which cannot be
    rewritten: the first :data:`HOLD` rows wait so that the header has every column they
    have; a column that only a later row has is left out of the stream and named in
    :attr:`left_out`.  ``error`` is always the last column.
    """

    HOLD = 100

    def __init__(self, path: str | None = None, stream: Any = None) -> None:
        self.path, self.stream = path, stream
        self.columns: list[str] = []
        self.count = 0  # rows written
        self.held: list[dict[str, Any]] = []
        self.left_out: list[str] = []
        self.file = self._open("w") if path is not None else None
        self.writer: Any = None

    def _open(self, mode: str, path: str | None = None):
        path = path or self.path
        try:
            return open(path, mode, newline="", encoding="utf-8")  # noqa: SIM115
        except OSError as exc:
            raise ScenarioError(self.path, "--csv", f"cannot write the table ({exc})") from None

    def _header(self, new: Sequence[str]) -> list[str]:
        columns = self.columns + [c for c in new if c not in self.columns]
        return [c for c in columns if c != "error"] + (["error"] if "error" in columns else [])

    def add(self, row: dict[str, Any]) -> None:
        if self.path is None:
            self._add_to_stream(row)
            return
        new = [c for c in row if c not in self.columns]
        if new or self.writer is None:
            self._widen(self._header(new))
        self.writer.writerow(row)
        self.count += 1
        self.file.flush()

    def _widen(self, columns: list[str]) -> None:
        """Start the file again with ``columns`` as its header and the rows it had."""
        import csv

        self.file.close()
        if self.count:
            partial = f"{self.path}.partial"
            with self._open("r") as old, self._open("w", partial) as wider:
                rows = csv.DictReader(old)
                out = csv.DictWriter(wider, columns, lineterminator="\n")
                out.writeheader()
                out.writerows(rows)
            os.replace(partial, self.path)
        else:
            with self._open("w") as empty:
                csv.DictWriter(empty, columns, lineterminator="\n").writeheader()
        self.columns = columns
        self.file = self._open("a")
        self.writer = csv.DictWriter(self.file, columns, lineterminator="\n")

    def _add_to_stream(self, row: dict[str, Any]) -> None:
        if self.writer is None:
            self.held.append(row)
            if len(self.held) >= self.HOLD:
                self._release()
            return
        self.left_out += [c for c in row if c not in self.columns and c not in self.left_out]
        self.writer.writerow({c: row.get(c) for c in self.columns})
        self.count += 1
        self.stream.flush()

    def _release(self) -> None:
        """Write the header (every column of the held rows) and the held rows."""
        import csv

        self.columns = self._header([c for row in self.held for c in row])
        self.writer = csv.DictWriter(self.stream, self.columns, lineterminator="\n")
        self.writer.writeheader()
        self.writer.writerows(self.held)
        self.count += len(self.held)
        self.held = []
        self.stream.flush()

    def close(self) -> None:
        if self.path is None:
            if self.writer is None and self.held:
                self._release()
        elif self.file is not None:
            self.file.close()


def cmd_sweep(args: argparse.Namespace) -> int:
    from .experiments import sweep_rows

    if args.seeds < 1:
        raise ScenarioError(args.file, "--seeds", f"must be at least 1, got {args.seeds}")
    if not 1 <= args.workers <= max_workers():
        raise ScenarioError(args.file, "--workers", f"must be between 1 and {max_workers()} "
                                                    f"(4 per CPU, at most 64), got {args.workers}")
    grid = parse_grid(args.file, args.sets)
    progress = sys.stderr.isatty()
    pool = None
    if args.workers > 1:
        from concurrent.futures import ProcessPoolExecutor

        pool = ProcessPoolExecutor(args.workers, initializer=_ignore_sigint)
    writer = RowWriter(path=args.csv) if args.csv else RowWriter(stream=sys.stdout)
    failed = 0
    try:
        from tqdm.auto import tqdm

        name, total, results = sweep_rows(args.file, grid, range(args.seeds), executor=pool,
                                          on_error=args.on_error)
        for row in tqdm(results, total=total, disable=not progress, desc=name):
            for column in grid:  # objects and lists as JSON, the way they were given
                if isinstance(row[column], dict | list):
                    row[column] = json.dumps(row[column])
            writer.add(row)
            failed += bool(row.get("error"))
    except KeyboardInterrupt:
        writer.close()  # rows still held for stdout's header are printed
        kept = f"the {writer.count} finished runs are in {args.csv}" if args.csv else \
            f"{writer.count} runs finished"
        print(f"paxoslab: interrupted: {kept}", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        writer.close()
        if pool:
            shut_down(pool)
    if args.csv:
        print(f"{writer.count} runs written to {args.csv}"
              + (f" ({failed} failed: see the error column)" if failed else ""), file=sys.stderr)
    elif failed:
        print(f"paxoslab: {failed} of {writer.count} runs failed: see the error column",
              file=sys.stderr)
    if writer.left_out:
        print(f"paxoslab: column {', '.join(writer.left_out)} first appeared after the first "
              f"{RowWriter.HOLD} rows and is not in the table (--csv keeps every column)",
              file=sys.stderr)
    return EXIT_RUN_FAILED if failed else EXIT_OK


@contextlib.contextmanager
def sigint_ignored():
    """A second Ctrl-C while this block runs does nothing (no traceback half-way through)."""
    import signal

    try:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread: signals are not ours to set
        previous = None
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


def shut_down(pool) -> None:
    """Cancel what has not started, let the workers finish their run and join the pool's thread
    (a second Ctrl-C meanwhile is ignored).  Joining matters: Python 3.11 may otherwise wake
    the pool's closed pipe at exit and print a traceback (``Bad file descriptor``)."""
    with sigint_ignored():
        pool.shutdown(wait=True, cancel_futures=True)


def memory_bound(text: str) -> float | str | None:
    """``--max-memory``: megabytes, ``auto`` or ``none`` (checked by the search)."""
    word = text.strip().lower()
    if word in ("auto", "none"):
        return None if word == "none" else "auto"
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be megabytes, 'auto' or 'none', got {text!r}") from None


def events_bound(text: str) -> int | None:
    """``--max-events``: a whole number of at least 1, or ``none``."""
    if text.strip().lower() == "none":
        return None
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number or 'none', got {text!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 (or 'none'), got {number}")
    return number


def cmd_run(args: argparse.Namespace) -> int:
    result = run_scenario(args.file, seed=args.seed, max_events=args.max_events)
    summary = result.summary()
    if args.json:
        print(json.dumps(finite(summary), indent=2, ensure_ascii=False, allow_nan=False))
    else:
        print(result.describe())
    if args.plot:
        save_plot(result, args.plot)
    return EXIT_OK if summary["expect"]["ok"] and not summary["violations"] else EXIT_UNMET


def cmd_search(args: argparse.Namespace) -> int:
    from .search import SearchArgumentError, counterexample_file, search

    try:
        result = search(args.file, strategy=args.strategy, max_states=args.max_states,
                        max_seconds=args.max_seconds, max_depth=args.max_depth, seed=args.seed,
                        max_ballots=args.max_ballots, max_memory=args.max_memory)
    except SearchArgumentError as exc:
        raise ScenarioError(args.file, "--" + exc.argument.replace("_", "-"), exc.problem) from None
    if result.interrupted:  # it proved nothing: one line, and the shell's code for Ctrl-C
        with sigint_ignored():  # a second Ctrl-C while it is written must not end in a traceback
            print(f"paxoslab: interrupted, nothing is proved: {result.headline()}", file=sys.stderr)
        return EXIT_INTERRUPTED
    if result.counterexample is not None:
        path = args.save or counterexample_file(result.scenario["name"])
        try:
            result.save(path)
        except OSError as exc:
            raise ScenarioError(path, "--save", f"cannot write the counterexample ({exc})") from None
    if args.json:
        print(json.dumps(result.summary(), indent=2, ensure_ascii=False))
    else:
        print(result.explain())
    return EXIT_OK if result.ok else EXIT_UNMET


def finite(value: Any) -> Any:
    """``value`` with NaN and infinities as ``None``: standard JSON has no such numbers.

    >>> finite({"a": [1.5, float("nan")], "b": float("inf")})
    {'a': [1.5, None], 'b': None}
    """
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def save_plot(result, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from .plots import sequence_diagram

    ax = sequence_diagram(result)
    try:
        ax.figure.savefig(path, dpi=110)
    except (OSError, ValueError) as exc:
        raise ScenarioError(path, "--plot", f"cannot write the figure ({exc})") from None
    print(f"sequence diagram written to {path}", file=sys.stderr)


#: every character str.splitlines() breaks a line at -> how an error line shows it
_LINE_BREAKS = str.maketrans({c: repr(c)[1:-1] for c in
                              "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"})


def one_line(text: str) -> str:
    """``text`` with its line breaks escaped (all that ``str.splitlines`` knows), so that an
    error stays one line.

    >>> one_line("S\\n1 failed"), one_line("S\\x1e1")
    ('S\\\\n1 failed', 'S\\\\x1e1')
    """
    return text.translate(_LINE_BREAKS)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        commands = {"search": cmd_search, "sweep": cmd_sweep, "grade": cmd_grade}
        return commands.get(args.command, cmd_run)(args)
    except ScenarioError as exc:
        print(f"paxoslab: error: {one_line(str(exc))}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (HandlerError, SimulationStalled, EventLimitReached) as exc:
        print(f"paxoslab: run failed: {getattr(args, 'file', args.command)}: {one_line(str(exc))}",
              file=sys.stderr)
        return EXIT_RUN_FAILED
    except KeyboardInterrupt:
        print("paxoslab: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader went away (``| head``): stop quietly
        silence_stdout()
        return EXIT_BROKEN_PIPE


def silence_stdout() -> None:
    """Point stdout at /dev/null, so that flushing it at exit raises nothing more."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        pass


if __name__ == "__main__":
    sys.exit(main())
