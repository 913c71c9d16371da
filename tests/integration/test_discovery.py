"""GET /v1/discovery against real nodes: two nodes on PostgreSQL + Redis answer the
least loaded healthy node and stop naming one that was killed (kill -9) within a few
seconds, and `HubbubClient.connect()` follows the answer; a single node answers itself
(its request's origin, or its --public-url)."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import httpx

from hubbub.client import HubbubClient
from tests.bus_fixtures import redis_server, redis_url  # noqa: F401 - fixtures
from tests.pg_server import PostgresServer, create_database
from tests.support import ServerProcess, new_user, run


def _discover(url: str, **headers: str) -> httpx.Response:
    return httpx.get(f"{url}/v1/discovery", headers=headers, timeout=5.0)


def _wait_for_node(url: str, node_id: str, within: float, streak: int = 10) -> None:
    """Poll (bounded) until `url`'s discovery names node_id `streak` times in a row (ties
    between equally loaded nodes are broken at random, so one answer proves nothing)."""
    deadline = time.monotonic() + within
    run_length = 0
    while run_length < streak:
        r = _discover(url)
        assert r.status_code == 200, r.text
        run_length = run_length + 1 if r.json()["node_id"] == node_id else 0
        if run_length == 0:
            assert time.monotonic() < deadline, f"discovery kept answering {r.json()}"
            time.sleep(0.05)


def test_two_nodes_discovery_skips_a_killed_node(
    postgres_server: PostgresServer,
    redis_url: str,  # noqa: F811 - the fixture
    tmp_path: Path,
) -> None:
    dsn = create_database(postgres_server, f"hubbub_{uuid.uuid4().hex[:10]}")
    shared = ("--database-url", dsn, "--redis-url", redis_url)
    one = ServerProcess(tmp_path / "one", 2.0, *shared, "--node-id", "1").start()
    two = ServerProcess(tmp_path / "two", 2.0, *shared, "--node-id", "2").start()
    ws_of = {"1": f"ws://127.0.0.1:{one.port}/v1/ws", "2": f"ws://127.0.0.1:{two.port}/v1/ws"}

    async def body() -> None:
        for node in (one, two):  # either node answers a registered node, no auth needed
            r = _discover(node.url)
            assert r.status_code == 200, r.text
            got = r.json()
            assert got["node_id"] in ws_of
            assert got["ws_url"] == ws_of[got["node_id"]]
            assert got["http_url"] == got["ws_url"].replace("ws://", "http://")[: -len("/v1/ws")]
        a = await new_user(one.url)
        b = await new_user(one.url)
        wa = await a.connect(discover=False)  # node one now holds a socket, node two none
        assert wa.url == ws_of["1"]
        _wait_for_node(one.url, "2", within=3.0)  # the least loaded, once the beat shows it
        wb = await b.connect()  # asked node one, sent to node two
        assert wb.url == ws_of["2"]
        assert wb.ready["type"] == "ready"
        two.kill9()
        # the dead node's entry expires (its beat stops): a bound against hanging, not a
        # timing claim (how soon is measured where timing belongs, not asserted here)
        _wait_for_node(one.url, "1", within=30.0)
        for _ in range(5):  # and only node one from then on
            assert _discover(one.url).json()["node_id"] == "1"
        c = await new_user(one.url)
        wc = await c.connect()
        assert wc.url == ws_of["1"]
        sent = await wc.send_message("after the crash", to=a.user_id)
        assert (await wa.expect("message", message_id=sent["message_id"]))["body"]
        for ws in (wa, wb, wc):  # wb's node is dead: closing it must not hang
            await ws.close()
        for api in (a, b, c):
            await api.aclose()

    try:
        run(body())
    finally:
        one.stop()
        two.kill9()
    assert "Traceback" not in one.log(), one.log()[-3000:]


def test_a_cleanly_stopped_node_leaves_discovery_at_once(
    postgres_server: PostgresServer,
    redis_url: str,  # noqa: F811 - the fixture
    tmp_path: Path,
) -> None:
    dsn = create_database(postgres_server, f"hubbub_{uuid.uuid4().hex[:10]}")
    public = "https://chat-7.example"
    shared = ("--database-url", dsn, "--redis-url", redis_url)
    one = ServerProcess(tmp_path / "one", 2.0, *shared, "--node-id", "6").start()
    two = ServerProcess(
        tmp_path / "two", 2.0, *shared, "--node-id", "7", "--public-url", public
    ).start()
    try:
        seen = set()
        deadline = time.monotonic() + 5.0
        while seen != {"6", "7"}:  # ties are broken at random: both get named
            assert time.monotonic() < deadline, seen
            got = _discover(one.url).json()
            seen.add(got["node_id"])
            if got["node_id"] == "7":
                assert got == {
                    "ws_url": "wss://chat-7.example/v1/ws",
                    "http_url": public,
                    "node_id": "7",
                }
        assert two.stop() == 0
        for _ in range(20):  # deregistered on the way out, no TTL wait
            assert _discover(one.url).json()["node_id"] == "6"
    finally:
        one.stop()
        two.stop()
    for node in (one, two):
        assert "Traceback" not in node.log(), node.log()[-3000:]


def test_single_node_discovery_answers_itself(server: ServerProcess) -> None:
    r = _discover(server.url)
    assert r.status_code == 200
    assert r.json() == {
        "ws_url": f"ws://127.0.0.1:{server.port}/v1/ws",
        "http_url": server.url,
        "node_id": "0",
    }
    # no --public-url: the caller's own origin, but never any Host a client sends (a cache
    # could keep the answer); a proxied host name is named by --allowed-hosts
    r = _discover(server.url, host="chat.example.org")
    assert r.status_code == 503 and "chat.example.org" not in r.text

    async def body() -> None:
        api = await new_user(server.url)
        ws = await api.connect()
        assert ws.url == api.ws_url
        await ws.close()
        # an older server without discovery (404) or a failing one: connect falls back
        legacy = HubbubClient(server.url + "/nothing-here", token=api.token)
        assert await legacy.discover() is None
        await legacy.aclose()
        await api.aclose()

    run(body())


def test_single_node_advertises_its_public_url(tmp_path: Path) -> None:
    node = ServerProcess(tmp_path / "n", 2.0, "--public-url", "https://hubbub.example/").start()
    try:
        assert _discover(node.url).json() == {
            "ws_url": "wss://hubbub.example/v1/ws",
            "http_url": "https://hubbub.example",
            "node_id": "0",
        }

        async def body() -> None:
            api = await new_user(node.url)
            ws = await api.connect()  # hubbub.example is not reachable: falls back
            assert ws.url == api.ws_url
            await ws.close()
            await api.aclose()

        run(body())
    finally:
        node.stop()
    assert "Traceback" not in node.log(), node.log()[-3000:]
