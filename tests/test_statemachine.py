"""Deterministic state machines: key-value store, bank account, replay."""

from __future__ import annotations

import pytest

from paxoslab.statemachine import (
    MACHINES,
    NOOP,
    BankAccount,
    CommandError,
    KeyValueStore,
    Sessions,
    replay,
)

LOG = ["set x 1", "set y 2", "set x 3", "del y", "set msg hello world", "del nothing"]


# ---- key-value store ------------------------------------------------------------------
def test_kv_set_and_del():
    kv = KeyValueStore()
    assert kv.apply("set color red") == "ok"
    assert kv.snapshot() == {"color": "red"}
    assert kv.apply("del color") == "ok"
    assert kv.apply("del color") == "missing"
    assert kv.snapshot() == {}


def test_kv_values_stay_strings_and_may_contain_spaces():
    kv = KeyValueStore()
    kv.apply("set n 42")
    kv.apply("set msg hello  world")
    assert kv.snapshot() == {"msg": "hello  world", "n": "42"}


def test_kv_snapshot_is_sorted_and_a_copy():
    kv = KeyValueStore()
    kv.apply("set b 1")
    kv.apply("set a 2")
    snap = kv.snapshot()
    assert list(snap) == ["a", "b"]
    snap["c"] = "3"
    assert "c" not in kv.snapshot()


@pytest.mark.parametrize("command", [
    "", "set", "set x", "put x 1", "del", "del x y", "SET x 1", "set  x 1", "get", "get x y",
    "append x", NOOP,
])
def test_kv_bad_commands_raise_command_error(command):
    kv = KeyValueStore()
    with pytest.raises(CommandError):
        kv.apply(command)
    assert kv.snapshot() == {}


def test_kv_get_reads_without_changing_and_append_adds_to_the_end():
    kv = KeyValueStore()
    assert kv.apply("get x") is None
    assert kv.apply("append x a") == "ok" and kv.apply("append x b c") == "ok"
    assert kv.apply("get x") == "ab c" and kv.snapshot() == {"x": "ab c"}
    kv.apply("set x 1")
    assert kv.apply("get x") == "1"


# ---- client sessions (Raft section 8) ------------------------------------------------------
def test_sessions_execute_a_request_once_and_answer_a_retry_from_memory():
    m = Sessions(KeyValueStore())
    assert m.apply("append x a", "c1", 1) == ("ok", True)
    assert m.apply("get x", "c2", 1) == ("a", True)
    assert m.apply("append x a", "c1", 1) == ("ok", False)  # the retry: not again
    assert m.apply("get x", "c2", 1) == ("a", False)
    assert m.snapshot() == {"x": "a"}
    assert m.apply("append x b", "c1", 2) == ("ok", True)
    assert m.apply("get x", "c2", 1) == ("a", False)  # the remembered answer, not a new read
    assert m.apply("append x a", "c1", 1) == (None, False)  # older than the last: dropped
    assert m.snapshot() == {"x": "ab"} and m.last == {"c1": (2, "ok"), "c2": (1, "a")}


def test_without_a_session_every_request_is_executed_and_a_noop_never():
    m = Sessions(KeyValueStore())
    assert [m.apply("append x a") for _ in range(2)] == [("ok", True), ("ok", True)]
    assert m.apply(NOOP) == (None, False) and m.apply(NOOP, "c1", 1) == (None, False)
    assert m.snapshot() == {"x": "aa"} and m.last == {}


def test_two_replicas_applying_the_same_entries_remember_the_same_sessions():
    entries = [("append x a", "c1", 1), (NOOP, None, None), ("append x a", "c1", 1),
               ("del x", None, None), ("append x a", "c1", 1), ("append y 1", "c2", 4)]
    a, b = Sessions(KeyValueStore()), Sessions(KeyValueStore())
    answers = [[m.apply(*e) for e in entries] for m in (a, b)]
    assert answers[0] == answers[1] and a.last == b.last and a.snapshot() == b.snapshot() == {"y": "1"}


def test_command_error_is_a_value_error_that_quotes_the_command():
    with pytest.raises(ValueError, match="put x 1"):
        KeyValueStore().apply("put x 1")


# ---- bank account -----------------------------------------------------------------------
def test_bank_deposit_withdraw_interest():
    acct = BankAccount()
    assert [acct.apply(c) for c in ["deposit 100", "withdraw 30", "interest 10"]] == ["ok"] * 3
    assert acct.snapshot() == {"balance": 77}


def test_bank_refuses_overdraft_without_changing_the_balance():
    acct = BankAccount(50)
    assert acct.apply("withdraw 51") == "insufficient funds"
    assert acct.snapshot() == {"balance": 50}
    assert acct.apply("withdraw 50") == "ok"
    assert acct.snapshot() == {"balance": 0}


def test_bank_interest_rounds_down_to_whole_units():
    acct = BankAccount(99)
    acct.apply("interest 1")
    assert acct.snapshot() == {"balance": 99}
    acct.apply("interest 50")
    assert acct.snapshot() == {"balance": 148}


@pytest.mark.parametrize("command", [
    "", "deposit", "deposit ten", "deposit -5", "withdraw 1.5", "transfer 5",
    "deposit 5 6", "interest -1",
])
def test_bank_bad_commands_raise_command_error(command):
    acct = BankAccount(10)
    with pytest.raises(CommandError):
        acct.apply(command)
    assert acct.snapshot() == {"balance": 10}


# ---- replication property -------------------------------------------------------------------
def test_replaying_the_same_log_gives_the_same_state():
    assert replay(KeyValueStore(), LOG) == replay(KeyValueStore(), LOG) == {
        "msg": "hello world", "x": "3",
    }


def test_replay_order_matters():
    assert replay(KeyValueStore(), ["set x 1", "set x 2"]) != replay(
        KeyValueStore(), ["set x 2", "set x 1"])


def test_replaying_a_bank_log_is_deterministic():
    log = ["deposit 100", "interest 7", "withdraw 500", "withdraw 20", "interest 3"]
    assert replay(BankAccount(), log) == replay(BankAccount(), log) == {"balance": 89}


def test_replay_continues_from_the_machine_state():
    kv = KeyValueStore()
    replay(kv, LOG[:3])
    assert replay(kv, LOG[3:]) == replay(KeyValueStore(), LOG)


def test_check_validates_without_side_effects():
    KeyValueStore.check("set a b")
    BankAccount.check("withdraw 5")
    with pytest.raises(CommandError):
        BankAccount.check("set a b")
    with pytest.raises(CommandError):
        KeyValueStore.check("deposit 5")


def test_machines_registry():
    assert MACHINES == {"kv": KeyValueStore, "bank": BankAccount}


# ---- a bounded balance (issue 19: past 4,300 digits it could not even be printed) -------------
def test_bank_refuses_to_take_the_balance_to_the_limit_and_keeps_it():
    from paxoslab.statemachine import BALANCE_LIMIT

    acct = BankAccount(BALANCE_LIMIT // 2)
    assert acct.apply("interest 100") == "balance limit"  # would be exactly the limit
    assert acct.apply(f"deposit {BALANCE_LIMIT // 2}") == "balance limit"
    assert acct.snapshot() == {"balance": BALANCE_LIMIT // 2}
    assert acct.apply("interest 99") == "ok" and acct.snapshot()["balance"] < BALANCE_LIMIT
    assert acct.apply("withdraw 1") == "ok"


def test_bank_compound_interest_stays_printable():
    """Interest of 10**17 % adds 15 digits each time: past 4,300 digits after 300 commands."""
    acct = BankAccount()
    answers = [acct.apply(c) for c in ["deposit 9"] + [f"interest {10**17}"] * 300]
    assert answers[:2] == ["ok", "ok"] and set(answers[2:]) == {"balance limit"}
    assert str(acct.snapshot()) == "{'balance': 9000000000000009}"


@pytest.mark.parametrize("command", [
    f"deposit {10**18}", f"withdraw {10**18}", f"interest {10**18}", "deposit " + "9" * 5000,
    "deposit " + "0" * 40 + "5x",
])
def test_bank_amounts_at_the_limit_are_no_commands(command):
    acct = BankAccount(10)
    with pytest.raises(CommandError, match="amount|whole number") as info:
        acct.apply(command)
    assert len(str(info.value)) < 200
    assert acct.snapshot() == {"balance": 10}
