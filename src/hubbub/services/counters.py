"""Counts on the message path, as plain integers: the metrics collector reads them when
/metrics is scraped (a prometheus Counter takes a lock on every increment, and one group
message makes a hundred deliveries)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Counters:
    messages_stored: int = 0  # repeats of a client_msg_id excluded
    deliveries: int = 0  # inbox entries handed to this node's device connections
