"""WebSocket frames of the wire contract: decoding client frames, encoding server frames.

Client frames decode straight into typed structs (msgspec validates type, required
fields and field types in one C pass); anything that does not fit becomes a
`FrameError` carrying the refused frame's `client_msg_id`, so the gateway can answer
with an `error` frame and keep the connection.
"""

from __future__ import annotations

import json
import re
from typing import Any

import msgspec

from hubbub.core.decoding import explain
from hubbub.core.errors import ErrorCode, HubbubError, bad_request
from hubbub.core.model import Message, User


class Hello(msgspec.Struct, tag="hello", tag_field="type"):
    token: str
    since: int = 0


class Send(msgspec.Struct, tag="send", tag_field="type"):
    client_msg_id: str
    body: str  # may be "" only when attachments are given
    to: str | None = None
    conversation_id: str | None = None
    attachments: list[str] | None = None  # media ids (bounded in core.media)


class Ack(msgspec.Struct, tag="ack", tag_field="type"):
    seq: int


class Read(msgspec.Struct, tag="read", tag_field="type"):
    conversation_id: str
    message_id: str


class Typing(msgspec.Struct, tag="typing", tag_field="type"):
    conversation_id: str


class Ping(msgspec.Struct, tag="ping", tag_field="type"):
    pass


ClientFrame = Hello | Send | Ack | Read | Typing | Ping

class _Keyed(msgspec.Struct):
    client_msg_id: str | None = None


_decoder = msgspec.json.Decoder(ClientFrame)
_keyed = msgspec.json.Decoder(_Keyed)
encode = msgspec.json.Encoder().encode
CLOSE_INVALID_UTF8 = 1007  # RFC 6455: a text message that is not UTF-8
# the client_msg_id of a frame msgspec cannot read (a lone surrogate escape, bytes that
# are not UTF-8, nesting past the decoder's depth): found by pattern, bounded in length
_KEY_PATTERN = re.compile(rb'"client_msg_id"\s*:\s*"((?:[^"\\\x00-\x1f]|\\.){1,384})"')


class FrameError(HubbubError):
    """A refused client frame; `client_msg_id` is set when the frame carried one.
    `close_code` is set when the frame is refused by closing the socket instead."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        client_msg_id: str | None = None,
        close_code: int | None = None,
    ) -> None:
        super().__init__(code, message)
        self.client_msg_id = client_msg_id
        self.close_code = close_code


def decode_client_frame(raw: bytes | str) -> ClientFrame:
    """One typed msgspec pass; anything that does not fit becomes a FrameError that keeps
    the frame's client_msg_id (never a RecursionError, however deep the nesting)."""
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogatepass")
    try:
        frame: ClientFrame = _decoder.decode(raw)
    except msgspec.ValidationError as e:
        raise FrameError("bad_request", _explain(e), _client_msg_id_of(raw)) from None
    except msgspec.DecodeError:
        if not _is_utf8(raw):
            raise FrameError(
                "bad_request", "frame is not valid UTF-8", close_code=CLOSE_INVALID_UTF8
            ) from None
        message = "frame is not valid JSON (or holds a lone surrogate, which is not text)"
        raise FrameError("bad_request", message, _client_msg_id_of(raw)) from None
    except RecursionError:
        message = "frame is nested too deeply"
        raise FrameError("bad_request", message, _client_msg_id_of(raw)) from None
    return frame


def _explain(error: msgspec.ValidationError) -> str:
    if "`$.type`" in str(error):
        return "unknown or missing frame type"
    return explain(error, "frame")


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode()
    except UnicodeDecodeError:
        return False
    return True


def _client_msg_id_of(raw: bytes) -> str | None:
    """The refused frame's client_msg_id, if it had a usable one."""
    try:
        return _keyed.decode(raw).client_msg_id
    except msgspec.ValidationError:
        return None  # not an object, or its client_msg_id is not a string
    except (msgspec.DecodeError, RecursionError):
        pass  # msgspec cannot read the frame: look for the key by pattern
    found = _KEY_PATTERN.search(raw)
    if found is None:
        return None
    try:
        value = json.loads(b'"' + found.group(1) + b'"')
        value.encode()  # a lone surrogate in the id itself cannot be sent back
    except (ValueError, UnicodeError):
        return None
    return value if isinstance(value, str) and len(value) <= 64 else None


def parse_id(value: str, field: str) -> int:
    """Ids are decimal strings on the wire; inside they are 64-bit integers."""
    if not value.isascii() or not value.isdigit() or len(value) > 19:
        raise bad_request(f"{field} is not a valid id")
    number = int(value)
    if number >= 1 << 63:
        raise bad_request(f"{field} is not a valid id")
    return number


# --- server frames -------------------------------------------------------------------


def ready_frame(user_id: int, device_id: int, head: int, heartbeat_interval: float) -> bytes:
    return encode(
        {
            "type": "ready",
            "user_id": str(user_id),
            "device_id": str(device_id),
            "head": head,
            "heartbeat_interval": heartbeat_interval,
        }
    )


def sent_frame(client_msg_id: str, message_id: int, conversation_id: int, ts: int) -> bytes:
    return encode(
        {
            "type": "sent",
            "client_msg_id": client_msg_id,
            "message_id": str(message_id),
            "conversation_id": str(conversation_id),
            "ts": ts,
        }
    )


def shared_message_part(message: Message) -> bytes:
    """The part of a `message` frame shared by every recipient: the message object
    without its opening brace. Each inbox entry adds only its own `seq`
    (see `message_frame`), so a group message is encoded once, not once per member."""
    return encode(message)[1:]


def message_frame(seq: int, shared: bytes) -> bytes:
    return b'{"type":"message","seq":%d,%s' % (seq, shared)


def receipt_frame(
    status: str, conversation_id: int, message_id: int, user_id: int, ts: int
) -> bytes:
    return encode(
        {
            "type": "receipt",
            "status": status,
            "conversation_id": str(conversation_id),
            "message_id": str(message_id),
            "user_id": str(user_id),
            "ts": ts,
        }
    )


def read_state_frame(conversation_id: int, message_id: int, ts: int) -> bytes:
    """To the reader's own devices: this user has read the conversation up to message_id
    (an addition to protocol v1; clients that do not know it may ignore it)."""
    return encode(
        {
            "type": "read_state",
            "conversation_id": str(conversation_id),
            "message_id": str(message_id),
            "ts": ts,
        }
    )


def group_frame(
    group_id: int,
    name: str | None,
    owner_id: int | None,
    member_ids: tuple[int, ...],
    actor_id: int | None = None,
) -> bytes:
    """To every member (and a just-removed one) when a group is made or its members change
    (an addition to protocol v1): clients refresh their conversation list from it, and say
    who did it (`actor_id`: "Ann added Ben", "Ben left", "Ann removed Cat")."""
    return encode(
        {
            "type": "group",
            "group_id": str(group_id),
            "conversation_id": str(group_id),
            "name": name,
            "owner_id": str(owner_id) if owner_id is not None else None,
            "members": [str(m) for m in member_ids],
            "actor_id": str(actor_id) if actor_id is not None else None,
        }
    )


def profile_frame(user: User) -> bytes:
    """To the user's own devices and to the users who have them as a contact, when the
    display name or the profile picture changes (an addition to protocol v1): the user
    object as REST shows it."""
    return encode({"type": "profile", **user.public()})


def conversation_deleted_frame(conversation_id: int) -> bytes:
    """To the user's own devices when one of them deleted a chat from the list (a group
    the user is no longer in; an addition to protocol v1)."""
    return encode({"type": "conversation_deleted", "conversation_id": str(conversation_id)})


def presence_frame(user_id: int, online: bool, last_active_at: int) -> bytes:
    return encode(
        {
            "type": "presence",
            "user_id": str(user_id),
            "status": "online" if online else "offline",
            "last_active_at": last_active_at,
        }
    )


def typing_frame(conversation_id: int, user_id: int) -> bytes:
    return encode(
        {"type": "typing", "conversation_id": str(conversation_id), "user_id": str(user_id)}
    )


PONG_FRAME = b'{"type":"pong"}'


def error_frame(
    code: str,
    message: str,
    client_msg_id: str | None = None,
    retry_after_ms: int | None = None,
) -> bytes:
    frame: dict[str, Any] = {"type": "error", "code": code, "message": message}
    if client_msg_id is not None:
        frame["client_msg_id"] = client_msg_id
    if retry_after_ms is not None:
        frame["retry_after_ms"] = retry_after_ms
    return encode(frame)
