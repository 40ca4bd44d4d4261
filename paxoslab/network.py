"""The network: how long each message takes, and whether it arrives at all.

A :class:`Network` decides the fate of every message from its default delay
model, its loss and duplication probabilities, its rules (which override the
delay of, or drop, messages matching a sender / receiver / type) and the
current partition.  All randomness comes from the RNG the simulator passes in.

>>> import random
>>> net = Network(Fixed(2), rules=[Rule(src={"S1"}, msg_types={"Accept"}, delay=Fixed(6))])
>>> net.fate("S1", "S3", "Accept", random.Random(0)), net.fate("S2", "S3", "Accept", random.Random(0))
([6.0], [2.0])
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field


class DelayModel:
    """How long a message takes; ``sample`` draws one delay (simulated ms)."""

    def sample(self, rng: random.Random) -> float:  # pragma: no cover - interface
        raise NotImplementedError


@dataclass(frozen=True)
class Fixed(DelayModel):
    delay: float

    def sample(self, rng: random.Random) -> float:
        return float(self.delay)


@dataclass(frozen=True)
class Uniform(DelayModel):
    low: float
    high: float

    def sample(self, rng: random.Random) -> float:
        return rng.uniform(self.low, self.high)


@dataclass(frozen=True)
class Exponential(DelayModel):
    mean: float

    def sample(self, rng: random.Random) -> float:
        return rng.expovariate(1.0 / self.mean) if self.mean > 0 else 0.0


@dataclass(frozen=True)
class Rule:
    """Messages matching every given field get ``delay`` instead, or are dropped.

    ``None`` for a field means "any".  The first matching rule wins.
    """

    src: frozenset[str] | set[str] | None = None
    dst: frozenset[str] | set[str] | None = None
    msg_types: frozenset[str] | set[str] | None = None
    delay: DelayModel | None = None
    drop: bool = False

    def matches(self, src: str, dst: str, msg_type: str) -> bool:
        return (
            (self.src is None or src in self.src)
            and (self.dst is None or dst in self.dst)
            and (self.msg_types is None or msg_type in self.msg_types)
        )


@dataclass
class Network:
    """Delay model + loss + duplication + rules + partition.

    Messages a node sends to itself never cross the network: they are not lost,
    duplicated or cut by a partition, but rules still apply to them (so a
    scenario can slow a node's own accept down, as the course's figures do).
    """

    delay: DelayModel = field(default_factory=lambda: Fixed(1))
    drop: float = 0.0
    duplicate: float = 0.0
    rules: list[Rule] = field(default_factory=list)
    groups: dict[str, int] = field(default_factory=dict)

    def partition(self, groups: Iterable[Iterable[str]], everyone: Iterable[str]) -> None:
        """Cut every link between different groups; unnamed nodes form one more group."""
        self.groups = {}
        for number, members in enumerate(groups):
            for node in members:
                self.groups[node] = number
        rest = len(self.groups) and max(self.groups.values()) + 1
        for node in everyone:
            self.groups.setdefault(node, rest)

    def heal(self) -> None:
        self.groups = {}

    def connected(self, src: str, dst: str) -> bool:
        groups = self.groups
        return not groups or groups.get(src) == groups.get(dst)

    def is_plain(self) -> bool:
        """No rules, loss or duplication: a message's :meth:`fate` is then always one
        copy after one draw from ``delay``, unless a partition cuts its link."""
        return not (self.rules or self.drop or self.duplicate)

    def fate(self, src: str, dst: str, msg_type: str, rng: random.Random) -> list[float]:
        """Delays of the copies that will arrive: ``[]`` lost, one, or two if duplicated."""
        delay_model = self.delay
        for rule in self.rules:
            if rule.matches(src, dst, msg_type):
                if rule.drop:
                    return []
                if rule.delay is not None:
                    delay_model = rule.delay
                break
        if src == dst:
            return [delay_model.sample(rng)]
        if not self.connected(src, dst):
            return []
        if self.drop and rng.random() < self.drop:
            return []
        delays = [delay_model.sample(rng)]
        if self.duplicate and rng.random() < self.duplicate:
            delays.append(delay_model.sample(rng))
        return delays

    def certain_loss(self, src: str, dst: str, msg_type: str) -> str | None:
        """Why a message is lost whatever chance does (``rule``, ``partition``), or None."""
        for rule in self.rules:
            if rule.matches(src, dst, msg_type):
                if rule.drop:
                    return "rule"
                break
        if src != dst and not self.connected(src, dst):
            return "partition"
        return None

    def why_lost(self, src: str, dst: str, msg_type: str) -> str:
        """Why :meth:`fate` returned no copies: ``rule``, ``partition`` or ``loss``."""
        for rule in self.rules:
            if rule.matches(src, dst, msg_type):
                if rule.drop:
                    return "rule"
                break
        return "partition" if not self.connected(src, dst) else "loss"
