"""WebSocket frames of the wire contract: decoding client frames, encoding server frames.

Client frames decode straight into typed structs (msgspec validates type, required
fields and field types in one C pass); anything that does not fit becomes a
`FrameError` carrying the refused frame's `client_msg_id`, so the gateway can answer
with an `error` frame and keep the connection.
"""

from __future__ import annotations

from typing import Any

import msgspec

from hubbub.core.decoding import explain
from hubbub.core.errors import ErrorCode, HubbubError, bad_request
from hubbub.core.model import Message


class Hello(msgspec.Struct, tag="hello", tag_field="type"):
    token: str
    since: int = 0


class Send(msgspec.Struct, tag="send", tag_field="type"):
    client_msg_id: str
    body: str
    to: str | None = None
    conversation_id: str | None = None


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

_decoder = msgspec.json.Decoder(ClientFrame)
_any_decoder = msgspec.json.Decoder()
encode = msgspec.json.Encoder().encode


class FrameError(HubbubError):
    """A refused client frame; `client_msg_id` is set when the frame carried one."""

    def __init__(self, code: ErrorCode, message: str, client_msg_id: str | None = None) -> None:
        super().__init__(code, message)
        self.client_msg_id = client_msg_id


def decode_client_frame(raw: str | bytes) -> ClientFrame:
    try:
        frame: ClientFrame = _decoder.decode(raw)
    except msgspec.ValidationError as e:
        raise FrameError("bad_request", _explain(e), _probe_client_msg_id(raw)) from None
    except msgspec.DecodeError:
        raise FrameError("bad_request", "frame is not valid JSON") from None
    return frame


def _explain(error: msgspec.ValidationError) -> str:
    if "`$.type`" in str(error):
        return "unknown or missing frame type"
    return explain(error, "frame")


def _probe_client_msg_id(raw: str | bytes) -> str | None:
    try:
        obj = _any_decoder.decode(raw)
    except msgspec.DecodeError:
        return None
    if isinstance(obj, dict):
        value = obj.get("client_msg_id")
        if isinstance(value, str):
            return value
    return None


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
    group_id: int, name: str | None, owner_id: int | None, member_ids: tuple[int, ...]
) -> bytes:
    """To every member (and a just-removed one) when a group is made or its members change
    (an addition to protocol v1): clients refresh their conversation list from it."""
    return encode(
        {
            "type": "group",
            "group_id": str(group_id),
            "conversation_id": str(group_id),
            "name": name,
            "owner_id": str(owner_id) if owner_id is not None else None,
            "members": [str(m) for m in member_ids],
        }
    )


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


def error_frame(code: str, message: str, client_msg_id: str | None = None) -> bytes:
    frame: dict[str, Any] = {"type": "error", "code": code, "message": message}
    if client_msg_id is not None:
        frame["client_msg_id"] = client_msg_id
    return encode(frame)
