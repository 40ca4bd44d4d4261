"""Sweeps: run a scenario over a grid of parameter values and many seeds.

Each grid key is a path into the scenario (``"events[1].at"``,
``"options.backoff.jitter"``); every combination of values is run for every
seed, and each run becomes one row of a pandas DataFrame: the grid values, the
seed, and the summary's scalar outcomes (lists become their length, the
message counts their own columns).  Runs skip message details
(``detailed=False``), so thousands take seconds.

Pass any ``concurrent.futures.Executor`` to spread the runs — a
``ProcessPoolExecutor`` locally, a Dask ``Client.get_executor()`` on a
cluster.  Without one, runs happen in this process, one after another (what a
one-CPU Binder wants).  Rows come back in grid order whatever the executor.

Runs are made as the rows are asked for (:func:`sweep_rows`): the seeds are read
one at a time and at most :data:`IN_FLIGHT` runs are handed to an executor
ahead of the row being waited for, so a sweep over twenty million seeds starts
at once and holds no more than that in memory (only :func:`sweep`'s DataFrame
holds every row).
"""

from __future__ import annotations

import collections
import copy
import itertools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Executor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .runner import run_scenario
from .scenario import ScenarioError, load, set_path
from .sim import rng_stream

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


def flatten_summary(summary: Mapping[str, Any]) -> dict[str, Any]:
    """The scalar outcomes of one run, as table columns."""
    row: dict[str, Any] = {}
    for key, value in summary.items():
        if key in ("scenario", "protocol", "seed", "digest"):
            continue
        if key == "messages":
            row.update({f"messages_{k}": v for k, v in value.items() if k != "by_type"})
        elif key == "expect":
            row["expect_ok"] = value["ok"]
        elif isinstance(value, list | tuple):
            row[f"n_{key}"] = len(value)
        elif isinstance(value, dict) and value and all(
                isinstance(v, int | float) and not isinstance(v, bool) for v in value.values()):
            row[f"{key}_total"] = sum(value.values())  # per-node counts, e.g. preemptions
        elif value is None or isinstance(value, str | int | float | bool):
            row[key] = value
    return row


def at_point(base: Mapping[str, Any], point: Mapping[str, Any], source: str = "<sweep>") -> dict[str, Any]:
    """A copy of ``base`` with each ``path: value`` of the grid point set.

    A path that leads nowhere (``events[9].at`` with two events) is a
    :class:`~paxoslab.scenario.ScenarioError` naming ``source`` and the path.
    """
    scenario = copy.deepcopy(dict(base))
    for path, value in point.items():
        try:
            set_path(scenario, path, value)
        except (KeyError, IndexError, TypeError, ValueError):
            raise ScenarioError(source, path, "no such field in the scenario") from None
    return scenario


ON_ERROR = ("raise", "row")
#: The most runs handed to an executor ahead of the row being waited for.
IN_FLIGHT = 256


def error_text(exc: BaseException) -> str:
    """An error as one line: ``HandlerError: S1 failed while handling ...``."""
    return f"{type(exc).__name__}: {exc}".replace("\r", "\\r").replace("\n", "\\n")


def run_one(job: tuple) -> dict[str, Any]:
    """Run one (scenario, grid point, seed[, node class[, on_error]]) job; module-level so
    process pools can pickle it.  With ``on_error="row"`` a run that raises becomes a row
    with its ``error`` (one line) and no outcomes; a run that does not gets ``error`` None."""
    base, point, seed, *rest = job
    node_class = rest[0] if rest else None
    on_error = rest[1] if len(rest) > 1 else "raise"
    try:
        summary = run_scenario(at_point(base, point), seed=seed, detailed=False,
                               node_class=node_class).summary()
    except Exception as exc:
        if on_error == "raise":
            raise
        return {**point, "seed": seed, "error": error_text(exc)}
    row = {**point, "seed": seed, **flatten_summary(summary)}
    return row if on_error == "raise" else {**row, "error": None}


def sweep_rows(
    scenario: Mapping[str, Any] | str | Path,
    grid: Mapping[str, Sequence[Any]] | None = None,
    seeds: Iterable[int] = (0,),
    executor: Executor | None = None,
    node_class: type | None = None,
    on_error: str = "raise",
) -> tuple[str, int | None, Iterator[dict[str, Any]]]:
    """``(name, number of runs, rows)``: the rows of :func:`sweep` one by one, in grid order,
    each as soon as it and those before it have finished (so a caller can write them as
    they come).  The scenario and every grid point are validated first, before any run.

    Nothing runs until a row is asked for, and the seeds are read as the runs start:
    ``range(20_000_000)`` is never a list, and a one-shot iterator of seeds is read once
    (with several grid points, which each need every seed, it is read into a list first).
    An executor gets at most :data:`IN_FLIGHT` runs ahead of the row being waited for;
    closing ``rows`` early cancels those not started.  The number of runs is ``None``
    when ``seeds`` has no length.
    """
    if on_error not in ON_ERROR:
        raise ValueError(f"on_error must be one of {', '.join(ON_ERROR)}, got {on_error!r}")
    base = load(scenario)
    source = str(scenario) if isinstance(scenario, str | Path) else f"<scenario {base['name']}>"
    grid = dict(grid or {})
    points = [dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())]
    for point in points:  # a bad grid value fails now, before any run
        load(at_point(base, point, source), source=f"{source} at sweep point {point}")
    if iter(seeds) is seeds and len(points) > 1:  # one pass would serve only the first point
        seeds = list(seeds)
    total = len(points) * len(seeds) if hasattr(seeds, "__len__") else None
    jobs = ((base, point, seed, node_class, on_error) for point in points for seed in seeds)
    if executor is None:
        return base["name"], total, (run_one(job) for job in jobs)
    return base["name"], total, _in_order(executor, jobs, IN_FLIGHT)


def _in_order(executor: Executor, jobs: Iterable[tuple], ahead: int) -> Iterator[dict[str, Any]]:
    """``run_one`` of each job on ``executor``, in order, with at most ``ahead`` submitted
    beyond the one being waited for (``Executor.map`` would submit every job at once)."""
    waiting: collections.deque = collections.deque()
    try:
        for job in jobs:
            waiting.append(executor.submit(run_one, job))
            if len(waiting) > ahead:
                yield waiting.popleft().result()
        while waiting:
            yield waiting.popleft().result()
    finally:  # a row that raised, or a caller that stopped early: start nothing more
        for future in waiting:
            future.cancel()


def sweep(
    scenario: Mapping[str, Any] | str | Path,
    grid: Mapping[str, Sequence[Any]] | None = None,
    seeds: Iterable[int] = (0,),
    executor: Executor | None = None,
    progress: bool = True,
    node_class: type | None = None,
    on_error: str = "raise",
) -> pd.DataFrame:
    """One row per (grid point, seed); see the module docstring.

    ``node_class`` runs in place of the protocol's node (see :func:`run_scenario`).
    ``on_error="raise"`` (the default here, so that a notebook stops at the first run that
    fails and its tables keep their columns) lets a run's error propagate, and the rows
    already finished are lost; ``on_error="row"`` (the command line's default) records a
    failing run as a row whose ``error`` column holds the error as one line (``None`` in
    every other row), and the sweep goes on.  Bad input — the scenario or a grid point —
    raises :class:`~paxoslab.scenario.ScenarioError` before anything runs, either way.
    """
    import pandas as pd
    from tqdm.auto import tqdm

    name, total, rows = sweep_rows(scenario, grid, seeds, executor, node_class, on_error)
    table = pd.DataFrame(list(tqdm(rows, total=total, disable=not progress, desc=name)))
    if "error" in table:  # last, wherever the first failing row put it
        table = table[[c for c in table.columns if c != "error"] + ["error"]]
    return table


# ---- the Raft paper's failover experiment --------------------------------------------
#
# Ongaro and Ousterhout, "In Search of an Understandable Consensus Algorithm"
# (USENIX ATC 2014), §9.3 and Figure 16; Ongaro's thesis, §9.4 ("How fast will
# the complete Raft algorithm elect a leader in real networks?").  Five servers,
# broadcast time (network round trip plus disk write) about 15 ms; the leader
# crashes at a uniformly random moment within its heartbeat interval, which is
# half the minimum election timeout; the servers' logs differ in length, so
# two of the four survivors cannot win; downtime runs from the crash until the
# other servers have heard the new leader's first heartbeat.

#: The paper's timeout ranges (ms): Figure 16 top (randomness), bottom (scale).
PAPER_RANGES_RANDOMNESS = ((150, 150), (150, 151), (150, 155), (150, 175), (150, 200), (150, 300))
PAPER_RANGES_SCALE = ((12, 24), (25, 50), (50, 100), (100, 200), (150, 300))

#: What the paper's text (section 9.3) says of Figure 16, one number per range and
#: statistic; ``"over"``: every trial took longer ("consistently longer than 10 seconds").
PAPER_FAILOVER = (
    {"election_timeout": "150-150", "statistic": "over", "ms": 10_000.0,
     "text": "consistently longer than 10 s"},
    {"election_timeout": "150-155", "statistic": "median", "ms": 287.0, "text": "median 287 ms"},
    {"election_timeout": "150-200", "statistic": "max", "ms": 513.0,
     "text": "worst of 1,000 trials 513 ms"},
    {"election_timeout": "12-24", "statistic": "mean", "ms": 35.0, "text": "35 ms on average"},
    {"election_timeout": "12-24", "statistic": "max", "ms": 152.0, "text": "longest trial 152 ms"},
)

#: How long after the crash a trial waits for a new leader before giving up (ms).
FAILOVER_CAP_MS = 12_000.0
#: The default split of the broadcast time and the candidate's write order (see
#: :func:`failover_scenario`; lesson 04 shows how much they change the answer).
FAILOVER_RTT_MS = 5.0
FAILOVER_WRITES_FIRST = False


def failover_scenario(
    election_timeout: tuple[float, float] = (150, 300),
    n: int = 5,
    broadcast_ms: float = 15.0,
    rtt_ms: float = FAILOVER_RTT_MS,
    candidate_writes_first: bool = FAILOVER_WRITES_FIRST,
    vote_timer_after_write: bool = True,
) -> dict[str, Any]:
    """The cluster of the failover experiment, before any failure, as a scenario.

    What the paper gives (section 9.3): five servers; a broadcast time of about
    15 ms; a heartbeat every half minimum election timeout.  What it leaves
    open, and what is assumed here, one assumption at a time:

    1. The broadcast time is a network round trip plus one disk write:
       ``rtt_ms`` (one-way delays uniform in ``[rtt/4, 3rtt/4]``) and
       ``persist_ms = broadcast_ms - rtt_ms``.  Default: 5 ms round trip,
       10 ms write.  The paper does not say how its 15 ms split; the split
       decides how far apart two candidates must stand for the first to win,
       and so the answer at 150-155 ms: a median from 135 ms (1 ms round
       trip) to 584 ms (14 ms), 300 trials each (``data/failover/sensitivity.csv``).
       5 + 10 comes closest to the paper's 287 ms.
    2. The candidate sends ``RequestVote`` at once and its own write overlaps
       (``candidate_writes_first: false``; it counts its own vote only once
       the write is done).  Writing first, as LogCabin does, the survivors
       mostly all stand before any request arrives, for every split tried
       (split votes in 98-100% of the trials): at 150-155 ms the median
       without a leader is 0.8-4.5 s, and at 12-24 ms with a write of 10 ms
       or more an election (two writes in a row) outlasts most timeouts, so
       the cluster almost never settles on a first leader to crash.
    3. A new leader sends its first AppendEntries at once, without a no-op
       (``noop: false``): the simulator would hold it back until the no-op is
       written (``persist_ms``), and at 12-24 ms most clusters would then
       never keep a leader.  The paper's clock stops when the others hear
       the new leader, which a no-op would only delay.
    4. Every disk write takes ``persist_ms``, and a voter restarts its election
       timer when its written vote leaves (``vote_timer_after_write: true``,
       the protocol's default: a vote is granted when it is sent).  Restarting
       it as the RequestVote arrives instead (``false``) makes 12-24 ms about
       twice as slow (mean 94 ms against 50, 300 trials each; the paper's mean
       is 35 ms, its longest trial 152 ms): an election then takes the
       whole broadcast time from the voter's restart, and a voter whose new
       timeout is shorter than that stands again before it hears the leader it
       voted for (``data/failover/sensitivity.csv`` has both).

    ``S1`` is made to time out at 0 so that it usually leads first.
    """
    lo, hi = election_timeout
    if not 0 < rtt_ms <= broadcast_ms:
        raise ValueError(f"rtt_ms must be in (0, broadcast_ms], got {rtt_ms!r}")
    return {
        "name": f"failover-{lo:g}-{hi:g}",
        "description": "the Raft paper's failover experiment (one trial)",
        "protocol": "multi-paxos",
        "nodes": [f"S{i}" for i in range(1, n + 1)],
        "network": {"delay": {"uniform": [rtt_ms / 4, 3 * rtt_ms / 4]}},
        "options": {"election_timeout": [lo, hi], "heartbeat": lo / 2,
                    "persist_ms": broadcast_ms - rtt_ms,
                    "candidate_writes_first": candidate_writes_first,
                    "vote_timer_after_write": vote_timer_after_write, "noop": False},
        "events": [{"at": 0, "timeout": "S1"}],
    }


def _leader_at(result: Any, time: float) -> tuple[str | None, int]:
    """The leader of the highest term at ``time`` by the role notes (and that term)."""
    role: dict[str, tuple[str, int]] = {}
    for e in result.trace.events:
        if e.time > time:
            break
        if e.kind == "role":
            role[e.node] = (e.payload["role"], e.payload["term"])
        elif e.kind == "crash":
            role.pop(e.node, None)
    leaders = [(term, node) for node, (r, term) in role.items() if r == "leader"]
    if not leaders:
        return None, 0
    term, node = max(leaders)
    return node, term


def _first_broadcast(result: Any, node: str, since: float) -> float | None:
    """When ``node`` first sent to every other server at one instant, at or after ``since``."""
    peers = set(result.nodes) - {node}
    sent: dict[float, set[str]] = {}
    for e in result.trace.events:
        if e.kind == "send" and e.src == node and e.time >= since:
            sent.setdefault(e.time, set()).add(e.dst)
            if sent[e.time] >= peers:
                return e.time
    return None


def _arrivals(result: Any, src: str, at: float) -> dict[str, float]:
    """When each copy of what ``src`` sent at ``at`` reached its destination (delivered, or
    dropped there because the destination was down)."""
    sent = {e.msg_id: e.dst for e in result.trace.events
            if e.kind == "send" and e.src == src and e.time == at}
    return {sent[e.msg_id]: e.time for e in result.trace.events
            if e.kind in ("deliver", "drop") and e.msg_id in sent and e.time >= at}


def failover_setup(
    election_timeout: tuple[float, float], n: int, broadcast_ms: float, rtt_ms: float,
    trial_seed: int, candidate_writes_first: bool = FAILOVER_WRITES_FIRST,
    vote_timer_after_write: bool = True,
) -> dict[str, Any]:
    """The scenario of one failover trial up to the crash (see :func:`failover_trial`).

    Returns ``{"scenario", "leader", "term", "lagging", "crash_at", "offset"}``, or
    ``{"failed": reason}`` when the cluster had no steady leader to crash.
    """
    base = failover_scenario(election_timeout, n, broadcast_ms, rtt_ms, candidate_writes_first,
                             vote_timer_after_write)
    lo, hi = election_timeout
    heartbeat = base["options"]["heartbeat"]
    t_lag = 8 * broadcast_ms + 3 * hi
    probe = run_scenario({**base, "until": t_lag}, seed=trial_seed, detailed=False)
    leader, term = _leader_at(probe, t_lag)
    if leader is None:
        return {"failed": f"no leader to crash by t={t_lag:g}"}
    others = [s for s in base["nodes"] if s != leader]
    lagging = others[len(others) - (n - 1) // 2:]
    current = [s for s in others if s not in lagging]
    t_ready = t_lag + 6 * broadcast_ms + 2 * heartbeat
    events = list(base["events"])
    events += [{"at": t_lag, "crash": s} for s in lagging]
    events += [{"at": t_lag + 1, "submit": {"command": "set a 1", "node": leader}},
               {"at": t_lag + 2, "submit": {"command": "set b 2", "node": leader}}]
    # (until the last copy of the heartbeat looked for has arrived: one-way delays < rtt_ms)
    probe = run_scenario({**base, "events": events, "until": t_ready + 2 * heartbeat + rtt_ms},
                         seed=trial_seed)
    h = _first_broadcast(probe, leader, t_ready)
    if h is None or _leader_at(probe, h) != (leader, term):
        return {"failed": f"{leader} lost the lead before t={t_ready:g}"}
    arrived = _arrivals(probe, leader, h)
    u = rng_stream(trial_seed, "failover/crash").uniform(0, heartbeat)
    crash_at = h + u
    # The heartbeat at h reaches the lagging servers too (they are down in this probe): each
    # restarts from its shorter disk, and so its election timer, when its copy arrives.  The
    # partition drops the copies at h themselves, so their logs stay short until the crash.
    events += [{"at": h, "partition": [[leader, *current], lagging]}]
    events += [{"at": arrived[s], "recover": s} for s in lagging]
    events += [{"at": crash_at, "crash": leader}, {"at": crash_at, "heal": True}]
    return {"scenario": {**base, "events": events, "until": max(crash_at, *arrived.values())},
            "leader": leader, "term": term, "lagging": lagging, "crash_at": crash_at, "offset": u}


def failover_run(election_timeout: tuple[float, float] = (150, 300), seed: int = 0, n: int = 5,
                 broadcast_ms: float = 15.0, after_ms: float = 1000.0, *,
                 rtt_ms: float = FAILOVER_RTT_MS,
                 candidate_writes_first: bool = FAILOVER_WRITES_FIRST,
                 vote_timer_after_write: bool = True) -> Any:
    """One failover trial as a detailed Result (for diagrams), run until ``after_ms`` past the crash."""
    setup = failover_setup(election_timeout, n, broadcast_ms, rtt_ms, seed, candidate_writes_first,
                           vote_timer_after_write)
    if "failed" in setup:
        raise RuntimeError(f"failover trial seed {seed}: {setup['failed']}")
    until = max(setup["scenario"]["until"], setup["crash_at"] + after_ms)  # (a late recovery)
    return run_scenario({**setup["scenario"], "until": until}, seed=seed)


def failover_trial(job: tuple[Any, ...]) -> dict[str, Any]:
    """One trial (module-level, so process pools can pickle it); see :func:`leader_failover`.

    ``job`` = ``(election_timeout, n, broadcast_ms, rtt_ms, cap_ms, trial_seed,
    candidate_writes_first, vote_timer_after_write)``.  Builds the trial's scenario in three
    deterministic steps, each a plain run from time 0 of the same scenario
    with more events appended (later events never change what happened
    before them):

    1. who leads at ``t_lag`` — the leader ``L``;
    2. crash the ``(n-1)//2`` highest-numbered other servers at ``t_lag`` and
       submit two commands, which ``L`` commits with the rest; find ``L``'s
       first heartbeat ``h`` after that, and when each copy of it arrives;
    3. the up-to-date servers restart their election timers when their copy
       of that heartbeat arrives, as always; each lagging server restarts
       from its (shorter) disk, and so starts its timer, when *its* copy
       arrives, cut off from ``L`` until ``L`` crashes at ``h + u``, ``u``
       uniform in the heartbeat interval.

    The third run is the trial; it is measured from its notes.
    """
    election_timeout, n, broadcast_ms, rtt_ms, cap_ms, trial_seed, writes_first, vote_timer = job
    setup = failover_setup(election_timeout, n, broadcast_ms, rtt_ms, trial_seed, writes_first, vote_timer)
    if "failed" in setup:
        return _no_trial(trial_seed, setup["failed"])
    crash_at = setup["crash_at"]
    # Most failovers end within a few timeouts: run that long first, and the whole
    # cap only if no leader was heard by then (the same run, so the same answer).
    for window in (min(cap_ms, 10 * (election_timeout[1] + broadcast_ms)), cap_ms):
        scenario = {**setup["scenario"], "until": crash_at + window}
        result = run_scenario(scenario, seed=trial_seed, detailed=False)
        row = measure_failover(result, setup["leader"], setup["term"], crash_at, setup["lagging"])
        if row["downtime_ms"] == row["downtime_ms"]:  # not NaN: a leader took over
            break
    note = ("" if row["downtime_ms"] == row["downtime_ms"] else  # NaN: nobody took over
            f"no leader heard by all within {cap_ms:g} ms")
    return {"seed": trial_seed, **row, "crash_offset_ms": setup["offset"], "note": note}


def _no_trial(trial_seed: int, why: str) -> dict[str, Any]:
    """The row of a trial that could not crash a leader (the cluster never had a steady one)."""
    nan = float("nan")
    return {"seed": trial_seed, "downtime_ms": nan, "terms": nan, "split_votes": nan,
            "leader": None, "leader_was_behind": False, "crash_offset_ms": nan, "note": why}


def measure_failover(result: Any, old_leader: str, old_term: int, crash_at: float,
                     lagging: Sequence[str] = ()) -> dict[str, Any]:
    """Downtime, terms and split votes of one failover, read from the run's notes.

    ``downtime_ms`` runs from the crash until every other live server has heard
    from the new leader (its ``leader`` note), as in the thesis; NaN if no
    leader was elected in the run.  ``terms`` = new term - old term.  A split
    vote is a term after the crash in which two or more candidates stood, at
    least one of them *eligible*, and nobody won: the votes went to several
    candidates.  A candidate is eligible unless it is one of ``lagging`` still
    behind when it stood (no leader had sent it entries yet): with the
    election restriction such a server cannot win, so a term in which only it,
    or only it and another lagging one, stood is a lost term but not a split
    vote.  (An eligible candidate standing with lagging ones does lose votes
    to them: each votes for itself.)  ``leader_was_behind``: the winner is one of
    ``lagging`` and had not yet received entries from any leader when it won
    (a lagging server that a short-lived leader caught up may win fairly).
    """
    eligible: dict[int, set[str]] = {}  # term -> eligible candidates that stood in it
    stood: dict[int, int] = {}  # term -> how many candidates stood in it
    candidates: set[int] = set()  # terms in which anyone stood
    leaders: dict[tuple[str, int], float] = {}  # (leader, term) -> elected at
    caught_up: dict[str, float] = {}  # a lagging server -> when a leader first sent it entries
    heard: dict[tuple[str, int], dict[str, float]] = {}
    for e in result.trace.events:
        if e.time < crash_at:
            continue
        p = e.payload or {}
        if e.kind == "role" and p["role"] == "candidate":
            candidates.add(p["term"])
            stood[p["term"]] = stood.get(p["term"], 0) + 1
            stands = eligible.setdefault(p["term"], set())
            if e.node not in lagging or caught_up.get(e.node, float("inf")) <= e.time:
                stands.add(e.node)
        elif e.kind == "role" and p["role"] == "leader":
            leaders.setdefault((e.node, p["term"]), e.time)
        elif e.kind == "leader" and (p["leader"], p["term"]) in leaders:
            heard.setdefault((p["leader"], p["term"]), {}).setdefault(e.node, e.time)
        elif e.kind == "appended" and e.node in lagging:
            caught_up.setdefault(e.node, e.time)
    won = {term for _, term in leaders}

    def split(term: int) -> bool:
        return stood[term] > 1 and bool(eligible[term]) and term not in won

    split_votes = sum(1 for t in eligible if split(t))
    others = [s for s in result.nodes if s != old_leader]
    done = {}  # (leader, term) -> when the last other server heard from it
    for key, times in heard.items():
        waiting = [s for s in others if s != key[0]]
        if all(s in times for s in waiting):
            done[key] = max(times[s] for s in waiting)
    if done:
        (new_leader, new_term), at = min(done.items(), key=lambda item: item[1])
        downtime = at - crash_at
    elif leaders:
        (new_leader, new_term), downtime = min(leaders, key=leaders.get), float("nan")
    else:
        return {"downtime_ms": float("nan"), "terms": max(candidates, default=old_term) - old_term,
                "split_votes": split_votes, "leader": None, "leader_was_behind": False}
    return {
        "downtime_ms": downtime,
        "terms": new_term - old_term,
        "split_votes": sum(1 for t in eligible if t < new_term and split(t)),
        "leader": new_leader,
        "leader_was_behind": (new_leader in lagging
                              and caught_up.get(new_leader, float("inf")) > leaders[new_leader, new_term]),
    }


def leader_failover(
    election_timeout: tuple[float, float] = (150, 300),
    trials: int = 100,
    seed: int = 0,
    n: int = 5,
    broadcast_ms: float = 15.0,
    executor: Executor | None = None,
    *,
    rtt_ms: float = FAILOVER_RTT_MS,
    candidate_writes_first: bool = FAILOVER_WRITES_FIRST,
    vote_timer_after_write: bool = True,
    cap_ms: float = FAILOVER_CAP_MS,
    progress: bool = True,
) -> pd.DataFrame:
    """The Raft paper's failover experiment: one row per trial.

    Trial ``i`` runs with seed ``seed + i``.  Columns: ``election_timeout``
    (``"150-300"``), ``seed``, ``downtime_ms`` (crash until the other servers
    hear the new leader; NaN if none within ``cap_ms``), ``terms`` (terms it
    took), ``split_votes``, ``leader`` (who won), ``leader_was_behind`` (a
    server with a shorter log won: never, with the election restriction),
    ``crash_offset_ms`` (when in its heartbeat interval the leader crashed).
    Rows come back in trial order whatever the ``executor``.
    """
    import pandas as pd
    from tqdm.auto import tqdm

    lo, hi = election_timeout
    label = f"{lo:g}-{hi:g}"
    jobs = [((lo, hi), n, broadcast_ms, rtt_ms, cap_ms, seed + i, candidate_writes_first,
             vote_timer_after_write) for i in range(trials)]
    results = executor.map(failover_trial, jobs) if executor is not None else map(failover_trial, jobs)
    rows = list(tqdm(results, total=len(jobs), disable=not progress, desc=f"failover {label} ms"))
    frame = pd.DataFrame(rows)
    frame.insert(0, "election_timeout", label)
    return frame


def failover_summary(frame: pd.DataFrame) -> dict[str, Any]:
    """One row of numbers for a :func:`leader_failover` frame (or a part of it).

    ``trials``: trials that crashed a leader (``no_trial`` more never had one to
    crash).  ``no_leader``: of those, how many had no leader heard by all within the
    cap.  ``median_ms`` and ``p90_ms`` count such a trial as endless (so a median
    is ``inf`` when most of them are); ``mean_ms`` and ``max_ms`` are over the
    trials that elected.  ``split_pct``: % of trials with at least one split vote.

    >>> import pandas as pd
    >>> frame = pd.DataFrame({"downtime_ms": [100.0, 300.0, float("nan")], "split_votes": [0, 1, 9],
    ...                       "note": ["", "", "no leader heard by all within 12000 ms"]})
    >>> failover_summary(frame)["median_ms"], failover_summary(frame)["mean_ms"]
    (300.0, 200.0)
    """
    import numpy as np
    import pandas as pd

    crashed = frame[~frame["note"].fillna("").astype(str).str.startswith("no leader to crash")]
    downtime = pd.to_numeric(crashed["downtime_ms"], errors="coerce").to_numpy(dtype=float)
    endless = np.where(np.isnan(downtime), np.inf, downtime)
    done = downtime[~np.isnan(downtime)]
    count = len(downtime)
    return {
        "trials": count,
        "no_trial": len(frame) - count,
        "no_leader": int(np.isnan(downtime).sum()),
        "median_ms": float(np.quantile(endless, 0.5, method="inverted_cdf")) if count else np.nan,
        "p90_ms": float(np.quantile(endless, 0.9, method="inverted_cdf")) if count else np.nan,
        "mean_ms": float(done.mean()) if len(done) else np.nan,
        "max_ms": float(done.max()) if len(done) else np.nan,
        "split_pct": float((pd.to_numeric(crashed["split_votes"]) > 0).mean() * 100)
        if count else np.nan,
    }


def load_failover(directory: str | Path, ranges: Sequence[str] | None = None) -> pd.DataFrame:
    """The stored trials of ``directory`` (``data/failover/``) as one frame, ranges in the order
    given (default: the paper's, Figure 16 top then bottom), a missing downtime as NaN."""
    import pandas as pd

    if ranges is None:
        ranges = [f"{lo:g}-{hi:g}" for lo, hi in dict.fromkeys(PAPER_RANGES_RANDOMNESS
                                                                + PAPER_RANGES_SCALE)]
    frames = [pd.read_csv(Path(directory) / f"{label}.csv", keep_default_na=False,
                          na_values={c: ["", "NaN", "nan"] for c in ("downtime_ms", "terms",
                                                                     "split_votes", "crash_offset_ms")},
                          dtype={"election_timeout": str})
              for label in ranges]
    return pd.concat(frames, ignore_index=True)


def failover_table(frame: pd.DataFrame) -> pd.DataFrame:
    """:func:`failover_summary` for each ``election_timeout`` of ``frame``, one row each, in
    frame order."""
    import pandas as pd

    rows = [{"election_timeout": label, **failover_summary(part)}
            for label, part in frame.groupby("election_timeout", sort=False)]
    return pd.DataFrame(rows).set_index("election_timeout")


#: The grid of :func:`failover_sensitivity`: round trips (ms) out of the 15 ms broadcast
#: time, both orders of the candidate's write, and four of the paper's ranges.
SENSITIVITY_RTT_MS = (1.0, 2.0, 5.0, 10.0, 14.0)
SENSITIVITY_RANGES = ((150, 150), (150, 155), (150, 200), (12, 24))


def failover_sensitivity(
    trials: int = 300,
    rtts: Sequence[float] = SENSITIVITY_RTT_MS,
    ranges: Sequence[tuple[float, float]] = SENSITIVITY_RANGES,
    orders: Sequence[bool] = (True, False),
    vote_timers: Sequence[bool] = (True, False),
    broadcast_ms: float = 15.0,
    executor: Executor | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """How the failover experiment's answer depends on what the paper leaves open.

    For every range, round trip ``rtt_ms`` (the disk write is the rest of
    ``broadcast_ms``), order of the candidate's write and moment a voter restarts
    its election timer (``vote_timer_after_write``), ``trials`` trials of
    :func:`leader_failover` (seeds 0, 1, ...), summed up by :func:`failover_summary`:
    one row per cell with ``election_timeout``, ``rtt_ms``, ``persist_ms``,
    ``candidate_writes_first``, ``vote_timer_after_write`` and the summary's columns.
    """
    import pandas as pd

    rows = []
    for lo, hi in ranges:
        for rtt in rtts:
            for writes_first in orders:
                for vote_timer in vote_timers:
                    frame = leader_failover((lo, hi), trials=trials, seed=0, broadcast_ms=broadcast_ms,
                                            executor=executor, rtt_ms=rtt,
                                            candidate_writes_first=writes_first,
                                            vote_timer_after_write=vote_timer, progress=progress)
                    rows.append({"election_timeout": f"{lo:g}-{hi:g}", "rtt_ms": rtt,
                                 "persist_ms": broadcast_ms - rtt,
                                 "candidate_writes_first": writes_first,
                                 "vote_timer_after_write": vote_timer, **failover_summary(frame)})
    return pd.DataFrame(rows)


# ---- what one committed command costs: Basic Paxos vs Multi-Paxos ------------------------

def _cluster(n: int) -> list[str]:
    return [f"S{i}" for i in range(1, n + 1)]


def basic_paxos_instance(n: int = 5, delay: float = 5.0) -> dict[str, Any]:
    """One Basic Paxos instance agreeing on one command: a proposer, no competition."""
    return {
        "name": "basic-paxos-one-command", "protocol": "basic-paxos", "nodes": _cluster(n),
        "network": {"delay": {"fixed": delay}},
        "options": {"proposal_timeout": 20 * delay},
        "events": [{"at": 0, "propose": {"node": "S1", "value": "set x 1"}}],
        "until": 20 * delay,
    }


def multi_paxos_stable(commands: int = 10, n: int = 5, delay: float = 5.0,
                       heartbeat: float = 50.0, gap: float = 40.0) -> dict[str, Any]:
    """S1 is elected at once, then ``commands`` client commands arrive ``gap`` ms apart."""
    start = 10 * delay
    return {
        "name": "multi-paxos-stable-leader", "protocol": "multi-paxos", "nodes": _cluster(n),
        "network": {"delay": {"fixed": delay}},
        "options": {"election_timeout": [30 * heartbeat, 60 * heartbeat], "heartbeat": heartbeat},
        "events": [{"at": 0, "timeout": "S1"}]
        + [{"at": start + k * gap, "submit": {"command": f"set k{k} {k}"}} for k in range(commands)],
        "until": start + commands * gap + 10 * delay,
    }


def message_cost(commands: int = 10, n: int = 5, delay: float = 5.0) -> pd.DataFrame:
    """Messages and time per committed command, measured from runs (one row per protocol).

    Basic Paxos runs one instance per command (each instance is its own run:
    they are independent and cost the same).  Multi-Paxos runs a stable leader
    twice over the same time span — with the commands and without — and charges
    the commands only the difference, so heartbeats the leader sends anyway are
    not counted.  ``round_trips``: from the client's command (the proposal) until
    the proposer/leader knows it is chosen and can answer, in network round
    trips (2 × ``delay``).
    """
    import pandas as pd

    basic_run = run_scenario(basic_paxos_instance(n, delay), detailed=False)
    basic = basic_run.summary()
    # the proposer learns when it counts a majority of Accepted
    known = [e.time for e in basic_run.trace.of_kind("learned") if e.payload.get("counted")]
    basic_latency = known[0] if known else (basic["decided_at"] or float("nan"))
    busy = run_scenario(multi_paxos_stable(commands, n, delay), detailed=False)
    idle_scenario = multi_paxos_stable(commands, n, delay)
    idle_scenario["events"] = idle_scenario["events"][:1]
    idle = run_scenario(idle_scenario, detailed=False).summary()
    summary = busy.summary()
    done = [c for c in summary["commands"] if c["committed"]]
    extra = {t: summary["messages"]["by_type"].get(t, 0) - idle["messages"]["by_type"].get(t, 0)
             for t in summary["messages"]["by_type"]}
    # the leader can answer once it knows the command is committed
    latency = sum(c["known_committed_at"] - c["submitted_at"] for c in done) / max(len(done), 1)
    rows = [
        {"protocol": "Basic Paxos (one instance per command)", "commands": 1,
         "messages_per_command": basic["messages"]["sent"],
         "by_type": dict(basic["messages"]["by_type"]),
         "round_trips": basic_latency / (2 * delay)},
        {"protocol": "Multi-Paxos, stable leader", "commands": len(done),
         "messages_per_command": sum(extra.values()) / max(len(done), 1),
         "by_type": {t: c / max(len(done), 1) for t, c in extra.items() if c},
         "round_trips": latency / (2 * delay)},
    ]
    return pd.DataFrame(rows)
