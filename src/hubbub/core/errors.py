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
    "unsupported_media",
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
    "unsupported_media": 415,
    "unavailable": 503,
    "internal": 500,
}


class HubbubError(Exception):
    """A refusal with a contract error code; nothing was changed when it is raised."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        status: int | None = None,
        retry_after_ms: int | None = None,
    ) -> None:
        super().__init__(message)
        self.code: ErrorCode = code
        self.message = message
        self._status = status  # when the code's usual HTTP status is not precise enough
        self.retry_after_ms = retry_after_ms  # rate_limited: when to try again

    @property
    def http_status(self) -> int:
        return self._status or HTTP_STATUS[self.code]


def bad_request(message: str) -> HubbubError:
    return HubbubError("bad_request", message)


def not_found(message: str) -> HubbubError:
    return HubbubError("not_found", message)


def forbidden(message: str) -> HubbubError:
    return HubbubError("forbidden", message)


def rate_limited(retry_after_ms: int, what: str) -> HubbubError:
    seconds = max(retry_after_ms, 1) / 1000
    return HubbubError(
        "rate_limited",
        f"too many {what}; try again in {seconds:.1f} s",
        retry_after_ms=retry_after_ms,
    )
