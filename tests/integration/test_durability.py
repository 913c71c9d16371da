"""Crash safety and ordering under concurrency.

kill -9 while many senders are mid-stream: every message that got `sent` survives, a
resend with the same client_msg_id never stores it twice, and every inbox stays numbered
1..head with no gap. Then many concurrent senders in one group keep one order.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from pathlib import Path

from hubbub.client import HubbubClient
from tests.support import ServerProcess, messages_of, new_user, run

SENDERS = 8
WINDOW = 16


async def _send_until_killed(
    api: HubbubClient, peer: str, acked: dict[str, str], attempted: list[str]
) -> None:
    """Keep WINDOW messages in flight until the socket dies; record what got `sent`."""
    ws = await api.connect()
    try:
        while True:
            batch = []
            for _ in range(WINDOW):
                cmid = uuid.uuid4().hex
                attempted.append(cmid)
                batch.append((cmid, await ws.submit(f"body {cmid}", to=peer, client_msg_id=cmid)))
            for cmid, future in batch:
                frame = await future
                assert frame["type"] == "sent", frame
                acked[cmid] = frame["message_id"]
    except (ConnectionError, OSError):
        pass  # the server died under us
    except Exception as e:  # websockets raises its own ConnectionClosed types
        if "close" not in type(e).__name__.lower():
            raise
    finally:
        with contextlib.suppress(Exception):
            await ws.close()


def test_kill9_under_load_loses_and_doubles_nothing(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data").start()

    async def body() -> None:
        receiver = await new_user(server.url)
        senders = [await new_user(server.url) for _ in range(SENDERS)]
        acked: dict[str, str] = {}
        attempted: list[list[str]] = [[] for _ in senders]
        tasks = [
            asyncio.create_task(_send_until_killed(s, receiver.user_id or "", acked, mine))
            for s, mine in zip(senders, attempted, strict=True)
        ]
        for _ in range(3000):  # crash in the middle of the stream (bounded wait)
            if len(acked) >= 400:
                break
            await asyncio.sleep(0.01)
        server.kill9()
        await asyncio.wait_for(asyncio.gather(*tasks), 30)
        acked_before_crash = dict(acked)
        assert len(acked_before_crash) >= 400
        server.start()

        # every sender resends everything it attempted, with the same client_msg_id
        for s, mine in zip(senders, attempted, strict=True):
            ws = await s.connect()
            futures = [
                (cmid, await ws.submit(f"body {cmid}", to=receiver.user_id, client_msg_id=cmid))
                for cmid in mine
            ]
            for cmid, future in futures:
                frame = await asyncio.wait_for(future, 30)
                assert frame["type"] == "sent", frame
                if cmid in acked_before_crash:  # acknowledged before: same message, same id
                    assert frame["message_id"] == acked_before_crash[cmid]
            await ws.close()

        wr = await receiver.connect(since=0)
        head = wr.head
        total = sum(len(m) for m in attempted)
        assert head == total, f"inbox head {head} != {total} distinct messages"
        entries = await messages_of(wr, head, timeout=60)
        await wr.close()
        assert [e["seq"] for e in entries] == list(range(1, head + 1)), "gap or repeat"
        cmids = [e["client_msg_id"] for e in entries]
        assert len(set(cmids)) == len(cmids) == total, "a message was stored twice"
        stored = {e["client_msg_id"]: e["message_id"] for e in entries}
        lost = [c for c, m in acked_before_crash.items() if stored.get(c) != m]
        assert not lost, f"{len(lost)} acknowledged messages lost after kill -9"

    try:
        run(body())
    finally:
        server.stop()


def test_concurrent_senders_keep_one_conversation_order(server: ServerProcess) -> None:
    """Many members send into one group at once: every member's inbox holds the group's
    messages in one order, that order is message-id order, and each sender's own
    messages appear in the order it sent them."""

    async def body() -> None:
        members = [await new_user(server.url) for _ in range(10)]
        g = await members[0].create_group("busy", [m.user_id or "" for m in members[1:]])
        cid = g["conversation_id"]
        sockets = [await m.connect() for m in members]
        per_sender = 40

        async def blast(index: int) -> None:
            futures = [
                await sockets[index].submit(f"{index}:{n}", conversation_id=cid)
                for n in range(per_sender)
            ]
            for f in futures:
                assert (await f)["type"] == "sent"

        await asyncio.gather(*(blast(i) for i in range(len(members))))
        total = per_sender * len(members)
        views = [await messages_of(ws, total, timeout=30) for ws in sockets]
        orders = [[f["message_id"] for f in v] for v in views]
        assert all(o == orders[0] for o in orders), "members disagree on the order"
        assert orders[0] == sorted(orders[0], key=int), "inbox order is not id order"
        for index in range(len(members)):
            mine = [f["body"] for f in views[0] if f["body"].startswith(f"{index}:")]
            assert mine == [f"{index}:{n}" for n in range(per_sender)]
        history = await members[3].history(cid, limit=100)
        assert [m["message_id"] for m in history] == orders[0][::-1][:100]
        for ws in sockets:
            await ws.close()

    run(body())
