"""The Bus port on Redis pub/sub: many chat nodes, one Redis.

Channels are keyed by user and by device (``hubbub:u:{user_id}``, ``hubbub:d:{device_id}``),
in the style of Signal-Server: a node subscribes only to the users (and devices) it has
connected devices for, so no node receives the whole firehose.

Two Redis connections per node, each owned by one task:

- the **writer** sends every PUBLISH. ``publish`` is synchronous: it appends to a queue
  and the writer pipelines whatever has queued up while the previous batch was in flight
  (one write, then one reply per command), in publish order.
- the **reader** is the subscriber connection. It hands each message to the Receiver.
  SUBSCRIBE / UNSUBSCRIBE changes from ``watch_*`` / ``unwatch_*`` are coalesced and sent on
  the same connection by a small flusher, followed by a PING: Redis answers in order, so
  when that PONG arrives, every subscription sent before it is active.

Per-user order: one publishing connection per node and one subscribing connection per node,
and Redis delivers a connection's publishes to each subscriber in the order it ran them, so
frames published on one node for one user reach every watching node in publish order. A
frame for a user this node watches itself also goes through Redis (one code path, one order).

At-most-once: while Redis is unreachable, both connections log, reconnect with backoff
(``backoff_initial`` doubling to ``backoff_max``) and the reader re-subscribes everything
watched. Frames published meanwhile may be lost: a batch in flight when the connection
fails is dropped (never resent, so nothing arrives twice), frames queued while the writer
is disconnected are sent after it reconnects (at most ``max_queued``; the oldest are dropped
past that) and frames published before the reader has re-subscribed are not received. The
store is the source of truth: a device that sees a gap in ``seq`` catches up from it.

Payloads: a user frame is ``seq`` (8 bytes, big endian) + the frame bytes; a close is
``code`` (2 bytes, big endian) + the reason in UTF-8.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections import deque
from typing import Any

from redis.asyncio.connection import AbstractConnection, ConnectionPool
from redis.exceptions import RedisError

from hubbub.ports import Receiver

log = logging.getLogger(__name__)

_SEQ_BYTES = 8
_CODE_BYTES = 2


def encode_frame(frame: bytes, seq: int) -> bytes:
    return seq.to_bytes(_SEQ_BYTES, "big") + frame


def decode_frame(payload: bytes) -> tuple[bytes, int]:
    return payload[_SEQ_BYTES:], int.from_bytes(payload[:_SEQ_BYTES], "big")


def encode_close(code: int, reason: str) -> bytes:
    return code.to_bytes(_CODE_BYTES, "big") + reason.encode()


def decode_close(payload: bytes) -> tuple[int, str]:
    return int.from_bytes(payload[:_CODE_BYTES], "big"), payload[_CODE_BYTES:].decode(
        errors="replace"
    )


class RedisBus:
    def __init__(
        self,
        url: str,
        node_id: int,
        *,
        channel_prefix: str = "hubbub",
        max_batch: int = 2000,
        max_queued: int = 200_000,
        backoff_initial: float = 0.05,
        backoff_max: float = 2.0,
    ) -> None:
        self.url = url
        self.node_id = node_id
        self._user_prefix = f"{channel_prefix}:u:".encode()
        self._device_prefix = f"{channel_prefix}:d:".encode()
        self._max_batch = max_batch
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._pool = ConnectionPool.from_url(
            url,
            protocol=2,  # pub/sub messages as plain replies (RESP3 would make them pushes)
            socket_timeout=10.0,  # the writer's replies; the reader blocks without a limit
            socket_connect_timeout=5.0,
            client_name=f"hubbub-node-{node_id}",
        )
        self._receiver: Receiver | None = None
        self._running = False
        self._tasks: list[asyncio.Task[None]] = []
        # the writer side
        self._out: deque[tuple[bytes, bytes]] = deque(maxlen=max_queued)
        self._out_ready = asyncio.Event()
        self._pub_conn: AbstractConnection | None = None
        # the subscriber side: what this node wants, what it has sent, what is confirmed
        self._refs: dict[bytes, int] = {}  # channel -> number of watchers on this node
        self._sent: set[bytes] = set()  # subscribed on the current connection (as sent)
        self._ready: set[bytes] = set()  # ... and confirmed by a PONG after the SUBSCRIBE
        self._dirty: set[bytes] = set()  # channels whose wanted state may differ from _sent
        self._waiters: list[asyncio.Future[None]] = []  # for the next flush's PONG
        self._pongs: deque[tuple[set[bytes], list[asyncio.Future[None]]]] = deque()
        self._sub_conn: AbstractConnection | None = None
        self._sub_wake = asyncio.Event()
        # counters (for /metrics and tests)
        self.published = 0  # PUBLISH commands Redis acknowledged
        self.dropped = 0  # frames lost on this side (failed batches, queue overflow)
        self.received = 0  # messages handed to the receiver
        self.reconnects = 0

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self, receiver: Receiver) -> None:
        self._receiver = receiver
        self._running = True
        self._tasks = [
            asyncio.create_task(self._writer(), name="redis-bus-writer"),
            asyncio.create_task(self._reader(), name="redis-bus-reader"),
            asyncio.create_task(self._subscriber(), name="redis-bus-subscriber"),
        ]

    async def stop(self, flush_timeout: float = 2.0) -> None:
        """Send what is queued (for at most `flush_timeout` s), then close both connections."""
        if not self._running:
            return
        self._running = False
        self._out_ready.set()
        self._sub_wake.set()
        writer = self._tasks[0]
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(writer), flush_timeout)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        for fut in [*self._waiters, *(f for _, futs in self._pongs for f in futs)]:
            if not fut.done():
                fut.set_result(None)  # stopped: nothing more will arrive anyway
        self._waiters, self._pongs = [], deque()
        self._receiver = None
        await self._pool.disconnect()

    async def _connect(self) -> AbstractConnection:
        conn: AbstractConnection = self._pool.make_connection()  # type: ignore[no-untyped-call]
        try:
            await conn.connect()  # type: ignore[no-untyped-call]
        except BaseException:
            with contextlib.suppress(Exception):
                await conn.disconnect()
            raise
        return conn

    # -- publishing ----------------------------------------------------------------------

    def publish(self, user_id: int, frame: bytes, seq: int = 0) -> None:
        self._enqueue(self._user_prefix + str(user_id).encode(), encode_frame(frame, seq))

    def publish_close(self, device_id: int, code: int, reason: str) -> None:
        self._enqueue(self._device_prefix + str(device_id).encode(), encode_close(code, reason))

    def _enqueue(self, channel: bytes, payload: bytes) -> None:
        if not self._running:
            return
        if len(self._out) == self._out.maxlen:
            self.dropped += 1  # the deque drops the oldest
        self._out.append((channel, payload))
        self._out_ready.set()

    async def _writer(self) -> None:
        try:
            await self._write_loop()
        finally:
            conn, self._pub_conn = self._pub_conn, None
            if conn is not None:
                with contextlib.suppress(Exception):
                    await conn.disconnect()

    async def _write_loop(self) -> None:
        backoff = self._backoff_initial
        out = self._out
        while self._running or out:
            if not out:
                self._out_ready.clear()
                await self._out_ready.wait()
                continue
            conn = self._pub_conn
            if conn is None:
                try:
                    conn = self._pub_conn = await self._connect()
                    backoff = self._backoff_initial
                except (RedisError, OSError) as e:
                    if not self._running:
                        self.dropped += len(out)
                        out.clear()
                        return
                    log.warning(
                        "redis bus: publisher cannot connect (%s); retry in %.2fs", e, backoff
                    )
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, self._backoff_max)
                    continue
            n = min(len(out), self._max_batch)
            batch = [out.popleft() for _ in range(n)]
            try:
                await conn.send_packed_command(
                    conn.pack_commands(("PUBLISH", ch, data) for ch, data in batch),
                    check_health=False,
                )
                for _ in range(n):
                    await conn.read_response()
                self.published += n
            except (RedisError, OSError) as e:
                # sent or not, we cannot tell: dropped (at-most-once, never twice)
                self.dropped += n
                self.reconnects += 1
                log.warning("redis bus: publisher lost Redis (%s); %d frames dropped", e, n)
                self._pub_conn = None
                with contextlib.suppress(Exception):
                    await conn.disconnect()

    # -- interest ------------------------------------------------------------------------

    async def watch_user(self, user_id: int) -> None:
        await self._watch(self._user_prefix + str(user_id).encode())

    def unwatch_user(self, user_id: int) -> None:
        self._unwatch(self._user_prefix + str(user_id).encode())

    async def watch_device(self, device_id: int) -> None:
        await self._watch(self._device_prefix + str(device_id).encode())

    def unwatch_device(self, device_id: int) -> None:
        self._unwatch(self._device_prefix + str(device_id).encode())

    async def _watch(self, channel: bytes) -> None:
        self._refs[channel] = self._refs.get(channel, 0) + 1
        if channel in self._ready or not self._running:
            return
        self._dirty.add(channel)
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        self._sub_wake.set()
        await fut

    def _unwatch(self, channel: bytes) -> None:
        refs = self._refs.get(channel, 0) - 1
        if refs > 0:
            self._refs[channel] = refs
            return
        self._refs.pop(channel, None)
        self._dirty.add(channel)
        self._sub_wake.set()

    async def _subscriber(self) -> None:
        """Sends the coalesced SUBSCRIBE / UNSUBSCRIBE changes, then a PING to confirm them."""
        while self._running:
            await self._sub_wake.wait()
            self._sub_wake.clear()
            conn = self._sub_conn
            if conn is None or not (self._dirty or self._waiters):
                continue  # the reader flushes everything once it has (re)connected
            try:
                await self._flush(conn)
            except (RedisError, OSError) as e:
                log.warning("redis bus: subscribe failed (%s); the reader reconnects", e)
                with contextlib.suppress(Exception):
                    await conn.disconnect()  # the reader sees it and starts over

    async def _flush(self, conn: AbstractConnection) -> None:
        dirty, self._dirty = self._dirty, set()
        waiters, self._waiters = self._waiters, []
        sub = [ch for ch in dirty if ch in self._refs and ch not in self._sent]
        unsub = [ch for ch in dirty if ch not in self._refs and ch in self._sent]
        self._sent.update(sub)
        self._sent.difference_update(unsub)
        self._ready.difference_update(unsub)
        self._pongs.append((set(sub), waiters))
        commands: list[tuple[Any, ...]] = []
        for i in range(0, len(sub), 1000):
            commands.append(("SUBSCRIBE", *sub[i : i + 1000]))
        for i in range(0, len(unsub), 1000):
            commands.append(("UNSUBSCRIBE", *unsub[i : i + 1000]))
        commands.append(("PING",))
        await conn.send_packed_command(conn.pack_commands(commands), check_health=False)

    def _on_pong(self) -> None:
        if not self._pongs:
            return
        subscribed, waiters = self._pongs.popleft()
        self._ready.update(ch for ch in subscribed if ch in self._sent)
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)

    async def _reader(self) -> None:
        backoff = self._backoff_initial
        first = True
        while self._running:
            try:
                conn = await self._connect()
            except (RedisError, OSError) as e:
                log.warning("redis bus: subscriber cannot connect (%s); retry in %.2fs", e, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._backoff_max)
                continue
            backoff = self._backoff_initial
            if not first:
                self.reconnects += 1
                log.warning("redis bus: subscriber reconnected; re-subscribing %d", len(self._refs))
            first = False
            self._resubscribe_all()
            self._sub_conn = conn
            try:
                await self._flush(conn)
                await self._read_loop(conn)
            except (RedisError, OSError) as e:
                if self._running:
                    log.warning("redis bus: subscriber lost Redis (%s)", e)
            finally:
                self._sub_conn = None
                with contextlib.suppress(Exception):
                    await conn.disconnect()

    def _resubscribe_all(self) -> None:
        """A new connection has no subscriptions: everything watched is to be sent again,
        and whoever waits on a confirmation waits for the new connection's."""
        self._sent.clear()
        self._ready.clear()
        self._dirty = set(self._refs)
        for _, futs in self._pongs:
            self._waiters.extend(futs)
        self._pongs.clear()

    async def _read_loop(self, conn: AbstractConnection) -> None:
        user_prefix, device_prefix = self._user_prefix, self._device_prefix
        while self._running:
            reply = await conn.read_response(timeout=math.inf, disconnect_on_error=True)
            if not isinstance(reply, list):
                # PING outside subscribed mode (no channel subscribed) answers +PONG
                if reply == b"PONG":
                    self._on_pong()
                continue
            kind = reply[0]
            if kind == b"message":
                channel: bytes = reply[1]
                payload: bytes = reply[2]
                receiver = self._receiver
                if receiver is None:
                    continue
                self.received += 1
                try:
                    if channel.startswith(user_prefix):
                        frame, seq = decode_frame(payload)
                        receiver.deliver(int(channel[len(user_prefix) :]), frame, seq)
                    elif channel.startswith(device_prefix):
                        code, reason = decode_close(payload)
                        receiver.close_device(int(channel[len(device_prefix) :]), code, reason)
                except Exception:
                    log.exception("redis bus: receiver failed on %r", channel)
            elif kind == b"pong":
                self._on_pong()
            # subscribe / unsubscribe confirmations: the PONG after them is what counts
