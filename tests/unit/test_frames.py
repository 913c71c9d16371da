"""Client frame decoding, id parsing and server frame encoding."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hubbub.core.errors import HubbubError
from hubbub.core.frames import (
    PONG_FRAME,
    Ack,
    FrameError,
    Hello,
    Ping,
    Read,
    Send,
    Typing,
    decode_client_frame,
    encode,
    error_frame,
    group_frame,
    message_frame,
    parse_id,
    presence_frame,
    receipt_frame,
    shared_message_part,
)
from hubbub.core.model import Message

# -- decoding: every frame type ---------------------------------------------------------


def test_decode_hello() -> None:
    assert decode_client_frame('{"type":"hello","token":"tok","since":42}') == Hello("tok", 42)
    assert decode_client_frame(b'{"type":"hello","token":"tok"}') == Hello("tok", 0)


def test_decode_send() -> None:
    frame = decode_client_frame(
        '{"type":"send","client_msg_id":"c1","body":"hi \\ud83d\\ude00","to":"7"}'
    )
    assert frame == Send(client_msg_id="c1", body="hi \U0001f600", to="7")
    assert frame.conversation_id is None
    frame = decode_client_frame(
        '{"type":"send","client_msg_id":"c2","body":"x","conversation_id":"9"}'
    )
    assert isinstance(frame, Send)
    assert frame.conversation_id == "9"
    assert frame.to is None


def test_decode_ack_read_typing_ping() -> None:
    assert decode_client_frame('{"type":"ack","seq":3}') == Ack(3)
    assert decode_client_frame('{"type":"read","conversation_id":"1","message_id":"2"}') == Read(
        "1", "2"
    )
    assert decode_client_frame('{"type":"typing","conversation_id":"5"}') == Typing("5")
    assert decode_client_frame('{"type":"ping"}') == Ping()


def test_unknown_extra_fields_are_ignored() -> None:
    assert decode_client_frame('{"type":"ping","extra":[1,2,{"x":null}]}') == Ping()
    assert decode_client_frame('{"seq":4,"type":"ack","future":"field"}') == Ack(4)
    frame = decode_client_frame(
        '{"type":"send","client_msg_id":"c","body":"b","reply_to":"99","nested":{"a":1}}'
    )
    assert frame == Send(client_msg_id="c", body="b")


# -- decoding: errors -------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        "",
        "{",
        '{"type":"ping"',
        b"\xff\xfe",
        "[]",
        '[{"type":"ping"}]',
        "null",
        "42",
        '"ping"',
        "{}",
        '{"type":"nope"}',
        '{"type":null}',
        '{"type":5}',
        '{"type":"hello"}',  # missing token
        '{"type":"ack"}',  # missing seq
        '{"type":"read","conversation_id":"1"}',  # missing message_id
        '{"type":"typing"}',
        '{"type":"ack","seq":"3"}',  # wrong type
        '{"type":"ack","seq":1.5}',
        '{"type":"ack","seq":true}',  # bool is not an int
        '{"type":"hello","token":"t","since":false}',
        '{"type":"hello","token":7}',
        '{"type":"typing","conversation_id":5}',
        '{"type":"send","client_msg_id":"c","body":null}',
    ],
)
def test_bad_frames_raise_frame_error_bad_request(raw: str | bytes) -> None:
    with pytest.raises(FrameError) as info:
        decode_client_frame(raw)
    assert info.value.code == "bad_request"
    assert isinstance(info.value, HubbubError)
    assert info.value.message


def test_frame_error_carries_client_msg_id_of_refused_frame() -> None:
    with pytest.raises(FrameError) as info:
        decode_client_frame('{"type":"send","client_msg_id":"abc-1"}')  # body missing
    assert info.value.client_msg_id == "abc-1"
    with pytest.raises(FrameError) as info:
        decode_client_frame('{"type":"send","client_msg_id":"abc-2","body":5}')
    assert info.value.client_msg_id == "abc-2"
    with pytest.raises(FrameError) as info:
        decode_client_frame('{"type":"bogus","client_msg_id":"abc-3"}')
    assert info.value.client_msg_id == "abc-3"


@pytest.mark.parametrize(
    "raw",
    [
        '{"type":"send","client_msg_id":5,"body":"x"}',  # not a string
        '{"type":"send","client_msg_id":null}',
        '{"type":"send","body":7}',  # absent
        '[{"client_msg_id":"c"}]',  # not an object
        '[' * 100_000,  # too deep for the decoder
    ],
)
def test_frame_error_without_string_client_msg_id(raw: str) -> None:
    with pytest.raises(FrameError) as info:
        decode_client_frame(raw)
    assert info.value.code == "bad_request"
    assert info.value.client_msg_id is None


@pytest.mark.parametrize(
    "raw",
    [
        b'{"type":"send","client_msg_id":"c","body":"x"',  # cut short
        b'{"type":"send","client_msg_id":"c","to":"1","body":"x\\ud800y"}',  # lone surrogate
        b'{"type":"send","client_msg_id":"c","x":' + b"[" * 5000 + b"]" * 5000 + b"}",
    ],
    ids=["truncated", "lone surrogate", "deep"],
)
def test_frames_msgspec_cannot_read_keep_their_client_msg_id(raw: bytes) -> None:
    """The client's message would otherwise stay "sending" for ever."""
    with pytest.raises(FrameError) as info:
        decode_client_frame(raw)
    assert (info.value.code, info.value.client_msg_id) == ("bad_request", "c")


def test_unknown_type_message_names_frame_type() -> None:
    with pytest.raises(FrameError) as info:
        decode_client_frame('{"type":"nope"}')
    assert "type" in info.value.message


# -- parse_id ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "number"),
    [("0", 0), ("1", 1), ("42", 42), (str(2**63 - 1), 2**63 - 1), ("007", 7)],
)
def test_parse_id_accepts(value: str, number: int) -> None:
    assert parse_id(value, "message_id") == number


@pytest.mark.parametrize(
    "value",
    [
        "",
        "-1",
        "+1",
        " 1",
        "1 ",
        "1.0",
        "1e3",
        "0x10",
        "abc",
        "١٢",  # Arabic-Indic digits: isdigit() but not ASCII
        "\uff11",  # fullwidth 1
        "\u00b2",  # superscript two
        str(2**63),
        str(2**64),
        "9" * 19,
        "0" * 20,
        "1_000",
    ],
)
def test_parse_id_refuses(value: str) -> None:
    with pytest.raises(HubbubError) as info:
        parse_id(value, "message_id")
    assert info.value.code == "bad_request"
    assert "message_id" in info.value.message


@given(st.integers(min_value=0, max_value=2**63 - 1))
def test_parse_id_round_trips(number: int) -> None:
    assert parse_id(str(number), "x") == number


@given(st.integers(min_value=2**63, max_value=2**70))
def test_parse_id_refuses_too_large(number: int) -> None:
    with pytest.raises(HubbubError):
        parse_id(str(number), "x")


@given(st.text(max_size=25))
def test_parse_id_returns_only_for_ascii_decimal_in_range(value: str) -> None:
    try:
        number = parse_id(value, "x")
    except HubbubError as e:
        assert e.code == "bad_request"
        assert not (value.isascii() and value.isdigit() and len(value) <= 19 and int(value) < 2**63)
    else:
        assert value.isascii()
        assert value.isdigit()
        assert int(value) == number
        assert 0 <= number < 2**63


# -- server frames ----------------------------------------------------------------------


def make_message(body: str = 'hi "there" \U0001f600\n') -> Message:
    return Message(
        message_id="123456789012345678",
        conversation_id="55",
        kind="direct",
        sender_id="9",
        body=body,
        ts=1_700_000_000_000,
        client_msg_id="c-1",
    )


def test_message_frame_decodes_to_message_plus_type_and_seq() -> None:
    msg = make_message()
    frame = message_frame(17, shared_message_part(msg))
    decoded = json.loads(frame)
    expected = json.loads(encode(msg))
    assert decoded == {"type": "message", "seq": 17, **expected}
    assert decoded["body"] == msg.body


@given(st.text(), st.integers(min_value=0, max_value=2**63 - 1))
def test_message_frame_round_trips_any_body(body: str, seq: int) -> None:
    msg = make_message(body.replace("\x00", ""))
    shared = shared_message_part(msg)
    decoded = json.loads(message_frame(seq, shared))
    assert decoded.pop("type") == "message"
    assert decoded.pop("seq") == seq
    assert decoded == json.loads(encode(msg))


def test_message_prefix_is_shared_across_seqs() -> None:
    shared = shared_message_part(make_message())
    a, b = json.loads(message_frame(1, shared)), json.loads(message_frame(2, shared))
    assert a["seq"] == 1
    assert b["seq"] == 2
    a.pop("seq")
    b.pop("seq")
    assert a == b


def test_error_frame_with_and_without_client_msg_id() -> None:
    without = json.loads(error_frame("bad_request", "nope"))
    assert without == {"type": "error", "code": "bad_request", "message": "nope"}
    with_id = json.loads(error_frame("too_large", "big", "c-9"))
    assert with_id == {
        "type": "error",
        "code": "too_large",
        "message": "big",
        "client_msg_id": "c-9",
    }
    # an empty string is still "given"
    assert json.loads(error_frame("bad_request", "m", ""))["client_msg_id"] == ""


def test_other_server_frames_use_string_ids() -> None:
    receipt = json.loads(receipt_frame("read", 2**62, 2**63 - 1, 3, 10))
    assert receipt == {
        "type": "receipt",
        "status": "read",
        "conversation_id": str(2**62),
        "message_id": str(2**63 - 1),
        "user_id": "3",
        "ts": 10,
    }
    assert json.loads(presence_frame(4, False, 99)) == {
        "type": "presence",
        "user_id": "4",
        "status": "offline",
        "last_active_at": 99,
    }
    assert json.loads(presence_frame(4, True, 1))["status"] == "online"
    assert json.loads(PONG_FRAME) == {"type": "pong"}
    assert json.loads(group_frame(5, "g", 6, (6, 7), actor_id=6)) == {
        "type": "group",
        "group_id": "5",
        "conversation_id": "5",
        "name": "g",
        "owner_id": "6",
        "members": ["6", "7"],
        "actor_id": "6",
    }
