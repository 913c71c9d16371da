"""IdGenerator, id_time_ms and first_id_at: ordering, uniqueness and time round trips."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hubbub.core.ids import EPOCH_MS, MAX_NODE_ID, IdGenerator, first_id_at, id_time_ms

T0 = EPOCH_MS + 1_000_000_000  # some time well after the epoch

clock_steps = st.lists(st.integers(min_value=-5_000, max_value=5_000), min_size=1, max_size=200)


def test_ids_strictly_increase_with_advancing_clock() -> None:
    gen = IdGenerator(1)
    ids = [gen.next_id(T0 + i) for i in range(100)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


def test_ids_strictly_increase_when_clock_goes_backwards() -> None:
    gen = IdGenerator(3)
    first = gen.next_id(T0)
    second = gen.next_id(T0 - 60_000)  # the wall clock stepped back a minute
    third = gen.next_id(T0 - 120_000)
    assert first < second < third
    # the generator keeps its high-water mark rather than going back in time
    assert id_time_ms(second) == T0
    assert id_time_ms(third) == T0


def test_5000_ids_in_one_millisecond_strictly_increase() -> None:
    gen = IdGenerator(7)
    ids = [gen.next_id(T0) for _ in range(5_000)]
    assert all(a < b for a, b in itertools.pairwise(ids))
    # 4096 fit in the millisecond; the rest borrow the next one
    assert id_time_ms(ids[0]) == T0
    assert id_time_ms(ids[4095]) == T0
    assert id_time_ms(ids[4096]) == T0 + 1
    assert id_time_ms(ids[-1]) == T0 + 1
    # the next real millisecond (already borrowed) still gives larger ids
    assert gen.next_id(T0 + 1) > ids[-1]


@given(clock_steps)
def test_ids_strictly_increase_for_any_clock(steps: list[int]) -> None:
    gen = IdGenerator(5)
    now = T0
    last = -1
    for step in steps:
        now += step
        new = gen.next_id(now)
        assert new > last
        last = new


@given(
    st.integers(min_value=0, max_value=MAX_NODE_ID),
    st.integers(min_value=0, max_value=MAX_NODE_ID),
    clock_steps,
)
def test_ids_of_different_nodes_never_collide(a: int, b: int, steps: list[int]) -> None:
    if a == b:
        b = (a + 1) % (MAX_NODE_ID + 1)
    gen_a, gen_b = IdGenerator(a), IdGenerator(b)
    ids_a: set[int] = set()
    ids_b: set[int] = set()
    now = T0
    for step in steps:
        now += step
        ids_a.add(gen_a.next_id(now))
        ids_b.add(gen_b.next_id(now))
    assert ids_a.isdisjoint(ids_b)


def test_same_millisecond_many_nodes_no_collision() -> None:
    ids = set()
    for node in (0, 1, 512, MAX_NODE_ID):
        gen = IdGenerator(node)
        ids.update(gen.next_id(T0) for _ in range(300))
    assert len(ids) == 4 * 300


@given(st.integers(min_value=EPOCH_MS, max_value=EPOCH_MS + (1 << 40)))
def test_id_time_round_trips(t: int) -> None:
    assert id_time_ms(IdGenerator(9).next_id(t)) == t
    assert id_time_ms(first_id_at(t)) == t


def test_first_id_at_before_epoch_is_zero() -> None:
    assert first_id_at(EPOCH_MS - 1) == 0
    assert first_id_at(0) == 0
    assert first_id_at(EPOCH_MS) == 0
    assert first_id_at(EPOCH_MS + 1) > 0


@given(
    st.integers(min_value=0, max_value=MAX_NODE_ID),
    st.lists(st.integers(min_value=0, max_value=3), min_size=1, max_size=100),
    st.integers(min_value=0, max_value=200),
)
def test_first_id_at_separates_before_and_after(
    node: int, steps: list[int], cut_offset: int
) -> None:
    """With a non-decreasing clock (and < 4096 ids per ms): ids drawn at >= t are
    >= first_id_at(t), ids drawn before t are below it."""
    gen = IdGenerator(node)
    cut = T0 + cut_offset
    boundary = first_id_at(cut)
    now = T0
    for step in steps:
        now += step
        drawn = gen.next_id(now)
        if now >= cut:
            assert drawn >= boundary
        else:
            assert drawn < boundary


def test_first_id_at_is_smallest_id_of_that_millisecond() -> None:
    for node in (0, MAX_NODE_ID):
        drawn = IdGenerator(node).next_id(T0)
        assert first_id_at(T0) <= drawn < first_id_at(T0 + 1)


@pytest.mark.parametrize("node_id", [0, 1, MAX_NODE_ID])
def test_node_id_bounds_accepted(node_id: int) -> None:
    assert IdGenerator(node_id).node_id == node_id


@pytest.mark.parametrize("node_id", [-1, MAX_NODE_ID + 1, 1 << 20])
def test_node_id_out_of_bounds_refused(node_id: int) -> None:
    with pytest.raises(ValueError):
        IdGenerator(node_id)
