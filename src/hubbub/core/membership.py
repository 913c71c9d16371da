"""Group membership rules (protocol-v1 "Groups"), pure: each store loads the group inside
its transaction, asks these, and writes what they decide with its own SQL and locks.

- A group has at most `max_members` members, its creator included.
- Only members may change a group; a member may remove itself, the owner anyone.
- A user whose `group_adds` is "contacts" may be put in a group only by someone they
  have added as a contact (docs/security.md says why that is a choice, not the default).
- When the owner leaves, the longest-standing member (join order, then user id)
  inherits the group; a group left empty has no owner.
- A member who leaves or is removed becomes a former member (`departure`): the chat stays
  theirs to read, up to the group's last message at that moment and under its name then,
  and never anything later (no message, member, name or receipt); being added back makes
  them a member again, deleting the chat makes them a stranger. A stranger gets what a
  conversation that does not exist gets (not_found).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from hubbub.core.errors import HubbubError, forbidden, not_found
from hubbub.core.ids import first_id_at
from hubbub.core.model import Conversation, Departure, FormerMembership


def group_full(max_members: int) -> HubbubError:
    return HubbubError("group_full", f"a group has at most {max_members} members")


def founding_members(owner_id: int, member_ids: Sequence[int], max_members: int) -> tuple[int, ...]:
    """The members of a new group: the owner first, then each other member once."""
    members = tuple(dict.fromkeys([owner_id, *member_ids]))
    if len(members) > max_members:
        raise group_full(max_members)
    return members


def group_for_change(group: Conversation | None, actor_id: int) -> Conversation:
    """The group `actor_id` wants to change; refuses non-groups and non-members."""
    if group is None or group.kind != "group":
        raise not_found("no such group")
    if actor_id not in group.member_ids:
        raise forbidden("only members may change a group")
    return group


def may_add(group: Conversation, user_id: int, max_members: int) -> bool:
    """Whether `user_id` may join `group` (a member asked: see group_for_change); False
    when it is a member already (adding is idempotent: nothing to write)."""
    if user_id in group.member_ids:
        return False
    if len(group.member_ids) >= max_members:
        raise group_full(max_members)
    return True


def after_removal(group: Conversation, actor_id: int, user_id: int) -> Conversation:
    """The group once `actor_id` (a member) has removed `user_id` (raises if it may not),
    with the heir as owner when the owner left. `member_ids` must be in join order."""
    if actor_id not in (user_id, group.owner_id):
        raise forbidden("only the owner may remove other members")
    if user_id not in group.member_ids:
        raise not_found("that user is not a member")
    members = tuple(m for m in group.member_ids if m != user_id)
    owner = group.owner_id
    if user_id == owner:
        owner = members[0] if members else None
    return replace(group, member_ids=members, owner_id=owner)


def check_consent(actor_id: int, newcomers: Sequence[tuple[int, str, bool]]) -> None:
    """`newcomers`: (user_id, their group_adds, whether they have the actor as a contact)
    for everyone the actor is putting in a group. Refuses the whole change if one of them
    takes group adds only from contacts and the actor is not one."""
    refused = [
        uid for uid, prefers, knows in newcomers
        if uid != actor_id and prefers == "contacts" and not knows
    ]  # fmt: skip
    if refused:
        raise forbidden(
            "only their contacts may add these users to a group: " + ", ".join(map(str, refused))
        )


def departure(
    group: Conversation, actor_id: int, user_id: int, last_message_id: int, now_ms: int
) -> FormerMembership:
    """What `user_id` keeps of `group` (as it was before the change) once `actor_id` has
    removed them (after_removal allowed it): the messages up to `last_message_id`, the
    group's newest at that moment, under the name it had then."""
    how: Departure = "left" if actor_id == user_id else "removed"
    return FormerMembership(
        group.conversation_id, user_id, how, last_message_id, group.name, now_ms
    )


def reading_ceiling(
    conv: Conversation | None, former: FormerMembership | None, user_id: int
) -> int | None:
    """How far `user_id` may read `conv`: None for a participant (all of it), the newest
    message id they were there for if they are a former member; not_found for anyone
    else, the same answer as for a conversation that does not exist."""
    if conv is not None and user_id in conv.member_ids:
        return None
    if (
        conv is not None
        and former is not None
        and (former.conversation_id, former.user_id) == (conv.conversation_id, user_id)
    ):
        return former.upto
    raise not_found("no such conversation")


def page_before(before: int | None, ceiling: int | None) -> int | None:
    """The `before` of a history page (ids below it) for a reader whose ceiling it is:
    theirs, lowered to just above the ceiling."""
    if ceiling is None:
        return before
    return ceiling + 1 if before is None else min(before, ceiling + 1)


def former_view(former: FormerMembership) -> Conversation:
    """The group as its former member sees it: the name it had then, no members, no
    owner (who is in it now is not theirs to know)."""
    return Conversation(former.conversation_id, "group", (), former.name, None)


def former_activity(former: FormerMembership) -> int:
    """Where a former group sorts in the conversation list (which orders by the newest
    message id): its departure counts as its last activity."""
    return max(former.upto, first_id_at(former.departed_at), former.conversation_id)


def deletable(
    conv: Conversation | None, former: FormerMembership | None, user_id: int
) -> FormerMembership:
    """The chat `user_id` may delete from their list: a group they are no longer in.
    conflict for a conversation they take part in (leave the group first); not_found for
    anything else."""
    if conv is not None and user_id in conv.member_ids:
        raise HubbubError(
            "conflict", "you take part in this conversation: only a group you left can be deleted"
        )
    if former is None or former.user_id != user_id:
        raise not_found("no such conversation")
    return former
