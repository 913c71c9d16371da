"""REST bodies decode in one pass into their structs (api/schemas.py): a wrong type or a
missing field is bad_request before any service runs; unknown fields are ignored."""

from __future__ import annotations

import json
import re
from typing import Any

import msgspec
import pytest

from hubbub.api.http import decode_body
from hubbub.api.schemas import (
    NOT_BLANK,
    LogIn,
    NewGroup,
    NewMessage,
    RetentionSetting,
    SignUp,
)
from hubbub.core.errors import HubbubError
from hubbub.core.limits import check_text


def decode(struct: type, body: Any) -> Any:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return decode_body(raw, msgspec.json.Decoder(struct))


def refused(struct: type, body: Any) -> str:
    with pytest.raises(HubbubError) as e:
        decode(struct, body)
    assert e.value.code == "bad_request"
    return e.value.message


@pytest.mark.parametrize("name", [None, 123, ["abc"], {"a": 1}, True])
def test_username_not_a_string_refused(name: object) -> None:
    assert "username" in refused(SignUp, {"username": name, "password": "x" * 8})


@pytest.mark.parametrize("password", [None, 12345678, ["12345678"]])
def test_password_not_a_string_refused(password: object) -> None:
    assert "password" in refused(LogIn, {"username": "abc", "password": password})


@pytest.mark.parametrize("days", [True, False, "5", [5], {}])
def test_retention_of_the_wrong_type_refused(days: object) -> None:
    assert "history_retention_days" in refused(RetentionSetting, {"history_retention_days": days})


def test_retention_is_required_and_null_is_allowed() -> None:
    assert "history_retention_days" in refused(RetentionSetting, {})
    assert decode(RetentionSetting, {"history_retention_days": None}).history_retention_days is None


@pytest.mark.parametrize(
    "body", [b"", b"{", b"[1]", b"null", b'"text"', b"\xff\xfe", b'{"client_msg_id": "a"}']
)
def test_not_an_object_of_the_shape_refused(body: bytes) -> None:
    refused(NewMessage, body)


def test_unknown_fields_are_ignored_and_defaults_apply() -> None:
    group = decode(NewGroup, {"name": "g", "future_field": 1})
    assert group.name == "g" and group.members == []
    assert decode(SignUp, {"username": "abc", "password": "x" * 8}).display_name is None


BLANK_OR_NOT = [chr(c) for c in range(0x3001) if chr(c).isspace()] + ["\ufeff", "\u200b", "a"]


@pytest.mark.parametrize("ch", BLANK_OR_NOT, ids=lambda c: f"U+{ord(c):04X}")
def test_the_documented_not_blank_pattern_is_the_servers_rule(ch: str) -> None:
    """The OpenAPI pattern for names says exactly what core.limits.check_text refuses, so a
    client (or a fuzzer) that follows the document is never refused by the server."""
    for text in (ch, ch * 3, f"{ch}x{ch}"):
        server_accepts = True
        try:
            check_text(text, "name", 64)
        except HubbubError:
            server_accepts = False
        assert bool(re.fullmatch(NOT_BLANK, text)) == server_accepts, repr(text)
