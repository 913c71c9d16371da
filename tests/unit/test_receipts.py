"""fold_receipts: one watermark receipt per conversation, never for one's own messages."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from hubbub.core.model import Receipt
from hubbub.core.receipts import fold_receipts

READER = 1


def by_conversation(receipts: list[Receipt]) -> dict[int, Receipt]:
    result = {r.conversation_id: r for r in receipts}
    assert len(result) == len(receipts), "more than one receipt for a conversation"
    return result


def test_one_receipt_per_conversation_with_max_message_id() -> None:
    covered = [(10, 100, 2), (10, 105, 2), (10, 103, 3), (20, 200, 4), (20, 150, 4)]
    receipts = by_conversation(fold_receipts("delivered", READER, covered, 999))
    assert set(receipts) == {10, 20}
    assert receipts[10].message_id == 105
    assert receipts[20].message_id == 200
    for r in receipts.values():
        assert r.status == "delivered"
        assert r.reader_id == READER
        assert r.ts == 999


def test_notify_holds_the_senders() -> None:
    covered = [(10, 100, 2), (10, 101, 3), (10, 102, 2), (20, 200, 4)]
    receipts = by_conversation(fold_receipts("read", READER, covered, 5))
    assert receipts[10].notify == frozenset({2, 3})
    assert receipts[20].notify == frozenset({4})
    assert receipts[10].status == "read"


def test_own_messages_are_ignored() -> None:
    covered = [(10, 100, 2), (10, 500, READER), (30, 300, READER)]
    receipts = by_conversation(fold_receipts("read", READER, covered, 5))
    # the reader's own later message does not raise the watermark
    assert receipts[10].message_id == 100
    assert READER not in receipts[10].notify
    # a conversation covered only by own messages gets no receipt at all
    assert 30 not in receipts


def test_nothing_covered_gives_nothing() -> None:
    assert fold_receipts("delivered", READER, [], 0) == []
    assert fold_receipts("delivered", READER, iter([]), 0) == []


def test_accepts_a_generator() -> None:
    receipts = fold_receipts("delivered", READER, ((1, m, 2) for m in (5, 9, 7)), 0)
    assert [(r.conversation_id, r.message_id) for r in receipts] == [(1, 9)]


covered_strategy = st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=5),
        st.integers(min_value=1, max_value=10_000),
        st.integers(min_value=1, max_value=6),
    ),
    max_size=40,
)


@given(covered_strategy)
def test_fold_matches_model(covered: list[tuple[int, int, int]]) -> None:
    receipts = by_conversation(fold_receipts("delivered", READER, covered, 42))
    others = [c for c in covered if c[2] != READER]
    expected_top: dict[int, int] = {}
    expected_notify: dict[int, set[int]] = {}
    for cid, mid, sender in others:
        expected_top[cid] = max(expected_top.get(cid, 0), mid)
        expected_notify.setdefault(cid, set()).add(sender)
    assert {cid: r.message_id for cid, r in receipts.items()} == expected_top
    assert {cid: set(r.notify) for cid, r in receipts.items()} == expected_notify
    assert all(r.reader_id == READER and r.ts == 42 for r in receipts.values())
