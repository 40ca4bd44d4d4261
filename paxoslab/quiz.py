"""Predict first, then reveal: questions a student answers in code before a run shows the outcome.

A lesson asks with :func:`ask` and the student answers in a code cell that
names the question, so that it checks the same question whenever it is run
(after Run All, or going back up)::

    pl.quiz.ask("02.case2")              # shows the question and its choices
    pl.quiz.check("02.case2", "X")       # right or wrong, with a one-line reason
    pl.quiz.reveal("02.case2")           # the answer and why, on request

The answers are not in the notebook: they live in ``paxoslab/questions/*.json``
(one file per lesson), so no static render of a lesson (GitHub, nbviewer, an
HTML export) shows them before the student asks.  The lesson then runs the
scenario, so the protocol itself confirms the answer.  A file maps each id to
``{"prompt", "choices", "answer", "why", "hints"?}``.

>>> q = Question("demo", "Pick one", ["a", "b"], "b", "because b.")
>>> q.check(None)
No answer yet: put your prediction in the cell (one of 'a', 'b') and run it again.
>>> q.check("a")
Not quite: 'a' is not it. Think again, or run pl.quiz.reveal('demo') to see the answer.
>>> q.check("B")
Right: 'b'. because b.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

QUESTIONS_DIR = Path(__file__).parent / "questions"
#: verdicts are wrapped at this width, between words, so a notebook never breaks one mid-word
WIDTH = 100


def _say(text: str) -> None:
    print(textwrap.fill(text, WIDTH, break_long_words=False, break_on_hyphens=False))


@dataclass
class Question:
    id: str
    prompt: str
    choices: Sequence[Any]
    answer: Any
    why: str
    #: optional hints shown for a specific wrong choice: {choice: hint}
    hints: dict[str, str] = field(default_factory=dict)

    def _same(self, guess: Any, target: Any) -> bool:
        """Equal, up to case and spaces for text; ``"2"`` counts as the number 2 and
        ``2`` as the text ``"2"`` (a student should not lose a point to quotes)."""
        if isinstance(guess, str) or isinstance(target, str):
            return str(guess).strip().casefold() == str(target).strip().casefold()
        return guess == target

    #: the last check's verdict: True, False, or None (no valid guess yet)
    correct: bool | None = None

    def check(self, guess: Any) -> None:
        """Print whether ``guess`` is right and why (``correct`` keeps the verdict)."""
        self.correct = self._verdict(guess)

    def _verdict(self, guess: Any) -> bool | None:
        if guess is None or guess == "":
            options = f" (one of {', '.join(repr(c) for c in self.choices)})" if self.choices else ""
            _say(f"No answer yet: put your prediction in the cell{options} and run it again.")
            return None
        if self.choices and not any(self._same(guess, c) for c in self.choices):
            _say(f"{guess!r} is not one of the choices: {', '.join(repr(c) for c in self.choices)}.")
            return None
        if self._same(guess, self.answer):
            _say(f"Right: {self.answer!r}. {self.why}")
            return True
        hint = next((h for c, h in self.hints.items() if self._same(guess, c)), None)
        _say(f"Not quite: {guess!r} is not it. "
              + (f"{hint} " if hint else "Think again, ")
              + (f"or run pl.quiz.reveal({self.id!r}) to see the answer." if not hint
                 else f"Run pl.quiz.reveal({self.id!r}) to see the answer."))
        return False

    def reveal(self) -> None:
        """Print the answer and the reason."""
        _say(f"Answer: {self.answer!r}. {self.why}")

    def _repr_markdown_(self) -> str:
        choices = "".join(f"\n- `{c!r}`" for c in self.choices)
        return f"**Predict ({self.id}).** {self.prompt}{choices}"

    def __repr__(self) -> str:
        choices = f" Choices: {', '.join(repr(c) for c in self.choices)}." if self.choices else ""
        return f"Predict ({self.id}): {self.prompt}{choices}"


@cache
def _lesson(prefix: str) -> dict[str, dict[str, Any]]:
    path = QUESTIONS_DIR / f"{prefix}.json"
    if not path.exists():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


def check(question_id: str, guess: Any) -> None:
    """Print whether ``guess`` answers the question ``question_id``, and why.

    >>> check("00.seed", None)
    No answer yet: put your prediction in the cell (one of 'yes', 'no') and run it again.
    """
    ask(question_id).check(guess)


def reveal(question_id: str) -> None:
    """Print the answer to ``question_id`` and why."""
    ask(question_id).reveal()


def ask(question_id: str) -> Question:
    """The question ``"<lesson>.<name>"`` (e.g. ``"02.case2"``) from ``paxoslab/questions/``."""
    prefix = question_id.split(".", 1)[0]
    entry = _lesson(prefix).get(question_id)
    if entry is None:
        known = ", ".join(sorted(_lesson(prefix))) or "none"
        raise KeyError(f"no question {question_id!r} (questions of lesson {prefix}: {known})")
    return Question(question_id, entry["prompt"], entry.get("choices", []), entry["answer"],
                    entry["why"], entry.get("hints", {}))
