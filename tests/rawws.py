"""A WebSocket client at the byte level, for tests that must send what a well-behaved
library never would: fragments out of order, invalid UTF-8, a handshake on a reused
keep-alive connection, requests a byte at a time."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import struct
from typing import Any

TEXT, BINARY, CONTINUATION, CLOSE, PING, PONG = 1, 2, 0, 8, 9, 10


def upgrade_request(target: str = "/v1/ws", host: str = "x", extra: str = "") -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (
        f"GET {target} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        f"Sec-WebSocket-Version: 13\r\n{extra}\r\n"
    ).encode()


def frame(opcode: int, payload: bytes, fin: bool = True) -> bytes:
    """A client frame (masked, as RFC 6455 requires of clients)."""
    mask = os.urandom(4)
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", n)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


class RawSocket:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, port: int) -> RawSocket:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def send_raw(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def http_response(self, timeout: float = 10.0) -> tuple[int, dict[str, str], bytes]:
        """One HTTP response: status, headers (lower-case names), body."""
        head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), timeout)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        body = await asyncio.wait_for(self.reader.readexactly(length), timeout) if length else b""
        return status, headers, body

    async def upgrade(self, target: str = "/v1/ws", extra: str = "") -> int:
        await self.send_raw(upgrade_request(target, extra=extra))
        status, _, _ = await self.http_response()
        return status

    async def send(self, data: dict[str, Any] | bytes, opcode: int = TEXT) -> None:
        payload = data if isinstance(data, bytes) else json.dumps(data).encode()
        await self.send_raw(frame(opcode, payload))

    async def next_frame(self, timeout: float = 10.0) -> tuple[int, bytes]:
        b0, b1 = await asyncio.wait_for(self.reader.readexactly(2), timeout)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", await self.reader.readexactly(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", await self.reader.readexactly(8))[0]
        return b0 & 0x0F, await self.reader.readexactly(n)

    async def next_json(self, timeout: float = 10.0) -> dict[str, Any]:
        """The next text frame as JSON (pings answered, other control frames skipped)."""
        while True:
            opcode, payload = await self.next_frame(timeout)
            if opcode == TEXT:
                result: dict[str, Any] = json.loads(payload)
                return result
            if opcode == CLOSE:
                raise ConnectionError(f"closed {close_code(payload)}: {payload[2:]!r}")
            if opcode == PING:
                await self.send_raw(frame(PONG, payload))

    async def close_code(self, timeout: float = 10.0) -> int:
        """Read until the server's close frame; its code."""
        while True:
            opcode, payload = await self.next_frame(timeout)
            if opcode == CLOSE:
                return close_code(payload)

    async def closed_by_server(self, timeout: float = 10.0) -> bool:
        """True once the server closes the TCP connection (EOF)."""
        try:
            while await asyncio.wait_for(self.reader.read(65536), timeout):
                pass
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        return True

    def close(self) -> None:
        self.writer.close()


def close_code(payload: bytes) -> int:
    return int(struct.unpack("!H", payload[:2])[0]) if len(payload) >= 2 else 1005
