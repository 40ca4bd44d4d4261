"""Build the student notebooks from the solution notebooks: one source for both.

    python -m paxoslab.homework.build            # write and execute every notebook
    python -m paxoslab.homework.build --check    # exit 1 if a stored student notebook is stale

A solution notebook (``notebooks/exercises/solutions/NN_name.ipynb``) marks each reference
answer inside its function::

    def may_accept(promised, ballot):
        \"\"\"Promise 2 ...\"\"\"
        # BEGIN SOLUTION q3
        return promised is None or ballot >= promised
        # END SOLUTION

The student notebook (``notebooks/exercises/NN_name.ipynb``) is the same notebook with each
block replaced by a skeleton that raises ``NotImplementedError`` (which the checkers read
as "not attempted") and without the cells tagged ``solution-only``.  Both are executed and
stored with their outputs and without widget state, so strict nbval checks that every
check of the student notebook says "not attempted" and every check of the solution
notebook says "correct".
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from .paths import SOLUTIONS

EXERCISES = SOLUTIONS.parent
BEGIN = re.compile(r"^(?P<indent>[ \t]*)# BEGIN SOLUTION(?: q(?P<q>\d+))?[ \t]*$")
END = re.compile(r"^[ \t]*# END SOLUTION[ \t]*$")
DEF = re.compile(r"^[ \t]*def (?P<name>\w+)\(")
#: cells with this tag are left out of the student notebook
SOLUTION_ONLY = "solution-only"


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def skeleton(source: str) -> str:
    """The cell's source with every solution block replaced by a skeleton.

    >>> print(skeleton("def f(x):\\n    # BEGIN SOLUTION q1\\n    return x\\n    # END SOLUTION\\n"))
    def f(x):
        # YOUR CODE HERE
        raise NotImplementedError("write f()")
    <BLANKLINE>
    """
    out: list[str] = []
    inside = False
    name = "this"
    for line in source.splitlines(keepends=True):
        begin = BEGIN.match(line.rstrip("\n"))
        if inside:
            if END.match(line.rstrip("\n")):
                inside = False
            continue
        if begin:
            indent = begin["indent"]
            out.append(f"{indent}# YOUR CODE HERE\n")
            out.append(f'{indent}raise NotImplementedError("write {name}()")\n')
            inside = True
            continue
        defined = DEF.match(line)
        if defined:
            name = defined["name"]
        out.append(line)
    if inside:
        raise ValueError("a # BEGIN SOLUTION block has no # END SOLUTION")
    text = "".join(out)
    return text if source.endswith("\n") else text.rstrip("\n")


def without_markers(source: str) -> str:
    """The reference solution as a student would type it: the marker lines removed."""
    return "".join(line for line in source.splitlines(keepends=True)
                   if not BEGIN.match(line.rstrip("\n")) and not END.match(line.rstrip("\n")))


def solution_blocks(path: Path) -> dict[int, str]:
    """Question number -> the source of the cells holding its solution, markers removed."""
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    blocks: dict[int, list[str]] = {}
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = _source(cell)
        numbers = {int(m["q"]) for line in source.splitlines()
                   if (m := BEGIN.match(line)) and m["q"]}
        for number in sorted(numbers):
            blocks.setdefault(number, []).append(without_markers(source).strip() + "\n")
    return {n: "\n".join(texts) for n, texts in blocks.items()}


def student_notebook(solution: dict) -> dict:
    """The student notebook for a solution notebook (outputs cleared; not executed)."""
    nb = copy.deepcopy(solution)
    nb.get("metadata", {}).pop("widgets", None)
    cells = []
    for cell in nb["cells"]:
        if SOLUTION_ONLY in cell.get("metadata", {}).get("tags", []):
            continue
        if cell["cell_type"] == "markdown":  # links are written for solutions/, one folder deeper
            cell["source"] = _source(cell).replace("](../../", "](../")
        cell.get("metadata", {}).pop("execution", None)
        if cell["cell_type"] == "code":
            cell["source"] = skeleton(_source(cell))
            cell["outputs"] = []
            cell["execution_count"] = None
        cells.append(cell)
    nb["cells"] = cells
    return nb


def student_path(solution_path: Path) -> Path:
    return EXERCISES / solution_path.name


def sources(nb: dict) -> list[tuple[str, str]]:
    """What the freshness check compares: each cell's type and source."""
    return [(cell["cell_type"], _source(cell)) for cell in nb["cells"]]


def stale() -> list[str]:
    """The student notebooks whose cells differ from what the build makes (or are missing)."""
    problems = []
    for path in sorted(SOLUTIONS.glob("*.ipynb")):
        made = student_notebook(json.loads(path.read_text(encoding="utf-8")))
        target = student_path(path)
        if not target.exists():
            problems.append(f"{target}: missing")
        elif sources(json.loads(target.read_text(encoding="utf-8"))) != sources(made):
            problems.append(f"{target}: differs from what {path.name} makes")
    return problems


def execute(path: Path) -> None:
    """Run a notebook in its own folder and store it with its outputs, without widget state."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(str(path), as_version=4)
    for cell in nb.cells:  # no timestamps: a rebuild changes only what changed
        cell.metadata.pop("execution", None)
    NotebookClient(nb, timeout=600, kernel_name="python3", store_widget_state=False, record_timing=False,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    nb.metadata.pop("widgets", None)
    nbformat.write(nb, str(path))


def build(run: bool = True, only: Sequence[str] = ()) -> list[Path]:
    """Write every student notebook (or those named in ``only``, e.g. ``03_proposer.ipynb``)
    from its solution notebook; with ``run``, execute both."""
    written = []
    for path in sorted(SOLUTIONS.glob("*.ipynb")):
        if only and path.name not in only:
            continue
        if run:
            execute(path)
        made = student_notebook(json.loads(path.read_text(encoding="utf-8")))
        target = student_path(path)
        target.write_text(json.dumps(made, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        if run:
            execute(target)
        written += [path, target]
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m paxoslab.homework.build",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", metavar="NN_name.ipynb",
                        help="build only these exercises (default: all)")
    parser.add_argument("--check", action="store_true",
                        help="only compare the stored student notebooks with what the build makes")
    parser.add_argument("--no-execute", action="store_true", help="write the notebooks without running them")
    args = parser.parse_args(argv)
    if args.check:
        problems = stale()
        for line in problems:
            print(line)
        if not problems:
            print("student notebooks are up to date")
        return 1 if problems else 0
    unknown = [n for n in args.notebooks if not (SOLUTIONS / n).exists()]
    if unknown:
        print(f"no solution notebook {unknown[0]} in {SOLUTIONS}", file=sys.stderr)
        return 2
    for path in build(run=not args.no_execute, only=args.notebooks):
        print("wrote", path.relative_to(EXERCISES.parent.parent))
    return 0


if __name__ == "__main__":
    sys.exit(main())
