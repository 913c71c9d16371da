"""Receipt rules: many covered messages fold into one watermark per conversation, and
nobody gets a receipt for their own messages."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from hubbub.core.model import Receipt


def fold_receipts(
    status: Literal["delivered", "read"],
    reader_id: int,
    covered: Iterable[tuple[int, int, int]],
    now_ms: int,
) -> list[Receipt]:
    """`covered` holds (conversation_id, message_id, sender_id) of the messages an ack or
    a read newly covers. The result has at most one receipt per conversation: the highest
    covered message id, to be told to every sender among the covered messages except the
    reader (nobody gets a receipt for their own messages)."""
    top: dict[int, int] = {}
    senders: dict[int, set[int]] = {}
    for conversation_id, message_id, sender_id in covered:
        if sender_id == reader_id:
            continue
        if message_id > top.get(conversation_id, 0):
            top[conversation_id] = message_id
        senders.setdefault(conversation_id, set()).add(sender_id)
    return [
        Receipt(status, cid, mid, reader_id, now_ms, frozenset(senders[cid]))
        for cid, mid in top.items()
    ]


def read_receipt(
    reader_id: int, conversation_id: int, message_id: int, senders: Iterable[int], now_ms: int
) -> Receipt:
    """The reader has read the conversation up to `message_id`; `senders` wrote the
    messages the read newly covers (the reader's own are not told)."""
    notify = frozenset(s for s in senders if s != reader_id)
    return Receipt("read", conversation_id, message_id, reader_id, now_ms, notify)
