"""Delay models, loss, duplication, rules and partitions."""

from __future__ import annotations

import random
import statistics

import pytest

from paxoslab.network import Exponential, Fixed, Network, Rule, Uniform

N = 20_000


def fates(net: Network, src="S1", dst="S2", msg_type="Accept", n=N, seed=0):
    rng = random.Random(seed)
    return [net.fate(src, dst, msg_type, rng) for _ in range(n)]


# ---- delay models ---------------------------------------------------------------------
def test_fixed_delay_is_always_the_same_float():
    rng = random.Random(0)
    assert {Fixed(3).sample(rng) for _ in range(10)} == {3.0}
    assert isinstance(Fixed(3).sample(rng), float)


def test_uniform_delay_stays_in_range_with_the_right_mean():
    rng = random.Random(1)
    draws = [Uniform(2, 6).sample(rng) for _ in range(N)]
    assert min(draws) >= 2 and max(draws) <= 6
    assert statistics.fmean(draws) == pytest.approx(4, abs=0.05)
    assert min(draws) < 2.1 and max(draws) > 5.9


def test_exponential_delay_has_the_right_mean_and_spread():
    rng = random.Random(2)
    draws = [Exponential(3).sample(rng) for _ in range(N)]
    assert min(draws) >= 0
    assert statistics.fmean(draws) == pytest.approx(3, rel=0.05)
    assert statistics.median(draws) == pytest.approx(3 * 0.6931, rel=0.05)


def test_exponential_with_zero_mean_is_instant():
    assert Exponential(0).sample(random.Random(0)) == 0.0


def test_delay_draws_are_reproducible_from_the_rng():
    assert [Uniform(0, 1).sample(random.Random(9)) for _ in range(3)] == [
        Uniform(0, 1).sample(random.Random(9)) for _ in range(3)
    ]


# ---- loss and duplication ---------------------------------------------------------------
def test_perfect_network_delivers_exactly_one_copy():
    assert all(f == [1.0] for f in fates(Network(Fixed(1)), n=1000))


@pytest.mark.parametrize("p", [0.1, 0.3, 0.5])
def test_drop_probability_is_respected(p):
    lost = sum(1 for f in fates(Network(Fixed(1), drop=p)) if not f)
    assert lost / N == pytest.approx(p, abs=0.015)


@pytest.mark.parametrize("p", [0.1, 0.25])
def test_duplicate_probability_is_respected(p):
    results = fates(Network(Uniform(1, 2), duplicate=p))
    assert all(1 <= len(f) <= 2 for f in results)
    doubled = sum(1 for f in results if len(f) == 2)
    assert doubled / N == pytest.approx(p, abs=0.015)


def test_duplicates_only_among_messages_that_were_not_dropped():
    results = fates(Network(Fixed(1), drop=0.5, duplicate=0.5))
    counts = [len(f) for f in results]
    assert counts.count(0) / N == pytest.approx(0.5, abs=0.015)
    assert counts.count(2) / N == pytest.approx(0.25, abs=0.015)


def test_duplicate_copies_draw_their_own_delays():
    results = fates(Network(Uniform(1, 10), duplicate=1.0), n=200)
    assert all(len(f) == 2 for f in results)
    assert sum(1 for a, b in results if a != b) > 190


def test_certain_loss_and_certain_duplication():
    assert all(f == [] for f in fates(Network(Fixed(1), drop=1.0), n=500))
    assert all(f == [1.0, 1.0] for f in fates(Network(Fixed(1), duplicate=1.0), n=500))


def test_loss_is_reproducible_with_a_seeded_rng():
    net = Network(Uniform(1, 3), drop=0.3, duplicate=0.3)
    assert fates(net, n=200, seed=4) == fates(net, n=200, seed=4)
    assert fates(net, n=200, seed=4) != fates(net, n=200, seed=5)


# ---- messages to oneself ------------------------------------------------------------------
def test_self_messages_are_never_lost_or_duplicated():
    net = Network(Fixed(2), drop=1.0, duplicate=1.0)
    assert all(f == [2.0] for f in fates(net, src="S1", dst="S1", n=500))


def test_self_messages_are_never_cut_by_a_partition():
    net = Network(Fixed(1))
    net.partition([["S1"], ["S2"]], ["S1", "S2", "S3"])
    assert net.fate("S1", "S1", "Accept", random.Random(0)) == [1.0]
    assert net.connected("S1", "S1")
    assert net.fate("S1", "S2", "Accept", random.Random(0)) == []


def test_rules_still_apply_to_self_messages():
    """As documented: a scenario may slow a node's own accept down."""
    net = Network(Fixed(1), rules=[Rule(src={"S1"}, dst={"S1"}, delay=Fixed(6))])
    assert net.fate("S1", "S1", "Accept", random.Random(0)) == [6.0]


# ---- rules ------------------------------------------------------------------------------
def test_rule_overrides_delay_of_matching_messages():
    net = Network(Fixed(1), rules=[Rule(src={"S1"}, dst={"S3"}, msg_types={"Accept"},
                                        delay=Fixed(6))])
    rng = random.Random(0)
    assert net.fate("S1", "S3", "Accept", rng) == [6.0]
    assert net.fate("S1", "S3", "Prepare", rng) == [1.0]  # other type
    assert net.fate("S2", "S3", "Accept", rng) == [1.0]  # other sender
    assert net.fate("S1", "S2", "Accept", rng) == [1.0]  # other receiver


def test_rule_fields_left_out_match_anything():
    net = Network(Fixed(1), rules=[Rule(msg_types={"Promise"}, delay=Fixed(4))])
    rng = random.Random(0)
    assert net.fate("S1", "S2", "Promise", rng) == [4.0]
    assert net.fate("S5", "S3", "Promise", rng) == [4.0]
    assert net.fate("S5", "S3", "Accept", rng) == [1.0]


def test_rule_sets_match_any_member():
    rule = Rule(src={"S1", "S2"}, dst=frozenset({"S4", "S5"}))
    assert rule.matches("S2", "S5", "X")
    assert not rule.matches("S3", "S5", "X")
    assert not rule.matches("S1", "S3", "X")


def test_drop_rule_loses_matching_messages_only():
    net = Network(Fixed(1), rules=[Rule(src={"S1"}, dst={"S4", "S5"}, drop=True)])
    rng = random.Random(0)
    assert net.fate("S1", "S4", "Prepare", rng) == []
    assert net.fate("S1", "S5", "Accept", rng) == []
    assert net.fate("S1", "S3", "Prepare", rng) == [1.0]
    assert net.fate("S4", "S1", "Promise", rng) == [1.0]
    assert net.why_lost("S1", "S4", "Prepare") == "rule"


def test_first_matching_rule_wins():
    slow = Rule(src={"S1"}, delay=Fixed(7))
    cut = Rule(src={"S1"}, dst={"S2"}, drop=True)
    rng = random.Random(0)
    assert Network(Fixed(1), rules=[slow, cut]).fate("S1", "S2", "A", rng) == [7.0]
    assert Network(Fixed(1), rules=[cut, slow]).fate("S1", "S2", "A", rng) == []
    assert Network(Fixed(1), rules=[cut, slow]).fate("S1", "S3", "A", rng) == [7.0]


def test_rule_delay_model_is_sampled():
    net = Network(Fixed(1), rules=[Rule(src={"S1"}, delay=Uniform(10, 20))])
    draws = [f[0] for f in fates(net, n=500)]
    assert all(10 <= d <= 20 for d in draws)
    assert len(set(draws)) > 400


def test_rule_delay_still_subject_to_random_loss():
    net = Network(Fixed(1), drop=1.0, rules=[Rule(src={"S1"}, delay=Fixed(5))])
    assert net.fate("S1", "S2", "A", random.Random(0)) == []
    assert net.why_lost("S1", "S2", "A") == "loss"


# ---- partitions ---------------------------------------------------------------------------
def test_partition_cuts_links_between_groups():
    net = Network()
    net.partition([["S1", "S2"], ["S3", "S4", "S5"]], ["S1", "S2", "S3", "S4", "S5"])
    assert net.connected("S1", "S2") and net.connected("S3", "S5")
    assert not net.connected("S1", "S3") and not net.connected("S5", "S2")
    assert net.why_lost("S1", "S3", "A") == "partition"


def test_unnamed_nodes_form_one_more_group():
    net = Network()
    net.partition([["S1", "S2"]], ["S1", "S2", "S3", "S4", "S5"])
    assert net.connected("S3", "S4") and net.connected("S4", "S5")
    assert not net.connected("S1", "S3")


def test_heal_reconnects_everyone():
    net = Network()
    net.partition([["S1"], ["S2"]], ["S1", "S2"])
    net.heal()
    assert net.connected("S1", "S2")
    assert net.fate("S1", "S2", "A", random.Random(0)) == [1.0]


def test_a_new_partition_replaces_the_old_one():
    everyone = ["S1", "S2", "S3"]
    net = Network()
    net.partition([["S1"], ["S2", "S3"]], everyone)
    net.partition([["S3"], ["S1", "S2"]], everyone)
    assert net.connected("S1", "S2")
    assert not net.connected("S2", "S3")
