"""The exercise notebooks' code, run as a grader test needs it: the code cells of a solution
notebook (or of the student notebook the build makes of it), without the cells that call the
checks, then the test's own code; the exercise bound to the result."""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Sequence
from types import ModuleType

from paxoslab.homework import SOLUTIONS, build

#: a cell that calls a question (q1.check(), q2.hint() ...): the test grades instead
CHECK_CELL = re.compile(r"^\s*q\d+\.")


def exercise_namespace(notebook: str, module: ModuleType, student: bool = False, extra: str = "",
                       skip: Sequence[str] = ()) -> tuple[dict, tuple]:
    """Run ``notebook``'s code cells (but those calling a question, or containing one of
    ``skip``) and then ``extra`` in one namespace; ``module.bind`` it: (namespace, questions)."""
    nb = json.loads((SOLUTIONS / notebook).read_text(encoding="utf-8"))
    if student:
        nb = build.student_notebook(nb)
    namespace: dict = {"__name__": "__main__"}
    for cell in nb["cells"]:
        source = "".join(cell["source"])
        wanted = not CHECK_CELL.match(source) and not any(s in source for s in skip)
        if cell["cell_type"] == "code" and wanted:
            exec(compile(source, f"<{notebook}>", "exec"), namespace)
    exec(textwrap.dedent(extra), namespace)
    return namespace, module.bind(namespace)
