"""The records the services pass around. Ids are 64-bit ints inside, strings on the wire."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import msgspec

from hubbub.core.media import Attachment

ConversationKind = Literal["direct", "group"]
GroupAdds = Literal["everyone", "contacts"]
Departure = Literal["left", "removed"]  # how a member stopped being one


@dataclass(frozen=True, slots=True)
class User:
    user_id: int
    username: str
    display_name: str
    history_retention_days: int | None = None
    group_adds: GroupAdds = "everyone"  # who may put this user in a group
    avatar_id: int | None = None  # the media id of the profile picture, if one is set

    def public(self) -> dict[str, Any]:
        """The user object of the contract (REST and the `profile` frame)."""
        return {
            "user_id": str(self.user_id),
            "username": self.username,
            "display_name": self.display_name,
            "avatar": str(self.avatar_id) if self.avatar_id is not None else None,
        }


@dataclass(frozen=True, slots=True)
class Device:
    device_id: int
    user_id: int
    name: str
    created_at: int = 0  # ms
    last_used_at: int = 0  # ms; 0 = not since it was created (kept to the hour)


@dataclass(frozen=True, slots=True)
class Conversation:
    conversation_id: int
    kind: ConversationKind
    member_ids: tuple[int, ...]
    name: str | None = None  # groups only
    owner_id: int | None = None  # groups only

    def peer_of(self, user_id: int) -> int:
        """The other participant of a direct conversation (oneself for a note to self)."""
        others = [m for m in self.member_ids if m != user_id]
        return others[0] if others else user_id


@dataclass(frozen=True, slots=True)
class FormerMembership:
    """A group `user_id` left or was removed from (core.membership.departure made it):
    what they may still read of it. Kept until they delete the chat or are added back."""

    conversation_id: int
    user_id: int
    how: Departure
    upto: int  # the newest message id they may read: the group's last message then (0: none)
    name: str | None  # the group's name when they departed (later renames are not theirs)
    departed_at: int  # ms


class Message(msgspec.Struct, frozen=True, omit_defaults=True):
    """The message object of the contract (REST history and the `message` frame share it);
    ids are strings here because this struct is what goes on the wire. `attachments` is
    left out when there are none (clients of v1 never see the key)."""

    message_id: str
    conversation_id: str
    kind: str
    sender_id: str
    body: str
    ts: int
    client_msg_id: str
    attachments: tuple[Attachment, ...] | None = None


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """The outcome of a send: the message as stored and the inbox entry of each
    participant (user_id -> seq). `duplicate` is True when the client_msg_id was seen
    before: then `message` is the original and nothing new was stored."""

    message: Message
    message_id: int
    conversation_id: int
    inbox: dict[int, int]
    duplicate: bool = False
    pushes: int = 0  # push outbox rows written in the same commit


@dataclass(frozen=True, slots=True)
class InboxEntry:
    seq: int
    message: Message


@dataclass(frozen=True, slots=True)
class Receipt:
    """`reader_id` has got (delivered) or read every message of the conversation up to
    `message_id`; to be told to each of `notify` (the senders whose messages it covers)."""

    status: Literal["delivered", "read"]
    conversation_id: int
    message_id: int
    reader_id: int
    ts: int
    notify: frozenset[int] = field(default_factory=frozenset)
    pushes: int = 0  # a read: the clearing pushes it queued, in its own commit


@dataclass(frozen=True, slots=True)
class ConversationSummary:
    conversation: Conversation
    last_message: Message | None
    unread_count: int
    read_upto: int
    # each other member's watermarks: (user_id, delivered_upto, read_upto), 0 = none yet
    receipts: tuple[tuple[int, int, int], ...] = ()
    muted_until: int = 0  # the user's mute: 0 none, -1 for ever, else until that ms
    former: FormerMembership | None = None  # a group the user is no longer in (read only)
