"""Glue between Starlette's WebSocket (on uvicorn) and the library-free DeviceSession."""

from __future__ import annotations

import contextlib

from starlette.websockets import WebSocket, WebSocketDisconnect

from hubbub.gateway.session import DeviceSession, Services


class StarletteSocket:
    def __init__(self, ws: WebSocket) -> None:
        self.ws = ws
        self.closed = False

    async def receive(self) -> str | bytes | None:
        if self.closed:
            return None
        try:
            message = await self.ws.receive()
        except (WebSocketDisconnect, RuntimeError):
            self.closed = True
            return None
        if message["type"] == "websocket.disconnect":
            self.closed = True
            return None
        text = message.get("text")
        if text is not None:
            return str(text)
        data = message.get("bytes")
        return bytes(data) if data is not None else b""

    async def send(self, frame: bytes) -> None:
        await self.ws.send({"type": "websocket.send", "text": frame.decode()})

    async def close(self, code: int, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(Exception):  # the peer may be gone already
            await self.ws.close(code, reason)


def websocket_endpoint(services: Services):  # type: ignore[no-untyped-def]
    async def endpoint(ws: WebSocket) -> None:
        await ws.accept()
        sessions = services.sessions
        session = DeviceSession(StarletteSocket(ws), services)
        sessions.add(session)
        try:
            await session.run()
        finally:
            sessions.discard(session)

    return endpoint
