"""Plots: the sequence diagram from a Result or from a bare Trace (Agg backend, set in conftest)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest
from matplotlib.patches import FancyArrowPatch

import paxoslab as pl
from paxoslab.plots import sequence_diagram
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
