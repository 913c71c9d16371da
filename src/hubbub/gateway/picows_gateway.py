"""The WebSocket edge on picows, sharing uvicorn's port.

uvicorn accepts a custom protocol class; `front_door` returns one that reads the request
line of each new connection and hands the socket to picows when it is `GET /v1/ws` (the
hot path: picows parses frames in C and lets us write synchronously), or to uvicorn's
own httptools protocol for everything else (REST, the web client, /metrics). Measured in
bench/ws_stacks.py: picows 5.3 us per relayed message vs 16.1 us on Starlette/uvicorn.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from picows import WSAutoPingStrategy, WSFrame, WSListener, WSMsgType, WSTransport
from picows.picows import WSProtocol  # type: ignore[attr-defined]  # public in api.py, not in the stub
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from hubbub.gateway.session import DeviceSession, Services

WS_PATH = b"/v1/ws"
MAX_MESSAGE_BYTES = 4 << 20  # a 100,000-character body escaped as JSON fits with room
READ_BUFFER_BYTES = 1024  # grows on demand; small keeps idle connections cheap
PING_IDLE_S = 20.0  # WebSocket ping after this much silence; close if no pong in as long
_REQUEST_LINE_LIMIT = 8192
_picows_log = logging.getLogger("hubbub.picows")


def _text_frame(payload: bytes) -> bytes:
    """A server-to-client WebSocket text frame (RFC 6455: FIN + opcode 1, unmasked)."""
    n = len(payload)
    if n < 126:
        return b"\x81" + n.to_bytes(1, "big") + payload
    if n < 65536:
        return b"\x81\x7e" + n.to_bytes(2, "big") + payload
    return b"\x81\x7f" + n.to_bytes(8, "big") + payload


class DeviceListener(WSListener):
    """One WebSocket: frames in to the session, frames out through `send` / `close`.

    Frames sent during one turn of the event loop leave in ONE write at its end (a group
    fan-out of a commit batch puts dozens of frames on each socket in one callback), so
    the cost is one syscall per socket per turn, not one per frame."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.session: DeviceSession | None = None
        self.transport: WSTransport | None = None
        self._fragments: list[bytes] | None = None
        self._fragment_bytes = 0
        self._closing = False
        self._outgoing: list[bytes] | None = None

    # -- picows callbacks
    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport
        raw = transport.underlying_transport
        self.session = DeviceSession(
            self,
            self.services,
            pause_reading=raw.pause_reading,
            resume_reading=raw.resume_reading,
        )

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        kind = frame.msg_type
        if kind in (WSMsgType.TEXT, WSMsgType.BINARY):
            if frame.fin:
                self._deliver(frame.get_payload_as_bytes())
            else:
                self._fragments = [frame.get_payload_as_bytes()]
                self._fragment_bytes = len(self._fragments[0])
        elif kind == WSMsgType.CONTINUATION and self._fragments is not None:
            part = frame.get_payload_as_bytes()
            self._fragment_bytes += len(part)
            if self._fragment_bytes > MAX_MESSAGE_BYTES:
                self._fragments = None
                self.close(1009, "message too big")
                return
            self._fragments.append(part)
            if frame.fin:
                whole, self._fragments = b"".join(self._fragments), None
                self._deliver(whole)
        elif kind == WSMsgType.CLOSE:
            self._closing = True
            transport.send_close(frame.get_close_code())
            transport.disconnect()

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        if self.session is not None:
            self.session.on_closed()

    def pause_writing(self) -> None:
        if self.session is not None:
            self.session.writing_paused()

    def resume_writing(self) -> None:
        if self.session is not None:
            self.session.writing_resumed()

    def _deliver(self, payload: bytes) -> None:
        if self.session is not None and not self._closing:
            self.session.on_text(payload)

    # -- the Outlet the session writes through
    def send(self, frame: bytes) -> None:
        if self.transport is None or self._closing:
            return
        if self._outgoing is None:
            self._outgoing = [frame]
            asyncio.get_running_loop().call_soon(self._flush)
        else:
            self._outgoing.append(frame)

    def _flush(self) -> None:
        frames, self._outgoing = self._outgoing, None
        if frames and self.transport is not None and not self.transport.is_disconnected:
            self.transport.underlying_transport.write(b"".join(map(_text_frame, frames)))

    def close(self, code: int, reason: str) -> None:
        if self.transport is None or self._closing:
            return
        self._flush()  # what was sent before the close goes out before it
        self._closing = True
        self.transport.send_close(code, reason.encode()[:120])  # type: ignore[arg-type]
        self.transport.disconnect()


def front_door(services: Services) -> type[asyncio.Protocol]:
    """A uvicorn `http` protocol class that routes WebSocket upgrades at /v1/ws to picows."""

    def listener_for(request: Any) -> DeviceListener | None:
        return DeviceListener(services) if request.path == WS_PATH else None

    class FrontDoor(asyncio.Protocol):
        def __init__(self, config: Any, server_state: Any, app_state: Any, _loop: Any = None):
            self._uvicorn_args = (config, server_state, app_state, _loop)
            self._head = b""
            self._transport: Any = None  # uvloop's TCPTransport (not an asyncio.Transport)

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self._transport = transport

        def data_received(self, data: bytes) -> None:
            self._head += data
            if b"\r\n" not in self._head and len(self._head) < _REQUEST_LINE_LIMIT:
                return  # wait for the whole request line
            line = self._head.split(b"\r\n", 1)[0]
            target = line.split(b" ")[1] if line.count(b" ") >= 2 else b""
            if line.startswith(b"GET ") and target.split(b"?")[0] == WS_PATH:
                self._hand_to_picows()
            else:
                self._hand_to_uvicorn()

        def _hand_to_picows(self) -> None:
            assert self._transport is not None
            proto = WSProtocol(
                None,
                None,
                False,
                listener_for,
                _picows_log,
                True,  # disconnect_on_exception
                10.0,  # websocket handshake timeout
                True,
                PING_IDLE_S,
                PING_IDLE_S,
                WSAutoPingStrategy.PING_WHEN_IDLE,
                True,  # auto pong
                MAX_MESSAGE_BYTES,
                None,
                READ_BUFFER_BYTES,
            )
            self._transport.set_protocol(proto)
            proto.connection_made(self._transport)
            head, self._head = memoryview(self._head), b""
            while head:  # the buffer it offers may be smaller than what we already read
                buffer = proto.get_buffer(len(head))
                n = min(len(buffer), len(head))
                buffer[:n] = head[:n]
                proto.buffer_updated(n)
                head = head[n:]

        def _hand_to_uvicorn(self) -> None:
            assert self._transport is not None
            proto = HttpToolsProtocol(*self._uvicorn_args)
            self._transport.set_protocol(proto)
            proto.connection_made(self._transport)
            head, self._head = self._head, b""
            proto.data_received(head)

        def connection_lost(self, exc: Exception | None) -> None:
            self._transport = None

    return FrontDoor
