"""Wire frames as a load client sees them (docs/protocol.md section 6).

Server frames decode into msgspec structs in one C pass; fields a client here does not
need are left out (msgspec skips unknown fields), and fields a bare relay
(bench/ws_stacks.py) does not send have defaults. Client frames are built as bytes.
"""

from __future__ import annotations

import msgspec


class Ready(msgspec.Struct, tag_field="type", tag="ready"):
    user_id: str = ""
    device_id: str = ""
    head: int = 0
    heartbeat_interval: float = 10.0


class Sent(msgspec.Struct, tag_field="type", tag="sent"):
    client_msg_id: str
    message_id: str
    conversation_id: str = ""


class Message(msgspec.Struct, tag_field="type", tag="message"):
    seq: int
    message_id: str
    sender_id: str
    body: str
    client_msg_id: str = ""
    conversation_id: str = ""


class Receipt(msgspec.Struct, tag_field="type", tag="receipt"):
    status: str
    conversation_id: str = ""
    message_id: str = ""
    user_id: str = ""


class ReadState(msgspec.Struct, tag_field="type", tag="read_state"):
    conversation_id: str = ""
    message_id: str = ""


class Presence(msgspec.Struct, tag_field="type", tag="presence"):
    user_id: str = ""
    status: str = ""


class Typing(msgspec.Struct, tag_field="type", tag="typing"):
    conversation_id: str = ""
    user_id: str = ""


class Group(msgspec.Struct, tag_field="type", tag="group"):
    group_id: str = ""


class Pong(msgspec.Struct, tag_field="type", tag="pong"):
    pass


class Error(msgspec.Struct, tag_field="type", tag="error"):
    code: str = ""
    message: str = ""
    client_msg_id: str | None = None


ServerFrame = (
    Ready | Sent | Message | Receipt | ReadState | Presence | Typing | Group | Pong | Error
)
DECODER = msgspec.json.Decoder(ServerFrame)
ENCODER = msgspec.json.Encoder()
# frame type name of each struct, for per-type counters
TYPE_NAME: dict[type, str] = {
    cls: str(cls.__struct_config__.tag)
    for cls in (Ready, Sent, Message, Receipt, ReadState, Presence, Typing, Group, Pong, Error)
}

PING = b'{"type":"ping"}'


def hello(token: str, since: int) -> bytes:
    return ENCODER.encode({"type": "hello", "token": token, "since": since})


def ack(seq: int) -> bytes:
    return b'{"type":"ack","seq":%d}' % seq


def read(conversation_id: str, message_id: str) -> bytes:
    return b'{"type":"read","conversation_id":"%s","message_id":"%s"}' % (
        conversation_id.encode(),
        message_id.encode(),
    )


def typing(conversation_id: str) -> bytes:
    return b'{"type":"typing","conversation_id":"%s"}' % conversation_id.encode()


def send_target(to: str | None = None, conversation_id: str | None = None) -> bytes:
    """The part of a `send` frame between the client_msg_id and the body."""
    if (to is None) == (conversation_id is None):
        raise ValueError("exactly one of to and conversation_id")
    key, value = ("to", to) if to is not None else ("conversation_id", conversation_id)
    return f'","{key}":"{value}","body":"'.encode()


def send(client_msg_id: bytes, target: bytes, body: bytes) -> bytes:
    """`target` from send_target; `body` must need no JSON escaping."""
    return b'{"type":"send","client_msg_id":"' + client_msg_id + target + body + b'"}'
