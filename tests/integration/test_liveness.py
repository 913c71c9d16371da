"""WebSocket liveness: the server pings quiet sockets and drops the ones that never
answer, but never closes a healthy socket merely for sending no application frames."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import time
from pathlib import Path

from tests.support import ServerProcess, new_user, run


def _raw_websocket(port: int, token: str) -> socket.socket:
    """A client that does the handshake and hello by hand, then goes deaf (never reads,
    never answers a ping): what a phone that lost its network looks like to the server."""
    sock = socket.create_connection(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    response = b""
    while b"\r\n\r\n" not in response:
        response += sock.recv(4096)
    assert response.startswith(b"HTTP/1.1 101"), response
    payload = json.dumps({"type": "hello", "token": token, "since": 0}).encode()
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    sock.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + masked)
    return sock


def test_dead_sockets_are_dropped_and_quiet_healthy_ones_kept(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data", 30.0, "--ws-ping-interval", "0.5").start()

    async def body() -> None:
        a = await new_user(server.url)
        healthy = await a.connect(heartbeat=False)  # answers pings, sends no frames
        dead = _raw_websocket(server.port, a.token or "")

        async def connections_become(n: int) -> int:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                count = int((await a.request("GET", "/healthz"))["connections"])
                if count == n:
                    break
                await asyncio.sleep(0.1)
            return count

        assert await connections_become(2) == 2  # both said hello
        assert await connections_become(1) == 1  # then the deaf one was dropped
        await asyncio.sleep(1.5)  # several ping rounds: the healthy one is still there
        await healthy.send_frame({"type": "ping"})
        assert (await healthy.expect("pong"))["type"] == "pong"
        dead.close()
        await healthy.close()

    try:
        run(body())
    finally:
        server.stop()
