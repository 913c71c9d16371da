"""Token buckets (core.ratelimit) on a clock the test moves: bursts, refills, the wait a
refusal names, refusals that take nothing, pruning, and the rules' configuration."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hubbub.core.ratelimit import RateRules, Rule, TokenBuckets, parse_override

RULE = Rule(burst=3, per_second=2.0, what="things")


def test_a_burst_then_refusals_that_name_the_wait() -> None:
    b = TokenBuckets()
    assert [b.take("k", RULE, 100.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert b.take("k", RULE, 100.0) == pytest.approx(0.5)  # one token takes 0.5 s
    assert b.take("k", RULE, 100.25) == pytest.approx(0.25)  # refused: nothing taken
    assert b.take("k", RULE, 100.5) == 0.0  # waited as told: served
    assert b.take("other", RULE, 100.5) == 0.0  # keys are independent


def test_refill_stops_at_the_burst() -> None:
    b = TokenBuckets()
    for _ in range(3):
        b.take("k", RULE, 0.0)
    assert b.wait("k", RULE, 1000.0, cost=3) == 0.0
    assert b.wait("k", RULE, 1000.0, cost=4) > 0  # never more than `burst`


def test_wait_takes_nothing() -> None:
    b = TokenBuckets()
    assert b.wait("k", RULE, 0.0) == 0.0
    for _ in range(3):
        assert b.take("k", RULE, 0.0) == 0.0
    assert b.wait("k", RULE, 0.0) == pytest.approx(0.5)
    assert b.wait("k", RULE, 0.0) == pytest.approx(0.5)


def test_pruning_forgets_only_full_buckets() -> None:
    b = TokenBuckets()
    b.take("a", RULE, 0.0)
    for _ in range(3):
        b.take("b", RULE, 0.0)
    assert b.prune(0.6) == 1  # a refilled its one token after 0.5 s; b needs 1.5 s
    assert len(b) == 1
    assert b.take("b", RULE, 0.6) == 0.0  # b kept its state


@given(st.lists(st.floats(min_value=0, max_value=5), min_size=1, max_size=60))
def test_never_more_than_the_burst_plus_the_refill(gaps: list[float]) -> None:
    b = TokenBuckets()
    now, served = 0.0, 0
    for gap in gaps:
        now += gap
        served += b.take("k", RULE, now) == 0.0
    assert served <= RULE.burst + now * RULE.per_second + 1e-9


def test_rules_can_be_changed_by_name() -> None:
    rules = RateRules().with_overrides(dict([parse_override("sends_per_user=5/0.5")]))
    assert (rules.sends_per_user.burst, rules.sends_per_user.per_second) == (5, 0.5)
    assert rules.typing_per_user == RateRules().typing_per_user
    with pytest.raises(ValueError, match="no rate limit called"):
        RateRules().with_overrides({"nope": (1, 1.0)})
    for bad in ("sends_per_user", "x=1", "x=a/b", "x=0/1", "x=1/0"):
        with pytest.raises(ValueError):
            parse_override(bad)
