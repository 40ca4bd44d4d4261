"""Where the homework finds the course's files: the presets and the solution notebooks."""

from __future__ import annotations

from pathlib import Path

_ROOT = Path(__file__).resolve().parents[2]


def locate(relative: str, root: Path = _ROOT, cwd: Path | None = None) -> Path:
    """A folder of the course's repository: beside the package when it is installed from the
    repository in place (``pip install -e``), else in the working folder or above it (a
    regular install, as on Binder, where a notebook runs in ``notebooks/exercises``).

    >>> locate("data/scenarios").name
    'scenarios'
    """
    cwd = Path.cwd() if cwd is None else cwd
    for base in (root, cwd, *cwd.parents):
        if (base / relative).is_dir():
            return base / relative
    return root / relative


#: where the exercises' presets live
SCENARIOS = locate("data/scenarios")
#: where the reference solutions live (a class's copy of the course may leave them out)
SOLUTIONS = locate("notebooks/exercises/solutions")
