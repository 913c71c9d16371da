"""64-bit time-ordered ids (Snowflake layout): 41 bits of milliseconds since EPOCH_MS,
10 bits of node id, 12 bits of per-millisecond sequence.

Ids from one generator strictly increase, even if the wall clock steps back (the
generator keeps its own high-water mark); ids of different nodes never collide.
"""

from __future__ import annotations

import threading

EPOCH_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z
NODE_BITS = 10
SEQ_BITS = 12
MAX_NODE_ID = (1 << NODE_BITS) - 1
_SEQ_MASK = (1 << SEQ_BITS) - 1
_TIME_SHIFT = NODE_BITS + SEQ_BITS


class IdGenerator:
    """Thread-safe: the storage writer thread and the event loop may both draw ids."""

    def __init__(self, node_id: int) -> None:
        if not 0 <= node_id <= MAX_NODE_ID:
            raise ValueError(f"node id must be 0..{MAX_NODE_ID}")
        self.node_id = node_id
        self._last_ms = 0
        self._seq = 0
        self._lock = threading.Lock()

    def next_id(self, now_ms: int) -> int:
        with self._lock:
            ms = max(now_ms - EPOCH_MS, self._last_ms)
            if ms == self._last_ms:
                self._seq = (self._seq + 1) & _SEQ_MASK
                if self._seq == 0:  # 4096 ids in one millisecond: borrow the next one
                    ms += 1
            else:
                self._seq = 0
            self._last_ms = ms
            return (ms << _TIME_SHIFT) | (self.node_id << SEQ_BITS) | self._seq


def id_time_ms(snowflake: int) -> int:
    """The creation time (ms since the Unix epoch) encoded in an id."""
    return (snowflake >> _TIME_SHIFT) + EPOCH_MS


def first_id_at(unix_ms: int) -> int:
    """The smallest id any node can draw at `unix_ms`: ids below it are older."""
    return max(unix_ms - EPOCH_MS, 0) << _TIME_SHIFT
