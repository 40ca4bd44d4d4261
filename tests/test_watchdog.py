"""A handler that never returns is stopped with an error naming it, never a hang."""

from __future__ import annotations

import signal
import time

import pytest

import paxoslab as pl
from paxoslab.protocols.basic_paxos import PaxosNode
from paxoslab.sim import HandlerError


class LoopsOnPromise(PaxosNode):
    def on_promise(self, msg, src):
        while True:
            pass


class SwallowsEverything(PaxosNode):
    def on_promise(self, msg, src):
        while True:
            try:
                time.sleep(0.01)
            except Exception:  # noqa: BLE001, S112 - a student's catch-all must not stop the limit
                continue


@pytest.mark.parametrize("node_class", [LoopsOnPromise, SwallowsEverything])
def test_a_handler_that_never_returns_is_named_within_the_limit(scenario, node_class):
    started = time.monotonic()
    with pytest.raises(HandlerError) as caught:
        pl.run_scenario(scenario("basic-paxos-case-1"), node_class=node_class, max_handler_seconds=0.5)
    assert time.monotonic() - started < 5
    text = str(caught.value)
    assert text.startswith("S1 failed while handling Promise")
    assert "did not return within 0.5 s" in text and "max_handler_seconds" in text
    assert signal.getsignal(signal.SIGALRM) is signal.SIG_DFL  # the alarm is handed back
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_a_slow_but_finishing_run_is_not_stopped(scenario):
    """The limit is per handler call: many quick handlers may take as long as they need."""
    result = pl.run_scenario(scenario("basic-paxos-liveness"), max_handler_seconds=0.25)
    assert result.summary()["decided"] is not None


def test_a_callers_own_alarm_is_left_alone(scenario):
    fired = []
    previous = signal.signal(signal.SIGALRM, lambda *a: fired.append(1))
    try:
        pl.run_scenario(scenario("basic-paxos-case-1"))
        assert signal.getsignal(signal.SIGALRM) is not signal.SIG_DFL
    finally:
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize("bad", [0, -1, "5", True, float("inf")])
def test_the_limit_must_be_positive_seconds(scenario, bad):
    with pytest.raises(ValueError, match="max_handler_seconds must be a positive number"):
        pl.run_scenario(scenario("basic-paxos-case-1"), max_handler_seconds=bad)
