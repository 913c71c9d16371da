"""The WebSocket edge on picows, sharing uvicorn's port.

uvicorn accepts a custom protocol class; `front_door` returns one that reads the request
line of each new connection and hands the socket to picows when it is `GET /v1/ws` (the
hot path: picows parses frames in C and lets us write synchronously), or to uvicorn's
own httptools protocol for everything else (REST, the web client, /metrics). Measured in
bench/ws_stacks.py: picows 5.3 us per relayed message vs 16.1 us on Starlette/uvicorn.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from picows import WSAutoPingStrategy, WSFrame, WSListener, WSMsgType, WSTransport
from picows.picows import WSProtocol  # type: ignore[attr-defined]  # public in api.py, not in the stub
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from hubbub.gateway.session import CLOSE_GOING_AWAY, DeviceSession, SessionDeps

WS_PATH = b"/v1/ws"
MAX_MESSAGE_BYTES = 4 << 20  # a 100,000-character body escaped as JSON fits with room
READ_BUFFER_BYTES = 1024  # grows on demand; small keeps idle connections cheap
PING_IDLE_S = 20.0  # default: a WebSocket ping after this much silence from the client,
# and the socket is dropped if nothing comes back within as long again
HANDSHAKE_TIMEOUT_S = 10.0  # for the upgrade request's headers, once the path is known
_REQUEST_LINE_LIMIT = 8192
# an adapter, not a Logger: given a Logger, picows makes a child Logger per connection
_picows_log = logging.LoggerAdapter(logging.getLogger("hubbub.picows"), {})


def _text_frame(payload: bytes) -> bytes:
    """A server-to-client WebSocket text frame (RFC 6455: FIN + opcode 1, unmasked)."""
    n = len(payload)
    if n < 126:
        return b"\x81" + n.to_bytes(1, "big") + payload
    if n < 65536:
        return b"\x81\x7e" + n.to_bytes(2, "big") + payload
    return b"\x81\x7f" + n.to_bytes(8, "big") + payload


class DeviceListener(WSListener):
    """One WebSocket: frames in to the session, frames out through `write` / `close`.

    Frames sent during one turn of the event loop leave in ONE write at its end (a group
    fan-out of a commit batch puts dozens of frames on each socket in one callback), so
    the cost is one syscall per socket per turn, not one per frame."""

    __slots__ = (
        "_closing",
        "_fragment_bytes",
        "_fragments",
        "_outgoing",
        "gateway",
        "last_rx",
        "ping_sent",
        "reading_paused",
        "session",
        "transport",
    )

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.last_rx = time.monotonic()
        self.ping_sent = 0.0
        self.reading_paused = False
        self.session: DeviceSession | None = None
        self.transport: WSTransport | None = None
        self._fragments: list[bytes] | None = None
        self._fragment_bytes = 0
        self._closing = False
        self._outgoing: list[bytes] | None = None

    # -- picows callbacks
    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport
        # picows keeps the upgrade request and response for the socket's life; their
        # headers are ~1 KB per idle connection that nothing reads after the handshake
        for handshake in (transport.request, transport.response):
            headers = getattr(handshake, "headers", None)
            if headers is not None:
                headers.clear()
        self.gateway.listeners.add(self)
        self.session = DeviceSession(self, self.gateway.session_deps)

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        self.last_rx = time.monotonic()  # anything from the client proves it is there
        self.ping_sent = 0.0
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
        self.gateway.listeners.discard(self)
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
    def write(self, frame: bytes) -> None:
        if self.transport is None or self._closing:
            return
        if self._outgoing is None:
            self._outgoing = [frame]
            asyncio.get_running_loop().call_soon(self._flush)
        else:
            self._outgoing.append(frame)

    def check_alive(self, now: float) -> None:
        """Called by the gateway's sweeper: ping a quiet socket, drop a dead one."""
        if self.transport is None or self._closing:
            return
        if self.reading_paused:  # we stopped reading it (backpressure): not its silence
            self.last_rx, self.ping_sent = now, 0.0
            return
        limit = self.gateway.ping_idle_s
        if self.ping_sent:
            if now - self.ping_sent > limit:
                self.transport.disconnect(graceful=False)
        elif now - self.last_rx > limit:
            self.ping_sent = now
            self.transport.send_ping()

    def pause_reading(self) -> None:
        if self.transport is not None:
            self.reading_paused = True
            self.transport.underlying_transport.pause_reading()

    def resume_reading(self) -> None:
        if self.transport is not None:
            self.reading_paused = False
            self.last_rx = time.monotonic()
            self.transport.underlying_transport.resume_reading()

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


class Gateway:
    """The node's WebSocket edge: the front door for uvicorn, and one sweeper task that
    keeps every socket honest (picows' own auto-ping costs a task per connection)."""

    def __init__(self, session_deps: SessionDeps, ping_idle_s: float = PING_IDLE_S) -> None:
        self.session_deps = session_deps
        self.ping_idle_s = ping_idle_s
        self.listeners: set[DeviceListener] = set()
        self._sweeper: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._sweeper = asyncio.create_task(self._sweep(), name="websocket-liveness")

    async def close_sessions(self, timeout: float = 5.0) -> None:
        """Close every device socket with 1001 and wait (bounded) for the sessions."""
        sessions = self.session_deps.sessions
        for session in list(sessions):
            session.close(CLOSE_GOING_AWAY, "server shutting down")
        deadline = time.monotonic() + timeout
        while sessions and time.monotonic() < deadline:  # noqa: ASYNC110 (once, at shutdown)
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        if self._sweeper:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(self.ping_idle_s / 4)
            now = time.monotonic()
            for listener in list(self.listeners):
                listener.check_alive(now)

    def front_door(self) -> type[asyncio.Protocol]:
        return front_door(self)


def front_door(gateway: Gateway) -> type[asyncio.Protocol]:
    """A uvicorn `http` protocol class that routes WebSocket upgrades at /v1/ws to picows."""

    def listener_for(request: Any) -> DeviceListener | None:
        return DeviceListener(gateway) if request.path == WS_PATH else None

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
                None,  # host and port: server side
                None,  # path: server side
                False,  # is_client_side
                listener_for,
                _picows_log,
                True,  # disconnect_on_exception
                HANDSHAKE_TIMEOUT_S,
                # picows' auto-ping is off (it costs a task per socket; Gateway._sweep pings
                # for every socket), so its idle and reply timeouts and strategy are unused
                False,
                0.0,
                0.0,
                WSAutoPingStrategy.PING_WHEN_IDLE,
                True,  # answer pings with pongs
                MAX_MESSAGE_BYTES,
                None,  # extra response headers
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
