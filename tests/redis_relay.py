"""A TCP relay in front of a Redis server the tests start, to hold back what a node
sends it (a subscription slow to confirm, on demand)."""

from __future__ import annotations

import contextlib
import socket
import threading


class SubscribeHold:
    """A TCP relay in front of Redis that can hold back a node's SUBSCRIBE: while holding,
    a connection that sends one has it and what follows kept until release() (the other
    connections, publishes included, flow). A subscription taking long to confirm, on
    demand."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.holding = False
        self.held: dict[socket.socket, list[bytes]] = {}
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, to_redis: bool) -> None:
        with contextlib.suppress(OSError):
            while chunk := source.recv(65536):
                with self.lock:
                    if to_redis and (sink in self.held or (self.holding and b"SUBSCRIBE" in chunk)):
                        self.held.setdefault(sink, []).append(chunk)
                    else:
                        sink.sendall(chunk)
        for s in (source, sink):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def release(self) -> None:
        with self.lock:
            self.holding = False
            for sink, chunks in self.held.items():
                with contextlib.suppress(OSError):
                    sink.sendall(b"".join(chunks))
            self.held.clear()

    def close(self) -> None:
        self.release()
        self.listener.close()
