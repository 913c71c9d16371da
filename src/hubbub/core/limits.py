"""Limits and input rules of the contract (protocol-v1 "Limits"), checked without I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass

from hubbub.core.errors import HubbubError, bad_request

USERNAME_RE = re.compile(r"[a-z0-9_.\-]{3,32}")
MIN_PASSWORD_CHARS = 8
MAX_PASSWORD_CHARS = 1024  # argon2 hashes any length; this only bounds the work per request
MAX_DISPLAY_NAME_CHARS = 64
MAX_GROUP_NAME_CHARS = 128
MAX_DEVICE_NAME_CHARS = 64
MAX_RETENTION_DAYS = 3650
UNDELIVERED_KEEP_DAYS = 365  # an entry no device has fetched is kept at least this long


@dataclass(frozen=True, slots=True)
class Limits:
    max_body_chars: int = 100_000
    max_group_members: int = 100
    max_client_msg_id_chars: int = 64
    history_page_default: int = 20
    history_page_max: int = 100


def check_username(username: str) -> str:
    if not USERNAME_RE.fullmatch(username):
        raise bad_request("username must be 3..32 characters of a-z 0-9 _ . -")
    return username


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_CHARS:
        raise bad_request(f"password must be at least {MIN_PASSWORD_CHARS} characters")
    if len(password) > MAX_PASSWORD_CHARS:
        raise bad_request(f"password must be at most {MAX_PASSWORD_CHARS} characters")
    return password


def check_text(value: str, what: str, max_chars: int, *, allow_empty: bool = False) -> str:
    """A short piece of user text: no NUL, not only blanks (unless allowed), bounded."""
    if "\x00" in value:
        raise bad_request(f"{what} must not contain U+0000")
    if not allow_empty and not value.strip():
        raise bad_request(f"{what} must not be empty")
    if len(value) > max_chars:
        raise bad_request(f"{what} must be at most {max_chars} characters")
    return value


def check_body(body: str, limits: Limits, *, allow_empty: bool = False) -> str:
    """A message body: 1..max code points (0 allowed for a message with attachments),
    every scalar value but U+0000."""
    if not body and not allow_empty:
        raise bad_request("body must not be empty")
    if len(body) > limits.max_body_chars:
        raise HubbubError("too_large", f"body is over {limits.max_body_chars} characters")
    if "\x00" in body:
        raise bad_request("body must not contain U+0000")
    return body


def check_client_msg_id(client_msg_id: str, limits: Limits) -> str:
    if not 1 <= len(client_msg_id) <= limits.max_client_msg_id_chars:
        raise bad_request(f"client_msg_id must be 1..{limits.max_client_msg_id_chars} characters")
    if "\x00" in client_msg_id:
        raise bad_request("client_msg_id must not contain U+0000")
    return client_msg_id


def check_retention_days(days: float | None) -> int | None:
    """null, or whole days 1..MAX_RETENTION_DAYS (30.0 is 30: JSON has only numbers)."""
    if days is None:
        return None
    if isinstance(days, float):
        if not days.is_integer():
            raise bad_request("history_retention_days must be a whole number of days")
        days = int(days)
    if not 1 <= days <= MAX_RETENTION_DAYS:
        raise bad_request(f"history_retention_days must be null or 1..{MAX_RETENTION_DAYS}")
    return days
