"""Wall-clock time as the contract uses it: integer milliseconds since the Unix epoch."""

from __future__ import annotations

import time

DAY_MS = 86_400_000


def now_ms() -> int:
    return int(time.time() * 1000)


def days_ago_ms(days: int | None, now: int) -> int:
    """The oldest time a user who keeps `days` of history still sees (0: everything)."""
    return now - days * DAY_MS if days else 0
