"""The command line: ``python -m paxoslab run FILE [--seed N] [--json] [--plot OUT.png]``.

Exit status: 0 when the run meets its ``expect``, 1 when it does not, 2 when
the input is bad (one line on stderr naming the file, the field and the value).
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
        return cmd_run(args)
    except ScenarioError as exc:
        print(f"paxoslab: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
