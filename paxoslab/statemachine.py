"""Deterministic state machines: a key-value store and a bank account.

The property replication rests on: two machines that start in the same state
and apply the same commands in the same order end in the same state.

>>> a, b = KeyValueStore(), KeyValueStore()
>>> log = ["set x 1", "set y 2", "del x"]
>>> replay(a, log) == replay(b, log) == {"y": "2"}
True

Commands are strings.  Key-value: ``set KEY VALUE``, ``del KEY``, ``get KEY``
(a read: the value, or None when the key is missing) and ``append KEY VALUE``
(adds VALUE to the end of the key's value, which starts empty; applied twice,
it shows twice).  Values stay strings.  Bank account: ``deposit N``,
``withdraw N`` (refused, not applied, when the balance is too low),
``interest PCT`` (whole units, rounded down); a balance stays below
:data:`BALANCE_LIMIT` (a deposit or interest that would reach it is refused,
not applied, as an overdraft is).

A replicated log also carries entries that are no client's command: a new
Raft leader's **no-op** (:data:`NOOP`), which every machine skips.  And a
client that retries a request it sent before must not have it carried out
twice: :class:`Sessions` remembers, per client, the last request number it
executed and its answer (Raft §8).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

#: The entry a new leader appends at the start of its term (Raft §8): no client sent it,
#: and a state machine skips it.  No machine accepts it as a command of its own.
NOOP = "no-op"
#: A bank balance stays below this (10**18 units): no amount may reach it, and a deposit or
#: interest that would take the balance to it is refused.  Numbers stay small enough to
#: print, store and compare (Python refuses to print an int of more than 4,300 digits).
BALANCE_LIMIT = 10**18


class CommandError(ValueError):
    """A command the state machine cannot parse."""


class StateMachine:
    """Base class: ``apply`` one command, ``snapshot`` the state as a plain dict."""

    def apply(self, command: str) -> Any:  # pragma: no cover - interface
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
    >>> kv.apply("append color dish"), kv.apply("get color"), kv.apply("get shape")
    ('ok', 'reddish', None)
    >>> kv.apply("del color"), kv.snapshot()
    ('ok', {})
    """

    def __init__(self) -> None:
        self.data: dict[str, str] = {}

    def apply(self, command: str) -> str | None:
        """Carry out ``command``; the answer is ``'ok'``, ``'missing'`` (del of a missing
        key) or, for ``get``, the value (None when missing)."""
        words = command.split(" ", 2)
        if words[0] in ("set", "append") and len(words) == 3 and words[1]:
            before = self.data.get(words[1], "") if words[0] == "append" else ""
            self.data[words[1]] = before + words[2]
            return "ok"
        if words[0] == "del" and len(words) == 2 and words[1]:
            return "ok" if self.data.pop(words[1], None) is not None else "missing"
        if words[0] == "get" and len(words) == 2 and words[1]:
            return self.data.get(words[1])
        raise CommandError(f"not a key-value command: {command!r} "
                           "(use 'set KEY VALUE', 'append KEY VALUE', 'get KEY' or 'del KEY')")

    def snapshot(self) -> dict[str, str]:
        return dict(sorted(self.data.items()))


class BankAccount(StateMachine):
    """One balance in whole units, below :data:`BALANCE_LIMIT`.

    >>> acct = BankAccount(); [acct.apply(c) for c in ["deposit 100", "withdraw 30", "interest 10"]]
    ['ok', 'ok', 'ok']
    >>> acct.snapshot()
    {'balance': 77}
    >>> acct.apply("withdraw 1000"), acct.apply(f"deposit {BALANCE_LIMIT - 77}"), acct.snapshot()
    ('insufficient funds', 'balance limit', {'balance': 77})

    ``insufficient funds`` and ``balance limit`` are answers, not errors: every replica
    gives the same one and leaves its balance as it was.  An amount that reaches the limit
    by itself is no command (:class:`CommandError`).
    """

    def __init__(self, balance: int = 0) -> None:
        self.balance = balance

    def apply(self, command: str) -> str:
        words = command.split()
        if len(words) != 2 or words[0] not in ("deposit", "withdraw", "interest"):
            raise CommandError(
                f"not a bank command: {command!r} (use 'deposit N', 'withdraw N' or 'interest PCT')"
            )
        digits = words[1].lstrip("+-").lstrip("0")
        if digits.isdigit() and len(digits) > len(str(BALANCE_LIMIT)):  # not even parsed
            raise CommandError(f"amount of {len(digits)} digits in {words[0]!r}: "
                               f"amounts stay below {BALANCE_LIMIT:,}")
        try:
            amount = int(words[1])
        except ValueError:
            raise CommandError(f"not a whole number in {command!r}") from None
        if amount < 0:
            raise CommandError(f"negative amount in {command!r}")
        if amount >= BALANCE_LIMIT:
            raise CommandError(f"amount {amount} in {words[0]!r}: amounts stay below {BALANCE_LIMIT:,}")
        if words[0] == "withdraw":
            if amount > self.balance:
                return "insufficient funds"
            self.balance -= amount
            return "ok"
        balance = self.balance + (amount if words[0] == "deposit" else self.balance * amount // 100)
        if balance >= BALANCE_LIMIT:
            return "balance limit"
        self.balance = balance
        return "ok"

    def snapshot(self) -> dict[str, int]:
        return {"balance": self.balance}


class Sessions:
    """A state machine that carries out each client request once (Raft §8).

    Each request may name its ``client`` and that client's request number
    ``seq`` (1, 2, 3, ... — a client retries a request with the same number).
    For every client the machine remembers the last ``seq`` it executed and the
    answer; a request numbered at or below it is not executed again: the same
    number gets the remembered answer, an older one None (a Raft client has one
    request outstanding at a time, so it no longer waits for that answer).  A
    request without a client is simply executed.  :data:`NOOP` is skipped.
    What it remembers is state like any other: every replica applies the same
    entries in the same order and so remembers the same.

    >>> m = Sessions(KeyValueStore())
    >>> m.apply("append x a", "c1", 1), m.apply("append x a", "c1", 1), m.snapshot()
    (('ok', True), ('ok', False), {'x': 'a'})
    >>> m.apply("append x a"), m.apply("append x a"), m.snapshot()
    (('ok', True), ('ok', True), {'x': 'aaa'})
    >>> m.apply(NOOP), m.last
    ((None, False), {'c1': (1, 'ok')})
    """

    def __init__(self, machine: StateMachine) -> None:
        self.machine = machine
        #: client -> (the last seq executed, its answer)
        self.last: dict[str, tuple[int, Any]] = {}

    def apply(self, command: str, client: str | None = None, seq: int | None = None
              ) -> tuple[Any, bool]:
        """``(answer, executed)``: the answer for the client, and whether the command ran now."""
        if command == NOOP:
            return None, False
        if client is not None and seq is not None:
            done = self.last.get(client)
            if done is not None and seq <= done[0]:
                return (done[1] if seq == done[0] else None), False
            answer = self.machine.apply(command)
            self.last[client] = (seq, answer)
            return answer, True
        return self.machine.apply(command), True

    def snapshot(self) -> dict[str, Any]:
        """The machine's state (what the sessions remember is not part of it)."""
        return self.machine.snapshot()


MACHINES: dict[str, type[StateMachine]] = {"kv": KeyValueStore, "bank": BankAccount}


def replay(machine: StateMachine, log: Iterable[str]) -> dict[str, Any]:
    """Apply every command of ``log`` in order and return the final snapshot."""
    for command in log:
        machine.apply(command)
    return machine.snapshot()
