"""Group membership rules (protocol-v1 "Groups"), pure: each store loads the group inside
its transaction, asks these, and writes what they decide with its own SQL and locks.

- A group has at most `max_members` members, its creator included.
- Only members may change a group; a member may remove itself, the owner anyone.
- A user whose `group_adds` is "contacts" may be put in a group only by someone they
  have added as a contact (docs/security.md says why that is a choice, not the default).
- When the owner leaves, the longest-standing member (join order, then user id)
  inherits the group; a group left empty has no owner.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from hubbub.core.errors import HubbubError, forbidden, not_found
from hubbub.core.model import Conversation


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
