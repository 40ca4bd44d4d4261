"""What the search may skip in Multi-Paxos, each with the argument that skipping it is sound.

The search (:mod:`paxoslab.search`) explores every order of deliveries, crashes and
actions.  These hooks let it leave out worlds that cannot differ in anything a safety
monitor or goal reads; each is tested against a search without reductions
(``search(reduce=False)``) in ``tests/test_multi_paxos_search.py``.  They read a world
through :class:`~paxoslab.world.World` only, and hold whichever of the protocol's bugs
are on.
"""

from __future__ import annotations

from typing import Any

from ...world import World
from .node import (
    CANDIDATE,
    FOLLOWER,
    LEADER,
    AppendEntries,
    AppendEntriesReply,
    RequestVote,
    RequestVoteReply,
)

#: bugs under which a server's term may go back after a crash: no term-based argument holds
_TERMS_MAY_GO_BACK = frozenset({"vote-forgotten-on-crash"})


def ballot_of(msg: Any) -> int | None:
    """The term a message starts (a ``RequestVote``'s), else None: the search bounds
    elections by it (``max_ballots`` terms per server).

    >>> ballot_of(RequestVote(2, "S1", 0, 0)), ballot_of(RequestVoteReply(2, True))
    (2, None)
    """
    return msg.term if type(msg) is RequestVote else None


def ignored_for_good(world: World, src: str, dst: str, msg: Any, spent: frozenset[str]) -> bool:
    """A reply whose delivery, now or at any later point, changes nothing:

    * a ``RequestVoteReply`` of a term below its candidate's, or of its term when
      it is no longer a candidate of that term, or a vote refused;
    * an ``AppendEntriesReply`` of a term below its receiver's, or of its term
      when the receiver follows in that term; or a success reporting no more than
      its leader already knows the follower stores (``match_index``).

    Why for good: a server's term never goes back (it is written before any reply,
    and a recovered server comes back with it), a candidate stands only in a new
    term, so a server that is not a candidate of term t, or follows in term t,
    never leads t; within its term a leader's ``match_index`` for a follower only
    grows, and its ``next_index`` for it never falls below ``match_index + 1``
    (a refusal backs up to no less), so a success at or below ``match_index``
    moves neither.  Replies only ever change their receiver (they send nothing
    unless they change it).  Under ``vote-forgotten-on-crash`` a voter's term
    may go back after a crash, and nothing is dropped; no other bug changes how
    terms, votes or ``match_index`` move.

    >>> from types import SimpleNamespace
    >>> from .node import MultiPaxosNode
    >>> leader = MultiPaxosNode("S1", ["S1", "S2", "S3"]); world = SimpleNamespace(node={"S1": leader}.get)
    >>> leader.current_term, leader.role, leader.match_index = 2, LEADER, {"S2": 3, "S3": 0}
    >>> [ignored_for_good(world, "S2", "S1", AppendEntriesReply(2, True, m), frozenset()) for m in (3, 4)]
    [True, False]
    >>> ignored_for_good(world, "S3", "S1", RequestVoteReply(2, True), frozenset())  # won already
    True
    """
    node = world.node(dst)
    if node is None:
        return False
    kind = type(msg)
    if kind is not RequestVoteReply and kind is not AppendEntriesReply:
        return False
    if node.bugs & _TERMS_MAY_GO_BACK:
        return False
    term = node.current_term
    if msg.term != term:
        return msg.term < term
    if kind is RequestVoteReply:
        return not msg.granted or node.role != CANDIDATE
    if node.role == FOLLOWER:
        return True
    return (node.role == LEADER and msg.success
            and msg.match_index <= node.match_index.get(src, 0))


def same_effect_as(world: World, src: str, dst: str, msg: Any) -> Any:
    """A request of a term its receiver has left (an ``AppendEntries`` or a
    ``RequestVote``) has, whenever it is delivered, one effect whatever it carries:
    the receiver refuses it and tells the sender its current term
    (``AppendEntriesReply(term, False, 0, 0, None)``, ``RequestVoteReply(term, False)``),
    reading nothing else of the request.  So the search keys every such request from
    one sender to one receiver alike, as the emptiest one of term 0.  It stays so: a
    server's term never goes back (under ``vote-forgotten-on-crash`` it may, and every
    message is itself).  Any other message is itself.

    >>> from types import SimpleNamespace
    >>> from .node import MultiPaxosNode
    >>> s2 = MultiPaxosNode("S2", ["S1", "S2", "S3"]); s2.current_term = 3
    >>> world = SimpleNamespace(node={"S2": s2}.get)
    >>> same_effect_as(world, "S1", "S2", AppendEntries(2, "S1", 4, 2, ((2, "set x 1"),), 3))
    AppendEntries(term=0, leader='S1', prev_log_index=0, prev_log_term=0, entries=(), leader_commit=0)
    >>> same_effect_as(world, "S1", "S2", RequestVote(3, "S1", 0, 0))  # of its term: itself
    RequestVote(term=3, candidate='S1', last_log_index=0, last_log_term=0)
    """
    kind = type(msg)
    if kind is not AppendEntries and kind is not RequestVote:
        return msg
    node = world.node(dst)
    if node is None or msg.term >= node.current_term or node.bugs & _TERMS_MAY_GO_BACK:
        return msg
    if kind is AppendEntries:
        return AppendEntries(0, src, 0, 0, (), 0)
    return RequestVote(0, src, 0, 0)
