"""The trace: events, tables, digest, JSON round trip, detail switch."""

from __future__ import annotations

import json
import re

import pytest

import paxoslab as pl
from paxoslab.trace import DETAIL_KINDS, Event, Trace

FRAME_COLUMNS = ["seq", "time", "kind", "node", "src", "dst", "msg_id", "msg_type", "payload"]
MESSAGE_COLUMNS = ["msg_id", "src", "dst", "msg_type", "sent_at", "delivered_at", "dropped",
                   "payload"]


@pytest.fixture(scope="module")
def case1(scenario):
    return pl.run_scenario(scenario("basic-paxos-case-1"))


@pytest.fixture(scope="module")
def noisy():
    """A run with random delays, loss, duplicates and a crash."""
    return pl.run_scenario({
        "name": "noisy", "protocol": "basic-paxos", "nodes": ["S1", "S2", "S3"],
        "network": {"delay": {"uniform": [0.5, 3]}, "drop": 0.2, "duplicate": 0.3},
        "events": [{"at": 0, "propose": {"node": "S1", "value": "X"}},
                   {"at": 1, "propose": {"node": "S3", "value": "Y"}},
                   {"at": 2, "crash": "S2"}, {"at": 6, "recover": "S2"}],
        "until": 80,
    }, seed=3)


def test_add_appends_numbered_events():
    t = Trace()
    t.add(1.0, "crash", node="S1")
    t.add(2.0, "send", src="S1", dst="S2", msg_id=0, msg_type="Prepare", payload={"b": 1})
    assert len(t) == 2
    assert [e.seq for e in t] == [0, 1]
    assert t.events[1] == Event(1, 2.0, "send", None, "S1", "S2", 0, "Prepare", {"b": 1})
    assert [e.kind for e in t.of_kind("crash")] == ["crash"]
    assert t.of_kind("nothing") == []


def test_events_are_immutable():
    t = Trace()
    t.add(0, "crash", node="S1")
    with pytest.raises(AttributeError):
        t.events[0].node = "S2"


def test_to_frame_has_one_row_per_event_and_the_columns(case1):
    frame = case1.trace.to_frame()
    assert list(frame.columns)[: len(FRAME_COLUMNS)] == FRAME_COLUMNS
    assert len(frame) == len(case1.trace)
    assert frame["seq"].tolist() == list(range(len(case1.trace)))
    assert set(frame["kind"]) >= {"send", "deliver", "drop", "promised", "accepted", "learned"}


def test_to_frame_of_an_empty_trace_still_has_columns():
    frame = Trace().to_frame()
    assert len(frame) == 0
    assert set(FRAME_COLUMNS) <= set(frame.columns)


def test_messages_has_one_row_per_message(case1):
    table = case1.trace.messages()
    summary = case1.summary()["messages"]
    assert list(table.columns)[: len(MESSAGE_COLUMNS)] == MESSAGE_COLUMNS
    assert len(table) == summary["sent"]
    assert table["msg_id"].is_unique
    assert int(table["dropped"].sum()) == summary["dropped"]
    assert table["msg_type"].value_counts().to_dict() == summary["by_type"]


def test_messages_rows_carry_times_and_payload(case1):
    table = case1.trace.messages()
    delivered = table[~table["dropped"]]
    assert (delivered["delivered_at"] >= delivered["sent_at"]).all()
    assert table[table["dropped"]]["delivered_at"].isna().all()
    first = table.iloc[0]
    assert (first["src"], first["msg_type"], first["sent_at"]) == ("S1", "Prepare", 0.0)
    assert first["payload"]["label"] == "P3.1"


def test_messages_count_duplicates_as_their_own_rows(noisy):
    trace = noisy.trace
    table = trace.messages()
    copies = len(trace.of_kind("duplicate"))
    assert copies > 0
    assert len(table) == noisy.summary()["messages"]["sent"]  # copies count as sent
    assert table["msg_id"].is_unique
    assert int(table["dropped"].sum()) == noisy.summary()["messages"]["dropped"]


def test_message_dropped_at_a_crashed_node_is_marked_dropped(noisy):
    crashed = [e for e in noisy.trace.of_kind("drop") if e.payload["reason"] == "crashed"]
    assert crashed
    table = noisy.trace.messages().set_index("msg_id")
    for e in crashed:
        assert bool(table.loc[e.msg_id, "dropped"])


def test_digest_is_a_sha256_hex_string(case1):
    assert re.fullmatch(r"[0-9a-f]{64}", case1.trace.digest())
    assert case1.summary()["digest"] == case1.trace.digest()


def test_digest_changes_with_any_event():
    a, b = Trace(), Trace()
    for t in (a, b):
        t.add(0, "crash", node="S1")
    assert a.digest() == b.digest()
    b.add(1, "recover", node="S1")
    assert a.digest() != b.digest()
    c = Trace()
    c.add(0, "crash", node="S2")
    assert a.digest() != c.digest()


def test_json_round_trip_gives_an_equal_trace(case1, noisy):
    for trace in (case1.trace, noisy.trace):
        text = trace.to_json()
        json.loads(text)
        back = Trace.from_json(text)
        assert back == trace
        assert back.events == trace.events
        assert back.digest() == trace.digest()
        assert back.detailed == trace.detailed


def test_json_round_trip_keeps_the_detail_flag():
    t = Trace(detailed=False)
    t.add(0, "learned", node="S1", payload={"value": "X"})
    back = Trace.from_json(t.to_json())
    assert back.detailed is False and back == t


def test_to_records_is_plain_json(case1):
    records = case1.trace.to_records()
    assert json.loads(json.dumps(records)) == records
    assert set(records[0]) == set(FRAME_COLUMNS)


def test_undetailed_trace_skips_message_and_timer_events():
    t = Trace(detailed=False)
    for kind in sorted(DETAIL_KINDS):
        t.add(0, kind, node="S1")
    t.add(0, "promised", node="S1", payload={"ballot": "1.1"})
    t.add(0, "crash", node="S1")
    assert [e.kind for e in t] == ["promised", "crash"]
    assert [e.seq for e in t] == [0, 1]


def test_detail_kinds_cover_messages_and_timers():
    assert {"send", "deliver", "drop", "duplicate", "timer_set", "timer_fire"} <= DETAIL_KINDS


def test_undetailed_run_keeps_protocol_notes(scenario):
    data = scenario("basic-paxos-crash-recover")
    full = pl.run_scenario(data).trace
    lean = pl.run_scenario(data, detailed=False).trace
    kinds = {e.kind for e in lean}
    assert not kinds & DETAIL_KINDS
    assert {"propose", "ballot", "promised", "accepted", "learned", "crash", "recover"} <= kinds
    notes = [(e.time, e.kind, e.node, e.payload) for e in full if e.kind not in DETAIL_KINDS]
    assert [(e.time, e.kind, e.node, e.payload) for e in lean] == notes
    assert lean.messages().empty
