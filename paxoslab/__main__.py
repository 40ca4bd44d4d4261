"""The command line.

``python -m paxoslab run FILE [--seed N] [--json] [--plot OUT.png]``: run one
scenario; exit status 0 when it meets its ``expect``, 1 when it does not.

``python -m paxoslab search FILE [--strategy bfs|random] [--max-states N]
[--max-seconds S] [--json] [--save OUT.json]``: search the scenario's
interleavings; exit status 1 when a property is violated (the counterexample is
written to ``OUT.json``, by default ``<name>-counterexample.json`` here) or a
goal is never reached.

Exit status 2 when the input is bad (one line on stderr naming the file, the
field and the value).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from .runner import run_scenario
from .scenario import ScenarioError

EXIT_OK, EXIT_UNMET, EXIT_BAD_INPUT = 0, 1, 2


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
    search = commands.add_parser("search", help="search every interleaving for a violation")
    search.add_argument("file", help="scenario JSON file (see data/scenarios/search-*.json)")
    search.add_argument("--strategy", choices=["bfs", "random"], default="bfs",
                        help="bfs: shortest counterexample (default); random: seeded random walks")
    search.add_argument("--max-states", type=int, default=None, help="stop after N states")
    search.add_argument("--max-seconds", type=float, default=None, help="stop after S seconds")
    search.add_argument("--max-depth", type=int, default=None, help="explore at most D steps deep")
    search.add_argument("--max-ballots", type=int, default=1,
                        help="ballots each proposer may start (default 1)")
    search.add_argument("--seed", type=int, default=0, help="seed of the random walks")
    search.add_argument("--json", action="store_true", help="print the outcome as JSON")
    search.add_argument("--save", metavar="OUT.json",
                        help="where to write a counterexample (default <name>-counterexample.json)")
    return parser


def cmd_run(args: argparse.Namespace) -> int:
    result = run_scenario(args.file, seed=args.seed)
    summary = result.summary()
    if args.json:
        print(json.dumps(summary, indent=2, ensure_ascii=False))
    else:
        print(result.describe())
    if args.plot:
        save_plot(result, args.plot)
    return EXIT_OK if summary["expect"]["ok"] else EXIT_UNMET


def cmd_search(args: argparse.Namespace) -> int:
    from .search import search

    result = search(args.file, strategy=args.strategy, max_states=args.max_states,
                    max_seconds=args.max_seconds, max_depth=args.max_depth, seed=args.seed,
                    max_ballots=args.max_ballots)
    if result.counterexample is not None:
        path = args.save or f"{result.scenario['name']}-counterexample.json"
        try:
            result.save(path)
        except OSError as exc:
            raise ScenarioError(path, "--save", f"cannot write the counterexample ({exc})") from None
    if args.json:
        print(json.dumps(result.summary(), indent=2, ensure_ascii=False))
    else:
        print(result.explain())
    return EXIT_OK if result.ok else EXIT_UNMET


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


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return cmd_search(args) if args.command == "search" else cmd_run(args)
    except ScenarioError as exc:
        print(f"paxoslab: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
