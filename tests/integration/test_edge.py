"""The node's edge under hostile and unusual HTTP: bounded heads (431), deadlines for
heads and bodies (408), WebSocket upgrades on reused keep-alive connections and in every
target form, connection caps with room for the health check, and security headers.
Everything here talks raw bytes to a real `hubbub serve`."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.rawws import RawSocket
from tests.support import ServerProcess, new_user, run


@pytest.fixture(scope="module")
def edge_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    s = ServerProcess(
        tmp_path_factory.mktemp("edge"), 2.0, "--request-timeout", "1", "--keep-alive-timeout", "2"
    ).start()
    yield s
    s.stop()
    assert "Traceback" not in s.log(), s.log()[-5000:]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def test_an_endless_header_block_is_refused_431_without_growing_memory(
    edge_server: ServerProcess,
) -> None:
    assert edge_server.proc is not None
    before = rss_kib(edge_server.proc.pid)

    async def body() -> int:
        s = await RawSocket.connect(edge_server.port)
        await s.send_raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        pad = b"X-Pad: " + b"a" * 8000 + b"\r\n"
        answer = asyncio.create_task(s.http_response(timeout=30))
        sent = 0
        try:
            while sent < 64 << 20 and not answer.done():  # the attack: 64 MB of headers
                s.writer.write(pad * 16)
                await s.writer.drain()
                sent += len(pad) * 16
        except ConnectionError:
            pass
        status, _, payload = await answer
        assert json.loads(payload)["error"]["code"] == "too_large"
        assert sent < 8 << 20  # answered long before the 64 MB were sent
        return status

    assert run(body()) == 431
    assert rss_kib(edge_server.proc.pid) - before < 20_000  # KiB


def test_too_many_headers_are_refused_431(edge_server: ServerProcess) -> None:
    async def body() -> int:
        s = await RawSocket.connect(edge_server.port)
        headers = b"".join(b"X-H%d: v\r\n" % i for i in range(200))
        await s.send_raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n")
        status, _, _ = await s.http_response()
        return status

    assert run(body()) == 431


@pytest.mark.parametrize(
    "start",
    [b"", b"GET /hea", b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: 1", b"GET /healthz\n"],
    ids=["nothing", "part of a request line", "part of the headers", "an LF-only line"],
)
def test_a_request_head_that_does_not_arrive_in_time_is_closed(
    edge_server: ServerProcess, start: bytes
) -> None:
    async def body() -> float:
        s = await RawSocket.connect(edge_server.port)
        began = time.monotonic()
        await s.send_raw(start)
        assert await s.closed_by_server(timeout=15)
        return time.monotonic() - began

    assert run(body()) < 15  # the deadline (1 s here) closed it; no hang


def test_a_request_line_dripped_a_byte_at_a_time_is_closed(edge_server: ServerProcess) -> None:
    async def body() -> str:
        s = await RawSocket.connect(edge_server.port)
        try:
            for byte in b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n":
                await s.send_raw(bytes([byte]))
                await asyncio.sleep(0.25)
        except ConnectionError:
            return "closed while dripping"
        status, _, _ = await s.http_response()
        return "answered" if status == 200 else f"status {status}"

    assert run(body()) in ("closed while dripping", "status 408")


def test_a_stalled_body_is_closed(edge_server: ServerProcess) -> None:
    async def body() -> int:
        s = await RawSocket.connect(edge_server.port)
        await s.send_raw(
            b"POST /v1/users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100\r\n\r\n{\"user"
        )
        status, _, _ = await s.http_response(timeout=15)
        return status

    assert run(body()) == 408


def test_an_idle_keep_alive_connection_is_closed(edge_server: ServerProcess) -> None:
    async def body() -> None:
        s = await RawSocket.connect(edge_server.port)
        await s.send_raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        status, _, _ = await s.http_response()
        assert status == 200
        assert await s.closed_by_server(timeout=15)

    run(body())


def test_a_websocket_upgrade_after_rest_on_one_keep_alive_connection(
    edge_server: ServerProcess,
) -> None:
    async def body() -> None:
        api = await new_user(edge_server.url)
        s = await RawSocket.connect(edge_server.port)
        for _ in range(2):
            await s.send_raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            status, _, _ = await s.http_response()
            assert status == 200
        assert await s.upgrade() == 101
        await s.send({"type": "hello", "token": api.token, "since": 0})
        assert (await s.next_json())["type"] == "ready"
        s.close()
        await api.aclose()

    run(body())


def test_aiohttp_pooled_session_does_rest_then_websocket(edge_server: ServerProcess) -> None:
    aiohttp = pytest.importorskip("aiohttp")

    async def body() -> None:
        api = await new_user(edge_server.url)
        connector = aiohttp.TCPConnector(limit=1)  # one pooled connection for everything
        async with aiohttp.ClientSession(connector=connector) as session:
            async with session.get(edge_server.url + "/healthz") as r:
                assert r.status == 200
            async with session.ws_connect(edge_server.url + "/v1/ws") as ws:
                await ws.send_json({"type": "hello", "token": api.token, "since": 0})
                assert (await ws.receive_json(timeout=10))["type"] == "ready"
        await api.aclose()

    run(body())


@pytest.mark.parametrize(
    "target", ["/v1/ws?v=1", "http://127.0.0.1/v1/ws", "/v1/ws?"], ids=["query", "absolute", "?"]
)
def test_upgrade_targets_with_a_query_or_in_absolute_form(
    edge_server: ServerProcess, target: str
) -> None:
    async def body() -> int:
        s = await RawSocket.connect(edge_server.port)
        return await s.upgrade(target)

    assert run(body()) == 101


def test_an_upgrade_anywhere_else_is_a_plain_404(edge_server: ServerProcess) -> None:
    async def body() -> None:
        s = await RawSocket.connect(edge_server.port)
        status = await s.upgrade("/v1/wsx")
        assert status == 404
        assert await s.closed_by_server()

    run(body())


def test_security_headers_on_the_web_client_and_the_api(edge_server: ServerProcess) -> None:
    page = httpx.get(edge_server.url + "/")
    api = httpx.get(edge_server.url + "/v1/me")
    for r in (page, api):
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["referrer-policy"] == "no-referrer"
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp


def test_discovery_never_reflects_an_unknown_host(edge_server: ServerProcess) -> None:
    evil = httpx.get(edge_server.url + "/v1/discovery", headers={"Host": "evil.example:666"})
    assert evil.status_code == 503 and "evil" not in evil.text
    mine = httpx.get(edge_server.url + "/v1/discovery")
    assert mine.status_code == 200
    assert mine.json()["ws_url"] == edge_server.url.replace("http", "ws") + "/v1/ws"
    assert mine.headers["cache-control"] == "no-store"


def test_a_form_or_text_body_is_not_read_as_json(edge_server: ServerProcess) -> None:
    body = json.dumps({"username": "formuser1", "password": "x" * 10})
    for ctype in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        r = httpx.post(edge_server.url + "/v1/users", content=body, headers={"content-type": ctype})
        assert r.status_code == 415 and r.json()["error"]["code"] == "bad_request", ctype
    ok = httpx.post(
        edge_server.url + "/v1/users",
        content=body,
        headers={"content-type": "application/json; charset=utf-8"},
    )
    assert ok.status_code == 201


def test_deeply_nested_json_is_a_bad_request_on_rest(edge_server: ServerProcess) -> None:
    deep = b'{"username":"x","password":"y","z":' + b"[" * 5000 + b"]" * 5000 + b"}"
    r = httpx.post(
        edge_server.url + "/v1/users", content=deep, headers={"content-type": "application/json"}
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_request"


def test_connection_caps_keep_room_for_the_health_check(tmp_path: Path) -> None:
    s = ServerProcess(
        tmp_path / "capped",
        2.0,
        "--max-connections",
        "40",
        "--max-connections-per-address",
        "30",
    ).start()

    async def body() -> None:
        held = [await RawSocket.connect(s.port) for _ in range(30)]
        extra = await RawSocket.connect(s.port)  # the 31st from this address
        await extra.send_raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        status, headers, payload = await extra.http_response()
        assert status == 429 and json.loads(payload)["error"]["code"] == "rate_limited"
        assert "retry-after" in headers
        # another address (127.0.0.2 reaches the same loopback listener) fills the rest
        more = []
        for _ in range(15):
            r, w = await asyncio.open_connection(
                "127.0.0.1", s.port, local_addr=("127.0.0.2", 0)
            )
            more.append(RawSocket(r, w))
        full = more[-1]
        await full.send_raw(b"GET /v1/me HTTP/1.1\r\nHost: x\r\n\r\n")
        assert (await full.http_response())[0] == 503
        probe = more[-2]
        await probe.send_raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert (await probe.http_response())[0] == 200  # the health check still answers
        for sock in [*held, *more, extra]:
            sock.close()
        await asyncio.sleep(0.2)
        async with httpx.AsyncClient() as http:  # the caps are released
            assert (await http.get(s.url + "/healthz")).status_code == 200

    try:
        run(body())
    finally:
        s.stop()


def test_websockets_only_from_the_nodes_own_pages_or_allowed_origins(
    edge_server: ServerProcess,
) -> None:
    async def status(origin: str | None) -> int:
        s = await RawSocket.connect(edge_server.port)
        extra = f"Origin: {origin}\r\n" if origin else ""
        try:
            return await s.upgrade(extra=extra)  # sent with Host: x
        finally:
            s.close()

    assert run(status(None)) == 101  # not a browser
    assert run(status("http://x")) == 101  # the node's own page
    assert run(status("http://evil.example")) == 403
    assert run(status("null")) == 403  # a sandboxed or file:// page
