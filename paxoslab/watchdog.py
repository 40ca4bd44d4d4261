"""A time limit on every handler a node runs, so that code that never returns is stopped
with an error naming the handler instead of hanging the kernel.

While a run or a search is on (:func:`handler_time_limit`), ``SIGALRM`` ticks every
:data:`TICK` seconds.  Every call into a node (:meth:`~paxoslab.node.Node.receive`,
``fire``, ``call``) counts itself in :data:`CALLS`; a tick that finds the count unchanged for
the limit while a node's handler is on the stack raises :class:`HandlerTimeLimit` inside
that handler, and the simulator reports it as a
:class:`~paxoslab.sim.HandlerError` naming the node, the message or timer, and the
simulated time.  ``HandlerTimeLimit`` derives from ``BaseException`` so that a handler's own
``except Exception`` cannot swallow it.

Only the main thread of a process can take signals (a notebook's cells, the CLI and each
sweep worker run there); elsewhere the limit is off and the run is as before.  The cost
on the hot path is one counter increment per handler call.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

#: seconds between two looks at the counter
TICK = 0.25
#: the default limit, seconds of wall time per handler call
DEFAULT_SECONDS = 5.0
#: ``CALLS[0]``: handler calls started in this process (only ever compared for change)
CALLS = [0]


class HandlerTimeLimit(BaseException):
    """A node's handler ran longer than the limit (an endless loop, or far too much work)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"did not return within {seconds:g} s of wall time: an endless loop? "
                         f"(the limit is max_handler_seconds)")
        self.seconds = seconds


#: the code of the runtime's ways into a node (Node.receive, fire, call; node.py adds them)
ENTRIES: set = set()


def _in_a_handler(frame: FrameType | None) -> bool:
    """True when a node's handler (called through Node.receive, fire or call) is on the stack."""
    entries = ENTRIES
    while frame is not None:
        if frame.f_code in entries:
            return True
        frame = frame.f_back
    return False


@contextmanager
def handler_time_limit(seconds: float | None = DEFAULT_SECONDS) -> Iterator[None]:
    """Stop any handler that runs longer than ``seconds`` (None: no limit) inside the block.

    It does nothing outside the main thread, or where ``SIGALRM`` already has a handler
    (an outer block's, or one of the caller's own: it is left as it is).
    """
    if (seconds is None or threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGALRM) is not signal.SIG_DFL):
        yield
        return
    watch = {"calls": CALLS[0], "still": 0.0}

    def tick(signum: int, frame: FrameType | None) -> None:
        if CALLS[0] != watch["calls"] or not _in_a_handler(frame):
            watch["calls"], watch["still"] = CALLS[0], 0.0
            return
        watch["still"] += TICK
        if watch["still"] >= seconds:
            watch["still"] = 0.0
            raise HandlerTimeLimit(seconds)

    signal.signal(signal.SIGALRM, tick)
    signal.setitimer(signal.ITIMER_REAL, TICK, TICK)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
