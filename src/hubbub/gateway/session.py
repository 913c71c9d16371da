"""A device's WebSocket session: hello, catch-up and frame dispatch, driven by callbacks
from the socket layer (`on_text`, `on_closed`) and writing through an `Outlet`, so it
runs without a task of its own; picows_gateway.py is the glue to the socket library.

The session decides nothing about the domain: it decodes a frame (core.frames), calls the
use case (services/), and writes what comes back as frames. A `send` frame, top to bottom:
  on_text -> on_frame -> decode -> _send -> Messaging.post (validate; store: dedupe, id,
  persist, group commit + fsync; fan-out to every participant's devices) -> push `sent`.
Frames that wait on the store run as tasks in arrival order; the store commits in that
order, so one device's sends keep their order.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from hubbub.core import frames
from hubbub.core.clock import now_ms
from hubbub.core.errors import HubbubError
from hubbub.core.frames import Ack, FrameError, Hello, Ping, Read, Send, Typing, parse_id
from hubbub.core.model import Device
from hubbub.gateway.connection import DeviceConnection, Outlet
from hubbub.gateway.hub import Hub
from hubbub.services.accounts import CLOSE_LOGGED_OUT, TOUCH_EVERY_MS, Accounts
from hubbub.services.messaging import Messaging
from hubbub.services.presence import Presence
from hubbub.services.sync import Sync
from hubbub.services.throttle import Throttle

log = logging.getLogger("hubbub.gateway")

CLOSE_BAD_HELLO = 4000  # the first frame was not a valid hello, or it did not come in time
CLOSE_BAD_TOKEN = 4001  # the token is unknown or logged out
CLOSE_GOING_AWAY = 1001  # the server is shutting down
CLOSE_SERVER_ERROR = 1011
HELLO_TIMEOUT_S = 10.0
REPLAY_PAGE = 500
MAX_IN_FLIGHT = 256  # frames of one device waiting on the store before we stop reading
MAX_EARLY_FRAMES = 256  # frames sent after `hello`, before `ready`, kept to run in order


@dataclass(frozen=True, slots=True)
class SessionDeps:
    """What every session of the node uses, built once by the composition root."""

    accounts: Accounts
    sync: Sync
    messaging: Messaging
    presence: Presence
    hub: Hub
    throttle: Throttle
    sessions: set[DeviceSession]  # open sessions, for shutdown
    observe_send: Callable[[float], None]  # seconds from a send's arrival to its `sent`
    count_refusal: Callable[[str], None]  # an error code sent to a client


class DeviceSession:
    # slots and lazily made containers: an idle session is a handful of references
    __slots__ = (
        "_ack_next",
        "_acking",
        "_catch_up_task",
        "_early",
        "_hello_started",
        "_hello_timer",
        "_reading_paused",
        "_subscribed",
        "_tasks",
        "_used_at",
        "closed",
        "conn",
        "d",
        "outlet",
    )

    def __init__(self, outlet: Outlet, deps: SessionDeps) -> None:
        self.outlet = outlet
        self.d = deps
        self.conn: DeviceConnection | None = None
        self.closed = False
        self._hello_started = False
        self._early: list[bytes] | None = None
        self._tasks: set[asyncio.Task[None]] | None = None
        self._reading_paused = False
        self._subscribed = False
        self._used_at = now_ms()  # hello authenticates, which counts as a use
        self._catch_up_task: asyncio.Task[None] | None = None
        self._acking = False  # an ack of this device is with the store
        self._ack_next = -1  # the highest ack that came meanwhile (-1: none)
        self._hello_timer: asyncio.TimerHandle | None = asyncio.get_running_loop().call_later(
            HELLO_TIMEOUT_S, self._hello_timeout
        )
        deps.sessions.add(self)

    # -- callbacks from the socket layer ------------------------------------------------

    def on_text(self, raw: bytes) -> None:
        if self.conn is not None:
            self.on_frame(self.conn, raw)
        elif not self._hello_started:
            self._hello_started = True
            if self._hello_timer:
                self._hello_timer.cancel()
                self._hello_timer = None
            self._spawn(self._hello_guarded(raw))
        elif self._early is None:
            self._early = [raw]  # pipelined behind hello: run them once ready
        elif len(self._early) < MAX_EARLY_FRAMES:
            self._early.append(raw)
        else:
            self.close(CLOSE_BAD_HELLO, "too many frames before ready")

    def on_closed(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.d.sessions.discard(self)
        if self._hello_timer:
            self._hello_timer.cancel()
        if self._catch_up_task:
            self._catch_up_task.cancel()
        conn = self.conn
        if conn is None:
            return
        self.d.hub.unregister(conn)
        self.d.presence.devices_changed(conn.user_id, self.d.hub.devices_of(conn.user_id))
        if self._subscribed:
            self.d.sync.unsubscribe(conn.device)
        logged_out = conn.close_request is not None and conn.close_request[0] == CLOSE_LOGGED_OUT
        self.d.presence.disconnected(conn.user_id, logged_out=logged_out)
        log.info(
            "device %s of user %s disconnected%s",
            conn.device_id,
            conn.user_id,
            f" ({conn.close_request[1]})" if conn.close_request else "",
        )
        # sends already accepted keep running: their commits still get delivered to others

    def close(self, code: int, reason: str) -> None:
        if self.conn is not None:
            self.conn.request_close(code, reason)
        else:
            self.outlet.close(code, reason)

    def writing_paused(self) -> None:
        if self.conn is not None:
            self.conn.pause()

    def writing_resumed(self) -> None:
        if self.conn is not None:
            self.conn.resume()

    # -- hello and catch-up -------------------------------------------------------------

    def _hello_timeout(self) -> None:
        self._hello_timer = None
        if self.conn is None and not self._hello_started:
            self.outlet.close(CLOSE_BAD_HELLO, "no hello within 10 s")

    async def _hello_guarded(self, raw: bytes) -> None:
        try:
            await self._hello(raw)
        except HubbubError as e:  # storage away (an outage): the client reconnects later
            log.warning("hello refused: %s (%s)", e.code, e.message)
            self.close(CLOSE_SERVER_ERROR, "server busy: reconnect")
        except Exception:
            log.exception("hello failed")
            self.close(CLOSE_SERVER_ERROR, "server error")

    async def _hello(self, raw: bytes) -> None:
        try:
            hello = frames.decode_client_frame(raw)
        except FrameError as e:
            code = e.close_code or CLOSE_BAD_HELLO
            self.outlet.close(code, f"expected hello: {e.message}"[:120])
            return
        if not isinstance(hello, Hello) or hello.since < 0:
            self.outlet.close(CLOSE_BAD_HELLO, "the first frame must be a valid hello")
            return
        device = await self.d.accounts.authenticate(hello.token)
        if device is None:
            log.info("refused a WebSocket hello with an unknown token")
            self.outlet.close(CLOSE_BAD_TOKEN, "unknown or logged-out token")
            return
        head = await self.d.sync.head(device.user_id)
        if self.closed:
            return
        # subscribe before `ready`: a client may count on live frames from `ready` on (a
        # peer's typing sent right after it is never stored, so a node still waiting for
        # its bus to confirm would lose it); frames published meanwhile find no
        # connection here, and what they carried of the inbox is in the store for the
        # replay below (services/sync.py)
        try:
            await self.d.sync.subscribe(device)
        except TimeoutError:
            log.warning("bus subscription for device %s timed out", device.device_id)
            self.outlet.close(CLOSE_SERVER_ERROR, "server busy: reconnect")
            return
        if self.closed:  # the socket went away while we subscribed
            self.d.sync.unsubscribe(device)
            return
        self._subscribed = True
        # a device that claims more than exists (say, a restored backup) starts from head
        conn = DeviceConnection(
            device, min(hello.since, head), self.outlet, on_gap=self._start_catch_up
        )
        conn.push(  # the first frame on the wire; everything the client sends after it
            # (and what it pipelined behind hello) is this connection's from now on
            frames.ready_frame(
                device.user_id, device.device_id, head, self.d.presence.heartbeat_interval
            )
        )
        # registered in the same step as `ready` (no await between): every frame the bus
        # brings from now on reaches the connection
        self.d.hub.register(conn)
        self.conn = conn
        self.d.presence.connected(device.user_id)
        log.info(
            "device %s of user %s connected (since %d, head %d)",
            device.device_id,
            device.user_id,
            hello.since,
            head,
        )
        early, self._early = self._early or [], None
        for frame in early:
            self.on_frame(conn, frame)
        self.d.presence.devices_changed(device.user_id, self.d.hub.devices_of(device.user_id))
        self._start_catch_up(conn)

    def _start_catch_up(self, conn: DeviceConnection) -> None:
        if self._catch_up_task is None:
            self._catch_up_task = asyncio.create_task(self._catch_up(conn))
            self._catch_up_task.add_done_callback(self._catch_up_done)

    def _catch_up_done(self, task: asyncio.Task[None]) -> None:
        self._catch_up_task = None  # a finished task keeps its coroutine: let both go

    async def _catch_up(self, conn: DeviceConnection) -> None:
        """Replay the inbox from the store, page by page, then go live."""
        try:
            while True:
                page = await self.d.sync.replay(conn.user_id, conn.last_seq, REPLAY_PAGE)
                for seq, frame in page:
                    conn.replay(seq, frame)
                if len(page) == REPLAY_PAGE:
                    await conn.drained()
                    continue
                if conn.finish_catch_up():
                    return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("catch-up failed for device %s", conn.device_id)
            conn.request_close(CLOSE_SERVER_ERROR, "server error during catch-up")

    # -- client frames ---------------------------------------------------------------------

    def on_frame(self, conn: DeviceConnection, raw: bytes) -> None:
        self.d.presence.activity(conn.user_id)  # any frame is a heartbeat
        now = now_ms()
        if now - self._used_at > TOUCH_EVERY_MS:  # the device is in use: its token lives on
            self._used_at = now
            self._spawn(self._guarded(conn, self.d.accounts.keep_alive(conn.device, now)))
        try:
            frame = frames.decode_client_frame(raw)
        except FrameError as e:
            if e.close_code is not None:
                conn.request_close(e.close_code, e.message)
            else:
                self._refuse(conn, e, e.client_msg_id)
            return
        try:  # a flood of frames from one device is refused frame by frame
            self.d.throttle.here(self.d.throttle.rules.frames_per_device, f"d{conn.device_id}")
        except HubbubError as e:
            self._refuse(conn, e, getattr(frame, "client_msg_id", None))
            return
        if isinstance(frame, Send):
            self._spawn(self._send(conn, frame, time.perf_counter()))
        elif isinstance(frame, Ack):
            self._ack(conn, frame.seq)
        elif isinstance(frame, Read):
            self._spawn(self._guarded(conn, self._read(conn.device, frame)))
        elif isinstance(frame, Typing):
            self._spawn(self._guarded(conn, self._typing(conn.device, frame)))
        elif isinstance(frame, Ping):
            conn.push(frames.PONG_FRAME)
        else:
            conn.push(frames.error_frame("bad_request", "hello was already received"))

    async def _send(self, conn: DeviceConnection, frame: Send, arrived: float) -> None:
        try:
            stored = await self.d.messaging.post(
                conn.user_id,
                frame.client_msg_id,
                frame.body,
                to=parse_id(frame.to, "to") if frame.to is not None else None,
                conversation_id=(
                    parse_id(frame.conversation_id, "conversation_id")
                    if frame.conversation_id is not None
                    else None
                ),
                attachments=frame.attachments,
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
        self.d.observe_send(time.perf_counter() - arrived)

    def _ack(self, conn: DeviceConnection, seq: int) -> None:
        """Acks are cumulative, so the ones that come while this device's last ack is with
        the store fold into one next ack (the highest): a device that acks each message of
        a burst costs a store job per commit, not one per message (the receipts are
        watermarks: the senders learn the same). Only acks of what this connection was
        given fold, since those are known to be valid; any other runs on its own and gets
        its own error if it is wrong."""
        if not 0 <= seq <= conn.last_seq:
            work = self.d.messaging.ack(conn.user_id, conn.device_id, seq)
            self._spawn(self._guarded(conn, work))
        elif self._acking:
            self._ack_next = max(self._ack_next, seq)
        else:
            self._acking = True
            self._spawn(self._acks(conn, seq))

    async def _acks(self, conn: DeviceConnection, seq: int) -> None:
        try:
            while True:
                await self._guarded(conn, self.d.messaging.ack(conn.user_id, conn.device_id, seq))
                folded, self._ack_next = self._ack_next, -1
                if folded <= seq:
                    return
                seq = folded
        finally:
            self._acking = False

    async def _read(self, device: Device, frame: Read) -> None:
        await self.d.messaging.read(
            device.user_id,
            parse_id(frame.conversation_id, "conversation_id"),
            parse_id(frame.message_id, "message_id"),
        )

    async def _typing(self, device: Device, frame: Typing) -> None:
        await self.d.messaging.typing(
            device.user_id, parse_id(frame.conversation_id, "conversation_id")
        )

    def _refuse(
        self, conn: DeviceConnection, error: HubbubError, client_msg_id: str | None
    ) -> None:
        self.d.count_refusal(error.code)
        conn.push(
            frames.error_frame(error.code, error.message, client_msg_id, error.retry_after_ms)
        )

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
        if self._tasks is None:
            self._tasks = set()
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        if len(self._tasks) >= MAX_IN_FLIGHT and not self._reading_paused:
            self._reading_paused = True  # backpressure: TCP pushes back on the client
            self.outlet.pause_reading()

    def _task_done(self, task: asyncio.Task[None]) -> None:
        tasks = self._tasks
        if tasks is None:
            return
        tasks.discard(task)
        if self._reading_paused and len(tasks) < MAX_IN_FLIGHT // 2 and not self.closed:
            self._reading_paused = False
            self.outlet.resume_reading()
        if not tasks:
            self._tasks = None
