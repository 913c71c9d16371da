"""The node's front door: the protocol uvicorn runs for every accepted connection.

It is uvicorn's own httptools protocol (REST, the web client, /metrics) with the edge's
bounds added, and it hands a WebSocket upgrade at `/v1/ws` to picows on ANY request of
the connection (the first, or one after REST requests on a keep-alive connection), with
or without a query string, in origin or absolute form.

Bounds (EdgeLimits): the request line and headers together at most `max_head_bytes` and
`max_headers` (431 beyond); the whole head within `head_timeout_s` of the connection's
first byte or the previous response (408, so a connection that sends nothing, or drips
its head a byte at a time, is closed); a body that stalls for `body_idle_timeout_s` is
closed (408); an idle keep-alive connection is closed after `keep_alive_s` (uvicorn's
timer). Connections are capped per client address and in total (ConnectionGate): past
the per-address cap the answer is 429; past the total cap only `GET /healthz` is served
(503 for the rest), so the health check keeps working on a full node.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httptools
from picows import WSAutoPingStrategy, WSUpgradeRequest
from picows.picows import WSProtocol  # type: ignore[attr-defined]  # public in api.py, not in the stub
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from hubbub.core.addresses import TrustedProxies
from hubbub.gateway.picows_gateway import MAX_MESSAGE_BYTES

log = logging.getLogger("hubbub.edge")
WS_PATH = b"/v1/ws"
HEALTH_PATH = b"/healthz"
LINGER_S = 2.0  # after a refusal, input is read and dropped this long before closing
LINGER_MAX_BYTES = 1 << 20  # ... up to this much; then reading stops until the close
READ_BUFFER_BYTES = 1024  # grows on demand; small keeps idle connections cheap
# an adapter, not a Logger: given a Logger, picows makes a child Logger per connection
_picows_log = logging.LoggerAdapter(logging.getLogger("hubbub.picows"), {})


@dataclass(frozen=True, slots=True)
class EdgeLimits:
    max_head_bytes: int = 16 << 10  # request line + headers
    max_headers: int = 100
    head_timeout_s: float = 10.0
    body_idle_timeout_s: float = 15.0
    keep_alive_s: int = 30
    max_connections: int = 19_000  # in total; app.py derives it from the fd limit
    max_connections_per_address: int = 2_000  # an office behind one NAT address fits


class ConnectionGate:
    """Open connections per client address and in total. Addresses of trusted proxies
    are not capped per address (every client behind the proxy shares them)."""

    def __init__(self, limits: EdgeLimits, trusted: TrustedProxies) -> None:
        self.limits = limits
        self.trusted = trusted
        self.total = 0
        self._by_address: dict[str, int] = {}

    def enter(self, address: str) -> str | None:
        """Count a new connection; the refusal ("address" or "full") if it is over a cap.
        Every `enter` is matched by one `leave`, refused or not."""
        self.total += 1
        count = self._by_address.get(address, 0) + 1
        self._by_address[address] = count
        if count > self.limits.max_connections_per_address and not self.trusted.trusts(address):
            return "address"
        if self.total > self.limits.max_connections:
            return "full"
        return None

    def leave(self, address: str) -> None:
        self.total -= 1
        count = self._by_address.get(address, 0) - 1
        if count > 0:
            self._by_address[address] = count
        else:
            self._by_address.pop(address, None)


def request_path(target: bytes) -> bytes:
    """The path of a request target in origin form (/v1/ws?x=1) or absolute form
    (http://host/v1/ws); b"" when it cannot be parsed."""
    try:
        return httptools.parse_url(target).path or b""
    except httptools.HttpParserInvalidURLError:
        return b""


def _peer_address(transport: asyncio.BaseTransport) -> str:
    peer = transport.get_extra_info("peername")
    if isinstance(peer, tuple) and peer:
        try:
            return str(ipaddress.ip_address(peer[0]))
        except ValueError:
            return str(peer[0])
    return "unix"  # a Unix socket: one local client


WebSocketFactory = Callable[[WSUpgradeRequest, str], Any]  # (upgrade request, client address)


def front_door(
    listener_for: WebSocketFactory,
    gate: ConnectionGate,
    trusted: TrustedProxies,
) -> type[asyncio.Protocol]:
    """The uvicorn `http` protocol class: HTTP with bounds, /v1/ws to picows."""
    limits = gate.limits

    class FrontDoor(HttpToolsProtocol):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._address = ""
            self._refusal: str | None = None
            self._head_bytes = 0  # bytes read since the head began (an upper bound)
            self._in_head = True
            self._deadline: asyncio.TimerHandle | None = None
            self._lingering = False  # answered a refusal; closing
            self._to_picows = False  # this request upgrades to a WebSocket at /v1/ws
            self._handed_over = False

        # -- connection lifecycle
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._address = _peer_address(transport)
            self._refusal = gate.enter(self._address)
            self._arm(limits.head_timeout_s, 408, "request head not received in time")

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            if not self._handed_over:
                gate.leave(self._address)
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            if self._lingering:  # refused: input is dropped unread, a bounded amount
                self._head_bytes += len(data)
                if self._head_bytes > LINGER_MAX_BYTES:
                    self.transport.pause_reading()  # TCP now holds the client back
                return
            self._unset_keepalive_if_required()
            if self._in_head:
                self._head_bytes += len(data)  # counted before httptools buffers it
                if self._deadline is None:  # the first byte after a keep-alive pause
                    self._arm(limits.head_timeout_s, 408, "request head not received in time")
            try:
                self.parser.feed_data(data)
            except httptools.HttpParserUpgrade as upgrade:
                self._upgrade(data[upgrade.args[0] :] if upgrade.args else b"")
            except httptools.HttpParserCallbackError:
                if not self.transport.is_closing():  # the callback that raised answered
                    self._reply(400, "invalid HTTP request")
            except httptools.HttpParserError:
                self._reply(400, "invalid HTTP request")
            if self._in_head and self._head_bytes > limits.max_head_bytes:
                self._reply(431, "request head too large")

        # -- parser callbacks (the head is counted as it arrives)
        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._in_head = True

        def on_header(self, name: bytes, value: bytes) -> None:
            if len(self.headers) >= limits.max_headers:
                self._reply(431, "too many request headers")
                raise _Refused
            super().on_header(name, value)

        def on_headers_complete(self) -> None:
            self._in_head = False
            self._head_bytes = 0
            self._disarm()
            path = request_path(self.url)
            if self._refusal is not None and not (
                self._refusal == "full" and path == HEALTH_PATH
            ):
                if self._refusal == "address":
                    self._reply(429, "too many connections from this address", retry_after=10)
                else:
                    self._reply(503, "the server is full; try again shortly", retry_after=5)
                raise _Refused
            if self.parser.should_upgrade() and path == WS_PATH:
                self._to_picows = True  # data_received hands the connection over
                return
            super().on_headers_complete()
            if self.parser.should_upgrade():  # an upgrade anywhere else: plain HTTP (404)
                return
            self._arm(limits.body_idle_timeout_s, 408, "request body not received in time")

        def on_body(self, body: bytes) -> None:
            if self._to_picows:
                return
            if self._deadline is not None:
                self._arm(limits.body_idle_timeout_s, 408, "request body not received in time")
            super().on_body(body)

        def on_message_complete(self) -> None:
            self._disarm()
            if not self._to_picows:
                super().on_message_complete()

        # -- the WebSocket hand-over
        def _upgrade(self, rest: bytes) -> None:
            if request_path(self.url) != WS_PATH:
                # not ours: the app answers it as plain HTTP (404), then the connection
                # closes (the parser will not read past an upgrade request)
                if self.cycle is not None:
                    self.cycle.keep_alive = False
                return
            self._disarm()
            self._handed_over = True
            self.connections.discard(self)
            head = [self.parser.get_method(), b" ", self.url, b" HTTP/1.1\r\n"]
            for name, value in self.headers:
                head += [name, b": ", value, b"\r\n"]
            head.append(b"\r\n")
            address = trusted.client_address(self._address, _forwarded_for(self.headers))
            proto = _EdgeWSProtocol(self._address, gate, listener_for, address)
            self.transport.set_protocol(proto)
            proto.connection_made(self.transport)
            proto.feed(b"".join(head) + rest)
            # this protocol will never hear connection_lost, which is where uvicorn breaks
            # the cycle with its parser: break it here, or every WebSocket ever opened
            # leaves ~3 KB for the cycle collector (found by a soak: RSS grew with each
            # reconnect)
            self.parser = None  # type: ignore[assignment]

        # -- helpers
        def _arm(self, seconds: float, status: int, reason: str) -> None:
            self._disarm()
            self._deadline = self.loop.call_later(seconds, self._reply, status, reason)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _reply(self, status: int, reason: str, retry_after: int | None = None) -> None:
            """Answer with a contract error body and close: the connection is unusable."""
            self._deadline = None
            if self.transport.is_closing() or self._lingering:
                return
            if self.cycle is not None and not self.cycle.response_complete:
                if self.cycle.response_started:
                    self.transport.close()  # mid-response: nothing sensible left to say
                    return
                self.cycle.disconnected = True  # the app's request is over: it stops
                self.cycle.message_event.set()  # reading, and its answer is not written
            code = {408: "bad_request", 429: "rate_limited", 503: "unavailable"}.get(
                status, "bad_request" if status != 431 else "too_large"
            )
            body = b'{"error":{"code":"%s","message":"%s"}}' % (code.encode(), reason.encode())
            extra = b"retry-after: %d\r\n" % retry_after if retry_after is not None else b""
            self.transport.write(
                STATUS_LINE[status]
                + b"content-type: application/json\r\ncontent-length: %d\r\n" % len(body)
                + extra
                + b"connection: close\r\n\r\n"
                + body
            )
            self._linger()

        def _linger(self) -> None:
            """Close without losing the answer: a socket closed with unread input sends a
            reset, which can destroy the answer before the client reads it. So stop
            writing, read and drop what the client still sends for a moment, then close."""
            self._lingering = True
            self._head_bytes = 0
            if self.transport.can_write_eof():
                self.transport.write_eof()
            self.loop.call_later(LINGER_S, self.transport.close)

    return FrontDoor


class _Refused(Exception):
    """Raised from a parser callback after the refusal was written: stops the parser."""


def _forwarded_for(headers: list[tuple[bytes, bytes]]) -> str | None:
    values = [v.decode("latin-1") for n, v in headers if n == b"x-forwarded-for"]
    return ",".join(values) if values else None


class _EdgeWSProtocol(WSProtocol):  # type: ignore[misc]
    """picows' protocol for one upgraded connection; leaves the gate when it closes."""

    def __init__(
        self,
        peer: str,
        gate: ConnectionGate,
        listener_for: WebSocketFactory,
        client_address: str,
    ) -> None:
        super().__init__(
            None,  # host and port: server side
            None,  # path: server side
            False,  # is_client_side
            lambda request: listener_for(request, client_address),
            _picows_log,
            True,  # disconnect_on_exception
            5.0,  # handshake timeout: the whole request is fed at once, so unused
            # picows' auto-ping is off (it costs a task per socket; the gateway's sweeper
            # pings every socket), so its idle and reply timeouts and strategy are unused
            False,
            0.0,
            0.0,
            WSAutoPingStrategy.PING_WHEN_IDLE,
            True,  # answer pings with pongs
            MAX_MESSAGE_BYTES,
            None,  # extra response headers
            READ_BUFFER_BYTES,
        )
        self._peer = peer
        self._gate: ConnectionGate | None = gate

    def feed(self, data: bytes) -> None:
        """Bytes already read from the socket (the upgrade request and anything after)."""
        view = memoryview(data)
        while view:  # the buffer it offers may be smaller than what we have
            buffer = self.get_buffer(len(view))
            n = min(len(buffer), len(view))
            buffer[:n] = view[:n]
            self.buffer_updated(n)
            view = view[n:]

    def connection_lost(self, exc: Exception | None) -> None:
        if self._gate is not None:
            self._gate.leave(self._peer)
            self._gate = None
        super().connection_lost(exc)
