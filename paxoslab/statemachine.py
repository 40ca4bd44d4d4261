"""Deterministic state machines: a key-value store and a bank account.

The property replication rests on: two machines that start in the same state
and apply the same commands in the same order end in the same state.

>>> a, b = KeyValueStore(), KeyValueStore()
>>> log = ["set x 1", "set y 2", "del x"]
>>> replay(a, log) == replay(b, log) == {"y": "2"}
True

Commands are strings.  Key-value: ``set KEY VALUE`` and ``del KEY`` (values stay
strings).  Bank account: ``deposit N``, ``withdraw N`` (refused, not applied,
when the balance is too low), ``interest PCT`` (whole units, rounded down).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class CommandError(ValueError):
    """A command the state machine cannot parse."""


class StateMachine:
    """Base class: ``apply`` one command, ``snapshot`` the state as a plain dict."""

    def apply(self, command: str) -> str:  # pragma: no cover - interface
        raise NotImplementedError

    def snapshot(self) -> dict[str, Any]:  # pragma: no cover - interface
        raise NotImplementedError

    @classmethod
    def check(cls, command: str) -> None:
        """Raise :class:`CommandError` if ``command`` is not one this machine knows."""
        cls().apply(command)


class KeyValueStore(StateMachine):
    """A dict of string keys to string values.

    >>> kv = KeyValueStore()
    >>> kv.apply("set color red"), kv.snapshot()
    ('ok', {'color': 'red'})
    >>> kv.apply("del color"), kv.snapshot()
    ('ok', {})
    """

    def __init__(self) -> None:
        self.data: dict[str, str] = {}

    def apply(self, command: str) -> str:
        words = command.split(" ", 2)
        if words[0] == "set" and len(words) == 3 and words[1]:
            self.data[words[1]] = words[2]
            return "ok"
        if words[0] == "del" and len(words) == 2 and words[1]:
            return "ok" if self.data.pop(words[1], None) is not None else "missing"
        raise CommandError(f"not a key-value command: {command!r} (use 'set KEY VALUE' or 'del KEY')")

    def snapshot(self) -> dict[str, str]:
        return dict(sorted(self.data.items()))


class BankAccount(StateMachine):
    """One balance in whole units.

    >>> acct = BankAccount(); [acct.apply(c) for c in ["deposit 100", "withdraw 30", "interest 10"]]
    ['ok', 'ok', 'ok']
    >>> acct.snapshot()
    {'balance': 77}
    """

    def __init__(self, balance: int = 0) -> None:
        self.balance = balance

    def apply(self, command: str) -> str:
        words = command.split()
        if len(words) != 2 or words[0] not in ("deposit", "withdraw", "interest"):
            raise CommandError(
                f"not a bank command: {command!r} (use 'deposit N', 'withdraw N' or 'interest PCT')"
            )
        try:
            amount = int(words[1])
        except ValueError:
            raise CommandError(f"not a whole number in {command!r}") from None
        if amount < 0:
            raise CommandError(f"negative amount in {command!r}")
        if words[0] == "deposit":
            self.balance += amount
        elif words[0] == "withdraw":
            if amount > self.balance:
                return "insufficient funds"
            self.balance -= amount
        else:
            self.balance += self.balance * amount // 100
        return "ok"

    def snapshot(self) -> dict[str, int]:
        return {"balance": self.balance}


MACHINES: dict[str, type[StateMachine]] = {"kv": KeyValueStore, "bank": BankAccount}


def replay(machine: StateMachine, log: Iterable[str]) -> dict[str, Any]:
    """Apply every command of ``log`` in order and return the final snapshot."""
    for command in log:
        machine.apply(command)
    return machine.snapshot()
