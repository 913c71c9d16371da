"""Nodes on real PostgreSQL and Redis servers that the tests start: two nodes sharing a
database and a Redis bus delivering to each other's devices, presence across nodes, media
on a shared bucket. The conformance kit runs against nodes on PostgreSQL through the
balancer (test_balancer.py), which also covers what a single node on PostgreSQL would."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from urllib.parse import urlsplit

from hubbub.client import HubbubClient
from tests.bus_fixtures import redis_server, redis_url  # noqa: F401 - fixtures
from tests.pg_server import PostgresServer, create_database
from tests.redis_relay import SubscribeHold
from tests.s3_server import ACCESS_KEY, SECRET_KEY, S3Server
from tests.support import PASSWORD, ServerProcess, another_device, new_user, run


def _database(postgres_server: PostgresServer) -> str:
    return create_database(postgres_server, f"hubbub_{uuid.uuid4().hex[:10]}")


def test_two_nodes_deliver_to_each_others_devices(
    postgres_server: PostgresServer,
    redis_url: str,  # noqa: F811 - the fixture
    tmp_path: Path,
) -> None:
    dsn = _database(postgres_server)
    shared = ("--database-url", dsn, "--redis-url", redis_url)
    one = ServerProcess(tmp_path / "one", 2.0, *shared, "--node-id", "1").start()
    two = ServerProcess(tmp_path / "two", 2.0, *shared, "--node-id", "2").start()

    async def body() -> None:
        a = await new_user(one.url)  # a lives on node one
        b = await new_user(two.url)  # b on node two (same database)
        await a.add_contact(b.user_id or "")
        wa, wb = await a.connect(discover=False), await b.connect(discover=False)
        assert await wa.expect("presence", user_id=b.user_id, status="online")
        sent = await wa.send_message("across the cluster", to=b.user_id)
        got = await wb.expect("message", message_id=sent["message_id"])
        assert got["body"] == "across the cluster" and got["seq"] == 1
        await wb.ack(got["seq"])
        receipt = await wa.expect("receipt", status="delivered")
        assert receipt["user_id"] == b.user_id
        await wb.read(got["conversation_id"], got["message_id"])
        assert (await wa.expect("receipt", status="read"))["message_id"] == sent["message_id"]
        await wb.typing(got["conversation_id"])
        assert (await wa.expect("typing"))["user_id"] == b.user_id
        reply = await wb.send_message("and back", to=a.user_id)
        assert (await wa.expect("message", message_id=reply["message_id"]))["seq"] == 2
        # a logout handled by node one closes b's socket held by node two
        b_elsewhere = await another_device(b)
        wx = await b_elsewhere.connect(discover=False)
        await HubbubClient(one.url, token=b_elsewhere.token).log_out()
        assert (await wx.expect("__closed__"))["code"] == 4002
        # ids from the two nodes never collide and stay time-ordered per conversation
        history = await a.history(sent["conversation_id"])
        assert [m["message_id"] for m in history] == [reply["message_id"], sent["message_id"]]
        for ws in (wa, wb):
            await ws.close()
        b_again = HubbubClient(two.url)
        await b_again.log_in(b.username, PASSWORD)  # type: ignore[attr-defined]
        assert (await b_again.me())["user_id"] == b.user_id

    try:
        run(body())
    finally:
        one.stop()
        two.stop()
    for node in (one, two):
        assert "Traceback" not in node.log(), node.log()[-3000:]


def test_presence_is_one_view_across_nodes_and_survives_a_dead_node(
    postgres_server: PostgresServer,
    redis_url: str,  # noqa: F811 - the fixture
    tmp_path: Path,
) -> None:
    """Heartbeat timeout 2 s: a user on node two is online as seen from node one (REST
    and events); when node two dies with the user's socket on it, node one's watchers
    hear `offline` within the timeout (plus the sweep), exactly once."""
    dsn = _database(postgres_server)
    shared = ("--database-url", dsn, "--redis-url", redis_url)
    one = ServerProcess(tmp_path / "one", 2.0, *shared, "--node-id", "1").start()
    two = ServerProcess(tmp_path / "two", 2.0, *shared, "--node-id", "2").start()

    async def body() -> None:
        watcher = await new_user(one.url)
        b = await new_user(two.url)
        await watcher.add_contact(b.user_id or "")
        ww = await watcher.connect(discover=False)  # pinned: not sent elsewhere
        wb = await b.connect(discover=False)
        await ww.expect("presence", user_id=b.user_id, status="online")
        assert (await watcher.presence(b.user_id or ""))["status"] == "online"  # via node one
        b2 = await another_device(b)
        wb2 = await HubbubClient(one.url, token=b2.token).connect(discover=False)  # b on both
        await wb2.close()  # one device leaves: b stays online (no event)
        two.kill9()  # the other device's node dies without a word
        offline = await ww.expect("presence", timeout=8, user_id=b.user_id, status="offline")
        assert offline["last_active_at"] > 0
        assert (await watcher.presence(b.user_id or ""))["status"] == "offline"
        later = await ww.collect(1.5)
        assert [f for f in later if f["type"] == "presence"] == [], later  # once only
        await ww.close()
        del wb

    try:
        run(body())
    finally:
        one.stop()
        two.stop()
    assert "Traceback" not in one.log(), one.log()[-3000:]


def test_any_node_serves_any_file_with_media_on_s3(
    postgres_server: PostgresServer,
    redis_url: str,  # noqa: F811 - the fixture
    s3_server: S3Server,
    tmp_path: Path,
) -> None:
    """Two nodes on one database and one S3 bucket (moto's server): a photo uploaded on
    node one is attached there, arrives on node two with its attachment, and node two
    serves its bytes and thumbnail; the same bytes uploaded on node two are one blob."""
    dsn = _database(postgres_server)
    bucket = f"hubbub-{uuid.uuid4().hex[:10]}"
    shared = ("--database-url", dsn, "--redis-url", redis_url, "--s3-bucket", bucket,
              "--s3-endpoint-url", s3_server.url, "--s3-access-key-id", ACCESS_KEY,
              "--s3-secret-access-key", SECRET_KEY)  # fmt: skip
    one = ServerProcess(tmp_path / "one", 2.0, *shared, "--node-id", "1").start()
    two = ServerProcess(tmp_path / "two", 2.0, *shared, "--node-id", "2").start()

    async def body() -> None:
        import io  # noqa: PLC0415

        from PIL import Image  # noqa: PLC0415

        a, b = await new_user(one.url), await new_user(two.url)
        buf = io.BytesIO()
        Image.new("RGB", (640, 480), (10, 200, 30)).save(buf, "JPEG")
        up = await a.upload(buf.getvalue(), content_type="image/jpeg", filename="g.jpg")
        wa, wb = await a.connect(discover=False), await b.connect(discover=False)
        sent = await wa.send_message("", to=b.user_id, attachments=[up["media_id"]])
        got = await wb.expect("message", message_id=sent["message_id"])
        assert got["attachments"][0]["media_id"] == up["media_id"]
        r = await b.download(up["media_id"])  # node two, from the bucket
        assert r.status_code == 200 and len(r.content) == up["size"]
        thumb = await b.download(up["media_id"], thumbnail=True)
        assert thumb.status_code == 200 and thumb.content[:2] == b"\xff\xd8"
        again = await b.upload(buf.getvalue(), content_type="image/jpeg")
        assert again["sha256"] == up["sha256"]
        for node in (one, two):  # nothing on the nodes' own disks
            assert not list((node.data_dir / "media").rglob("blobs/*"))
        for ws in (wa, wb):
            await ws.close()

    try:
        run(body())
    finally:
        one.stop()
        two.stop()
    for node in (one, two):
        assert "Traceback" not in node.log(), node.log()[-3000:]


def test_ready_means_live_frames_reach_the_device_across_nodes(
    postgres_server: PostgresServer,
    redis_url: str,  # noqa: F811 - the fixture
    tmp_path: Path,
) -> None:
    """After `ready`, a typing frame from a device on another node reaches this device,
    even when this node's bus subscription is slow to confirm (the contract: `ready`,
    the replay, then live frames; typing is never stored, so one published before the
    subscription is lost). The relay holds node two's SUBSCRIBE for a second after the
    hello: a node that answers `ready` before its subscription is confirmed loses the
    typing sent right after it."""
    dsn = _database(postgres_server)
    parsed = urlsplit(redis_url)
    relay = SubscribeHold((parsed.hostname or "127.0.0.1", parsed.port or 6379))
    one = ServerProcess(
        tmp_path / "one", 2.0, "--database-url", dsn, "--redis-url", redis_url, "--node-id", "1"
    ).start()
    two = ServerProcess(
        tmp_path / "two", 2.0, "--database-url", dsn,
        "--redis-url", f"redis://127.0.0.1:{relay.port}/0", "--node-id", "2",
    ).start()  # fmt: skip

    async def body() -> None:
        a, b = await new_user(one.url), await new_user(two.url)
        conversation = await a.direct(b.user_id or "")
        wa = await a.connect(discover=False)
        relay.holding = True
        release = asyncio.get_running_loop().call_later(1.0, relay.release)
        wb = await b.connect(discover=False)  # `ready` received
        await wa.typing(conversation["conversation_id"])
        typing = await wb.expect("typing", timeout=10)
        assert typing["user_id"] == a.user_id
        release.cancel()
        for ws in (wa, wb):
            await ws.close()

    try:
        run(body())
    finally:
        relay.close()
        one.stop()
        two.stop()
    for node in (one, two):
        assert "Traceback" not in node.log(), node.log()[-3000:]
