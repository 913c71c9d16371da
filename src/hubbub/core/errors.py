"""The error codes of the wire contract, as one exception type.

Every refusal the server gives a client (REST 4xx or a WebSocket `error` frame) is a
`HubbubError`; anything else that escapes is a bug and is reported as `internal`.
"""

from __future__ import annotations

from typing import Final, Literal

ErrorCode = Literal[
    "bad_request",
    "unauthorized",
    "forbidden",
    "not_found",
    "conflict",
    "too_large",
    "rate_limited",
    "group_full",
    "unavailable",
    "internal",
]

HTTP_STATUS: Final[dict[str, int]] = {
    "bad_request": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "conflict": 409,
    "too_large": 413,
    "rate_limited": 429,
    "group_full": 409,
    "unavailable": 503,
    "internal": 500,
}


class HubbubError(Exception):
    """A refusal with a contract error code; nothing was changed when it is raised."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code: ErrorCode = code
        self.message = message

    @property
    def http_status(self) -> int:
        return HTTP_STATUS[self.code]


def bad_request(message: str) -> HubbubError:
    return HubbubError("bad_request", message)


def not_found(message: str) -> HubbubError:
    return HubbubError("not_found", message)


def forbidden(message: str) -> HubbubError:
    return HubbubError("forbidden", message)
