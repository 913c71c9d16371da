"""The per-user inbox (seq, resume, multi-device) and delivered/read receipts."""

from __future__ import annotations

from hubbub.client import HubbubClient
from tests.support import ServerProcess, another_device, messages_of, new_user, run


def test_resume_with_since_replays_exactly_the_missed_entries(server: ServerProcess) -> None:
    async def body() -> None:
        a, b = await new_user(server.url), await new_user(server.url)
        wa = await a.connect()
        ids = [(await wa.send_message(f"m{i}", to=b.user_id))["message_id"] for i in range(12)]
        wb = await b.connect(since=0)
        assert wb.head == 12
        first = await messages_of(wb, 12)
        assert [m["message_id"] for m in first] == ids
        assert [m["seq"] for m in first] == list(range(1, 13))
        await wb.close()
        more = [(await wa.send_message(f"n{i}", to=b.user_id))["message_id"] for i in range(3)]
        wb2 = await b.connect(since=12)
        missed = await messages_of(wb2, 3)
        assert [m["message_id"] for m in missed] == more
        assert [m for m in await wb2.collect(0.4) if m["type"] == "message"] == []
        await wb2.close()
        # a device claiming more than exists starts from the head, and misses nothing new
        wb3 = await b.connect(since=10_000)
        assert wb3.head == 15
        new = await wa.send_message("after", to=b.user_id)
        got = await wb3.expect("message")
        assert got["message_id"] == new["message_id"] and got["seq"] == 16
        await wb3.close()
        await wa.close()

    run(body())


def test_live_messages_during_a_long_replay_arrive_once_in_order(server: ServerProcess) -> None:
    async def body() -> None:
        a, b = await new_user(server.url), await new_user(server.url)
        wa = await a.connect()
        # the backlog from three senders (one sender at this pace meets the rate limit)
        senders = [wa, *[await (await new_user(server.url)).connect() for _ in range(2)]]
        backlog = [await w.submit(f"old{i}", to=b.user_id) for i in range(400) for w in senders]
        for f in backlog:
            assert (await f)["type"] == "sent"
        wb = await b.connect(since=0)  # the replay spans 3 pages of 500
        live = [await wa.submit(f"new{i}", to=b.user_id) for i in range(50)]
        for f in live:
            await f
        got = await messages_of(wb, 1250, timeout=30)
        assert [m["seq"] for m in got] == list(range(1, 1251))
        assert [m["body"] for m in got[-50:]] == [f"new{i}" for i in range(50)]
        assert [m for m in await wb.collect(0.3) if m["type"] == "message"] == []
        for w in (*senders, wb):
            await w.close()

    run(body())


def test_delivered_receipt_comes_once_from_the_first_device_ack(server: ServerProcess) -> None:
    async def body() -> None:
        a, b = await new_user(server.url), await new_user(server.url)
        a2, b2 = await another_device(a), await another_device(b)
        wa, wa2 = await a.connect(), await a2.connect()
        wb, wb2 = await b.connect(), await b2.connect()
        sent = [await wa.send_message(f"r{i}", to=b.user_id) for i in range(3)]
        got = await messages_of(wb, 3)
        await messages_of(wb2, 3)
        await wb.ack(got[-1]["seq"])  # one ack covers all three
        for ws in (wa, wa2):  # every device of the sender hears it
            rc = await ws.expect("receipt", status="delivered")
            assert rc["user_id"] == b.user_id
            assert rc["message_id"] == sent[-1]["message_id"]
            assert rc["conversation_id"] == sent[-1]["conversation_id"]
        await wb2.ack(got[-1]["seq"])  # the second device's ack tells nobody anything new
        later = await wa.collect(0.5)
        assert [f for f in later if f["type"] == "receipt"] == [], later
        for ws in (wa, wa2, wb, wb2):
            await ws.close()

    run(body())


def test_read_receipt_and_read_state_sync_across_the_readers_devices(
    server: ServerProcess,
) -> None:
    async def body() -> None:
        a, b = await new_user(server.url), await new_user(server.url)
        b2 = await another_device(b)
        wa, wb, wb2 = await a.connect(), await b.connect(), await b2.connect()
        sent = [await wa.send_message(f"read me {i}", to=b.user_id) for i in range(4)]
        conv = sent[0]["conversation_id"]
        summary = next(c for c in await b.conversations() if c["conversation_id"] == conv)
        assert summary["unread_count"] == 4
        assert summary["last_message"]["message_id"] == sent[-1]["message_id"]
        await wb.read(conv, sent[2]["message_id"])
        receipt = await wa.expect("receipt", status="read")
        assert receipt["user_id"] == b.user_id and receipt["message_id"] == sent[2]["message_id"]
        mirrored = await wb2.expect("read_state")  # b's other device learns it
        assert mirrored["conversation_id"] == conv
        assert mirrored["message_id"] == sent[2]["message_id"]
        # and no device of the reader is told "your messages were read"
        assert [f for f in await wb2.collect(0.3) if f["type"] == "receipt"] == []
        summary = next(c for c in await b.conversations() if c["conversation_id"] == conv)
        assert summary["unread_count"] == 1
        # a watermark never moves back: reading an older message says nothing
        await wb.read(conv, sent[0]["message_id"])
        assert [f for f in await wa.collect(0.4) if f["type"] == "receipt"] == []
        for ws in (wa, wb, wb2):
            await ws.close()

    run(body())


def test_group_receipts_go_to_each_sender(server: ServerProcess) -> None:
    async def body() -> None:
        a, b, c = [await new_user(server.url) for _ in range(3)]
        group = await a.create_group("receipts", [b.user_id, c.user_id])
        cid = group["conversation_id"]
        wa, wb, wc = await a.connect(), await b.connect(), await c.connect()
        from_a = await wa.send_message("from a", conversation_id=cid)
        from_b = await wb.send_message("from b", conversation_id=cid)
        got = await messages_of(wc, 2)
        await wc.ack(got[-1]["seq"])
        ra = await wa.expect("receipt", status="delivered", user_id=c.user_id)
        rb = await wb.expect("receipt", status="delivered", user_id=c.user_id)
        assert ra["message_id"] == rb["message_id"] == from_b["message_id"]
        assert int(from_a["message_id"]) < int(from_b["message_id"])
        for ws in (wa, wb, wc):
            await ws.close()

    run(body())


def test_acks_are_stored_per_device(server: ServerProcess) -> None:
    async def body() -> None:
        a, b = await new_user(server.url), await new_user(server.url)
        wa, wb = await a.connect(), await b.connect()
        await wa.send_message("one", to=b.user_id)
        m = await wb.expect("message")
        await wb.ack(m["seq"])
        await wa.expect("receipt", status="delivered")
        await wb.close()
        # a new device of b has acked nothing, but the user-level receipt is not repeated
        fresh: HubbubClient = await another_device(b)
        wf = await fresh.connect(since=0)
        again = await wf.expect("message")
        await wf.ack(again["seq"])
        assert [f for f in await wa.collect(0.4) if f["type"] == "receipt"] == []
        await wf.close()
        await wa.close()

    run(body())


def test_conversation_list_carries_the_receipt_watermarks(server: ServerProcess) -> None:
    async def body() -> None:
        a, b = await new_user(server.url), await new_user(server.url)
        wa, wb = await a.connect(), await b.connect()
        sent = [await wa.send_message(f"w{i}", to=b.user_id) for i in range(3)]
        cid = sent[0]["conversation_id"]
        (before,) = await a.conversations()
        assert before["receipts"] == [
            {"user_id": b.user_id, "delivered_upto": None, "read_upto": None}
        ]
        got = await messages_of(wb, 3)
        await wb.ack(got[-1]["seq"])
        await wa.expect("receipt", status="delivered")
        await wb.read(cid, sent[1]["message_id"])
        await wa.expect("receipt", status="read")
        (after,) = await a.conversations()  # what a new device or a reload learns
        assert after["receipts"] == [
            {
                "user_id": b.user_id,
                "delivered_upto": sent[2]["message_id"],
                "read_upto": sent[1]["message_id"],
            }
        ]
        await wa.close()
        await wb.close()

    run(body())


def test_a_burst_of_acks_ends_at_the_last_one_and_a_bad_one_fails_alone(
    server: ServerProcess,
) -> None:
    """Acks that come while the device's last ack is with the store fold into one (the
    gateway's _ack): the sender's watermark still reaches the last message and only moves
    forward, and an ack past the head in the middle of the burst gets its own error."""

    async def body() -> None:
        a, b = await new_user(server.url), await new_user(server.url)
        wa, wb = await a.connect(), await b.connect()
        sent = [await wa.send_message(f"b{i}", to=b.user_id) for i in range(40)]
        got = await messages_of(wb, 40)
        for m in got[:20]:
            await wb.ack(m["seq"])  # one after another, without waiting
        await wb.ack(10_000)
        for m in got[20:]:
            await wb.ack(m["seq"])
        error = await wb.expect("error")
        assert error["code"] == "bad_request" and "past the inbox head" in error["message"]
        order = {s["message_id"]: i for i, s in enumerate(sent)}
        heard: list[int] = []
        while not heard or heard[-1] != len(sent) - 1:
            rc = await wa.expect("receipt", status="delivered")
            heard.append(order[rc["message_id"]])
        assert heard == sorted(set(heard)), heard  # a watermark never moves back
        (conv,) = await a.conversations()
        assert conv["receipts"][0]["delivered_upto"] == sent[-1]["message_id"]
        await wa.close()
        await wb.close()

    run(body())
