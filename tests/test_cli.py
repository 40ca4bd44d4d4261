"""The command line: ``python -m paxoslab run FILE [--seed N] [--json] [--plot OUT.png]``."""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import subprocess
import sys
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import paxoslab as pl
from paxoslab.__main__ import main
from paxoslab.sim import EventLimitReached, HandlerError, SimulationStalled

PAXOS_KEYS = {"scenario", "protocol", "seed", "end_time", "messages", "violations", "expect",
              "digest", "learned", "learned_at", "decided", "ballots", "decided_at",
              "ballots_per_node", "preemptions", "livelocked"}


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def write(tmp_path, data, name="scenario.json") -> str:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data, indent=2),
                    encoding="utf-8")
    return str(path)


# ---- good runs --------------------------------------------------------------------------
def test_text_output(capsys, scenarios_dir):
    code, out, err = run_cli(capsys, "run", scenarios_dir / "basic-paxos-case-1.json")
    assert code == 0
    assert out.splitlines()[0].startswith("basic-paxos-case-1  (basic-paxos, seed 0")
    assert "decided    X" in out
    assert "expect     ok" in out
    assert err == ""


def test_json_output_parses_and_has_the_keys(capsys, scenarios_dir):
    code, out, _ = run_cli(capsys, "run", scenarios_dir / "basic-paxos-case-3.json", "--json")
    assert code == 0
    summary = json.loads(out)
    assert set(summary) == PAXOS_KEYS
    assert summary["decided"] == "Y"


def test_seed_flag_overrides_the_scenario_seed(capsys, scenarios_dir):
    path = scenarios_dir / "smr-deterministic.json"
    _, out3, _ = run_cli(capsys, "run", path, "--json", "--seed", "3")
    _, out4, _ = run_cli(capsys, "run", path, "--json", "--seed", "4")
    s3, s4 = json.loads(out3), json.loads(out4)
    assert (s3["seed"], s4["seed"]) == (3, 4)
    assert s3["digest"] != s4["digest"]


def test_plot_writes_a_png(capsys, tmp_path, scenarios_dir, close_figures):
    out_png = tmp_path / "diagram.png"
    code, out, err = run_cli(capsys, "run", scenarios_dir / "basic-paxos-case-2.json",
                             "--plot", out_png)
    assert code == 0
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out_png.stat().st_size > 10_000
    assert "decided    X" in out
    assert str(out_png) in err


def test_plot_to_an_unwritable_place_is_a_bad_input(capsys, tmp_path, scenarios_dir,
                                                    close_figures):
    target = tmp_path / "no" / "such" / "dir" / "x.png"
    code, _, err = run_cli(capsys, "run", scenarios_dir / "basic-paxos-case-1.json",
                           "--plot", target)
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert "--plot" in err


def test_unmet_expect_exits_1(capsys, tmp_path, scenario):
    data = scenario("basic-paxos-case-1")
    data["expect"] = {"decided": "Y"}
    code, out, _ = run_cli(capsys, "run", write(tmp_path, data))
    assert code == 1
    assert "expect     FAILED" in out
    assert "decided: expected Y, got X" in out


def test_unmet_expect_exits_1_with_json_too(capsys, tmp_path, scenario):
    data = scenario("basic-paxos-case-1")
    data["options"]["bugs"] = ["promise-omits-accepted"]
    code, out, _ = run_cli(capsys, "run", write(tmp_path, data), "--json")
    assert code == 1
    summary = json.loads(out)
    assert summary["expect"]["ok"] is False
    assert {f["key"] for f in summary["expect"]["failed"]} == {"decided", "violations"}


# ---- bad input: exit 2, one line naming the file and the field ----------------------------------
GOOD = {
    "name": "cli-test", "protocol": "basic-paxos", "nodes": ["S1", "S2", "S3"],
    "network": {"delay": {"fixed": 1}, "rules": []},
    "options": {"bugs": []},
    "events": [{"at": 0, "propose": {"node": "S1", "value": "X"}}],
    "until": 50,
}


def variant(**changes):
    data = json.loads(json.dumps(GOOD))
    for dotted, value in changes.items():
        *path, last = dotted.split("__")
        target = data
        for step in path:
            target = target[step]
        if value is KeyError:
            del target[last]
        else:
            target[last] = value
    return data


BAD_INPUTS = [
    ("malformed-json", '{"name": "x", "protocol": "basic-paxos",,}', "malformed JSON"),
    ("truncated-json", json.dumps(GOOD)[:-5], "malformed JSON"),
    ("unknown-protocol", variant(protocol="raft-ish"), "protocol"),
    ("unknown-node-in-event", variant(events=[{"at": 1, "crash": "S9"}]), "events[0].crash"),
    ("unknown-node-in-propose", variant(events=[{"at": 1, "propose": {"node": "S7",
                                                                     "value": "X"}}]),
     "events[0].propose.node"),
    ("unknown-node-in-rule", variant(network__rules=[{"from": "S1", "to": "S6", "delay": 2}]),
     "network.rules[0].to"),
    ("negative-delay", variant(network__delay={"fixed": -2}), "network.delay.fixed"),
    ("negative-rule-delay", variant(network__rules=[{"from": "S1", "delay": {"fixed": -1}}]),
     "network.rules[0].delay.fixed"),
    ("non-numeric-delay", variant(network__delay={"fixed": "slow"}), "network.delay.fixed"),
    ("non-numeric-uniform", variant(network__delay={"uniform": ["a", 2]}),
     "network.delay.uniform[0]"),
    ("drop-above-one", variant(network__drop=1.2), "network.drop"),
    ("duplicate-negative", variant(network__duplicate=-0.5), "network.duplicate"),
    ("unknown-action", variant(events=[{"at": 0, "explode": "S1"}]), "events[0].explode"),
    ("unknown-bug", variant(options__bugs=["accept-everything"]), "options.bugs[0]"),
    ("missing-protocol", variant(protocol=KeyError), "protocol"),
    ("missing-nodes", variant(nodes=KeyError), "nodes"),
    ("missing-propose-value", variant(events=[{"at": 0, "propose": {"node": "S1"}}]),
     "events[0].propose.value"),
    ("wrong-type-nodes", variant(nodes="S1,S2,S3"), "nodes"),
    ("wrong-type-until", variant(until="forever"), "until"),
    ("wrong-type-events", variant(events={"at": 0}), "events"),
    ("wrong-type-seed", variant(seed="zero"), "seed"),
    ("top-level-array", "[1, 2, 3]", "must be a JSON object"),
    ("nan-value", json.dumps(GOOD).replace('"value": "X"', '"value": NaN'),
     "events[0].propose.value: NaN"),
    ("infinity-until", json.dumps(GOOD).replace('"until": 50', '"until": Infinity'),
     "until: Infinity"),
    ("minus-infinity-delay", json.dumps(GOOD).replace('"fixed": 1', '"fixed": -Infinity'),
     "network.delay.fixed: -Infinity"),
    ("long-integer", json.dumps(GOOD).replace('"until": 50', '"until": ' + "9" * 400),
     "until: an integer of 400 digits"),
    ("integer-past-python-limit", json.dumps(GOOD).replace('"until": 50', '"until": ' + "1" * 5000),
     "until: an integer of 5000 digits"),
    ("long-integer-seed", variant(seed=10 ** 40), "seed: an integer of 41 digits"),
    ("deep-nesting", json.dumps(GOOD).replace('"value": "X"', '"value": ' + "[" * 150 + "]" * 150),
     "nested deeper than 100"),
    ("deep-nesting-past-recursion", json.dumps(GOOD).replace(
        '"value": "X"', '"value": ' + "[" * 100_000 + "]" * 100_000), "nested deeper than 100"),
    ("float-seed", variant(seed=1.5), "seed"),
    ("lone-surrogate", json.dumps(GOOD).replace('"value": "X"', '"value": "set x \\ud800"'),
     "events[0].propose.value: holds a lone surrogate"),
    ("lone-surrogate-key", json.dumps(GOOD).replace('"until"', '"\\udc00"'), "holds a lone surrogate"),
]


@pytest.mark.parametrize(("content", "field"), [b[1:] for b in BAD_INPUTS],
                         ids=[b[0] for b in BAD_INPUTS])
def test_bad_file_exits_2_with_one_line_naming_file_and_field(capsys, tmp_path, content, field):
    path = write(tmp_path, content)
    before = (tmp_path / "scenario.json").read_bytes()
    code, out, err = run_cli(capsys, "run", path)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert path in lines[0]
    assert field in lines[0]
    assert out == ""
    assert (tmp_path / "scenario.json").read_bytes() == before


def test_malformed_json_names_line_and_column(capsys, tmp_path):
    path = write(tmp_path, '{\n  "name": "x",\n  "nodes": [S1]\n}')
    code, _, err = run_cli(capsys, "run", path)
    assert code == 2
    assert f"{path}: line 3 column" in err


def test_missing_file_exits_2(capsys, tmp_path):
    path = tmp_path / "nope.json"
    code, _, err = run_cli(capsys, "run", path)
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert str(path) in err


def test_non_utf8_file_exits_2(capsys, tmp_path):
    path = tmp_path / "latin1.json"
    path.write_bytes(b'{"name": "caf\xe9", "protocol": "basic-paxos", "nodes": ["S1"]}')
    code, _, err = run_cli(capsys, "run", path)
    assert code == 2
    assert len(err.strip().splitlines()) == 1


def test_protocol_of_the_wrong_type_exits_2(capsys, tmp_path):
    code, _, err = run_cli(capsys, "run", write(tmp_path, variant(protocol=["basic-paxos"])))
    assert code == 2
    assert "protocol" in err


def test_bad_inputs_cover_the_issue_list():
    ids = {b[0] for b in BAD_INPUTS}
    for needed in ("malformed-json", "unknown-protocol", "unknown-node-in-event",
                   "unknown-node-in-rule", "negative-delay", "non-numeric-delay",
                   "drop-above-one", "unknown-action", "unknown-bug", "missing-protocol",
                   "wrong-type-nodes"):
        assert needed in ids


# ---- as a real process ------------------------------------------------------------------------
def python_m(*args, cwd=None, timeout=60):
    env = {**os.environ, "MPLBACKEND": "Agg"}
    return subprocess.run([sys.executable, "-m", "paxoslab", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout)


def test_python_m_paxoslab_run(scenarios_dir):
    proc = python_m("run", scenarios_dir / "basic-paxos-case-1.json", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["decided"] == "X"


def test_python_m_paxoslab_bad_file(tmp_path):
    path = write(tmp_path, variant(network__drop=7))
    proc = python_m("run", path)
    assert proc.returncode == 2
    assert proc.stdout == ""
    (line,) = proc.stderr.strip().splitlines()
    assert path in line and "network.drop" in line


def test_run_whose_time_stands_still_exits_3_with_one_line(tmp_path):
    """Zero delays and zero back-off: dueling proposers at t=0 forever.  The run failed (the
    input is valid), so exit 3, not 2.  Run in a child process with a timeout so that a
    regression fails instead of hanging the suite."""
    path = write(tmp_path, variant(network__delay={"fixed": 0},
                                   options={"backoff": {"base": 0, "jitter": 0}},
                                   events=[{"at": 0, "propose": {"node": "S1", "value": "X"}},
                                           {"at": 0, "propose": {"node": "S3", "value": "Y"}}]))
    proc = python_m("run", path, timeout=60)
    assert proc.returncode == 3
    assert proc.stdout == ""
    (line,) = proc.stderr.strip().splitlines()
    assert path in line and "time stands still at t=0" in line


def test_a_handler_that_raises_exits_3_with_the_handler_error_as_one_line(
        capsys, tmp_path, monkeypatch):
    from paxoslab.protocols.basic_paxos import PaxosNode

    def broken(self, msg, src):
        raise ZeroDivisionError("on purpose\nsecond line")

    monkeypatch.setattr(PaxosNode, "on_promise", broken)
    path = write(tmp_path, GOOD)
    code, out, err = run_cli(capsys, "run", path)
    assert code == 3
    assert out == ""
    (line,) = err.strip().splitlines()
    assert line.startswith(f"paxoslab: run failed: {path}: S1 failed while handling Promise")
    assert "ZeroDivisionError: on purpose\\nsecond line" in line
    assert "Traceback" not in err


def test_a_violation_without_expect_exits_1(capsys, tmp_path, scenario):
    data = scenario("basic-paxos-case-1")
    data["options"]["bugs"] = ["promise-omits-accepted"]
    del data["expect"]
    code, out, _ = run_cli(capsys, "run", write(tmp_path, data), "--json")
    assert json.loads(out)["violations"]
    assert code == 1


def test_a_clean_run_without_expect_exits_0(capsys, tmp_path):
    code, out, _ = run_cli(capsys, "run", write(tmp_path, GOOD), "--json")
    assert json.loads(out)["violations"] == [] and code == 0


def test_a_reader_that_stops_early_gets_no_traceback(tmp_path, scenarios_dir):
    """``run ... | head``: the pipe closes before the summary is written."""
    env = {**os.environ, "MPLBACKEND": "Agg"}
    proc = subprocess.Popen([sys.executable, "-m", "paxoslab", "run", "--json",
                             str(scenarios_dir / "basic-paxos-case-1.json")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    proc.stdout.close()  # the reader is gone before the child writes anything
    err = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
    assert proc.returncode == 141


def test_the_readme_lists_every_exit_code():
    from pathlib import Path

    from paxoslab.__main__ import EXIT_CODES

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    for code in EXIT_CODES:
        assert f"| `{code}` |" in readme


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2
    with pytest.raises(SystemExit) as info:
        main(["run", "x.json", "--seed", "abc"])
    assert info.value.code == 2


# ---- sweep ------------------------------------------------------------------------------------
def test_sweep_prints_one_csv_row_per_run(capsys, scenarios_dir):
    import pandas as pd

    code, out, err = run_cli(capsys, "sweep", scenarios_dir / "basic-paxos-duel-backoff.json",
                             "--set", "options.backoff.jitter=0,10",
                             "--set", 'network.delay={"fixed": 1},{"uniform": [1, 3]}', "--seeds", 2)
    assert code == 0 and err == ""
    table = pd.read_csv(__import__("io").StringIO(out))
    assert len(table) == 2 * 2 * 2
    assert table["network.delay"].map(json.loads).tolist()[:2] == [{"fixed": 1}] * 2
    # jitter 0 with the lecture's timing: the duel never ends; jitter 10: it does
    assert table.groupby("options.backoff.jitter")["livelocked"].any().to_dict() == {0: True, 10: False}


def test_sweep_to_csv_with_workers_matches_the_library(capsys, tmp_path, scenarios_dir):
    import pandas as pd

    from paxoslab.experiments import sweep

    out_csv = tmp_path / "runs.csv"
    code, out, err = run_cli(capsys, "sweep", scenarios_dir / "basic-paxos-duel-backoff.json",
                             "--set", "options.backoff.jitter=1,4", "--seeds", 3, "--workers", 2,
                             "--csv", out_csv)
    assert code == 0 and out == "" and "6 runs written" in err
    expected = sweep(scenarios_dir / "basic-paxos-duel-backoff.json",
                     grid={"options.backoff.jitter": [1, 4]}, seeds=range(3), progress=False)
    assert pd.read_csv(out_csv)["decided_at"].round(9).equals(expected["decided_at"].round(9))


@pytest.mark.parametrize(("args", "field"), [
    (["--set", "options.backoff.policy=sometimes"], "options.backoff.policy"),
    (["--set", "events[9].at=1"], "events[9].at"),
    (["--set", "options.backoff.jitter"], "--set"),
    (["--set", "until=5", "--set", "until=6"], "--set"),
    (["--seeds", "0"], "--seeds"),
    (["--workers", "0"], "--workers"),
])
def test_sweep_bad_input_exits_2_with_one_line(capsys, scenarios_dir, args, field):
    path = scenarios_dir / "basic-paxos-duel-backoff.json"
    argv = ["sweep", path, *args] + ([] if "--seeds" in args else ["--seeds", "1"])
    code, out, err = run_cli(capsys, *argv)
    assert code == 2 and out == ""
    (line,) = err.strip().splitlines()
    assert str(path) in line and field in line


@pytest.mark.parametrize("workers", [100_000, 65, "many"])
def test_sweep_refuses_too_many_workers_before_starting_any(capsys, scenarios_dir, monkeypatch,
                                                            workers):
    """``--workers 100000`` used to fork 100,000 processes: refused with one line, exit 2."""
    import concurrent.futures

    from paxoslab.__main__ import max_workers

    def no_pool(*args, **kwargs):
        raise AssertionError("a process pool was started")

    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", no_pool)
    path = scenarios_dir / "basic-paxos-duel-backoff.json"
    if workers == "many":
        workers = max_workers() + 1
    code, out, err = run_cli(capsys, "sweep", path, "--seeds", 1, "--workers", workers)
    assert code == 2 and out == ""
    (line,) = err.strip().splitlines()
    assert str(path) in line and "--workers" in line and f"at most 64), got {workers}" in line


def test_sweep_of_a_bad_file_exits_2(capsys, tmp_path):
    path = write(tmp_path, variant(network__drop=7))
    code, _, err = run_cli(capsys, "sweep", path, "--seeds", 2)
    assert code == 2
    (line,) = err.strip().splitlines()
    assert path in line and "network.drop" in line


def late_promise_fails(monkeypatch):
    """PaxosNode raises on a Promise after t=3 (delay 2: it arrives at t=4; delay 1: t=2)."""
    from paxoslab.protocols.basic_paxos import PaxosNode

    original = PaxosNode.on_promise

    def on_promise(self, msg, src):
        if self.now > 3:
            raise ZeroDivisionError("late promise")
        return original(self, msg, src)

    monkeypatch.setattr(PaxosNode, "on_promise", on_promise)


def test_sweep_a_failing_run_is_a_row_with_its_error_and_exit_3(capsys, tmp_path, monkeypatch):
    import pandas as pd

    late_promise_fails(monkeypatch)
    out_csv = tmp_path / "runs.csv"
    code, out, err = run_cli(capsys, "sweep", write(tmp_path, GOOD),
                             "--set", 'network.delay={"fixed": 1},{"fixed": 2},{"fixed": 1}',
                             "--seeds", 2, "--csv", out_csv)
    assert code == 3 and out == ""
    (line,) = err.strip().splitlines()
    assert "6 runs written" in line and "2 failed" in line
    table = pd.read_csv(out_csv)
    assert len(table) == 6 and list(table.columns)[-1] == "error"
    assert table["error"].notna().tolist() == [False, False, True, True, False, False]
    assert table["error"][2].startswith("HandlerError: S1 failed while handling Promise")
    assert table["decided"].tolist()[:2] == ["X", "X"]


def test_sweep_on_error_raise_stops_with_one_line_and_exit_3(capsys, tmp_path, monkeypatch):
    late_promise_fails(monkeypatch)
    path = write(tmp_path, GOOD)
    code, out, err = run_cli(capsys, "sweep", path, "--set", 'network.delay={"fixed": 2}',
                             "--seeds", 1, "--on-error", "raise")
    assert code == 3 and out == ""
    (line,) = err.strip().splitlines()
    assert line.startswith(f"paxoslab: run failed: {path}: S1 failed while handling Promise")


def interrupt_at_run(monkeypatch, n, check=None):
    """The n-th run (counting from 1) is interrupted as Ctrl-C would; ``check()`` first."""
    import paxoslab.experiments as experiments

    calls = []
    original = experiments.run_one

    def run_one(job):
        calls.append(job)
        if len(calls) == n:
            if check:
                check()
            raise KeyboardInterrupt
        return original(job)

    monkeypatch.setattr(experiments, "run_one", run_one)


def test_sweep_writes_each_row_as_it_finishes(capsys, tmp_path, monkeypatch):
    out_csv = tmp_path / "runs.csv"
    seen = []
    interrupt_at_run(monkeypatch, 4, check=lambda: seen.append(out_csv.read_text().splitlines()))
    run_cli(capsys, "sweep", write(tmp_path, GOOD), "--seeds", 5, "--csv", out_csv)
    (lines,) = seen
    assert len(lines) == 1 + 3 and lines[0].startswith("seed,")


def test_sweep_interrupted_keeps_its_finished_rows_with_one_line_and_exit_130(
        capsys, tmp_path, monkeypatch):
    import pandas as pd

    out_csv = tmp_path / "runs.csv"
    interrupt_at_run(monkeypatch, 3)
    code, out, err = run_cli(capsys, "sweep", write(tmp_path, GOOD), "--seeds", 5, "--csv", out_csv)
    assert code == 130 and out == ""
    (line,) = err.strip().splitlines()
    assert "interrupted" in line and "2 finished runs" in line and str(out_csv) in line
    assert pd.read_csv(out_csv)["seed"].tolist() == [0, 1]


def test_sweep_interrupted_to_stdout_prints_its_finished_rows(capsys, tmp_path, monkeypatch):
    interrupt_at_run(monkeypatch, 3)
    code, out, err = run_cli(capsys, "sweep", write(tmp_path, GOOD), "--seeds", 5)
    assert code == 130
    assert len(out.strip().splitlines()) == 1 + 2
    (line,) = err.strip().splitlines()
    assert "interrupted" in line


def test_sweep_with_workers_interrupted_by_sigint_keeps_rows_without_traceback(tmp_path, scenarios_dir):
    """A real Ctrl-C to a sweep with worker processes: the workers leave it to the parent."""
    import signal
    import time

    out_csv = tmp_path / "runs.csv"
    env = {**os.environ, "MPLBACKEND": "Agg"}
    proc = subprocess.Popen([sys.executable, "-m", "paxoslab", "sweep",
                             str(scenarios_dir / "basic-paxos-duel-backoff.json"), "--seeds", "100000",
                             "--workers", "2", "--csv", str(out_csv)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (
            not out_csv.exists() or len(out_csv.read_text().splitlines()) < 3):
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGINT)  # the whole group, as a terminal's Ctrl-C does
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err, err
    (line,) = err.strip().splitlines()
    assert "interrupted" in line
    rows = out_csv.read_text().splitlines()
    assert len(rows) >= 3 and rows[0].startswith("seed,")


# ---- hostile input ----------------------------------------------------------------------------
def test_a_device_as_the_scenario_file_exits_2_at_once():
    code_out = python_m("run", "/dev/zero", timeout=30)
    assert code_out.returncode == 2
    (line,) = code_out.stderr.strip().splitlines()
    assert "/dev/zero: file: is not a regular file" in line


def test_a_fifo_as_the_scenario_file_exits_2_without_waiting(tmp_path):
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    proc = python_m("run", fifo, timeout=30)  # reading it would wait for a writer forever
    assert proc.returncode == 2
    (line,) = proc.stderr.strip().splitlines()
    assert f"{fifo}: file: is not a regular file" in line


def test_a_file_over_20_mb_exits_2_unread(capsys, tmp_path):
    path = tmp_path / "huge.json"
    with open(path, "wb") as f:
        f.truncate(21 * 1024 * 1024)  # sparse: costs no disk
    code, _, err = run_cli(capsys, "run", path)
    assert code == 2
    (line,) = err.strip().splitlines()
    assert f"{path}: file: is {21 * 1024 * 1024} bytes" in line


def test_json_output_never_holds_nan(capsys, tmp_path, monkeypatch):
    from paxoslab.runner import Result

    original = Result.summary
    monkeypatch.setattr(Result, "summary",
                        lambda self: {**original(self), "decided_at": float("nan"),
                                      "learned_at": {"S1": float("inf")}})
    code, out, _ = run_cli(capsys, "run", write(tmp_path, GOOD), "--json")

    def refuse(constant):
        raise AssertionError(f"non-standard JSON: {constant}")

    summary = json.loads(out, parse_constant=refuse)
    assert summary["decided_at"] is None and summary["learned_at"] == {"S1": None}


def test_a_newline_in_a_name_keeps_the_error_on_one_line(capsys, tmp_path):
    path = write(tmp_path, variant(nodes=["S\n1", "S2", "S3"], events=[{"at": 0, "crash": "S9"}]))
    code, _, err = run_cli(capsys, "run", path)
    assert code == 2
    (line,) = err.strip().splitlines()
    assert "events[0].crash" in line and "S\\n1" in line


# ---- fuzz: malformed and extreme scenarios, through the API and the CLI -----------------------
FUZZ_BASES = [
    {"name": "fuzz", "protocol": "basic-paxos", "nodes": ["S1", "S2", "S3"],
     "network": {"delay": {"uniform": [1, 3]}, "drop": 0.1, "duplicate": 0.1,
                 "rules": [{"from": "S1", "to": "S2", "delay": 2}]},
     "options": {"bugs": [], "backoff": {"policy": "uniform", "base": 2, "jitter": 3}},
     "events": [{"at": 0, "propose": {"node": "S1", "value": "X"}},
                {"at": 1, "propose": {"node": "S3", "value": "Y"}},
                {"at": 5, "crash": "S2"}, {"at": 9, "recover": "S2"}],
     "until": 60},
    {"name": "fuzz-mp", "protocol": "multi-paxos", "nodes": ["S1", "S2", "S3"],
     "network": {"delay": {"fixed": 2}},
     "options": {"election_timeout": [10, 20], "heartbeat": 4},
     "events": [{"at": 30, "submit": {"command": "set x 1"}},
                {"at": 40, "partition": [["S1"], ["S2", "S3"]]}, {"at": 50, "heal": True}],
     "until": 80, "seed": 3},
]

DEEP: list = []
for _ in range(500):
    DEEP = [DEEP]
HOSTILE = [float("nan"), float("inf"), float("-inf"), 10 ** 4000, 10 ** 40, DEEP, "\ud800", 1e-300, 1e300,
           -1, 0, -0.0, None, True, "", "S9", [], {}, "set x 1"]
EXTREME = st.one_of(
    st.sampled_from(HOSTILE), st.integers(), st.floats(), st.text(max_size=5),
)
VALUES = st.recursive(EXTREME, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.sampled_from(["fixed", "uniform", "at", "node", "value",
                                                         "drop", "S1", "x"]), inner, max_size=3),
                      max_leaves=6)


#: a fuzzed run may ask for until=1e300: the event bound (exit 3) ends it, sooner than the default
FUZZ_EVENTS = 20_000


def paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from paths(v, (*prefix, i))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(base=st.sampled_from(FUZZ_BASES), data=st.data(), new=VALUES)
def test_fuzz_a_mutated_scenario_runs_or_fails_with_one_line(base, data, new):
    scenario = copy.deepcopy(base)
    leaves = [p for p in paths(scenario) if len(p) > 1 or p and p[0] in ("seed", "until")]
    where = data.draw(st.sampled_from(leaves))
    target = scenario
    for step in where[:-1]:
        target = target[step]
    target[where[-1]] = new
    try:
        json.dumps(pl.run_scenario(scenario, max_events=FUZZ_EVENTS).summary(), allow_nan=False)
    except (pl.ScenarioError, HandlerError, SimulationStalled, EventLimitReached):
        pass  # the library's own errors; anything else fails the test
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "fuzz.json")
        with open(path, "w", encoding="utf-8") as f:
            f.write(json.dumps(scenario))  # NaN and Infinity as JavaScript spells them
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["run", path, "--json", "--max-events", str(FUZZ_EVENTS)])
    assert code in (0, 1, 2, 3)
    if code in (2, 3):
        assert out.getvalue() == "" and len(err.getvalue().strip().splitlines()) == 1, err.getvalue()
    else:
        json.loads(out.getvalue(), parse_constant=lambda c: pytest.fail(f"{c} in --json output"))


@pytest.mark.parametrize("separator", ["\x1e", "\x1c", "\x85", "\u2028", "\v"])
def test_an_error_naming_a_node_with_any_line_separator_stays_one_line(tmp_path, capsys, separator):
    # str.splitlines() breaks at these too (the fuzz test found \x1e in a node name)
    data = {"name": "odd", "protocol": "basic-paxos", "nodes": [f"S{separator}1", "S2", "S3"],
            "network": {"rules": [{"from": "S1", "drop": 1.0}]}, "events": [], "until": 1}
    code, out, err = run_cli(capsys, "run", write(tmp_path, data))
    assert code == 2 and out == ""
    assert len(err.splitlines()) == 1, err


# ---- sweeps stream (issue 19: --seeds 20000000 held 2.6 GB before writing a row) --------------
def test_sweep_to_stdout_prints_rows_before_the_last_run_starts(capsys, tmp_path, monkeypatch):
    seen = []
    interrupt_at_run(monkeypatch, 150, check=lambda: seen.append(capsys.readouterr().out))
    code, out, _ = run_cli(capsys, "sweep", write(tmp_path, GOOD), "--seeds", 150)
    (printed,) = seen
    lines = printed.splitlines()
    assert code == 130 and lines[0].startswith("seed,") and len(lines) >= 1 + 100
    assert len(lines) + len(out.splitlines()) == 1 + 149  # the rest, as it was interrupted


def test_sweep_csv_whose_first_run_fails_widens_its_header_from_the_file(capsys, tmp_path,
                                                                         monkeypatch):
    import pandas as pd

    from paxoslab.__main__ import RowWriter

    late_promise_fails(monkeypatch)
    out_csv = tmp_path / "runs.csv"
    code, _, _ = run_cli(capsys, "sweep", write(tmp_path, GOOD),
                         "--set", 'network.delay={"fixed": 2},{"fixed": 1}', "--seeds", 2,
                         "--csv", out_csv)
    assert code == 3
    table = pd.read_csv(out_csv)
    assert list(table.columns)[:2] == ["network.delay", "seed"] and table.columns[-1] == "error"
    assert table["error"].notna().tolist() == [True, True, False, False]
    assert table["decided"].tolist()[2:] == ["X", "X"] and table["decided"][:2].isna().all()
    assert not hasattr(RowWriter(stream=io.StringIO()), "rows")  # no row is kept in memory
    assert not (tmp_path / "runs.csv.partial").exists()


def test_sweep_of_twenty_million_seeds_starts_at_once_in_bounded_memory(tmp_path, scenarios_dir):
    """Under a 1 GB address-space limit: rows arrive within seconds, and Ctrl-C keeps them."""
    import resource
    import signal
    import time

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    out_csv = tmp_path / "runs.csv"
    proc = subprocess.Popen([sys.executable, "-m", "paxoslab", "sweep",
                             str(scenarios_dir / "basic-paxos-case-1.json"), "--seeds", "20000000",
                             "--csv", str(out_csv)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "MPLBACKEND": "Agg"}, preexec_fn=limit)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None and (
            not out_csv.exists() or len(out_csv.read_text().splitlines()) < 50):
        time.sleep(0.1)
    running = proc.poll() is None
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert running, err
    assert proc.returncode == 130 and "Traceback" not in err, err
    rows = out_csv.read_text().splitlines()
    assert len(rows) >= 50 and rows[1].startswith("0,")


def test_the_readme_lists_the_guards_and_the_interrupt_codes():
    from pathlib import Path

    from paxoslab.__main__ import EXIT_BROKEN_PIPE, EXIT_INTERRUPTED

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    guards = readme.split("\nGuards ", 1)[1].split("\n\nBad input", 1)[0]
    for name in ("max_events", "max_memory", "on_error"):
        assert f"- `{name}`:" in guards
    for code in (EXIT_INTERRUPTED, EXIT_BROKEN_PIPE):
        assert f"| `{code}` |" in readme
