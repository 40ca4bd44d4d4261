"""Multi-Paxos as a leader-based replicated log, in the Raft formulation.

The lecture is :mod:`.node`: the essay, the messages, the timers, the rules a bug can
break (:func:`grant_vote`, :func:`merge_entries`, :func:`commit_index`) and the node.
:mod:`.safety` holds the Raft paper's five safety properties as monitors and the
search's goals; :mod:`.story` tells a run (summary, narration, colours, marks, state
tables, :func:`replay_logs`); :mod:`.options` validates the protocol's options and
actions and performs them.
"""

from __future__ import annotations

from ..spec import Core, ProtocolSpec, SearchHints, Story
from .node import (
    BUGS,
    CANDIDATE,
    DEFAULT_OPTIONS,
    FOLLOWER,
    LEADER,
    MESSAGES,
    AppendEntries,
    AppendEntriesReply,
    ElectionTimeout,
    Entry,
    Forward,
    Heartbeat,
    MultiPaxosNode,
    RequestVote,
    RequestVoteReply,
    VoteWritten,
    back_up_to,
    changed_key,
    commit_index,
    conflict_hint,
    grant_vote,
    merge_entries,
    session_of,
    up_to_date,
)
from .notes import NOTES
from .options import ACTIONS, OPTION_VALIDATORS, current_leader, perform
from .reductions import ballot_of, ignored_for_good, same_effect_as
from .safety import (
    GOALS,
    MONITORS,
    ElectionSafety,
    LeaderAppendOnly,
    LeaderCompleteness,
    LogMatching,
    StateMachineSafety,
)
from .story import (
    COLORS,
    MARKS,
    SENTENCES,
    commands,
    describe_summary,
    replay_logs,
    state_changes,
    summarize,
)

SPEC = ProtocolSpec(
    name="multi-paxos",
    core=Core(  # the node, its messages and bugs, how scenarios drive it, safety, summary
        node_class=MultiPaxosNode,
        messages=MESSAGES,
        bugs=BUGS,
        option_validators=OPTION_VALIDATORS,
        actions=ACTIONS,
        perform=perform,
        monitors=MONITORS,
        summarize=summarize,
        summary_keys=frozenset({"leaders", "logs", "commit_index", "state", "applied", "commands",
                                "converged"}),
        reads={"current_term": "its current term", "role": "'follower', 'candidate' or 'leader'",
               "log": "its log: a tuple of (term, command, ...) entries, index 1 first",
               "commit_index": "the index up to which it knows the log is committed",
               "last_applied": "how many log entries it has applied",
               "machine": "its state machine (a KeyValueStore with sessions)"},
        notes=NOTES,
    ),
    story=Story(  # how a run is told and drawn
        describe=describe_summary,
        sentences=SENTENCES,
        colors=COLORS,
        marks=MARKS,
        state_changes=state_changes,
    ),
    search=SearchHints(  # its goals, and what it may skip (reductions.py argues each is sound)
        goals=GOALS,
        ballot_of=ballot_of,
        ignored_for_good=ignored_for_good,
        same_effect_as=same_effect_as,
        timing_only=frozenset({"election_delay"}),
    ),
)

__all__ = [
    "ACTIONS", "BUGS", "CANDIDATE", "COLORS", "DEFAULT_OPTIONS", "FOLLOWER", "GOALS", "LEADER",
    "MARKS", "MESSAGES", "MONITORS", "OPTION_VALIDATORS", "SENTENCES", "SPEC",
    "AppendEntries", "AppendEntriesReply", "ElectionSafety", "ElectionTimeout", "Entry", "Forward",
    "Heartbeat", "LeaderAppendOnly", "LeaderCompleteness", "LogMatching", "MultiPaxosNode", "RequestVote",
    "RequestVoteReply", "StateMachineSafety", "VoteWritten", "back_up_to", "changed_key", "commands",
    "commit_index", "conflict_hint", "current_leader", "describe_summary", "grant_vote",
    "merge_entries", "perform", "replay_logs", "session_of", "state_changes", "summarize", "up_to_date",
]
