"""The WebSocket edge on picows, sharing uvicorn's port: front_door.py hands upgrades at
/v1/ws here (the hot path: picows parses frames in C and lets us write synchronously;
measured in bench/ws_stacks.py: picows 5.3 us per relayed message vs 16.1 us on
Starlette/uvicorn). One DeviceListener per socket feeds its DeviceSession; the Gateway
keeps every socket honest with one liveness sweeper.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable
from http import HTTPStatus

from picows import (
    WSFrame,
    WSListener,
    WSMsgType,
    WSTransport,
    WSUpgradeRequest,
    WSUpgradeResponse,
    WSUpgradeResponseWithListener,
)

from hubbub.gateway.session import CLOSE_GOING_AWAY, DeviceSession, SessionDeps

MAX_MESSAGE_BYTES = 4 << 20  # a 100,000-character body escaped as JSON fits with room
CLOSE_PROTOCOL_ERROR = 1002
PING_IDLE_S = 20.0  # default: a WebSocket ping after this much silence from the client,
# and the socket is dropped if nothing comes back within as long again


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
        "address",
        "gateway",
        "last_rx",
        "ping_sent",
        "reading_paused",
        "session",
        "transport",
    )

    def __init__(self, gateway: Gateway, address: str) -> None:
        self.gateway = gateway
        self.address = address  # the client's (rate limits key on it)
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
            if self._fragments is not None:  # RFC 6455 5.4: a message may not interleave
                self.close(CLOSE_PROTOCOL_ERROR, "new message inside a fragmented one")
            elif frame.fin:
                self._deliver(frame.get_payload_as_bytes())
            else:
                self._fragments = [frame.get_payload_as_bytes()]
                self._fragment_bytes = len(self._fragments[0])
        elif kind == WSMsgType.CONTINUATION:
            if self._fragments is None:
                self.close(CLOSE_PROTOCOL_ERROR, "continuation without a message")
                return
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

    def __init__(
        self,
        session_deps: SessionDeps,
        ping_idle_s: float = PING_IDLE_S,
        origins: OriginPolicy | None = None,
    ) -> None:
        self.session_deps = session_deps
        self.origins = origins or OriginPolicy()
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

    def listener_for(
        self, request: WSUpgradeRequest, address: str
    ) -> DeviceListener | WSUpgradeResponseWithListener:
        """A listener for an upgrade the front door accepted (the path is /v1/ws), if
        its Origin may open one (403 otherwise: a page elsewhere cannot use a visitor's
        browser to open sockets here)."""
        if not self.origins.allows(_header(request, "origin"), _header(request, "host")):
            refusal = WSUpgradeResponse.create_error_response(
                HTTPStatus.FORBIDDEN, b"this origin may not open a WebSocket here"
            )
            return WSUpgradeResponseWithListener(refusal, None)
        return DeviceListener(self, address)


def _header(request: WSUpgradeRequest, name: str) -> str | None:
    value = request.headers.get(name)
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return value


class OriginPolicy:
    """Which pages may open a WebSocket: requests without an Origin (not a browser), the
    node's own origin (Origin names the Host the request was sent to), and `allowed`
    (scheme://host[:port] each; "*" for any)."""

    def __init__(self, allowed: Iterable[str] = ()) -> None:
        self.any = "*" in allowed
        self.allowed = {o.rstrip("/").lower() for o in allowed if o != "*"}

    def allows(self, origin: str | None, host: str | None) -> bool:
        if origin is None or self.any:
            return True
        origin = origin.rstrip("/").lower()
        if origin in self.allowed:
            return True
        _, sep, authority = origin.partition("://")
        return bool(sep) and host is not None and authority == host.lower()
