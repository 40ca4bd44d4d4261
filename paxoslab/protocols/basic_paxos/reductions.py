"""What the search may skip in Basic Paxos, each with the argument that skipping it is sound.

The search (:mod:`paxoslab.search`) explores every order of deliveries, losses,
crashes and actions.  These hooks let it leave out worlds that cannot differ in
anything a safety check or goal reads; each is tested against a search without
reductions (``search(reduce=False)``) in ``tests/test_search.py``.  They read a
world through :class:`~paxoslab.world.World` only, and hold whichever of the
protocol's bugs are on.
"""

from __future__ import annotations

from typing import Any

from ...world import World
from .node import Accept, Accepted, Ask, Ballot, Learn, LearnTimeout, PaxosNode, Prepare, Promise, Reject


def ballot_of(msg: Any) -> Ballot | None:
    """The ballot a message starts (a ``Prepare``'s), else None: the search bounds ballots by it.

    >>> ballot_of(Prepare(Ballot(2, 1))), ballot_of(Accept(Ballot(2, 1), "X"))
    (Ballot(round=2, node=1), None)
    """
    return msg.ballot if type(msg) is Prepare else None


#: Fields read only to number a node's next ballot: ``highest_round_seen`` is read by
#: ``start_ballot`` alone (every other use raises it).  A node that starts no more ballots
#: cannot be told apart by it, so the search leaves it out of that node's key.
BALLOT_FIELDS = ("highest_round_seen",)

#: Messages whose handlers never read the sender: ``on_reject`` reads the ballot and the
#: promise it names, ``on_learn`` the ballot and value, neither ``src``.  Equal ones from
#: different senders have the same effect (where no partition tells the senders apart).
ANONYMOUS = frozenset({Reject, Learn})

#: Timers the search fires at once, in the step that arms them, when they only re-send:
#: ``LearnTimeout`` sends an ``Ask`` that carries nothing (``on_ask`` answers from the
#: receiver's state when it is delivered, not from the asker's when it was sent), and an
#: answer to a node that has learned since changes nothing (``learn`` keeps what it has;
#: a different value would be two values learned, a violation the search has stopped at).
#: So an ``Ask`` sent at once and held in flight does whatever a later one would.  The
#: only other effect is the wait doubling, which is timing (``PaxosNode.TIMING``).
EAGER_RESENDS = frozenset({LearnTimeout})


def ignored_for_good(world: World, src: str, dst: str, msg: Any, spent: frozenset[str]) -> bool:
    """A message whose delivery, now or later, changes nothing that decides what a node
    does (``spent``: the nodes that start no more ballots in this search):

    * a ``Promise`` for a ballot or phase its proposer has left;
    * an ``Accepted`` to a node that has learned a value: it counts replies only
      until it learns, and ``learned`` is persisted and never reset (a proposer
      that has left the ballot still counts them, see ``on_accepted``);
    * a ``Reject`` that names a promise no higher than its proposer's ballot, or one
      for a ballot its proposer has left that does not raise the round its next
      ballot starts from — or that proposer starts no more ballots;
    * a ``Learn`` of the value its node has learned: ``learn`` keeps what it has;
    * an ``Ask`` from a node that has learned: the answer, if any, is a ``Learn`` of the
      value the receiver learned, the same (two nodes that learned different values are
      a violation the search stops at, whenever the second learns), which changes nothing;
    * a ``Prepare`` or ``Accept`` that its acceptor turns down, now and for good,
      without raising the round its own next ballot would start from, sent by a
      proposer that has left that ballot and starts no more: the ``Reject`` it would
      bring back is ignored for good.

    Why for good: a proposer leaves prepare for accept, and accept for done or
    back-off, never the other way within one ballot, and each new ballot is
    higher than any before it, even after a crash (the round is persisted).
    After a crash ``highest_round_seen`` may be raised again, but a raise up to
    ``round`` leaves the next ballot the same.  An acceptor's promise only grows
    and is persisted before it replies, unless ``acceptor-forgets-on-crash`` is on
    (then no request is dropped); with ``accept-below-promise`` on, no ``Accept`` is.
    No other bug changes how ballots are numbered, promised or left.

    >>> from types import SimpleNamespace
    >>> node = PaxosNode("S1", ["S1", "S2", "S3"]); world = SimpleNamespace(node={"S1": node}.get)
    >>> node.propose("X"); node.ballot, node.phase
    (Ballot(round=1, node=1), 'prepare')
    >>> ignored_for_good(world, "S2", "S1", Promise(node.ballot, None, None), frozenset())
    False
    >>> ignored_for_good(world, "S2", "S1", Accepted(node.ballot, "X"), frozenset())
    False
    >>> outbid = Reject(node.ballot, Ballot(1, 2))
    >>> ignored_for_good(world, "S2", "S1", outbid, frozenset({"S1"}))  # pre-empts this ballot
    False
    >>> node.phase = "backoff"  # left it: only the next ballot's round could change
    >>> [ignored_for_good(world, "S2", "S1", Reject(node.ballot, Ballot(2, 2)), spent)
    ...  for spent in (frozenset(), frozenset({"S1"}))]
    [False, True]
    """
    node = world.node(dst)
    if node is None:
        return False
    kind = type(msg)
    if kind is Promise:
        return msg.ballot != node.ballot or node.phase != "prepare"
    if kind is Accepted:
        return node.learned is not None
    if kind is Reject:
        if node.ballot is not None and msg.promised <= node.ballot:
            return True  # outbids nothing, now or later; raises the round past nothing
        if msg.ballot == node.ballot and node.phase in ("prepare", "accept"):
            return False
        round_ = msg.promised.round
        return dst in spent or (round_ <= node.highest_round_seen and round_ <= node.round)
    if kind is Learn:
        return node.learned_ballot is not None and node.learned == msg.value
    if kind is Ask:
        asker = world.node(src)
        return asker is not None and asker.learned_ballot is not None
    if kind is Prepare or kind is Accept:
        promised = node.promised
        if promised is None or src not in spent or "acceptor-forgets-on-crash" in node.bugs:
            return False
        if kind is Prepare:
            refused = msg.ballot <= promised
        else:
            refused = msg.ballot < promised and "accept-below-promise" not in node.bugs
        if not refused or (dst not in spent and msg.ballot.round > node.round):
            return False
        proposer = world.node(src)
        return (proposer is None or msg.ballot != proposer.ballot
                or proposer.phase not in ("prepare", "accept"))
    return False


#: bugs under which an acceptor may accept below its promise, or forget it
_NOTHING_REFUSED_FOR_GOOD = frozenset({"accept-below-promise", "acceptor-forgets-on-crash"})


def same_effect_as(world: World, src: str, dst: str, msg: Any) -> Any:
    """An ``Accept`` its acceptor turns down for good has, whenever it is delivered, the
    effect of a ``Prepare`` for the same ballot (both bring back the same ``Reject``
    and raise the same round): the search treats the two alike.  Any other message
    is itself.  (With ``accept-below-promise`` or ``acceptor-forgets-on-crash`` on,
    nothing is turned down for good.)

    >>> from types import SimpleNamespace
    >>> node = PaxosNode("S3", ["S1", "S2", "S3"]); world = SimpleNamespace(node={"S3": node}.get)
    >>> node.promised = Ballot(2, 2)
    >>> same_effect_as(world, "S1", "S3", Accept(Ballot(1, 1), "X"))
    Prepare(ballot=Ballot(round=1, node=1))
    """
    if type(msg) is not Accept:
        return msg
    node = world.node(dst)
    if (node is None or node.promised is None or not msg.ballot < node.promised
            or node.bugs & _NOTHING_REFUSED_FOR_GOOD):
        return msg
    return Prepare(msg.ballot)


def may_start_ballot(node: PaxosNode | None, actions: tuple[str, ...]) -> bool:
    """A node starts a ballot when an action asks it (to propose, say), or retrying one:
    in phase prepare or accept (pre-empted or timed out, it retries) or backing off.
    Crashing and recovering start none (a recovered node is idle).

    >>> may_start_ballot(None, ("recover",)), may_start_ballot(None, ("recover", "propose"))
    (False, True)
    """
    return any(a not in ("crash", "recover") for a in actions) or (
        node is not None and node.phase in ("prepare", "accept", "backoff"))
