"""Plots: the sequence diagram from a Result or from a bare Trace (Agg backend, set in conftest)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest
from matplotlib.patches import FancyArrowPatch

import paxoslab as pl
from paxoslab.plots import LABEL_OF, obstructed_labels, overlapping_labels, sequence_diagram
from paxoslab.trace import Trace

pytestmark = pytest.mark.usefixtures("close_figures")


def arrows(ax) -> list[FancyArrowPatch]:
    """One patch per message, tagged with its message id."""
    return [p for p in ax.patches if isinstance(p, FancyArrowPatch)
            and (p.get_gid() or "").startswith("message-")]


def texts(ax) -> list[str]:
    return [t.get_text() for t in ax.texts]


def x_marks(ax) -> int:
    return sum(len(line.get_xdata()) for line in ax.lines if line.get_marker() == "x")


@pytest.fixture(scope="module")
def case1(scenario):
    return pl.run_scenario(scenario("basic-paxos-case-1"))


def test_one_arrow_per_message(case1):
    ax = sequence_diagram(case1)
    assert len(arrows(ax)) == len(case1.trace.message_rows()) == case1.summary()["messages"][
        "sent"]


def test_one_lane_per_node_in_scenario_order(case1):
    ax = sequence_diagram(case1)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["S1", "S2", "S3", "S4", "S5"]
    assert ax.get_title(loc="left") == "basic-paxos-case-1"
    assert ax.get_xlabel() == "simulated time (ms)"


def test_labels_read_like_the_course(case1):
    labels = texts(ax := sequence_diagram(case1))
    assert "P3.1" in labels and "P4.5" in labels
    assert "A3.1 X" in labels and "A4.5 X" in labels
    assert any(label.startswith("Promise 4.5 (3.1,X)") for label in labels)
    assert "learned X" in labels
    assert ax.get_legend() is not None


def test_dropped_messages_are_marked(case1):
    ax = sequence_diagram(case1)
    assert x_marks(ax) == case1.summary()["messages"]["dropped"] > 0


def test_works_from_a_trace_alone(case1):
    trace = Trace.from_json(case1.trace.to_json())
    ax = sequence_diagram(trace)
    assert len(arrows(ax)) == case1.summary()["messages"]["sent"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["S1", "S2", "S3", "S4", "S5"]
    assert "P3.1" in texts(ax)


def test_draws_into_the_given_axes(case1):
    fig, (left, right) = plt.subplots(1, 2)
    ax = sequence_diagram(case1, ax=right, title="mine")
    assert ax is right
    assert len(arrows(right)) > 0 and arrows(left) == []
    assert right.get_title(loc="left") == "mine"


def test_until_shows_only_messages_sent_by_then(case1):
    rows = case1.trace.message_rows()
    ax = sequence_diagram(case1, until=3)
    assert len(arrows(ax)) == sum(1 for m in rows if m["sent_at"] <= 3) < len(rows)


def test_crash_and_recovery_are_shown(scenario):
    result = pl.run_scenario(scenario("basic-paxos-crash-recover"))
    ax = sequence_diagram(result)
    assert "down" in texts(ax)
    assert len(arrows(ax)) == result.summary()["messages"]["sent"]


def test_duplicates_and_in_flight_messages_get_arrows_too(tiny):
    result = pl.run_scenario(tiny(network={"delay": {"uniform": [1, 6]}, "duplicate": 0.5},
                                  until=8), seed=1)
    rows = result.trace.message_rows()
    assert any(m["delivered_at"] is None and not m["dropped"] for m in rows)
    assert len(arrows(sequence_diagram(result))) == len(rows)


def test_smr_diagram_marks_applied_commands(scenario):
    result = pl.run_scenario(scenario("smr-deterministic"))
    labels = texts(sequence_diagram(result))
    assert "#1 set x 1" in labels
    assert labels.count("set z 5") == 3


def test_partition_is_shaded(tiny):
    data = tiny(events=[{"at": 0, "partition": [["S1"], ["S2", "S3"]]},
                        {"at": 0, "propose": {"node": "S1", "value": "X"}},
                        {"at": 30, "heal": True}], until=60)
    ax = sequence_diagram(pl.run_scenario(data))
    assert ax.patches or ax.collections


def test_empty_trace_draws_an_empty_diagram():
    ax = sequence_diagram(Trace())
    assert arrows(ax) == []


def test_figure_saves_as_png(case1, tmp_path):
    ax = sequence_diagram(case1)
    path = tmp_path / "d.png"
    ax.figure.savefig(path)
    assert path.read_bytes()[:4] == b"\x89PNG"


# ---- readability of the lesson figures --------------------------------------------------------
def broken(scenario, name, bug):
    data = scenario(name)
    data["options"]["bugs"] = [bug]
    data.pop("expect", None)
    return data


#: every sequence diagram the lessons draw (00-02), the bug runs of lesson 02 included
LESSON_RUNS = [
    ("smr-deterministic", None), ("smr-nondeterministic", None), ("smr-resolved-at-sequencer", None),
    ("basic-paxos-case-1", None), ("basic-paxos-case-2", None), ("basic-paxos-case-3", None),
    ("basic-paxos-proposer-crash", None), ("basic-paxos-crash-recover", None),
    ("basic-paxos-case-1", "proposer-ignores-accepted"), ("basic-paxos-case-1", "promise-omits-accepted"),
    ("basic-paxos-case-3", "accept-below-promise"),
    ("basic-paxos-crash-recover", "acceptor-forgets-on-crash"),
]


@pytest.fixture(params=LESSON_RUNS, ids=lambda p: p[0] + (f"+{p[1]}" if p[1] else ""))
def lesson_diagram(request, scenario):
    name, bug = request.param
    data = broken(scenario, name, bug) if bug else scenario(name)
    result = pl.run_scenario(data)
    return result, sequence_diagram(result)


def three_steps(scenario):
    """Lesson 04's append / acknowledge / commit run (04 cell 23)."""
    return {"name": "multi-paxos-three-steps", "protocol": "multi-paxos",
            "nodes": ["S1", "S2", "S3", "S4", "S5"], "network": {"delay": {"fixed": 5}},
            "options": {"election_timeout": [150, 300], "heartbeat": 50},
            "events": [{"at": 0, "timeout": "S1"}, {"at": 30, "submit": {"command": "set x 1"}}],
            "until": 58}


#: the other sequence diagrams of the lessons (03-05, windows of 02) and the replayed partition
#: run (05's player): (id, scenario, options of sequence_diagram)
MORE_DIAGRAMS = [
    ("02-case-3-first-9.5ms", "basic-paxos-case-3", {"until": 9.5, "xlim": (-0.3, 9.8)}),
    ("02-case-3-retry", "basic-paxos-case-3", {"xlim": (16.8, 28.4)}),
    ("03-duel-window", "basic-paxos-livelock", {"xlim": (-0.3, 15.5)}),
    ("03-duel-backoff", "basic-paxos-duel-backoff", {}),
    ("04-basic-paxos-instance", lambda scenario: pl.experiments.basic_paxos_instance(), {}),
    ("04-three-steps", three_steps, {}),
    ("05-backup-window", "multi-paxos-backup", {"xlim": (418, 458)}),
    ("05-partition", "multi-paxos-partition", {}),
]


@pytest.fixture(params=LESSON_RUNS + MORE_DIAGRAMS,
                ids=lambda p: p[0] + (f"+{p[1]}" if isinstance(p[1], str) and len(p) == 2 else ""))
def any_diagram(request, scenario):
    if len(request.param) == 2:
        name, bug = request.param
        result = pl.run_scenario(broken(scenario, name, bug) if bug else scenario(name))
        return result, sequence_diagram(result)
    _, source, options = request.param
    result = pl.run_scenario(scenario(source) if isinstance(source, str) else source(scenario))
    return result, sequence_diagram(result, **options)


def test_no_two_labels_overlap(any_diagram):
    """Nor stand so close that two read as one ("set token 989 set x 3", 01 cell 22), in every
    lesson's diagrams, the Multi-Paxos ones' marks ("F0", "C1", "cut #3"...) included."""
    _, ax = any_diagram
    assert overlapping_labels(ax) == []


def test_no_label_is_crossed_by_a_chosen_line_or_lies_on_a_mark(any_diagram):
    """02 cells 11, 19, 51, 53: the dashed "chosen" line ran through "Accepted 3.1",
    "Accepted 4.5" and "Y chosen (4.5)"; 01 cell 22: "#2 set token $random" ran over the
    square of S1 applying #3."""
    _, ax = any_diagram
    assert obstructed_labels(ax) == []


def test_labels_are_drawn_over_the_arrows_on_a_white_ground(any_diagram):
    """An arrow drawn after a label used to run through it ("Promise 3.1 (-)", "set x 3"):
    every label lies above every arrow and mark, on a white ground under the whole label."""
    _, ax = any_diagram
    drawn = [a.get_zorder() for a in ax.patches if (a.get_gid() or "").startswith("message-")]
    drawn += [line.get_zorder() for line in ax.lines if line.get_gid() != "lane"]
    labels = [t for t in ax.texts if t.get_text().strip()]
    (ground,) = [c for c in ax.collections if c.get_gid() == "ground"]
    assert labels and max(drawn) < ground.get_zorder() < min(t.get_zorder() for t in labels)
    assert tuple(ground.get_facecolor()[0][:3]) == (1.0, 1.0, 1.0) and ground.get_alpha() >= 0.8
    ax.figure.canvas.draw()
    renderer = ax.figure.canvas.get_renderer()
    under = [path.get_extents(ground.get_transform()) for path in ground.get_paths()]
    offsets = ground.get_offset_transform().transform(ground.get_offsets())
    boxes = [box.translated(*offset) for box, offset in zip(under, offsets, strict=True)]
    for text in labels:
        box = text.get_window_extent(renderer)
        assert any(g.x0 <= box.x0 and box.x1 <= g.x1 and g.y0 <= box.y0 and box.y1 <= g.y1
                   for g in boxes), text.get_text()


def test_the_legend_and_the_note_stay_inside_the_figure(any_diagram):
    """Multi-Paxos' "leader takes a client command" ran 10 px past the figure's right edge: cut
    off in the replay player and in any picture saved without a tight bounding box."""
    _, ax = any_diagram
    figure = ax.figure
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    for artist in (ax.get_legend(), ax.title, *[t for t in ax.get_children()
                                                  if t.get_gid() == pl.plots.NOTE]):
        box = artist.get_window_extent(renderer)
        assert 0 <= box.x0 and box.x1 <= figure.bbox.width and box.y1 <= figure.bbox.height


def test_the_detector_finds_a_label_crossed_by_a_line_or_on_a_mark():
    fig, ax = plt.subplots()
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 10)
    ax.axvline(3)
    ax.plot([7.2], [5.1], marker="s", markersize=10, ls="none")
    ax.text(2.5, 8, "crossed")
    ax.text(7, 5, "on a mark")
    ax.text(5, 2, "free")
    assert obstructed_labels(ax) == [("crossed", "line at t=3"), ("on a mark", "mark at t=7.2")]


def test_labels_stay_inside_the_plot(lesson_diagram):
    _, ax = lesson_diagram
    ax.figure.canvas.draw()
    renderer = ax.figure.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    for text in ax.texts:
        box = text.get_window_extent(renderer)
        assert frame.x0 - 1 <= box.x0 and box.x1 <= frame.x1 + 1, text.get_text()
        assert frame.y0 - 1 <= box.y0 and box.y1 <= frame.y1 + 1, text.get_text()


def test_fonts_are_at_least_9_points(lesson_diagram):
    _, ax = lesson_diagram
    sizes = [t.get_fontsize() for t in ax.texts] + [t.get_fontsize() for t in ax.get_legend().get_texts()]
    sizes += [t.get_fontsize() for t in ax.get_xticklabels() + ax.get_yticklabels()]
    assert min(sizes) >= 9


def test_each_message_label_sits_near_its_sender_or_receiver(lesson_diagram):
    """Never on a third node's lane: the lane nearest to the label is its sender's or receiver's."""
    result, ax = lesson_diagram
    lane = {n: i for i, n in enumerate(result.nodes)}
    rows = result.trace.message_rows()
    labels = {(m["payload"] or {}).get("label") for m in rows}
    for text in ax.texts:
        if text.get_text() not in labels:
            continue
        y = text.xy[1]
        candidates = [m for m in rows if (m["payload"] or {}).get("label") == text.get_text()]
        nearest = min(range(len(lane)), key=lambda i: abs(y - i))
        assert any(nearest in (lane[m["src"]], lane[m["dst"]]) for m in candidates), (text.get_text(), y)


def test_legend_explains_every_mark_and_only_what_occurs(lesson_diagram):
    """A legend entry for what the figure never shows (a Reject in case 1) sends the reader
    looking for it: the legend lists exactly the message types and marks drawn."""
    result, ax = lesson_diagram
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    rows = result.trace.message_rows()
    types = {m["msg_type"] for m in rows}
    assert [t for t in legend if t[:1].isupper()] == [t for t in pl.protocols.merged(
        "colors", result.protocol) if t in types]
    assert ("message lost" in legend) == any(m["dropped"] for m in rows)
    assert ("node down (crashed)" in legend) == any(e.kind == "crash" for e in result.trace.events)
    if result.protocol == "basic-paxos":
        marks = pl.protocols.merged("marks", result.protocol)
        chosen = pl.protocols.merged("moment_legend", result.protocol)["chosen"]
        assert {marks["accepted"].legend, marks["learned"].legend, chosen} <= set(legend)


def test_case_1_legend_has_no_reject_and_no_ask(case1):
    legend = [t.get_text() for t in sequence_diagram(case1).get_legend().get_texts()]
    assert "Reject" not in legend and "Ask" not in legend
    assert legend[:5] == ["Prepare", "Promise", "Accept", "Accepted", "Learn"]


def test_a_broadcast_label_starts_at_its_send(scenario):
    """SMR's Append labels sat over the wrong squares (#2 above t=0); case 1's Learn X was
    drawn left of its send, before the chosen line."""
    for name, label, sent in [("smr-deterministic", "#2 set y 2", 2.0),
                              ("smr-deterministic", "#1 set x 1", 0.0),
                              ("basic-paxos-case-1", "Learn X", 4.0)]:
        ax = sequence_diagram(pl.run_scenario(scenario(name)))
        ax.figure.canvas.draw()
        renderer = ax.figure.canvas.get_renderer()
        text = next(t for t in ax.texts if t.get_text() == label)
        left = ax.transData.inverted().transform(text.get_window_extent(renderer).p0)[0]
        assert sent <= left < sent + 0.5, (name, label, left)
        plt.close(ax.figure)


def test_labels_a_hair_apart_on_one_line_count_as_overlapping():
    """"set token 873set x 3" (01 cell 20): two words 3.6 px apart read as one."""
    fig, ax = plt.subplots()
    a = ax.text(0.1, 0.5, "set token 873")
    fig.canvas.draw()
    box = a.get_window_extent(fig.canvas.get_renderer())
    x = ax.transAxes.inverted().transform((box.x1 + 3, box.y0))[0]
    ax.text(x, 0.5, "set x 3")
    ax.text(0.1, 0.5 + 1.2 * box.height / ax.bbox.height, "a line above")  # stacked: fine
    assert overlapping_labels(ax) == [("set token 873", "set x 3")]


def test_the_chosen_moment_is_marked(scenario):
    result = pl.run_scenario(scenario("basic-paxos-case-2"))
    ax = sequence_diagram(result)
    assert "X chosen (4.5)" in texts(ax)
    assert any(list(line.get_xdata()) == [6.0, 6.0] for line in ax.lines)


def test_a_lost_message_ends_on_its_own_path_short_of_its_destination(case1):
    ax = sequence_diagram(case1)
    lane = {n: i for i, n in enumerate(case1.nodes)}
    lost = [m for m in case1.trace.message_rows() if m["dropped"]]
    crosses = [(x, y) for line in ax.lines if line.get_marker() == "x"
               for x, y in zip(line.get_xdata(), line.get_ydata(), strict=True)]
    for m, (x, y) in zip(lost, crosses, strict=True):
        src, dst = lane[m["src"]], lane[m["dst"]]
        assert min(src, dst) < y < max(src, dst)
        assert abs(y - dst) <= 0.5 and abs(y - dst) < abs(y - src)  # nearer its destination
        assert x > m["sent_at"]


def test_the_frame_and_legend_can_be_fixed_across_runs(scenario):
    a = sequence_diagram(pl.run_scenario(scenario("basic-paxos-case-1")), xlim=(0, 30))
    b = sequence_diagram(pl.run_scenario(scenario("basic-paxos-case-3")), xlim=(0, 30))
    assert a.get_xlim() == b.get_xlim() == (0, 30)
    assert a.get_position().bounds == b.get_position().bounds  # the legend sits outside


def test_overlap_detector_finds_overlapping_labels():
    fig, ax = plt.subplots()
    ax.text(0.5, 0.5, "one label")
    ax.text(0.5, 0.5, "another")
    assert overlapping_labels(ax) == [("one label", "another")]


# ---- Multi-Paxos plots, from a hand-built trace with interface 4's notes -------------

def partition_story() -> Trace:
    """The source text's partition story as the notes a Multi-Paxos run leaves."""
    t = Trace()
    nodes = ["S1", "S2", "S3", "S4", "S5"]
    for n in nodes:
        t.add(0, "role", node=n, payload={"role": "follower", "term": 0})
    t.add(10, "role", node="S1", payload={"role": "candidate", "term": 1})
    for n in nodes[1:]:
        t.add(12, "role", node=n, payload={"role": "follower", "term": 1})
    t.add(14, "role", node="S1", payload={"role": "leader", "term": 1})
    t.add(20, "appended", node="S1", payload={"index": 1, "term": 1, "command": "set x 1"})
    for n in nodes[1:]:
        t.add(24, "appended", node=n, payload={"index": 1, "term": 1, "command": "set x 1"})
    t.add(28, "committed", node="S1", payload={"index": 1})
    for n in nodes[1:]:
        t.add(34, "committed", node=n, payload={"index": 1})
    t.add(40, "partition", payload={"groups": [["S1", "S2"], ["S3", "S4", "S5"]]})
    t.add(50, "appended", node="S1", payload={"index": 2, "term": 1, "command": "set x 2"})
    t.add(54, "appended", node="S2", payload={"index": 2, "term": 1, "command": "set x 2"})
    t.add(100, "role", node="S3", payload={"role": "candidate", "term": 2})
    t.add(104, "role", node="S4", payload={"role": "follower", "term": 2})
    t.add(104, "role", node="S5", payload={"role": "follower", "term": 2})
    t.add(108, "role", node="S3", payload={"role": "leader", "term": 2})
    t.add(120, "appended", node="S3", payload={"index": 2, "term": 2, "command": "set y 7"})
    for n in ("S4", "S5"):
        t.add(124, "appended", node=n, payload={"index": 2, "term": 2, "command": "set y 7"})
    t.add(128, "committed", node="S3", payload={"index": 2})
    t.add(130, "crash", node="S5")
    t.add(150, "heal")
    for n in ("S1", "S2"):
        t.add(154, "role", node=n, payload={"role": "follower", "term": 2})
        t.add(158, "truncated", node=n, payload={"index": 2})
        t.add(158, "appended", node=n, payload={"index": 2, "term": 2, "command": "set y 7"})
        t.add(162, "committed", node=n, payload={"index": 2})
    t.add(162, "committed", node="S4", payload={"index": 2})
    t.add(170, "recover", node="S5", payload={"current_term": 2, "voted_for": "S3",
                                              "log": [[1, "set x 1"], [2, "set y 7"]]})
    t.add(200, "appended", node="S3", payload={"index": 3, "term": 2, "command": "del x"})
    return t


@pytest.fixture(scope="module")
def story() -> Trace:
    return partition_story()


def cells(ax) -> dict[str, str]:
    """``{"S1-2": "committed" | "uncommitted"}`` for every log cell drawn: whether the entry is
    within (``committed``: taken as committed here) or beyond that server's commit index."""
    out = {}
    for p in ax.patches:
        gid = p.get_gid() or ""
        if gid.startswith("entry-"):
            _, node, index, status = gid.split("-")
            out[f"{node}-{index}"] = {"known": "committed", "beyond": "uncommitted"}[status]
    return out


def test_log_state_replays_appends_truncations_and_commits(story):
    at_60 = pl.plots.log_state(story, at=60)
    assert at_60["S1"]["log"] == [(1, "set x 1"), (1, "set x 2")]
    assert at_60["S1"]["commit_index"] == 1 and at_60["S1"]["role"] == "leader"
    assert at_60["S3"]["log"] == [(1, "set x 1")]
    end = pl.plots.log_state(story)
    assert all(end[n]["log"][:2] == [(1, "set x 1"), (2, "set y 7")] for n in end)
    assert end["S1"]["role"] == "follower" and end["S1"]["term"] == 2


def test_log_state_a_crash_keeps_the_log_and_recovery_restores_the_disk(story):
    down = pl.plots.log_state(story, at=140)["S5"]
    assert down["up"] is False and len(down["log"]) == 2
    back = pl.plots.log_state(story, at=180)["S5"]
    assert back["up"] and back["commit_index"] == 0 and back["term"] == 2


def test_log_grid_shows_uncommitted_entries_differently(story):
    ax = pl.plots.log_grid(story, at=130)
    drawn = cells(ax)
    assert drawn["S1-1"] == "committed" and drawn["S1-2"] == "uncommitted"
    assert drawn["S3-2"] == "committed" and drawn["S4-2"] == "uncommitted"
    labels = [t.get_text() for t in ax.texts]
    assert "t1\nset x 2" in labels and "t2\nset y 7" in labels
    rows = [t.get_text() for t in ax.get_yticklabels()]
    assert rows == ["S1 leader, term 1", "S2 follower, term 1", "S3 leader, term 2",
                    "S4 follower, term 2", "S5 (down)"]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["term 1", "term 2", pl.plots.KNOWN_COMMITTED, pl.plots.NOT_KNOWN_COMMITTED]


def test_log_grid_says_the_hatch_is_about_this_servers_commit_index():
    """Raft: an entry is committed once stored on a majority by its term's leader; the hatch
    only says this server does not take it as committed (issue 16, 04 cells 16-22).  Nor does
    a solid cell claim more than the commit index: with ``commit-old-term-by-count`` it
    covers an entry that is not committed (lesson 06's Figure 8), so it is not "known"."""
    solid = pl.plots.KNOWN_COMMITTED.replace("\n", " ")
    hatched = pl.plots.NOT_KNOWN_COMMITTED.replace("\n", " ")
    assert hatched.startswith("hatched: beyond this server's commit index (not taken as committed here")
    assert "within this server's commit index (taken as committed here)" in solid
    assert "known" not in solid + hatched
    assert "not committed" not in solid + hatched.replace("not taken as committed", "")
    doc = " ".join(pl.plots.log_grid.__doc__.split())
    assert "beyond that server's commit index" in doc and "majority" in doc


def test_log_grid_names_every_servers_role_and_term_even_before_its_first_term():
    """Lesson 06's Figure 8, panel (a): S3, which had heard of no term yet, was a bare "S3"
    beside "S1 leader, term 1" and "S5 follower, term 1"."""
    t = Trace()
    for n in ("S1", "S3", "S5"):
        t.add(0, "role", node=n, payload={"role": "follower", "term": 0})
    t.add(1, "role", node="S1", payload={"role": "candidate", "term": 1})
    ax = pl.plots.log_grid(t, at=1)
    assert [x.get_text() for x in ax.get_yticklabels()] == [
        "S1 candidate, term 1", "S3 follower, term 0", "S5 follower, term 0"]
    bare = Trace()
    bare.add(1, "appended", node="S1", payload={"index": 1, "term": 1, "command": "set x 1"})
    assert [x.get_text() for x in pl.plots.log_grid(bare).get_yticklabels()] == ["S1"]


def test_log_grid_at_the_end_after_the_rollback(story):
    drawn = cells(pl.plots.log_grid(story))
    assert drawn["S1-2"] == drawn["S2-2"] == "committed"
    assert drawn["S3-3"] == "uncommitted" and "S1-3" not in drawn


def test_log_grid_of_an_empty_trace():
    assert cells(pl.plots.log_grid(Trace())) == {}


def test_role_segments_cover_roles_terms_and_crashes(story):
    segs = [s for s in pl.plots.role_segments(story) if s["node"] == "S1"]
    assert [(s["role"], s["term"]) for s in segs] == [
        ("follower", 0), ("candidate", 1), ("leader", 1), ("follower", 2)]
    assert segs[2]["start"] == 14 and segs[2]["end"] == 154
    s5 = [(s["role"], s["start"], s["end"]) for s in pl.plots.role_segments(story)
          if s["node"] == "S5"]
    assert ("down", 130, 170) in s5 and s5[-1][0] == "follower"


def test_role_timeline_marks_leaders_partition_and_crash(story):
    ax = pl.plots.role_timeline(story)
    gids = [p.get_gid() for p in ax.patches]
    assert gids.count("role-leader") == 2 and gids.count("down") == 1
    texts_ = [t.get_text() for t in ax.texts]
    assert "{S1,S2} | {S3,S4,S5}" in texts_ and "t2" in texts_
    assert [t.get_text() for t in ax.get_yticklabels()] == ["S1", "S2", "S3", "S4", "S5"]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert {"leader", "candidate", "follower", "crash", "network partitioned"} <= set(legend)


def sliver_story() -> Trace:
    """04 cell 28's failover: S5 is a candidate in term 2 for 7 ms of a 1,750 ms run, then a
    follower in term 3; heartbeats go on to the end."""
    t = Trace()
    for n in ("S1", "S2"):
        t.add(5, "role", node=n, payload={"role": "follower", "term": 1})
    t.add(1050, "role", node="S2", payload={"role": "candidate", "term": 2})
    t.add(1057, "role", node="S2", payload={"role": "follower", "term": 3})
    t.add(1056, "role", node="S1", payload={"role": "candidate", "term": 3})
    t.add(1071, "role", node="S1", payload={"role": "leader", "term": 3})
    for k in range(1, 15):
        t.add(1071 + 50 * k, "appended", node="S1", payload={"index": k, "term": 3, "command": "x"})
    return t


def term_labels(ax) -> list[tuple[str, float]]:
    ax.figure.canvas.draw()
    return [(t.get_text(), round(t.xy[1])) for t in ax.texts if t.get_gid() == "term"]


def test_role_timeline_labels_every_term_even_a_sliver():
    ax = pl.plots.role_timeline(sliver_story())
    assert sorted(term_labels(ax)) == [("t1", 0), ("t1", 1), ("t2", 1), ("t3", 0), ("t3", 1)]
    assert overlapping_labels(ax) == []
    ax.set_xlim(1040, 1080)  # zoomed in afterwards: the labels are placed again, still apart
    assert overlapping_labels(ax) == []


def test_role_timeline_ends_shortly_after_the_last_change_not_at_the_last_heartbeat():
    trace = sliver_story()
    assert pl.plots.role_timeline_end(trace) == pytest.approx(1071 * 1.25)
    assert pl.plots.role_timeline(trace).get_xlim()[1] == pytest.approx(1071 * 1.25 * 1.01)
    assert pl.plots.role_timeline(trace, until=1500).get_xlim()[1] == pytest.approx(1500 * 1.01)


def test_role_timeline_title_names_a_term_that_occurs(scenario):
    election = {"name": "election", "protocol": "multi-paxos", "nodes": ["S1", "S2", "S3"],
                "network": {"delay": {"fixed": 5}},
                "options": {"election_timeout": [150, 300], "heartbeat": 50}, "events": [],
                "until": 400}
    result = pl.run_scenario(election)
    top = max(s["term"] for s in pl.plots.role_segments(result))
    ax = pl.plots.role_timeline(result)
    assert ax.get_title(loc="left") == f"election: roles and terms (t{top} = term {top})"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "crash" not in legend and "network partitioned" not in legend  # none occurs


def test_cdf_one_line_per_group_and_unfinished_trials_stay_below_100():
    import numpy as np
    import pandas as pd

    frame = pd.DataFrame({"range": ["a"] * 4 + ["b"] * 2,
                          "downtime_ms": [10, 20, 30, 40, 5, np.nan]})
    ax = pl.plots.cdf(frame, "downtime_ms", by="range")
    lines = [line for line in ax.get_lines() if len(line.get_xdata())]
    assert len(lines) == 2
    assert lines[0].get_ydata()[-1] == 100 and lines[1].get_ydata()[-1] == 50
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a (n=4)", "b (n=2)"]
    assert ax.get_ylabel() == "cumulative % of trials"


# ---- long runs (issue 19): near-linear label placement, every k-th message labelled -----------
@pytest.fixture(scope="module")
def long_run(scenario):
    """Multi-Paxos heartbeats for 20 s: about 3,200 messages."""
    data = scenario("multi-paxos-leader-crash")
    data.pop("expect")
    data["until"] = 20_000
    return pl.run_scenario(data)


def message_labels(result, ax) -> list[str]:
    labels = {(m["payload"] or {}).get("label", m["msg_type"]) for m in result.trace.message_rows()}
    return [t for t in texts(ax) if t in labels]


def test_a_long_run_labels_every_kth_message_and_says_so(long_run):
    from paxoslab.plots import MAX_LABELS, label_every, ordinal

    ax = sequence_diagram(long_run)
    assert len(arrows(ax)) == len(long_run.trace.message_rows()) > 3000  # every message drawn
    shown = message_labels(long_run, ax)
    assert 100 < len(shown) <= MAX_LABELS
    every = label_every(len(long_run.trace.message_rows()))
    assert every > 1
    note = ax.get_title(loc="right")
    assert note.startswith("labels on every ") and note.endswith(" message where there is room")
    assert note.split()[3] in {ordinal(k) for k in range(2, every + 1)}
    # a message label that finds no room is left out: none overlaps another label
    labels = set(shown)
    assert not [pair for pair in overlapping_labels(ax) if labels & set(pair)]


def test_a_short_run_labels_every_message_and_says_nothing(case1):
    ax = sequence_diagram(case1)
    assert ax.get_title(loc="right") == ""
    assert len(message_labels(case1, ax)) >= 10


def test_a_crowded_run_leaves_out_labels_rather_than_piling_them_up(scenario):
    """Multi-Paxos' partition (05, and its replay): "HB t1 c1HB t1 c2" overlapped along S1's
    lane and "Reject 13.5<14.1" was cut at the edge; now such a label is left out, and said so."""
    result = pl.run_scenario(scenario("multi-paxos-partition"))
    ax = sequence_diagram(result)
    assert overlapping_labels(ax) == []
    shown = message_labels(result, ax)
    note = ax.get_title(loc="right")
    assert note.endswith(" message labels left out: no room")
    left_out, total = int(note.split()[0]), int(note.split()[2])
    # about a third: labels now keep clear of the marks' symbols and 10 px from each other
    assert 0 < left_out < total * 0.4 and len(shown) == total - left_out
    renderer = ax.figure.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    for text in ax.texts:
        box = text.get_window_extent(renderer)
        assert frame.x0 - 1 <= box.x0 and box.x1 <= frame.x1 + 1, text.get_text()


def test_a_long_run_diagram_takes_seconds_not_minutes(long_run, tmp_path):
    """3,200 messages took minutes when each label was compared with every label placed."""
    import signal
    import time

    def too_slow(*_):
        raise AssertionError("sequence_diagram of 3,200 messages took more than 60 s")

    previous = signal.signal(signal.SIGALRM, too_slow)
    signal.alarm(60)
    try:
        start = time.perf_counter()
        sequence_diagram(long_run).figure.savefig(tmp_path / "long.png", dpi=110)
        seconds = time.perf_counter() - start
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert seconds < 60


def test_label_boxes_overlap_exactly_as_matplotlib_says():
    """The column index of placed labels answers as comparing with every box would."""
    import random

    from matplotlib.transforms import Bbox

    from paxoslab.plots import _Boxes

    rng = random.Random(19)
    placed, index = [], _Boxes()
    for _ in range(400):
        x, y = rng.uniform(-100, 1000), rng.uniform(0, 300)
        box = (x, y, x + rng.choice([0.0, 5.0, 64.0, 130.0]), y + rng.uniform(0, 15))
        if rng.random() < 0.2 and placed:  # touching an earlier box edge to edge
            other = rng.choice(placed)
            box = (other[2], other[1], other[2] + 10, other[3])
        expected = any(Bbox.from_extents(*box).overlaps(Bbox.from_extents(*p)) for p in placed)
        assert index.overlaps(box) == expected
        placed.append(box)
        index.add(box)


def test_a_window_of_the_time_axis_draws_counts_and_explains_only_what_it_shows():
    """``xlim`` narrows what is drawn: the legend, the marks and the labels left out are those of
    the window, not of the whole run (a review found 'chosen' and '68 of 107 labels left out' for
    things outside the frame)."""
    import matplotlib.pyplot as plt

    result = pl.run_scenario("data/scenarios/basic-paxos-case-1.json")
    whole = pl.plots.sequence_diagram(result)
    whole_legend = [t.get_text() for t in whole.get_legend().get_texts()]
    assert any(text.startswith("chosen") for text in whole_legend)
    late = pl.plots.sequence_diagram(result, xlim=(5, 12))  # after X was chosen at t=3
    late_legend = [t.get_text() for t in late.get_legend().get_texts()]
    assert not any(text.startswith("chosen") for text in late_legend)
    early = pl.plots.sequence_diagram(result, xlim=(0, 3.5))  # before anyone has learned (t=4)
    early_legend = [t.get_text() for t in early.get_legend().get_texts()]
    assert not any(text.startswith("learned") for text in early_legend)
    lanes = {round(x) for line in late.lines for x in line.get_xdata() if line.get_marker() == "*"}
    assert lanes and min(lanes) >= 5
    plt.close("all")


def test_no_message_label_reads_as_an_earlier_event(any_diagram):
    """A label wholly or mostly before its message's send reads as something that happened
    earlier (case 2's "Promise 4.5 (3.1,X)" drawn beside S3's acceptance of 3.1)."""
    _, ax = any_diagram
    ax.figure.canvas.draw()
    renderer = ax.figure.canvas.get_renderer()
    to_pixels = ax.transData.transform
    early = []
    for text in ax.texts:
        gid = text.get_gid() or ""
        if not gid.startswith(LABEL_OF) or not text.get_visible():
            continue
        sent = float(gid[len(LABEL_OF):])
        box = text.get_window_extent(renderer)
        if (box.x0 + box.x1) / 2 < to_pixels((sent, 0))[0] - 0.5:
            early.append((text.get_text(), sent))
    assert early == []


def test_a_replayed_schedule_is_drawn_against_its_steps_not_milliseconds():
    result = pl.search("data/scenarios/search-accept-below-promise.json", progress=False)
    replay = pl.run_scenario(result.counterexample.scenario)
    assert sequence_diagram(replay).get_xlabel() == "step of the schedule (one time unit each)"
    assert sequence_diagram(pl.run_scenario("data/scenarios/basic-paxos-case-1.json")).get_xlabel() == (
        "simulated time (ms)")


# ---- lesson 06: the Raft paper's Figure 8, as the search finds it ------------------------------
@pytest.fixture(scope="module")
def figure8():
    """The shortest counterexample of ``multi-paxos-figure-8`` (lesson 06, section 4), a few
    seconds of breadth-first search."""
    return pl.search("data/scenarios/multi-paxos-figure-8.json", max_ballots=3,
                     progress=False).counterexample


def figure8_diagram(figure8):
    """Lesson 06 cell 70: the whole counterexample, messages in flight at its last step shaded."""
    _, ax = plt.subplots(figsize=(16, 4.4))
    return sequence_diagram(figure8, ax=ax, until=len(figure8.scenario["schedule"]))


def test_figure_8_labels_neither_overlap_nor_lie_on_a_mark(figure8):
    ax = figure8_diagram(figure8)
    assert overlapping_labels(ax) == [] and obstructed_labels(ax) == []
    assert ax.get_title(loc="right") == ""  # every message label found room


def test_a_down_label_keeps_off_the_messages_passing_by(figure8):
    """Lesson 06's review: S1's "down" lay on its own in-flight heartbeats (sent before the
    crash, they pass below its lane); "down" keeps clear of every arrow that does not start or
    end at the crash.  (A mark's words keep their place below the mark: moved off the arrows
    of a crowded run, 05's partition, they scattered and took each other's places.)"""
    from matplotlib.path import Path
    from matplotlib.transforms import Bbox

    ax = figure8_diagram(figure8)
    ax.figure.canvas.draw()
    renderer = ax.figure.canvas.get_renderer()
    to_data = ax.transData.inverted()
    rows = figure8.trace.message_rows()
    downs = [t for t in ax.texts if t.get_text() == "down"]
    assert len(downs) == 2  # S5 and S1 crash
    lane = {n: i for i, n in enumerate(figure8.nodes)}
    for text in downs:
        box = Bbox(to_data.transform(text.get_window_extent(renderer).get_points()))
        for m in rows:
            if text.xy[0] in (m["sent_at"], m["delivered_at"]) and round(text.xy[1]) in (
                    lane[m["src"]], lane[m["dst"]]):
                continue  # an arrow of the mark itself
            (arrow,) = [a for a in arrows(ax) if a.get_gid() == f"message-{m['msg_id']}"]
            body = arrow.get_path()  # the line from send to arrival, without its head
            line = Path(body.vertices[:3], body.codes[:3])
            assert not line.intersects_bbox(box, filled=False), (
                m["payload"].get("label"), text.xy)


def test_a_partition_band_has_its_legend_entry(figure8, tiny):
    legend = [t.get_text() for t in figure8_diagram(figure8).get_legend().get_texts()]
    assert legend[-1] == "network partitioned"
    data = tiny(events=[{"at": 0, "propose": {"node": "S1", "value": "X"}}], until=60)
    unsplit = [t.get_text() for t in sequence_diagram(pl.run_scenario(data)).get_legend().get_texts()]
    assert "network partitioned" not in unsplit


def test_two_labels_of_one_colour_on_one_line_stand_well_apart(figure8):
    """Lesson 06, 3.6: "AE t1 #1" and "AE t1 #1-2", 12 px apart on one line, read as one run of
    words; two labels of one colour side by side keep :data:`~paxoslab.plots.KIN_GAP` apart."""
    ax = figure8_diagram(figure8)
    colour = {t.get_text(): t.get_color() for t in ax.texts}
    assert len(colour) > 20
    close = overlapping_labels(ax, gap=pl.plots.KIN_GAP - 1)
    assert [(a, b) for a, b in close if colour[a] == colour[b] and a != b] == []
