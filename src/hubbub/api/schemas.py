"""The REST API's bodies and answers as typed structs. Request bodies are decoded into
these in one pass (a wrong type or a missing field is `bad_request`); answers are encoded
from them; the OpenAPI document (api/openapi.py) is generated from the same types.

Unknown fields in a request body are ignored (clients may be newer than the server).
Rules beyond types (lengths, the username alphabet, id syntax) are checked by the
services with core.limits, the same checks the WebSocket frames get; `Meta` here only
documents them for the OpenAPI document.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Annotated, Any, Literal

from msgspec import UNSET, Meta, Struct, UnsetType

from hubbub.core.errors import ErrorCode
from hubbub.core.model import Departure, GroupAdds, Message
from hubbub.core.push import MAX_ENDPOINT_CHARS, MAX_FCM_TOKEN_CHARS, PreviewLevel, PushKind


def _at_most(bound: str) -> str:
    """A regular expression for the decimal numbers 0..bound (no sign, no exponent)."""
    shorter = f"[0-9]{{1,{len(bound) - 1}}}"
    same_length = [
        bound[:i] + (f"[0-{int(d) - 1}]" if d != "1" else "0") + f"[0-9]{{{len(bound) - i - 1}}}"
        for i, d in enumerate(bound)
        if d != "0"
    ]
    return "^(?:" + "|".join([shorter, *same_length, bound]) + ")$"


ID_PATTERN = _at_most(str((1 << 63) - 1))  # what core.frames.parse_id accepts
Id = Annotated[
    str,
    Meta(
        description="A 64-bit id as a decimal string (below 2^63)",
        examples=["383409284328718337"],
        extra_json_schema={"pattern": ID_PATTERN},
    ),
]
Username = Annotated[
    str,
    Meta(
        description="3..32 characters of a-z 0-9 _ . -",
        extra_json_schema={"pattern": "^[a-z0-9_.\\-]{3,32}$"},
    ),
]
NO_NUL = "^[^\\u0000]*$"  # U+0000 is refused everywhere (storage engines cannot hold it)
# What Python's str.isspace() calls blank (core.limits refuses text that is only that):
# ECMA-262's \s differs (it has U+FEFF, lacks U+001C..U+001F), so the class is spelled out.
BLANKS = (
    "\\t\\n\\u000b\\u000c\\r\\u001c-\\u001f \\u0085\\u00a0\\u1680\\u2000-\\u200a"
    "\\u2028\\u2029\\u202f\\u205f\\u3000"
)
NOT_BLANK = f"^[^\\u0000]*[^\\u0000{BLANKS}][^\\u0000]*$"  # and no U+0000
Password = Annotated[str, Meta(extra_json_schema={"minLength": 8, "maxLength": 1024})]
DisplayName = Annotated[
    str,
    Meta(
        description="1..64 characters, not only spaces",
        extra_json_schema={"minLength": 1, "maxLength": 64, "pattern": NOT_BLANK},
    ),
]
Millis = Annotated[int, Meta(description="Milliseconds since the Unix epoch")]
Status = Literal["online", "offline"]


# -- request bodies -----------------------------------------------------------------------


class SignUp(Struct):
    username: Username
    password: Password
    display_name: DisplayName | None = None


class LogIn(Struct):
    username: str
    password: str
    device_name: (
        Annotated[
            str, Meta(extra_json_schema={"minLength": 1, "maxLength": 64, "pattern": NOT_BLANK})
        ]
        | None
    ) = None


class ProfileChange(Struct):
    """Fields left out stay as they are."""

    display_name: DisplayName | UnsetType = UNSET
    group_adds: Annotated[
        GroupAdds | UnsetType,
        Meta(description='Who may put you in a group: "everyone" or only your "contacts"'),
    ] = UNSET
    push_preview: Annotated[
        PreviewLevel | UnsetType,
        Meta(
            description='What a push reveals: "full" (sender and the first ~100 characters),'
            ' "sender", or "none" (only that something arrived); default "sender"'
        ),
    ] = UNSET
    avatar: Annotated[
        Id | UnsetType | None,
        Meta(
            description="The profile picture: the media id of one of your own image uploads"
            " (JPEG, PNG, GIF or WebP) of the last 23 hours; null removes it"
        ),
    ] = UNSET


class RetentionSetting(Struct):
    history_retention_days: Annotated[
        int | float | None,  # JSON has numbers: 30.0 is the integer 30 (see check_retention_days)
        Meta(
            description="Whole days, 1..3650; null keeps history for ever",
            extra_json_schema={"minimum": 1, "maximum": 3650, "multipleOf": 1},
        ),
    ]


class NewGroup(Struct):
    name: Annotated[
        str, Meta(extra_json_schema={"minLength": 1, "maxLength": 128, "pattern": NOT_BLANK})
    ]
    members: list[Id] = []


class GroupChange(Struct):
    name: Annotated[
        str, Meta(extra_json_schema={"minLength": 1, "maxLength": 128, "pattern": NO_NUL})
    ]


class UserRef(Struct):
    user_id: Id


class NewMessage(Struct):
    client_msg_id: Annotated[
        str, Meta(extra_json_schema={"minLength": 1, "maxLength": 64, "pattern": NO_NUL})
    ]
    body: Annotated[
        str,
        Meta(
            description="1..100,000 Unicode code points (413 too_large beyond); no U+0000;"
            " may be empty when the message carries attachments",
            extra_json_schema={"pattern": NO_NUL},
        ),
    ]
    attachments: Annotated[
        list[Id],
        Meta(
            min_length=1,
            max_length=10,
            description="Media ids the caller uploaded (POST /v1/media), in order (a repeat"
            " is taken once)",
        ),
    ] | None = None


def _body_or_attachments(schema: dict[str, Any]) -> dict[str, Any]:
    """A message needs a body or attachments (which a field's own schema cannot say):
    two whole alternatives, a text (body of 1+ characters) or attachments (body may be
    empty), so that generators of either kind produce valid messages."""
    text = copy.deepcopy(schema)
    text["properties"]["body"]["minLength"] = 1
    carrying = copy.deepcopy(schema)
    carrying["required"] = [*schema["required"], "attachments"]
    carrying["properties"]["attachments"] = carrying["properties"]["attachments"]["anyOf"][0]
    return {"title": schema.get("title", "NewMessage"), "anyOf": [text, carrying]}


RULES_ACROSS_FIELDS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "NewMessage": _body_or_attachments
}


class MediaOut(Struct, omit_defaults=True):
    media_id: Id
    sha256: Annotated[str, Meta(description="SHA-256 (hex) of the bytes as stored")]
    size: int
    content_type: Annotated[
        str, Meta(description="What the bytes are (sniffed), not what the client said")
    ]
    filename: str | None = None
    width: int | None = None
    height: int | None = None
    duration_ms: int | None = None
    thumbnail: Annotated[
        str | None, Meta(description="Path of the thumbnail (GET, with the token)")
    ] = None


class PushKeys(Struct):
    p256dh: Annotated[
        str,
        Meta(
            max_length=200,
            description="base64url of the browser's uncompressed P-256 public key (65 bytes)",
        ),
    ]
    auth: Annotated[str, Meta(max_length=100, description="base64url of 16 random bytes")]


class NewSubscription(Struct):
    """webpush: endpoint and keys; apns: token (hex) and topic (the bundle id); fcm: token."""

    kind: PushKind
    endpoint: (
        Annotated[str, Meta(max_length=MAX_ENDPOINT_CHARS, description="An https URL")] | None
    ) = None
    keys: PushKeys | None = None
    token: Annotated[str, Meta(max_length=MAX_FCM_TOKEN_CHARS)] | None = None
    topic: Annotated[str, Meta(max_length=255)] | None = None


class ConversationChange(Struct):
    muted_until: Annotated[
        int | float | None,  # JSON has numbers: 5.0 is the integer 5 (see check_muted_until)
        Meta(
            description="Mute pushes until this time (ms), -1 for ever, null to unmute",
            extra_json_schema={"minimum": -1, "maximum": 1 << 53, "multipleOf": 1},
        ),
    ]


# -- answers ------------------------------------------------------------------------------


# a user object's profile picture
Avatar = Annotated[
    Id | None,
    Meta(
        description="The media id of the profile picture (GET /v1/media/{id}/thumbnail,"
        " readable by every user), or null"
    ),
]


class UserOut(Struct):
    user_id: Id
    username: str
    display_name: str
    avatar: Avatar = None


class UsersOut(Struct):
    users: list[UserOut]


class SessionOut(Struct):
    token: str
    user_id: Id
    device_id: Id


class DeviceOut(Struct):
    device_id: Id
    name: str
    created_at: Millis
    last_used_at: Annotated[int, Meta(description="ms; updated at most once an hour")]
    current: bool  # the device making this call


class DevicesOut(Struct):
    devices: list[DeviceOut]


class TokenOut(Struct):
    token: str


class Settings(Struct):
    history_retention_days: int | None


class MeSettings(Struct):
    history_retention_days: int | None
    group_adds: GroupAdds
    push_preview: PreviewLevel = "sender"


class MeOut(Struct):
    user_id: Id
    username: str
    display_name: str
    device_id: Id
    settings: MeSettings
    avatar: Avatar = None


class PresenceOut(Struct):
    user_id: Id
    status: Status
    last_active_at: Millis


class ContactOut(Struct):
    user_id: Id
    username: str
    display_name: str
    status: Status
    last_active_at: Millis
    avatar: Annotated[
        Id | None,
        Meta(
            description="The media id of the profile picture (GET /v1/media/{id}/thumbnail,"
            " readable by every user), or null"
        ),
    ] = None


class ContactsOut(Struct):
    contacts: list[ContactOut]


class GroupOut(Struct):
    group_id: Id
    conversation_id: Id
    name: str | None
    owner_id: Id | None
    members: list[Id]


class DirectOut(Struct):
    conversation_id: Id
    kind: Literal["direct"]
    peer_id: Id


class ReceiptMarks(Struct):
    """Another member's watermarks: the newest message of the conversation its devices
    got, and the newest it read (null: none yet)."""

    user_id: Id
    delivered_upto: Id | None
    read_upto: Id | None


class ConversationOut(Struct):
    conversation_id: Id
    kind: Literal["direct", "group"]
    peer_id: Id | UnsetType = UNSET  # direct only
    group_id: Id | UnsetType = UNSET  # groups only
    name: str | UnsetType | None = UNSET  # groups only
    members: list[Id] | UnsetType = UNSET  # groups only
    last_message: Message | None = None
    unread_count: int = 0
    read_upto: Id | None = None
    receipts: list[ReceiptMarks] = []
    muted_until: int | None = None  # your mute: ms, -1 for ever; null when not muted
    membership: Annotated[
        Departure | UnsetType,
        Meta(
            description='A group you are no longer in: "left" or "removed" (absent: you take'
            " part). It is read only: its name is the one it had then, `members` and"
            " `receipts` are empty, `last_message` is the newest you were there for"
        ),
    ] = UNSET
    departed_at: Annotated[
        int | UnsetType, Meta(description="When you left or were removed (ms)")
    ] = UNSET


class ConversationsOut(Struct):
    conversations: list[ConversationOut]
    head: Annotated[
        int,
        Meta(
            description="Your inbox head, read before the list: a new device that says"
            " hello with `since` = head misses nothing the list does not show"
        ),
    ]


class MessagesOut(Struct):
    messages: list[Message]


class PostedOut(Struct):
    message_id: Id
    conversation_id: Id
    ts: Millis
    client_msg_id: str


class VapidKeyOut(Struct):
    key: Annotated[str, Meta(description="base64url of the uncompressed P-256 public key")]


class SubscribedOut(Struct):
    subscription_id: Id


class SubscriptionOut(Struct):
    subscription_id: Id
    kind: PushKind
    device_id: Id
    created_at: Millis
    endpoint: str | UnsetType = UNSET  # webpush
    topic: str | UnsetType = UNSET  # apns


class SubscriptionsOut(Struct):
    subscriptions: list[SubscriptionOut]


class ConversationSettingsOut(Struct):
    conversation_id: Id
    muted_until: Annotated[int | None, Meta(description="ms, -1 for ever, null: not muted")]


class HealthOut(Struct):
    status: Literal["ok"]
    connections: int


class DiscoveryOut(Struct):
    ws_url: str
    http_url: str
    node_id: Id


class ErrorDetail(Struct):
    code: ErrorCode
    message: str


class ErrorOut(Struct):
    error: ErrorDetail
