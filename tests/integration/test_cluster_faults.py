"""Faults in a cluster on real PostgreSQL and Redis servers that the tests start: a node
killed with -9 under load, Redis restarted under two nodes, PostgreSQL stopped and started
again under a node. Every wait is bounded; the checks are on what the store holds (a
resume with `since`), not on timing.

Clients of a node that dies reconnect through discovery (asking the surviving node's
`/v1/discovery`), as real clients do.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import websockets

from hubbub.client import ApiError, Connection, HubbubClient
from tests.bus_fixtures import redis_server, redis_url  # noqa: F401 - fixtures
from tests.pg_server import PostgresServer, create_database, find_bindir
from tests.redis_server import RedisServer
from tests.support import ServerProcess, new_user, run

DROPPED = (ConnectionError, websockets.ConnectionClosed, OSError, asyncio.TimeoutError)


def _database(postgres_server: PostgresServer) -> str:
    return create_database(postgres_server, f"hubbub_{uuid.uuid4().hex[:10]}")


def _two_nodes(tmp_path: Path, dsn: str, redis: str) -> tuple[ServerProcess, ServerProcess]:
    shared = ("--database-url", dsn, "--redis-url", redis)
    one = ServerProcess(tmp_path / "one", 2.0, *shared, "--node-id", "1").start()
    try:
        two = ServerProcess(tmp_path / "two", 2.0, *shared, "--node-id", "2").start()
    except BaseException:
        one.stop()
        raise
    return one, two


async def _connect(url: str, token: str, since: int, deadline: float) -> Connection:
    """A device's socket on `url` itself (no discovery: the tests place clients on
    nodes), retried until `deadline` (a node may still be starting, or the store coming
    back)."""
    ws_url = url.replace("http", "ws", 1) + "/v1/ws"
    while True:
        try:
            return await Connection.open(ws_url, token, since)
        except (ApiError, *DROPPED):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


async def _via_discovery(entry: str, token: str, since: int, deadline: float) -> Connection:
    """Reconnect as a client does after a drop: ask `entry` which node to use (a dead
    node drops out of discovery within its 3 s TTL; until then the client falls back to
    the entry node), retried until `deadline`."""
    api = HubbubClient(entry, token=token)
    try:
        while True:
            try:
                return await api.connect(since=since, heartbeat=False, discover=True)
            except (ApiError, *DROPPED):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.1)
    finally:
        await api.aclose()


async def _pinned(api: HubbubClient, since: int = 0) -> Connection:
    return await _connect(api.base_url, api.token or "", since, time.monotonic() + 10)


async def _inbox(url: str, token: str, timeout: float = 20.0) -> list[dict]:
    """Every inbox entry of the device's user, replayed from seq 1 (resume with since=0)."""
    ws = await _connect(url, token, 0, time.monotonic() + timeout)
    try:
        return [await ws.expect("message", timeout=timeout) for _ in range(ws.head)]
    finally:
        await ws.close()


HANDLED = re.compile(r"^\d{4}-\d\d-\d\d [\d:,]+ (WARNING|ERROR) (?!asyncio\b)\S+: ")
# how Python joins a chained exception's tracebacks (the first one was already judged)
CHAINED = (
    "The above exception was the direct cause of the following exception:",
    "During handling of the above exception, another exception occurred:",
)


def _assert_no_crash(node: ServerProcess) -> None:
    """No traceback in the node's log but those of errors the code caught and logged
    (`log.exception(...)` / `log.warning(..., exc_info=True)`, e.g. "commit failed",
    "will retry"): an outage is expected to log those. A traceback after anything else
    (uvicorn's "Exception in ASGI application", asyncio's "Task exception was never
    retrieved", a bare crash) fails."""
    lines = node.log().splitlines()
    crashes = [
        i
        for i, line in enumerate(lines)
        if line.startswith("Traceback")
        and not (i >= 2 and lines[i - 1] == "" and lines[i - 2] in CHAINED)
        and (i == 0 or not HANDLED.match(lines[i - 1]))
    ]
    assert not crashes, "\n".join(lines[max(crashes[0] - 5, 0) : crashes[0] + 30])


def _assert_gap_free(inbox: list[dict]) -> None:
    seqs = [m["seq"] for m in inbox]
    assert seqs == list(range(1, len(inbox) + 1)), seqs
    ids = [m["message_id"] for m in inbox]
    assert len(ids) == len(set(ids)), "a message is stored twice in one inbox"


# -- a. kill -9 a node under load


@dataclass
class Pair:
    sender: HubbubClient
    receiver: HubbubClient
    sender_url: str
    receiver_url: str
    acked: dict[str, str] = field(default_factory=dict)  # client_msg_id -> message_id
    received: list[dict] = field(default_factory=list)  # live frames, in arrival order
    done: bool = False  # the sender has every message acked
    received_all: bool = False
    sender_moved: bool = False
    receiver_moved: bool = False


async def _sender(pair: Pair, count: int, fallback: str, deadline: float) -> None:
    ws = await _connect(pair.sender_url, pair.sender.token or "", 0, deadline)
    try:
        for i in range(count):
            cmid = f"{pair.sender.user_id}-{i}"
            while True:  # until acked: a resend after a drop keeps the client_msg_id
                assert time.monotonic() < deadline, f"message {i} never acked"
                try:
                    sent = await ws.send_message(
                        f"m{i}", to=pair.receiver.user_id, client_msg_id=cmid, timeout=10
                    )
                except DROPPED:
                    await ws.close()
                    pair.sender_url = fallback
                    pair.sender_moved = True
                    ws = await _via_discovery(fallback, pair.sender.token or "", 0, deadline)
                    continue
                previous = pair.acked.setdefault(cmid, sent["message_id"])
                assert previous == sent["message_id"], "a resend was stored as a new message"
                break
    finally:
        pair.done = True
        await ws.close()


async def _receiver(pair: Pair, fallback: str, deadline: float) -> None:
    last_seq = 0
    ws = await _connect(pair.receiver_url, pair.receiver.token or "", 0, deadline)
    try:
        while True:
            assert time.monotonic() < deadline, (
                f"missing {set(pair.acked.values()) - {m['message_id'] for m in pair.received}}"
            )
            if pair.done and set(pair.acked.values()) <= {m["message_id"] for m in pair.received}:
                return
            try:
                frame = await ws.expect("message", timeout=0.5)
            except TimeoutError:
                if ws.close_code is None:
                    continue
                frame = None
            except DROPPED:
                frame = None
            if frame is None:  # the node is gone: resume on node one from the last seq
                await ws.close()
                pair.receiver_url = fallback
                pair.receiver_moved = True
                ws = await _via_discovery(fallback, pair.receiver.token or "", last_seq, deadline)
                continue
            assert frame["seq"] == last_seq + 1, (last_seq, frame["seq"])
            last_seq = frame["seq"]
            pair.received.append(frame)
            with contextlib.suppress(*DROPPED):
                await ws.ack(last_seq)
    finally:
        await ws.close()


def test_kill9_node_under_load_loses_and_duplicates_nothing(
    postgres_server: PostgresServer,
    redis_url: str,  # noqa: F811 - the fixture
    tmp_path: Path,
) -> None:
    one, two = _two_nodes(tmp_path, _database(postgres_server), redis_url)
    count, pairs_n = 60, 6

    async def body() -> None:
        deadline = time.monotonic() + 90
        pairs = []
        for i in range(pairs_n):  # senders and receivers spread over both nodes
            s_url, r_url = (one.url, two.url) if i % 2 else (two.url, one.url)
            if i % 3 == 0:
                r_url = s_url  # some pairs on the same node (two, for i = 0)
            pairs.append(Pair(await new_user(s_url), await new_user(r_url), s_url, r_url))
        receivers = [asyncio.create_task(_receiver(p, one.url, deadline)) for p in pairs]
        senders = [asyncio.create_task(_sender(p, count, one.url, deadline)) for p in pairs]
        everything = asyncio.gather(*receivers, *senders)
        try:
            # kill node two while every sender is mid-stream
            while min(len(p.acked) for p in pairs) < count // 4:
                assert time.monotonic() < deadline, "the senders did not get going"
                assert not everything.done(), everything.exception()
                await asyncio.sleep(0.01)
            assert max(len(p.acked) for p in pairs) < count, "load finished before the kill"
            # who is still talking to node two (the loop is blocked while kill9 waits, so
            # an ack already on its way may still arrive: hence "count - 2")
            going = [p for p in pairs if len(p.acked) <= count - 2]
            stranded = [(p, "sender") for p in going if p.sender_url == two.url]
            stranded += [(p, "receiver") for p in going if p.receiver_url == two.url]
            two.kill9()
            assert len(stranded) >= 3, "too few clients were on node two at the kill"
            await asyncio.wait_for(everything, deadline - time.monotonic())
        finally:
            for task in (*receivers, *senders):
                task.cancel()
            await asyncio.gather(*receivers, *senders, return_exceptions=True)

        for pair, role in stranded:
            assert getattr(pair, f"{role}_moved"), f"a {role} on node two never reconnected"
        for pair in pairs:
            assert len(pair.acked) == count
            live = [m["message_id"] for m in pair.received]
            assert sorted(live) == sorted(pair.acked.values()), "not delivered exactly once"
            inbox = await _inbox(one.url, pair.receiver.token or "")
            _assert_gap_free(inbox)
            assert {m["message_id"] for m in inbox} == set(pair.acked.values())
            sender_inbox = await _inbox(one.url, pair.sender.token or "")
            _assert_gap_free(sender_inbox)
            assert {m["message_id"] for m in sender_inbox} == set(pair.acked.values())
        for pair in pairs:
            await pair.sender.aclose()
            await pair.receiver.aclose()

    try:
        run(body())
    finally:
        one.stop()
        two.kill9()
    _assert_no_crash(one)


# -- b. Redis restarted under two nodes


def test_redis_restart_bus_resubscribes_and_nothing_is_lost(
    postgres_server: PostgresServer,
    redis_server: RedisServer,  # noqa: F811 - the fixture
    redis_url: str,  # noqa: F811 - the fixture
    tmp_path: Path,
) -> None:
    one, two = _two_nodes(tmp_path, _database(postgres_server), redis_url)

    async def body() -> None:
        a = await new_user(one.url)
        b = await new_user(two.url)
        wa, wb = await _pinned(a), await _pinned(b)
        acked: list[str] = []
        for i in range(5):
            sent = await wa.send_message(f"before {i}", to=b.user_id)
            acked.append(sent["message_id"])
            assert (await wb.expect("message", message_id=sent["message_id"]))["seq"] == i + 1

        redis_server.restart()  # kill -9 and start again on the same port

        # the bus must re-subscribe node two to b's channel: probe until one arrives live
        deadline = time.monotonic() + 30
        while True:
            assert time.monotonic() < deadline, "no message crossed the nodes after restart"
            sent = await wa.send_message("after", to=b.user_id, timeout=10)
            acked.append(sent["message_id"])
            with contextlib.suppress(TimeoutError):
                await wb.expect("message", message_id=sent["message_id"], timeout=1.0)
                break
        # and the other way round (node one re-subscribed to a's channel too)
        deadline = time.monotonic() + 30
        while True:
            assert time.monotonic() < deadline, "no reply crossed the nodes after restart"
            reply = await wb.send_message("reply", to=a.user_id, timeout=10)
            with contextlib.suppress(TimeoutError):
                await wa.expect("message", message_id=reply["message_id"], timeout=1.0)
                break
        for ws in (wa, wb):
            await ws.close()

        inbox = await _inbox(two.url, b.token or "")
        _assert_gap_free(inbox)
        stored = {m["message_id"] for m in inbox}
        assert set(acked) <= stored, "an acked message was lost"
        await a.aclose()
        await b.aclose()

    try:
        run(body())
    finally:
        one.stop()
        two.stop()
    for node in (one, two):
        _assert_no_crash(node)


# -- c. PostgreSQL stopped and started again


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server of this test's own (the session's one must stay up)."""
    bindir = find_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    server = PostgresServer(bindir).start()
    yield server
    server.stop()


def test_postgres_down_sends_fail_fast_and_recover(
    own_postgres: PostgresServer,
    redis_url: str,  # noqa: F811 - the fixture
    tmp_path: Path,
) -> None:
    pg = own_postgres
    one, two = _two_nodes(tmp_path, pg.dsn(), redis_url)

    async def body() -> None:
        a = await new_user(one.url)
        b = await new_user(two.url)
        wa, wb = await _pinned(a), await _pinned(b)
        first = await wa.send_message("before", to=b.user_id)
        await wb.expect("message", message_id=first["message_id"])

        pg.halt()  # pg_ctl stop -m fast: every session is cut

        # a send gets an error frame (never a `sent`) in bounded time
        future = await wa.submit("while down", to=b.user_id, client_msg_id="down-1")
        frame = await asyncio.wait_for(future, 15)
        assert frame["type"] == "error", frame
        assert frame["code"] == "unavailable", frame
        # REST answers with an error code, not a hang
        for call in (a.me(), a.history(first["conversation_id"])):
            with pytest.raises(ApiError) as refused:
                await asyncio.wait_for(call, 15)
            assert 400 <= refused.value.status < 600, refused.value
            assert refused.value.code == "unavailable", refused.value
        # a device saying hello meanwhile is closed with 1011 (reconnect later), and the
        # node logs a warning, not a traceback
        ws_url = one.url.replace("http", "ws", 1) + "/v1/ws"
        with pytest.raises(ApiError) as busy:
            await asyncio.wait_for(Connection.open(ws_url, a.token or "", 0), 15)
        assert busy.value.code == "unavailable" and "1011" in str(busy.value), busy.value

        pg.start()  # same port, same data dir

        deadline = time.monotonic() + 30
        ws = wa
        while True:  # on the same connection, or after a reconnect
            assert time.monotonic() < deadline, "sends did not recover"
            try:
                again = await ws.send_message("after", to=b.user_id, client_msg_id="up-1")
                break
            except ApiError as e:
                assert e.code == "unavailable", e
                await asyncio.sleep(0.2)
            except DROPPED:
                await ws.close()
                ws = await _connect(one.url, a.token or "", 0, deadline)
        got = await wb.expect("message", message_id=again["message_id"], timeout=10)
        assert got["body"] == "after"
        await ws.close()
        await wb.close()
        inbox = await _inbox(two.url, b.token or "")
        _assert_gap_free(inbox)
        assert [m["body"] for m in inbox] == ["before", "after"]
        await a.aclose()
        await b.aclose()

    try:
        run(body())
    finally:
        if not pg.started:
            with contextlib.suppress(Exception):
                pg.start()
        one.stop()
        two.stop()
    for node in (one, two):
        _assert_no_crash(node)
    assert "hello refused: unavailable" in one.log()
    assert "hello failed" not in one.log()
