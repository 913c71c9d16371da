"""The gateway's liveness rule for one socket: ping after silence, drop after silence
that outlasts a ping, but never count silence while the server itself stopped reading
the socket (backpressure), since then the client's pong cannot be read either."""

from __future__ import annotations

import time
from types import SimpleNamespace

from hubbub.gateway.picows_gateway import DeviceListener


class Reader:
    """Stands in for picows' WSTransport (a third-party part), recording what the
    listener asks of it."""

    def __init__(self) -> None:
        self.pings = 0
        self.dropped = False
        self.reading = True
        self.is_disconnected = False
        self.underlying_transport = SimpleNamespace(
            pause_reading=lambda: setattr(self, "reading", False),
            resume_reading=lambda: setattr(self, "reading", True),
        )

    def send_ping(self) -> None:
        self.pings += 1

    def disconnect(self, graceful: bool = True) -> None:
        self.dropped = True


def listener(idle_s: float = 1.0) -> tuple[DeviceListener, Reader]:
    socket = DeviceListener(SimpleNamespace(ping_idle_s=idle_s), "127.0.0.1")  # type: ignore[arg-type]
    reader = Reader()
    socket.transport = reader  # type: ignore[assignment]
    return socket, reader


def test_a_silent_socket_is_pinged_then_dropped() -> None:
    socket, reader = listener()
    start = time.monotonic()
    socket.check_alive(start + 0.5)
    assert reader.pings == 0  # not silent long enough
    socket.check_alive(start + 1.5)
    assert reader.pings == 1 and not reader.dropped
    socket.check_alive(start + 3.0)
    assert reader.dropped


def test_silence_while_we_stopped_reading_is_not_the_clients() -> None:
    socket, reader = listener()
    start = time.monotonic()
    socket.pause_reading()
    assert not reader.reading
    for t in (1.5, 3.0, 10.0):  # long backpressure: no ping, no drop
        socket.check_alive(start + t)
    assert reader.pings == 0 and not reader.dropped
    socket.resume_reading()
    assert reader.reading
    socket.check_alive(time.monotonic() + 0.5)
    assert reader.pings == 0  # the clock restarts when we read again
