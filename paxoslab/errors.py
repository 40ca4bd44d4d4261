"""The one error every layer may raise about a scenario: defined below them all, so that a
protocol can raise it without importing :mod:`paxoslab.scenario` (which imports the protocols)."""

from __future__ import annotations


class ScenarioError(ValueError):
    """A scenario that cannot be run; the message is one line: ``source: field: problem``."""

    __module__ = "paxoslab.scenario"  # its public home: tracebacks, docs and pickles name it there

    def __init__(self, source: str, field: str, problem: str) -> None:
        self.source, self.field, self.problem = source, field, problem
        super().__init__(f"{source}: {field}: {problem}")

    def __reduce__(self) -> tuple:  # survives a pickle round trip (a process pool's worker)
        return type(self), (self.source, self.field, self.problem)
