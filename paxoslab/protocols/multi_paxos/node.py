"""Multi-Paxos as a leader-based replicated log, in the Raft formulation.

The algorithm in plain words
----------------------------
Basic Paxos agrees on one value and pays two round trips for it.  A replicated
log needs one value per slot, for ever; Multi-Paxos elects one **leader**
(主节点) that orders every command, so each command costs one round trip from
the leader to a majority.  This module follows the Raft paper (Ongaro and
Ousterhout, "In Search of an Understandable Consensus Algorithm") rule by rule.

Roles and terms.  Each server is a **follower** (从节点), a **candidate** or the
**leader**.  Time is cut into **terms** (任期) numbered 1, 2, 3, ...; each term
begins with an election and has at most one leader.  Every message carries its
sender's term; a server that sees a higher term than its own adopts it and
becomes a follower of that term, and it ignores (answers with its own term)
messages of a lower term.

Election.  The leader sends ``AppendEntries`` to every follower at least every
``heartbeat`` ms (a heartbeat, 心跳, when it carries no entries).  A follower
that hears nothing from a leader within its **election timeout** — drawn at
random from ``election_timeout: [lo, hi]`` each time it is reset, so that
servers rarely time out together — becomes a candidate: it starts a new term,
votes for itself and sends ``RequestVote`` to every other server.  A server
grants **one vote per term**, first come first served, and only to a candidate
whose log is *at least as up to date* as its own (the last entry's term is
higher, or the terms are equal and the log is at least as long).  A candidate
with votes from a majority becomes leader; one that hears from a leader of its
term becomes a follower; one whose timeout fires again (a split vote) starts
another term.

Replication in three steps, as the course tells it.  (1) The leader appends a
client's command to its own log, uncommitted, and sends it to every follower
in ``AppendEntries`` together with the index and term of the entry just
before it.  (2) A follower accepts the entries only if its log holds an entry
at that previous index with that term (the **consistency check**); where a new
entry conflicts with one it has (same index, different term) it deletes that
entry and all after it, then appends what it lacks, and acknowledges.
(3) Once a majority stores an entry of the leader's *current* term, the leader
**commits** it and every entry before it, applies them to its key-value state
machine (answering the client) and tells the followers the new commit index,
with the next ``AppendEntries``; they commit and apply too.  An entry of an
earlier term is never committed by counting its replicas — only through a
later entry of the leader's own term (the Raft paper's Figure 8 shows why).

Catching up.  When the consistency check fails, the follower answers with a
hint: the term of its conflicting entry and the first index it holds of that
term (or its log length if it is too short).  The leader jumps back past the
whole conflicting term at once, so a follower that is far behind or holds a
long wrong suffix is repaired in a few round trips, not one per entry.

Persistence and crashes.  Current term, vote and log are written to stable
storage before a server answers (``options.persist_ms`` is how long that
takes).  A crash loses everything else — role, commit index, the state machine,
timers; a recovered server rebuilds from its disk as a follower and re-applies
its log once it learns the commit index again.  A voter that answered before
writing could, after a crash, come back not knowing it voted, and vote again in
the same term for another candidate: two leaders of one term (the bug
``vote-forgotten-on-crash``).

The candidate's write.  A candidate must write its new term and its vote for
itself too.  By default (``candidate_writes_first: true``, what LogCabin and
etcd/raft do) it writes them and only then sends ``RequestVote``, so with
``persist_ms`` the requests leave that much later.  With ``false`` the
requests leave at once and the write overlaps them; Ongaro's thesis (section
9.3) allows that only if the candidate does not count its own vote until its
write is durable, and so it does: it counts the votes of others as they come,
its own only ``persist_ms`` after the write began.  The order matters for how
fast a cluster elects a leader (lesson 04), never for safety.  A voter, too,
writes its vote before it answers; its election timer restarts when the vote
leaves, once written (``vote_timer_after_write: true``, the default), or as
the ``RequestVote`` arrives (``false``).  With slow disks and short timeouts
the second lets a voter's timer run out before the leader it voted for can
be heard, and it stands again (lesson 04 measures it).

The new leader's no-op.  A new leader holds every committed entry (that is
what the election restriction buys) but does not know which of its entries are
committed, and it may commit an entry of an earlier term only through one of
its own.  So, as soon as it wins, it appends a **no-op** entry of its term (the
Raft paper, section 8; Ongaro's thesis, section 6.4) and replicates it at once;
when a majority stores the no-op, it and every entry before it commit, without
waiting for a client.  The no-op changes no state machine, and summaries,
narration and log grids show it as ``no-op``.  ``noop: false`` (the paper's
Figure 2 alone) leaves it out: entries of earlier terms then wait for the next
client command, and until it comes the leader cannot tell what is committed.
The no-op does not replace the rule that a leader never commits an entry of
an earlier term by counting its replicas; here it only hides a break of that
rule, since every AppendEntries a leader sends runs to the end of its log, past
its no-op, so any majority storing an older entry stores the no-op too.  That
is why the scenarios of the ``commit-old-term-by-count`` bug set ``noop:
false`` (the Raft paper's Figure 8, which has no no-op either).

Clients.  A client may ``submit`` a command to any server: a leader appends
it; any other server forwards it to the leader it knows, or rejects it when it
knows none.  The leader answers once it has applied the command.  A leader
that has lost its majority (cut off by a partition) still appends commands,
but can never commit them; after the partition heals it hears the higher term,
steps down, and its uncommitted entries are rolled back and replaced by the new
leader's.

Client sessions.  A leader may crash after committing a command but before
answering; the client, hearing nothing, retries at the new leader, and the
command would be carried out twice.  As in the Raft paper (section 8), a
request may name its ``client`` and that client's request number ``seq`` (a
retry keeps the number).  The log entry carries both, and the state machine
remembers for each client the last number it executed and the answer: a retry
is answered from there and never executed a second time.  Every replica
applies the same entries in order, so every replica remembers the same.  A
command sent without ``client`` and ``seq`` is a new request each time.

Reads.  ``get KEY`` goes through the log like any command, as one entry, and is
answered with the value (or nothing) when it is applied: the answer reflects
every command committed before it, even right after a leader change.  (The
thesis, section 6.4, describes faster reads that skip the log; this protocol
does not use them.)

Simplifications.  For small scripted scenarios (and the search),
``election_timeout: null`` means a server stands for election only when a
``timeout NODE`` action says so, and ``heartbeat: null`` that a leader sends
AppendEntries only when it has news (an election won, a new entry, a commit, a
refused append to repair).

The five switchable bugs each break exactly one of these rules (see ``BUGS``); each rule
is one function below (:func:`grant_vote`, :func:`merge_entries`, :func:`commit_index`,
and the voter's write, :meth:`MultiPaxosNode.save_vote`), with its bug switch inside it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from ...node import Node
from ...statemachine import NOOP, KeyValueStore, Sessions

BUGS = {
    "vote-without-log-check": "a server grants its vote without checking that the candidate's "
                              "log is at least as up to date as its own",
    "commit-old-term-by-count": "a leader commits an entry of an earlier term as soon as a "
                                "majority stores it (counting replicas for any term)",
    "vote-twice-in-term": "a server grants a vote in a term in which it already voted for "
                          "another candidate",
    "append-without-consistency-check": "a follower appends entries without checking that "
                                        "its log matches the leader's at the previous index",
    "vote-forgotten-on-crash": "a server answers RequestVote without first writing its "
                               "current term and vote to stable storage",
}

DEFAULT_OPTIONS: dict[str, Any] = {
    "election_timeout": [150, 300],
    "heartbeat": 50,
    "noop": True,
    "candidate_writes_first": True,
    "vote_timer_after_write": True,
    "bugs": [],
}

#: A log entry: ``(term, command)``, or ``(term, command, client, seq)`` for a request sent
#: with a client session.  A new leader's no-op is ``(term, NOOP)``.  Logs are tuples of
#: entries; index 1 is the first.
Entry = tuple


def changed_key(command: str, answer: Any) -> str | None:
    """The key an executed key-value command changed, or None (a read, a ``del`` of a
    missing key, a no-op).

    >>> changed_key("set x 1", "ok"), changed_key("append x b", "ok"), changed_key("del x", "ok")
    ('x', 'x', 'x')
    >>> changed_key("get x", "1"), changed_key("del y", "missing"), changed_key(NOOP, None)
    (None, None, None)
    """
    verb, _, rest = command.partition(" ")
    if verb in ("set", "append") or (verb == "del" and answer == "ok"):
        return rest.partition(" ")[0]
    return None


def session_of(entry: Entry) -> tuple[str | None, int | None]:
    """The ``(client, seq)`` an entry carries, or ``(None, None)``."""
    return (entry[2], entry[3]) if len(entry) > 2 else (None, None)


# ---- messages -------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RequestVote:
    """A candidate asks for a vote in ``term``; its log ends at (last_log_index, last_log_term)."""

    term: int
    candidate: str
    last_log_index: int
    last_log_term: int

    def label(self) -> str:
        return f"Vote? t{self.term}"


@dataclass(frozen=True, slots=True)
class RequestVoteReply:
    term: int
    granted: bool

    def label(self) -> str:
        return f"{'yes' if self.granted else 'no'} t{self.term}"


@dataclass(frozen=True, slots=True)
class AppendEntries:
    """Entries after (prev_log_index, prev_log_term), and the leader's commit index."""

    term: int
    leader: str
    prev_log_index: int
    prev_log_term: int
    entries: tuple[Entry, ...]
    leader_commit: int

    def label(self) -> str:
        if not self.entries:
            return f"HB t{self.term} c{self.leader_commit}"
        first = self.prev_log_index + 1
        span = f"#{first}" if len(self.entries) == 1 else f"#{first}-{first + len(self.entries) - 1}"
        return f"AE t{self.term} {span}"


@dataclass(frozen=True, slots=True)
class AppendEntriesReply:
    """``success`` with the follower's ``match_index``, or a failure with a back-up hint.

    On failure ``conflict_term`` is the term of the follower's entry at the
    previous index (None if its log is too short) and ``conflict_index`` the
    first index it holds of that term (its log length + 1 if too short).
    """

    term: int
    success: bool
    match_index: int
    conflict_index: int = 0
    conflict_term: int | None = None

    def label(self) -> str:
        if self.success:
            return f"ok #{self.match_index}"
        return f"no, t{self.term}" if not self.conflict_index else f"no, try #{self.conflict_index}"


@dataclass(frozen=True, slots=True)
class Forward:
    """A client command passed on by a server that is not the leader (with its session)."""

    command: str
    request: int
    client: str | None = None
    seq: int | None = None

    def label(self) -> str:
        return f"fwd {self.command}"


#: Every message type of the protocol (scenario rules may name only these).
MESSAGES = (RequestVote, RequestVoteReply, AppendEntries, AppendEntriesReply, Forward)


# ---- timers ---------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ElectionTimeout:
    """No leader heard within the election timeout: start an election."""


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """Time for the leader's next round of AppendEntries."""


@dataclass(frozen=True, slots=True)
class VoteWritten:
    """The candidate's term and self-vote of ``term`` are on disk (``persist_ms`` after the
    write began): only from now on may it count its own vote."""

    term: int


FOLLOWER, CANDIDATE, LEADER = "follower", "candidate", "leader"


# ---- the rules ------------------------------------------------------------------------
# Each rule of the Raft paper's Figure 2 that a bug can break is one pure function here,
# with its bug switch inside it; the handlers of MultiPaxosNode below call them.
def up_to_date(log: Sequence[Entry], last_index: int, last_term: int) -> bool:
    """Election restriction (Raft 5.4.1): is a candidate whose log ends at
    ``(last_index, last_term)`` at least as up to date as ``log``?  The later last term
    wins; with equal last terms, the longer log.

    >>> log = ((1, "set x 1"), (2, "set y 2"))
    >>> up_to_date(log, 1, 3), up_to_date(log, 5, 1)
    (True, False)
    >>> up_to_date(log, 2, 2), up_to_date(log, 1, 2), up_to_date((), 0, 0)
    (True, False, True)
    """
    mine = log[-1][0] if log else 0
    if last_term != mine:
        return last_term > mine
    return last_index >= len(log)


def grant_vote(voted_for: str | None, candidate: str, log: Sequence[Entry], last_index: int,
               last_term: int, bugs: frozenset[str] = frozenset()) -> bool:
    """The vote (Raft 5.2, 5.4.1), in a term the voter has adopted: one vote per term,
    first come first served (``voted_for`` is the vote it cast in this term, if any),
    and only for a candidate whose log is at least as up to date as the voter's ``log``.

    Bugs: ``vote-twice-in-term`` grants a second vote in a term, ``vote-without-log-check``
    skips the up-to-date check.

    >>> log = ((1, "set x 1"), (2, "set y 2"))
    >>> grant_vote(None, "S1", log, 2, 2), grant_vote("S1", "S1", log, 2, 2)
    (True, True)
    >>> grant_vote("S3", "S1", log, 2, 2), grant_vote(None, "S1", log, 3, 1)
    (False, False)
    >>> grant_vote("S3", "S1", log, 2, 2, frozenset({"vote-twice-in-term"}))
    True
    >>> grant_vote(None, "S1", log, 3, 1, frozenset({"vote-without-log-check"}))
    True
    """
    free = voted_for is None or voted_for == candidate or "vote-twice-in-term" in bugs
    return free and ("vote-without-log-check" in bugs or up_to_date(log, last_index, last_term))


def merge_entries(log: tuple[Entry, ...], prev_index: int, prev_term: int,
                  entries: tuple[Entry, ...], bugs: frozenset[str] = frozenset()
                  ) -> tuple[tuple[Entry, ...], int, tuple[Entry, ...]] | None:
    """A follower's consistency check and merge (Raft Figure 2, AppendEntries steps 2-4;
    etcd's ``maybeAppend``): ``(log, cut_at, added)``, or None when the check fails.

    The check: ``log`` must hold an entry at ``prev_index`` of ``prev_term`` (index 0,
    the empty prefix, always matches).  The merge: entries already there (same index,
    same term) are kept, and so is everything after them (a stale or duplicated append
    must not cut what a later one brought); at the first conflict (same index, another
    term) that entry and every one after it are deleted (``cut_at`` is its index, 0 if
    nothing was cut) and the new entries from there on are appended (``added``, the end
    of the new log).  Nothing new: the same ``log`` object comes back.

    Bug ``append-without-consistency-check``: a follower whose log is long enough skips
    the term check and merges anyway.

    >>> log = ((1, "a"), (1, "b"), (2, "c"))
    >>> merge_entries(log, 2, 1, ((3, "x"),))
    (((1, 'a'), (1, 'b'), (3, 'x')), 3, ((3, 'x'),))
    >>> merge_entries(log, 1, 1, ((1, "b"),)) == (log, 0, ())
    True
    >>> merge_entries(log, 3, 2, ((2, "d"),))
    (((1, 'a'), (1, 'b'), (2, 'c'), (2, 'd')), 0, ((2, 'd'),))
    >>> merge_entries(log, 2, 5, ((5, "y"),)) is None, merge_entries(log, 4, 2, ()) is None
    (True, True)
    >>> merge_entries(log, 2, 5, ((5, "y"),), frozenset({"append-without-consistency-check"}))
    (((1, 'a'), (1, 'b'), (5, 'y')), 3, ((5, 'y'),))
    """
    if prev_index > len(log):
        return None
    if ((log[prev_index - 1][0] if prev_index else 0) != prev_term
            and "append-without-consistency-check" not in bugs):
        return None
    for offset, entry in enumerate(entries):
        index = prev_index + 1 + offset
        if index <= len(log):
            if log[index - 1][0] == entry[0]:
                continue  # already there (a duplicate or stale append): keep the rest
            added = entries[offset:]  # a real conflict: drop it and everything after it
            return log[:index - 1] + added, index, added
        added = entries[offset:]
        return log + added, 0, added
    return log, 0, ()


def conflict_hint(log: Sequence[Entry], prev_index: int) -> tuple[int, int | None]:
    """What a follower that failed the consistency check tells the leader:
    ``(conflict_index, conflict_term)``: the term of its entry at ``prev_index`` and the
    first index it holds of that term, or ``(len(log) + 1, None)`` if its log is too short.

    >>> conflict_hint(((1, "a"), (2, "b"), (2, "c")), 3), conflict_hint(((1, "a"),), 4)
    ((2, 2), (2, None))
    """
    if prev_index > len(log):
        return len(log) + 1, None
    term = log[prev_index - 1][0]
    first = prev_index
    while first > 1 and log[first - 2][0] == term:
        first -= 1
    return first, term


def back_up_to(log: Sequence[Entry], conflict_index: int, conflict_term: int | None) -> int:
    """Where a leader retries after a refused append: just past its own last entry of
    the follower's conflicting term, if it holds one, else the first index the follower
    holds of that term (``conflict_index``): a whole term skipped per round trip.

    >>> log = ((1, "a"), (1, "b"), (3, "c"))
    >>> back_up_to(log, 2, 1), back_up_to(log, 2, 2), back_up_to(log, 4, None)
    (3, 2, 4)
    """
    if conflict_term is not None:
        for i in range(len(log), 0, -1):
            if log[i - 1][0] == conflict_term:
                return i + 1
    return conflict_index


def commit_index(match: Collection[int], log: Sequence[Entry], term: int, commit: int = 0,
                 bugs: frozenset[str] = frozenset()) -> int:
    """The leader's commit rule (Raft 5.3, 5.4.2): the highest index stored by a majority
    whose entry is of the leader's own ``term`` (every entry before it commits with it),
    else ``commit``, the commit index so far.  ``match`` holds, for each follower, the
    highest index it is known to store; the leader stores its whole ``log``.  An entry
    of an earlier term is never committed by counting its replicas (the Raft paper's
    Figure 8 shows why).

    Bug ``commit-old-term-by-count``: count replicas of an entry of any term.

    >>> log = ((1, "a"), (2, "b"))
    >>> commit_index([1, 0], log, 2), commit_index([2, 0], log, 2), commit_index([2, 2], log, 3)
    (0, 2, 0)
    >>> by_count = frozenset({"commit-old-term-by-count"})
    >>> commit_index([1, 1, 0, 0], log, 2), commit_index([1, 1, 0, 0], log, 2, bugs=by_count)
    (0, 1)
    """
    majority = (len(match) + 1) // 2 + 1
    old_term_too = "commit-old-term-by-count" in bugs
    for n in range(len(log), commit, -1):
        if log[n - 1][0] != term and not old_term_too:
            continue
        if 1 + sum(1 for m in match if m >= n) >= majority:
            return n
    return commit


class MultiPaxosNode(Node):
    """One server: follower, candidate or leader, with its log and key-value state machine."""

    #: the protocol state (configuration from id and options is not state)
    STATE: ClassVar[tuple[str, ...]] = (
        "current_term", "voted_for", "log", "commit_index", "last_applied", "role",
        "leader_id", "votes", "next_index", "match_index", "taken",
    )
    CONFIG: ClassVar[tuple[str, ...]] = ("options", "bugs")
    #: the key-value store and its client sessions: the log's first ``last_applied`` entries, applied
    DERIVED: ClassVar[tuple[str, ...]] = ("machine",)

    def __init__(self, node_id: str, cluster: Sequence[str], options: Mapping[str, Any] | None = None):
        super().__init__(node_id, cluster, {**DEFAULT_OPTIONS, **(options or {})})
        self.bugs = frozenset(self.options["bugs"])
        # persistent state
        self.current_term = 0
        self.voted_for: str | None = None
        self.log: tuple[Entry, ...] = ()
        # volatile state
        self.commit_index = 0
        self.last_applied = 0
        self.role = FOLLOWER
        self.leader_id: str | None = None
        self.votes: frozenset[str] = frozenset()
        self.next_index: dict[str, int] = {}
        self.match_index: dict[str, int] = {}
        self.taken: frozenset[int] = frozenset()  # client requests appended in this term
        self.machine = Sessions(KeyValueStore())  # derived: log[:last_applied] replayed

    # ---- small helpers ------------------------------------------------------------
    @property
    def last_log_index(self) -> int:
        return len(self.log)

    @property
    def last_log_term(self) -> int:
        return self.log[-1][0] if self.log else 0

    def term_at(self, index: int) -> int:
        """Term of the entry at ``index`` (0 for index 0, the empty prefix)."""
        return self.log[index - 1][0] if index > 0 else 0

    def election_delay(self) -> float:
        low, high = self.options["election_timeout"]
        return self.rng.uniform(low, high)

    def reset_election_timer(self, after: float = 0.0) -> None:
        """Re-arm the election timer, counting from ``after`` ms from now
        (``election_timeout: null``: only ``timeout NODE`` elects)."""
        if self.options["election_timeout"] is None:
            return
        self.set_timer(ElectionTimeout(), after + self.election_delay())

    def save(self) -> None:
        """Write current term and vote to stable storage (before any reply).

        The log is written where it changes, by appending and truncating only what
        changed (:meth:`Node.persist_append`, :meth:`Node.persist_truncate`).
        """
        self.persist(current_term=self.current_term, voted_for=self.voted_for)

    def save_vote(self) -> None:
        """A voter's write (Raft Figure 2: persistent state is updated on stable storage
        before responding to RPCs): the term it adopted and the vote it cast are written
        before the ``RequestVoteReply`` leaves, so a crash cannot make it forget them and
        vote again, for someone else, in the same term.

        Bug ``vote-forgotten-on-crash``: the reply leaves without the write; after a crash
        the server comes back with the term and vote it wrote before (or none), and may
        grant a second vote in a term it already voted in.

        >>> from paxoslab.sim import Simulation
        >>> sim = Simulation(["S3"], make_node=lambda n: MultiPaxosNode(n, ["S1", "S2", "S3"]))
        >>> sim.start(); sim.invoke("S3", "on_request_vote", RequestVote(1, "S1", 0, 0), "S1")
        True
        >>> sim.crash("S3"); sim.recover("S3"); sim.node("S3").voted_for
        'S1'
        """
        if "vote-forgotten-on-crash" not in self.bugs:
            self.save()

    def restore(self, stable: Mapping[str, Any]) -> None:
        """Term, vote and log back from disk (the log as a tuple of entries)."""
        super().restore(stable)
        self.log = tuple(tuple(entry) for entry in stable.get("log", ()))

    def set_role(self, role: str) -> None:
        self.role = role
        self.note("role", role=role, term=self.current_term)

    # ---- life cycle ---------------------------------------------------------------
    def on_start(self) -> None:
        """Every server starts as a follower of term 0 with its election timer running."""
        self.set_role(FOLLOWER)
        self.reset_election_timer()

    def on_recover(self) -> None:
        """Rebuilt from disk (term, vote, log): a follower that has applied nothing yet."""
        self.commit_index = self.last_applied = 0
        self.machine = Sessions(KeyValueStore())
        self.on_start()

    # ---- terms --------------------------------------------------------------------
    def observe_term(self, term: int) -> bool:
        """Rule for all servers: a higher term makes this server a follower of that term.

        Returns True if the term changed (the caller persists before replying).
        """
        if term <= self.current_term:
            return False
        was = self.role
        self.current_term = term
        self.voted_for = None
        self.leader_id = None
        self.votes = frozenset()
        if was == LEADER:
            self.cancel_timer(Heartbeat())
            self.reset_election_timer()
        self.set_role(FOLLOWER)
        return True

    # ---- election -----------------------------------------------------------------
    def on_election_timeout(self, timer: ElectionTimeout) -> None:
        """Followers and candidates: no leader heard in time, so start an election.

        New term, vote for itself, ``RequestVote`` to all others, and a fresh
        random timeout in case the vote splits.  With ``candidate_writes_first``
        (the default, as LogCabin and etcd/raft do) the new term and self-vote
        are written first and the requests leave once the write is done
        (``persist_ms`` later).  Without it the requests leave at once and the
        write overlaps them; then, as Ongaro's thesis (section 9.3) requires, the
        candidate counts its own vote only once its write is durable
        (:meth:`on_vote_written`), so it never leads on a vote a crash could undo.
        Voters persist before they reply in either order.
        """
        if self.role == LEADER:
            self.note("timeout_ignored", term=self.current_term)
            return
        self.current_term += 1
        self.voted_for = self.id
        self.leader_id = None
        self.set_role(CANDIDATE)
        request = RequestVote(self.current_term, self.id, self.last_log_index, self.last_log_term)
        if self.options["candidate_writes_first"]:
            self.save()
            self.votes = frozenset({self.id})
            for peer in self.peers:
                self.send(peer, request)  # leaves after the write
        else:
            for peer in self.peers:
                self.send(peer, request)  # leaves now; the write below overlaps it
            self.save()
            durable_in = self.options.get("persist_ms", 0)
            self.votes = frozenset() if durable_in else frozenset({self.id})
            if durable_in:
                self.set_timer(VoteWritten(self.current_term), durable_in)
        self.reset_election_timer()
        if len(self.votes) >= self.majority:
            self.become_leader()

    def on_vote_written(self, timer: VoteWritten) -> None:
        """Candidate that sent before writing: its own vote is durable now, so it counts."""
        if self.role != CANDIDATE or timer.term != self.current_term:
            return
        self.votes = self.votes | {self.id}
        if len(self.votes) >= self.majority:
            self.become_leader()

    def on_request_vote(self, msg: RequestVote, src: str) -> None:
        """Grant one vote per term, only to a candidate whose log is at least as up to date."""
        changed = self.observe_term(msg.term)
        granted = msg.term == self.current_term and bool(self.decide_vote(
            self.voted_for, msg.candidate, self.log, msg.last_log_index, msg.last_log_term))
        if granted:
            changed = changed or self.voted_for != msg.candidate
            self.voted_for = msg.candidate
            self.note("voted", candidate=msg.candidate, term=self.current_term)
            self.reset_election_timer(after=self.vote_leaves_in(changed))
        if changed:
            self.save_vote()
        self.send(src, RequestVoteReply(self.current_term, granted))

    def decide_vote(self, voted_for: str | None, candidate: str, log: Sequence[Entry], last_index: int,
                    last_term: int) -> bool:
        """The vote rule as this server applies it: :func:`grant_vote` with its bug switches
        (a subclass, such as a homework exercise's, puts another rule here)."""
        return grant_vote(voted_for, candidate, log, last_index, last_term, self.bugs)

    def vote_leaves_in(self, written: bool) -> float:
        """How long until a vote granted now leaves: ``persist_ms`` if it must be
        written first, else 0 — and 0 with ``vote_timer_after_write: false``, whose
        voter restarts its election timer as the ``RequestVote`` arrives.

        A vote is granted when it is sent, after its write: until then a crash would
        forget it and the candidate cannot count it.  So by default the voter's election
        timer counts from that moment (Raft Figure 2: "granting vote to candidate").
        """
        if not written or not self.options["vote_timer_after_write"]:
            return 0.0
        return float(self.options.get("persist_ms", 0))

    def on_request_vote_reply(self, msg: RequestVoteReply, src: str) -> None:
        """Candidate: a majority of votes in this term makes it leader."""
        if self.observe_term(msg.term):
            self.save()
            return
        if self.role != CANDIDATE or msg.term != self.current_term or not msg.granted:
            return
        self.votes = self.votes | {src}
        if len(self.votes) >= self.majority:
            self.become_leader()

    def become_leader(self) -> None:
        """Leader: reset what it knows of each follower, append its no-op (unless
        ``noop: false``) and assert itself at once with AppendEntries to all."""
        self.leader_id = self.id
        self.next_index = {p: self.last_log_index + 1 for p in self.peers}
        self.match_index = {p: 0 for p in self.peers}
        self.taken = frozenset()
        self.cancel_timer(ElectionTimeout())
        self.set_role(LEADER)
        if self.options["noop"]:
            self.append_noop()
        self.replicate()

    def append_noop(self) -> None:
        """Raft section 8: a new leader appends a no-op entry of its own term, so that
        every earlier entry commits (through it) without waiting for a client."""
        self.log = self.log + ((self.current_term, NOOP),)
        self.note("appended", index=self.last_log_index, term=self.current_term, command=NOOP,
                  by_term=self.current_term)
        self.persist_append("log", self.log[-1])
        if self.majority == 1:
            self.advance_commit()

    # ---- replication (leader) -------------------------------------------------------
    def replicate(self) -> None:
        """Send every follower the entries it lacks (or a heartbeat) and re-arm the heartbeat."""
        for peer in self.peers:
            self.send_append(peer)
        if self.options["heartbeat"] is not None:  # null: AppendEntries only when there is news
            self.set_timer(Heartbeat(), self.options["heartbeat"])

    def send_append(self, peer: str) -> None:
        prev = self.next_index[peer] - 1
        self.send(peer, AppendEntries(self.current_term, self.id, prev, self.term_at(prev),
                                      self.log[prev:], self.commit_index))

    def on_heartbeat(self, timer: Heartbeat) -> None:
        """Leader: at least every ``heartbeat`` ms, AppendEntries to every follower."""
        if self.role == LEADER:
            self.replicate()

    def on_append_entries_reply(self, msg: AppendEntriesReply, src: str) -> None:
        """Leader: record what the follower stores, or back up past the conflicting term."""
        if self.observe_term(msg.term):
            self.save()
            return
        if self.role != LEADER or msg.term != self.current_term:
            return
        if msg.success:
            # next_index first: a commit below sends the follower only what it still lacks
            self.next_index[src] = max(self.next_index[src], msg.match_index + 1)
            if msg.match_index > self.match_index[src]:
                self.match_index[src] = msg.match_index
                self.advance_commit()
            return
        target = back_up_to(self.log, msg.conflict_index, msg.conflict_term)
        # always move back at least one entry, never below what the follower is known to store
        target = max(min(target, self.next_index[src] - 1), self.match_index[src] + 1, 1)
        if target < self.next_index[src]:
            self.next_index[src] = target
            self.note("backup", follower=src, next_index=target)
            self.send_append(src)

    def advance_commit(self) -> None:
        """Commit the highest index stored by a majority whose entry is of the current term
        (earlier entries commit through it): :meth:`decide_commit`."""
        index = self.decide_commit(tuple(self.match_index.values()), self.log, self.current_term,
                                   self.commit_index)
        if index > self.commit_index:
            self.commit(index)
            self.replicate()  # tell the followers the new commit index now

    def decide_commit(self, match: Sequence[int], log: Sequence[Entry], term: int, commit: int) -> int:
        """The commit rule as this leader applies it: :func:`commit_index` with its bug
        switches (a subclass, such as a homework exercise's, puts another rule here)."""
        return commit_index(match, log, term, commit, self.bugs)

    def commit(self, index: int) -> None:
        self.commit_index = index
        self.note("committed", index=index)
        self.apply_committed()

    def apply_committed(self) -> None:
        """Apply committed entries in index order to the key-value state machine.

        A no-op changes nothing; a request whose client session shows it executed
        already is answered from the session, not executed again.  The ``applied`` note
        says what changed (``key`` and its new ``value``, None once deleted), not the
        whole state: a copy of it per command would make a long run quadratic."""
        while self.last_applied < self.commit_index:
            self.last_applied += 1
            entry = self.log[self.last_applied - 1]
            client, seq = session_of(entry)
            answer, executed = self.machine.apply(entry[1], client, seq)
            session = {} if client is None else {"client": client, "seq": seq}
            key = changed_key(entry[1], answer) if executed else None
            change = {} if key is None else {"key": key, "value": self.machine.machine.data.get(key)}
            self.note("applied", index=self.last_applied, command=entry[1], answer=answer,
                      executed=executed, **session, **change)

    # ---- replication (follower) -----------------------------------------------------
    def on_append_entries(self, msg: AppendEntries, src: str) -> None:
        """Follower: consistency check on the previous entry, delete a conflicting suffix,
        append what is new, learn the commit index; persist before acknowledging."""
        changed = self.observe_term(msg.term)
        if msg.term < self.current_term:  # from a deposed leader: tell it the current term
            self.send(src, AppendEntriesReply(self.current_term, False, 0, 0, None))
            return
        if self.role != FOLLOWER:  # a candidate hears the leader of its own term
            self.set_role(FOLLOWER)
        if self.leader_id != msg.leader:
            self.leader_id = msg.leader
            self.note("leader", leader=msg.leader, term=self.current_term)
        self.reset_election_timer()
        prev = msg.prev_log_index
        merged = self.decide_merge(prev, msg.prev_log_term, msg.entries)
        if merged is None:  # the consistency check failed: tell the leader where to go back to
            conflict_index, conflict_term = conflict_hint(self.log, prev)
            if changed:
                self.save()
            self.send(src, AppendEntriesReply(self.current_term, False, 0, conflict_index,
                                              conflict_term))
            return
        log, cut_at, added = merged
        if cut_at:
            self.note("truncated", index=cut_at)
        for i, new in enumerate(added, start=len(log) - len(added) + 1):
            self.note("appended", index=i, term=new[0], command=new[1], by_term=msg.term)
        if changed:
            self.save()
        if log is not self.log:
            if cut_at:
                self.persist_truncate("log", cut_at - 1)
            self.persist_append("log", *added)
            self.log = log
        last_new = prev + len(msg.entries)
        if msg.leader_commit > self.commit_index:
            index = min(msg.leader_commit, last_new)
            if index > self.commit_index:
                self.commit(index)
        self.send(src, AppendEntriesReply(self.current_term, True, last_new))

    def decide_merge(self, prev_index: int, prev_term: int, entries: tuple[Entry, ...]
                     ) -> tuple[tuple[Entry, ...], int, tuple[Entry, ...]] | None:
        """The consistency check and merge as this follower applies them: :func:`merge_entries`
        on its log with its bug switches (a subclass, such as a homework exercise's, puts
        another merge here)."""
        return merge_entries(self.log, prev_index, prev_term, entries, self.bugs)

    # ---- clients -------------------------------------------------------------------
    def submit(self, command: str, request: int = 0, client: str | None = None,
               seq: int | None = None) -> None:
        """A client command: the leader appends it (step 1); others pass it on or refuse.

        ``client`` and ``seq`` name the client's session and request number (both or
        neither); ``request`` numbers the submission, for the run's records."""
        if self.role == LEADER:
            self.accept_command(command, request, client, seq)
        elif self.leader_id is not None:
            self.note("redirected", command=command, request=request, to=self.leader_id)
            self.send(self.leader_id, Forward(command, request, client, seq))
        else:
            self.note("rejected", command=command, request=request, reason="no leader known")

    def on_forward(self, msg: Forward, src: str) -> None:
        """A command passed on by another server; not passed on a second time."""
        if self.role == LEADER:
            self.accept_command(msg.command, msg.request, msg.client, msg.seq)
        else:
            self.note("rejected", command=msg.command, request=msg.request,
                      reason="forwarded to a server that is not the leader")

    def accept_command(self, command: str, request: int, client: str | None = None,
                       seq: int | None = None) -> None:
        """Step 1: append uncommitted, persist, send to every follower.

        The entry carries the request's client session, if it has one, for the state
        machine.  A request that arrives twice (a duplicated Forward) is appended
        once per term.
        """
        if request and request in self.taken:
            self.note("duplicate_request", command=command, request=request)
            return
        self.taken = self.taken | {request}
        session = () if client is None else (client, seq)
        self.log = self.log + ((self.current_term, command, *session),)
        index = self.last_log_index
        self.note("appended", index=index, term=self.current_term, command=command,
                  by_term=self.current_term)
        self.note("request", request=request, command=command, index=index, term=self.current_term)
        self.persist_append("log", self.log[-1])
        if self.majority == 1:
            self.advance_commit()
        for peer in self.peers:
            self.send_append(peer)

