"""A device's WebSocket session: hello, catch-up, frame dispatch, and the writer.

It speaks to the socket only through the small `Socket` protocol below, so the same
session runs on any WebSocket library; websocket.py is the glue for the one we use.

The message hot path for a `send` frame, top to bottom:
  on_frame -> decode (core.frames) -> _send -> Chat.send (validate; store: dedupe, id,
  persist, group commit + fsync) -> push `sent` -> Chat.deliver -> bus -> hub ->
  each device's queue -> writer.
Frames that wait on the store run as tasks in arrival order; the store commits in that
order, so one device's sends keep their order.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from typing import Any, Protocol

from hubbub.core import frames
from hubbub.core.errors import HubbubError
from hubbub.core.frames import Ack, FrameError, Hello, Ping, Read, Send, Typing
from hubbub.gateway.connection import DeviceConnection
from hubbub.gateway.hub import Hub
from hubbub.metrics import Metrics
from hubbub.ports import Store
from hubbub.services.accounts import CLOSE_LOGGED_OUT, Accounts
from hubbub.services.chat import Chat
from hubbub.services.presence import Presence

log = logging.getLogger("hubbub.gateway")

CLOSE_BAD_HELLO = 4000  # the first frame was not a valid hello, or it did not come in time
CLOSE_BAD_TOKEN = 4001  # the token is unknown or logged out
CLOSE_GOING_AWAY = 1001  # the server is shutting down
HELLO_TIMEOUT_S = 10.0
REPLAY_PAGE = 500
MAX_IN_FLIGHT = 256  # frames of one device waiting on the store before we stop reading


class Socket(Protocol):
    async def receive(self) -> str | bytes | None:
        """The next text/binary frame, or None once the socket is closed."""

    async def send(self, frame: bytes) -> None:
        """Send one text frame (UTF-8 JSON)."""

    async def close(self, code: int, reason: str) -> None: ...


class Services:
    """What a session needs, built once by the composition root."""

    def __init__(
        self,
        store: Store,
        accounts: Accounts,
        chat: Chat,
        presence: Presence,
        hub: Hub,
        metrics: Metrics,
    ) -> None:
        self.store = store
        self.metrics = metrics
        self.accounts = accounts
        self.chat = chat
        self.presence = presence
        self.hub = hub
        self.sessions: set[DeviceSession] = set()


class DeviceSession:
    def __init__(self, socket: Socket, services: Services) -> None:
        self.socket = socket
        self.s = services
        self.conn: DeviceConnection | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._room = asyncio.Event()
        self._catch_up_task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        conn = await self._hello()
        if conn is None:
            return
        self.conn = conn
        writer = asyncio.create_task(self._write_loop(conn))
        try:
            while conn.close_request is None:
                raw = await self.socket.receive()
                if raw is None:
                    break
                self.on_frame(conn, raw)
                while len(self._tasks) >= MAX_IN_FLIGHT:  # backpressure: stop reading
                    self._room.clear()
                    await self._room.wait()
        finally:
            self.s.hub.unregister(conn)
            logged_out = conn.close_request is not None and conn.close_request[0] == (
                CLOSE_LOGGED_OUT
            )
            self.s.presence.disconnected(conn.user_id, logged_out=logged_out)
            conn.request_close(CLOSE_GOING_AWAY, "closed")
            await writer
            log.info(
                "device %s of user %s disconnected (%s)",
                conn.device_id,
                conn.user_id,
                conn.close_request[1] if conn.close_request else "",
            )
            if self._catch_up_task:
                self._catch_up_task.cancel()

    # -- hello and catch-up -------------------------------------------------------------

    async def _hello(self) -> DeviceConnection | None:
        try:
            raw = await asyncio.wait_for(self.socket.receive(), HELLO_TIMEOUT_S)
        except TimeoutError:
            await self.socket.close(CLOSE_BAD_HELLO, "no hello within 10 s")
            return None
        if raw is None:
            return None
        try:
            hello = frames.decode_client_frame(raw)
        except FrameError as e:
            await self.socket.close(CLOSE_BAD_HELLO, f"expected hello: {e.message}"[:120])
            return None
        if not isinstance(hello, Hello) or hello.since < 0:
            await self.socket.close(CLOSE_BAD_HELLO, "the first frame must be a valid hello")
            return None
        device = await self.s.accounts.authenticate(hello.token)
        if device is None:
            log.info("refused a WebSocket hello with an unknown token")
            await self.socket.close(CLOSE_BAD_TOKEN, "unknown or logged-out token")
            return None
        head = await self.s.store.inbox_head(device.user_id)
        # a device that claims more than exists (say, a restored backup) starts from head
        conn = DeviceConnection(device, min(hello.since, head), on_gap=self._start_catch_up)
        conn.push(
            frames.ready_frame(
                device.user_id, device.device_id, head, self.s.presence.heartbeat_interval
            )
        )
        self.s.hub.register(conn)
        self.s.presence.connected(device.user_id)
        log.info(
            "device %s of user %s connected (since %d, head %d)",
            device.device_id,
            device.user_id,
            hello.since,
            head,
        )
        self._start_catch_up(conn)
        return conn

    def _start_catch_up(self, conn: DeviceConnection) -> None:
        if self._catch_up_task is None or self._catch_up_task.done():
            self._catch_up_task = asyncio.create_task(self._catch_up(conn))

    async def _catch_up(self, conn: DeviceConnection) -> None:
        """Replay the inbox from the store, page by page, then go live."""
        try:
            while True:
                entries = await self.s.store.inbox_since(conn.user_id, conn.last_seq, REPLAY_PAGE)
                for entry in entries:
                    shared = frames.message_frame_prefix(frames.encode(entry.message))
                    conn.replay(entry.seq, frames.message_frame(entry.seq, shared))
                if len(entries) == REPLAY_PAGE:
                    await conn.drained()
                    continue
                if conn.finish_catch_up():
                    return
        except Exception:
            log.exception("catch-up failed for device %s", conn.device_id)
            conn.request_close(1011, "server error during catch-up")

    # -- client frames ---------------------------------------------------------------------

    def on_frame(self, conn: DeviceConnection, raw: str | bytes) -> None:
        self.s.presence.activity(conn.user_id)  # any frame is a heartbeat
        try:
            frame = frames.decode_client_frame(raw)
        except FrameError as e:
            self._refuse(conn, e, e.client_msg_id)
            return
        if isinstance(frame, Send):
            self._spawn(self._send(conn, frame, time.perf_counter()))
        elif isinstance(frame, Ack):
            self._spawn(
                self._guarded(conn, self.s.chat.ack(conn.user_id, conn.device_id, frame.seq))
            )
        elif isinstance(frame, Read):
            self._spawn(
                self._guarded(
                    conn, self.s.chat.read(conn.user_id, frame.conversation_id, frame.message_id)
                )
            )
        elif isinstance(frame, Typing):
            self._spawn(
                self._guarded(conn, self.s.chat.typing(conn.user_id, frame.conversation_id))
            )
        elif isinstance(frame, Ping):
            conn.push(frames.PONG_FRAME)
        else:
            conn.push(frames.error_frame("bad_request", "hello was already received"))

    async def _send(self, conn: DeviceConnection, frame: Send, arrived: float) -> None:
        chat = self.s.chat
        try:
            stored = await chat.send(
                conn.user_id,
                frame.client_msg_id,
                frame.body,
                to=frame.to,
                conversation_id=frame.conversation_id,
            )
        except HubbubError as e:
            self._refuse(conn, e, frame.client_msg_id)
            return
        except Exception:
            log.exception("send failed")
            self._refuse(conn, HubbubError("internal", "server error"), frame.client_msg_id)
            return
        conn.push(  # durable: committed and fsynced before we get here
            frames.sent_frame(
                frame.client_msg_id,
                stored.message_id,
                stored.conversation_id,
                stored.message.ts,
            )
        )
        self.s.metrics.send_latency.observe(time.perf_counter() - arrived)
        if not stored.duplicate:
            self.s.metrics.messages.inc()
            chat.deliver(stored)

    def _refuse(
        self, conn: DeviceConnection, error: HubbubError, client_msg_id: str | None
    ) -> None:
        self.s.metrics.errors.labels(error.code).inc()
        conn.push(frames.error_frame(error.code, error.message, client_msg_id))

    async def _guarded(self, conn: DeviceConnection, work: Coroutine[Any, Any, None]) -> None:
        try:
            await work
        except HubbubError as e:
            self._refuse(conn, e, None)
        except Exception:
            log.exception("frame failed")
            self._refuse(conn, HubbubError("internal", "server error"), None)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if len(self._tasks) < MAX_IN_FLIGHT:
            self._room.set()

    # -- the writer -------------------------------------------------------------------------

    async def _write_loop(self, conn: DeviceConnection) -> None:
        try:
            while True:
                batch = await conn.take()
                if batch is None:
                    break
                for frame in batch:
                    await self.socket.send(frame)
                conn.mark_drained()
        except Exception:  # the peer went away mid-write; the reader sees the close
            log.debug("write to device %s failed", conn.device_id, exc_info=True)
        code, reason = conn.close_request or (CLOSE_GOING_AWAY, "closed")
        await self.socket.close(code, reason)
