"""Basic Paxos (Lamport, *Paxos Made Simple* §2): one value agreed among nodes that
may be slow, lose messages or crash.

Read :mod:`.node` first: it is the lecture (the essay, the ballots, messages and
timers, and ``PaxosNode`` with each rule a named method).  The other files each
have one job: :mod:`.safety` (what must never happen, and the search's goals),
:mod:`.story` (how a run is summarised and told), :mod:`.reductions` (what the
search may skip, with why that is sound) and :mod:`.options` (scenario options
and actions).  This file gathers them into ``SPEC``.
"""

from __future__ import annotations

from ..spec import Core, ProtocolSpec, SearchHints, Story
from .node import (
    BACKOFF_POLICIES,
    BUGS,
    DEFAULT_OPTIONS,
    LEARNED,
    MESSAGES,
    PHASE,
    Accept,
    Accepted,
    Ask,
    Backoff,
    Ballot,
    Learn,
    LearnTimeout,
    PaxosNode,
    PhaseTimeout,
    Prepare,
    Promise,
    Reject,
    choose_value,
    exponential_window,
)
from .notes import NOTES
from .options import ACTIONS, OPTION_VALIDATORS, action_node, perform
from .reductions import (
    ANONYMOUS,
    BALLOT_FIELDS,
    EAGER_RESENDS,
    ballot_of,
    ignored_for_good,
    may_start_ballot,
    same_effect_as,
)
from .safety import GOALS, Agreement, Validity, a_value_is_chosen
from .story import (
    COLORS,
    MARKS,
    MOMENT_LEGEND,
    SENTENCES,
    SUMMARY_KEYS,
    chosen_moments,
    describe_summary,
    liveness,
    moments,
    state_changes,
    summarize,
)

__all__ = [
    "ACTIONS", "ANONYMOUS", "BACKOFF_POLICIES", "BALLOT_FIELDS", "BUGS", "COLORS", "DEFAULT_OPTIONS",
    "GOALS", "MARKS", "MESSAGES", "MOMENT_LEGEND", "OPTION_VALIDATORS", "SENTENCES", "SPEC",
    "SUMMARY_KEYS", "Accept", "Accepted", "Agreement", "Ask", "Backoff", "Ballot", "Learn",
    "LearnTimeout", "PaxosNode", "PhaseTimeout", "Prepare", "Promise", "Reject", "Validity",
    "a_value_is_chosen", "action_node", "ballot_of", "choose_value", "chosen_moments",
    "describe_summary", "exponential_window", "ignored_for_good", "liveness", "may_start_ballot",
    "moments", "perform", "same_effect_as", "state_changes", "summarize",
]

SPEC = ProtocolSpec(
    name="basic-paxos",
    core=Core(  # the node, its messages and bugs, scenario options and actions, safety, summary
        node_class=PaxosNode,
        messages=MESSAGES,
        bugs=BUGS,
        option_validators=OPTION_VALIDATORS,
        actions=ACTIONS,
        perform=perform,
        monitors=(Agreement, Validity),
        summarize=summarize,
        summary_keys=SUMMARY_KEYS,
        reads={"learned": LEARNED, "value": "the value a client asked it to propose, or None",
               "phase": PHASE},
        notes=NOTES,
    ),
    story=Story(  # how a run is told and drawn
        describe=describe_summary,
        sentences=SENTENCES,
        colors=COLORS,
        marks=MARKS,
        state_changes=state_changes,
        moments=moments,
        moment_legend=MOMENT_LEGEND,
    ),
    search=SearchHints(  # its goals, and what it may skip (reductions.py argues each is sound)
        goals=GOALS,
        action_node=action_node,
        ballot_of=ballot_of,
        ignored_for_good=ignored_for_good,
        same_effect_as=same_effect_as,
        may_start_ballot=may_start_ballot,
        ballot_fields=BALLOT_FIELDS,
        anonymous=ANONYMOUS,
        eager_resends=EAGER_RESENDS,
        timing_only=frozenset({"backoff_delay"}),
    ),
)
