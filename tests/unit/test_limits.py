"""Input limits of the contract (protocol-v1 "Limits")."""

from __future__ import annotations

import pytest

from hubbub.core.errors import HubbubError
from hubbub.core.limits import (
    MAX_PASSWORD_CHARS,
    MAX_RETENTION_DAYS,
    Limits,
    check_body,
    check_password,
    check_retention_days,
    check_username,
)

LIMITS = Limits()


def refused(func, *args: object) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(HubbubError) as info:
        func(*args)
    return info.value.code


# -- body -------------------------------------------------------------------------------


def test_body_default_limit_is_100_000() -> None:
    assert LIMITS.max_body_chars == 100_000


def test_empty_body_is_bad_request() -> None:
    assert refused(check_body, "", LIMITS) == "bad_request"


@pytest.mark.parametrize("body", ["a", " ", "\n", "héllo", "\U0001f600", "x" * 100_000])
def test_body_accepted(body: str) -> None:
    assert check_body(body, LIMITS) == body


def test_body_over_limit_is_too_large() -> None:
    assert refused(check_body, "x" * 100_001, LIMITS) == "too_large"


def test_body_with_nul_is_bad_request() -> None:
    assert refused(check_body, "a\x00b", LIMITS) == "bad_request"
    assert refused(check_body, "\x00", LIMITS) == "bad_request"


def test_astral_characters_count_as_one_code_point_each() -> None:
    emoji = "\U0001f600"  # 4 bytes in UTF-8, 2 UTF-16 units, 1 code point
    assert check_body(emoji * 100_000, LIMITS) == emoji * 100_000
    assert refused(check_body, emoji * 100_001, LIMITS) == "too_large"
    mixed = "\U00010348" * 50_000 + "a" * 50_000
    assert check_body(mixed, LIMITS) == mixed
    assert refused(check_body, mixed + "\U00010348", LIMITS) == "too_large"


def test_body_limit_follows_limits_object() -> None:
    small = Limits(max_body_chars=3)
    assert check_body("abc", small) == "abc"
    assert refused(check_body, "abcd", small) == "too_large"


# -- usernames --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["abc", "a_b", "a.b", "a-b", "user123", "x" * 32, "..."])
def test_username_accepted(name: str) -> None:
    assert check_username(name) == name


@pytest.mark.parametrize(
    "name",
    ["", "ab", "x" * 33, "Abc", "ab c", "abc\n", "ab@c", "émile", "\u0430bc", "abc\x00", "١٢٣"],
)
def test_username_refused(name: str) -> None:
    assert refused(check_username, name) == "bad_request"


# -- passwords --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "password", ["x" * 8, "pässwörd", "\U0001f600" * 8, "x" * MAX_PASSWORD_CHARS]
)
def test_password_accepted(password: str) -> None:
    assert check_password(password) == password


@pytest.mark.parametrize(
    "password", ["", "x" * 7, "\U0001f600" * 7, "x" * (MAX_PASSWORD_CHARS + 1)]
)
def test_password_refused(password: str) -> None:
    assert refused(check_password, password) == "bad_request"


# -- retention --------------------------------------------------------------------------


@pytest.mark.parametrize("days", [None, 1, 30, MAX_RETENTION_DAYS])
def test_retention_accepted(days: int | None) -> None:
    assert MAX_RETENTION_DAYS == 3650
    assert check_retention_days(days) == days


@pytest.mark.parametrize("days", [0, -1, 3651])
def test_retention_refused(days: int) -> None:
    assert refused(check_retention_days, days) == "bad_request"


def test_retention_in_whole_days_written_as_json_numbers() -> None:
    assert check_retention_days(30.0) == 30  # JSON Schema's integer: 30.0 is 30
    assert refused(check_retention_days, 1.5) == "bad_request"
    assert refused(check_retention_days, 4000.0) == "bad_request"
