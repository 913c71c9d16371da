"""Group membership rules (core.membership): founding, adding, removing, the heir."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hubbub.core.errors import HubbubError
from hubbub.core.membership import (
    after_removal,
    deletable,
    departure,
    former_activity,
    former_view,
    founding_members,
    group_for_change,
    may_add,
    page_before,
    reading_ceiling,
)
from hubbub.core.model import Conversation, FormerMembership

OWNER, BOB, CAROL, DAVE, EVE = 1, 2, 3, 4, 5


def group(*members: int, owner: int | None = OWNER) -> Conversation:
    return Conversation(100, "group", members, "g", owner)


def refused(code: str, fn: object, *args: object) -> None:
    assert callable(fn)
    with pytest.raises(HubbubError) as e:
        fn(*args)
    assert e.value.code == code, e.value


def test_founders_are_the_owner_first_then_each_member_once() -> None:
    assert founding_members(OWNER, [BOB, OWNER, CAROL, BOB], 3) == (OWNER, BOB, CAROL)
    assert founding_members(OWNER, [], 1) == (OWNER,)
    refused("group_full", founding_members, OWNER, [BOB], 1)
    refused("group_full", founding_members, OWNER, [BOB, CAROL, DAVE], 3)


def test_only_members_change_a_group_and_only_groups_are_changed() -> None:
    g = group(OWNER, BOB)
    assert group_for_change(g, BOB) is g
    refused("forbidden", group_for_change, g, EVE)
    refused("not_found", group_for_change, None, OWNER)
    refused("not_found", group_for_change, Conversation(7, "direct", (OWNER, BOB)), OWNER)


def test_adding_is_idempotent_and_bounded() -> None:
    g = group(OWNER, BOB)
    assert may_add(g, CAROL, 3)
    assert not may_add(g, BOB, 3)  # already a member: nothing to write
    assert not may_add(g, BOB, 2)  # ... even when the group is full
    refused("group_full", may_add, g, CAROL, 2)


def test_removal_rules() -> None:
    g = group(OWNER, BOB, CAROL)
    refused("forbidden", after_removal, g, BOB, CAROL)  # only the owner removes others
    refused("not_found", after_removal, g, OWNER, DAVE)
    left = after_removal(g, CAROL, CAROL)  # anyone may leave
    assert left.member_ids == (OWNER, BOB) and left.owner_id == OWNER
    removed = after_removal(g, OWNER, BOB)
    assert removed.member_ids == (OWNER, CAROL) and removed.owner_id == OWNER


def test_the_longest_standing_member_inherits_and_an_empty_group_has_no_owner() -> None:
    handed = after_removal(group(OWNER, CAROL, BOB), OWNER, OWNER)
    assert handed.owner_id == CAROL and handed.member_ids == (CAROL, BOB)
    empty = after_removal(group(OWNER), OWNER, OWNER)
    assert empty.member_ids == () and empty.owner_id is None


@given(st.lists(st.integers(1, 50), min_size=1, max_size=20, unique=True), st.data())
def test_after_any_removal_the_owner_is_a_member_or_there_is_none(
    members: list[int], data: st.DataObject
) -> None:
    g = group(*members, owner=members[0])
    leaving = data.draw(st.sampled_from(members))
    after = after_removal(g, leaving, leaving)
    assert leaving not in after.member_ids
    assert after.owner_id in after.member_ids or (not after.member_ids and after.owner_id is None)
    assert list(after.member_ids) == [m for m in members if m != leaving]  # join order kept


# -- former members ----------------------------------------------------------------------


def test_a_departure_keeps_the_last_message_and_name_then_and_says_how() -> None:
    g = group(OWNER, BOB, CAROL)
    left = departure(g, BOB, BOB, 900, 1234)
    assert left == FormerMembership(100, BOB, "left", 900, "g", 1234)
    assert departure(g, OWNER, CAROL, 0, 5).how == "removed"


def test_a_former_member_reads_up_to_the_departure_and_a_stranger_reads_nothing() -> None:
    g = group(OWNER, CAROL)
    former = FormerMembership(100, BOB, "removed", 900, "g", 1)
    assert reading_ceiling(g, None, OWNER) is None  # a member: everything
    assert reading_ceiling(g, former, BOB) == 900
    refused("not_found", reading_ceiling, g, None, BOB)
    refused("not_found", reading_ceiling, g, former, EVE)  # someone else's record
    refused("not_found", reading_ceiling, None, former, BOB)  # no such conversation
    other = FormerMembership(101, BOB, "left", 900, "h", 1)
    refused("not_found", reading_ceiling, g, other, BOB)  # a record of another group


@given(
    before=st.none() | st.integers(min_value=1, max_value=1 << 62),
    ceiling=st.none() | st.integers(min_value=0, max_value=1 << 62),
)
def test_a_page_never_reaches_past_the_ceiling(before: int | None, ceiling: int | None) -> None:
    bound = page_before(before, ceiling)
    if ceiling is None:
        assert bound == before
    else:
        assert bound is not None and bound <= ceiling + 1  # ids below it: at most the ceiling
        assert before is None or bound <= before


def test_a_former_member_sees_the_name_then_and_no_members() -> None:
    former = FormerMembership(100, BOB, "left", 900, "old name", 1)
    view = former_view(former)
    assert (view.conversation_id, view.kind, view.name) == (100, "group", "old name")
    assert view.member_ids == () and view.owner_id is None
    assert former_activity(former) >= 900


def test_only_a_group_one_is_no_longer_in_can_be_deleted() -> None:
    g = group(OWNER, CAROL)
    former = FormerMembership(100, BOB, "left", 900, "g", 1)
    assert deletable(g, former, BOB) is former
    assert deletable(None, former, BOB) is former
    refused("conflict", deletable, g, None, OWNER)  # still in it: leave first
    refused("conflict", deletable, Conversation(7, "direct", (OWNER, BOB)), None, BOB)
    refused("not_found", deletable, g, None, EVE)
    refused("not_found", deletable, g, former, EVE)
