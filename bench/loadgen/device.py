"""`Device`: one client socket that speaks the protocol like a real client, and `Tally`,
the counters a set of devices shares.

A device sends `hello` with `since` = the highest seq it has, waits for `ready`, then:

* sends `send` frames with a fresh `client_msg_id` each, keeping at most `window` of
  them waiting for `sent` (window 1 is a person: one message, wait for `sent`, the next);
  sends beyond the window wait in an outbox; `sending` keeps the window full (closed
  loop); after a reconnect every unanswered send goes again with the SAME client_msg_id;
* checks its inbox: seq must go up by one within a connection (gaps and repeats are
  counted), a message_id seen twice is a duplicate (across reconnects too);
* acks its inbox (`ack` policy): EACH message from someone else as it arrives (its own
  echoes and catch-up ride on the next ack, or on `flush_ack`), in BATCHes (every
  BATCH_ACK_EVERY entries or `flush_ack`, a throughput ceiling), or NONE (bare relays);
* records latency: send -> `sent` at the sender, send -> `message` at each recipient
  (live entries only; the body starts with the sender's CLOCK_MONOTONIC in ns);
* counts every frame it receives and sends, by type, in the shared `Tally`.

Hot-path work is a few dict/set operations per frame; scenarios hook in with `on_sent`,
`on_message` and `on_other` callbacks.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec
from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

from loadgen import frames
from loadgen.frames import DECODER, TYPE_NAME, Error, Message, Ready, Receipt, Sent

TEXT = WSMsgType.TEXT
ACK_EACH = "each"
ACK_BATCH = "batch"
ACK_NONE = "none"
ACK_MODES = (ACK_EACH, ACK_BATCH, ACK_NONE)
BATCH_ACK_EVERY = 50
MAX_SENDS_PER_DEVICE = 10_000_000
SAMPLES = 5  # error and failure texts kept per tally


@dataclass
class Tally:
    """What a set of devices saw and did (one scenario run, or one part of it)."""

    rx: Counter[str] = field(default_factory=Counter)  # frames received, by type
    tx: Counter[str] = field(default_factory=Counter)  # frames sent, by type
    receipts: Counter[str] = field(default_factory=Counter)  # receipts by status
    acked: int = 0  # sends answered with `sent`
    delivered: int = 0  # messages from someone else (live and catch-up)
    own_echo: int = 0  # a device's own messages in its inbox
    catch_up: int = 0  # entries with seq <= ready.head (replayed after hello)
    acks_on_delivery: int = 0  # ack mode "each": one per message from someone else
    acks_flushed: int = 0  # batched acks and flushes (echoes, catch-up, ceiling mode)
    failed_sends: int = 0  # a send answered with `error`
    unexpected_sent: int = 0  # a `sent` for nothing in flight
    resent: int = 0  # unanswered sends sent again after a reconnect
    unknown_frames: int = 0
    error_samples: list[str] = field(default_factory=list)
    disconnects: int = 0  # not asked for by the client
    connects: int = 0
    connect_failures: int = 0
    connect_failure_samples: list[str] = field(default_factory=list)
    sent_lat_ns: list[int] = field(default_factory=list)  # send -> `sent`
    deliver_lat_ns: list[int] = field(default_factory=list)  # send -> live `message`

    def note_error(self, text: str) -> None:
        if len(self.error_samples) < SAMPLES:
            self.error_samples.append(text)

    def note_connect_failure(self, text: str) -> None:
        self.connect_failures += 1
        if len(self.connect_failure_samples) < SAMPLES:
            self.connect_failure_samples.append(text)

    def problems(self) -> dict[str, Any]:
        """The failure counters every scenario reports (and judges the run by)."""
        return {
            "error_frames": self.rx["error"],
            "error_samples": self.error_samples,
            "failed_sends": self.failed_sends,
            "unexpected_sent": self.unexpected_sent,
            "unknown_frames": self.unknown_frames,
            "disconnects": self.disconnects,
            "connect_failures": self.connect_failures,
            "connect_failure_samples": self.connect_failure_samples,
        }

    def frame_counts(self) -> dict[str, dict[str, int]]:
        return {
            "received": dict(sorted(self.rx.items())),
            "sent": dict(sorted(self.tx.items())),
            "receipts": dict(sorted(self.receipts.items())),
        }


class Device(WSListener):
    """One device socket (see the module docstring). Reusable: `connect` again after a
    drop or a `close` resumes with since = the highest seq received."""

    def __init__(
        self,
        tally: Tally,
        token: str,
        name: str,
        *,
        since: int = 0,
        ack: str = ACK_EACH,
        window: int = 1,
        body_bytes: int = 64,
    ) -> None:
        super().__init__()
        if ack not in ACK_MODES:
            raise ValueError(f"ack must be one of {ACK_MODES}")
        self.tally = tally
        self.token = token
        self.name = name
        self.ack_mode = ack
        self.transport: WSTransport | None = None
        self.ready: asyncio.Future[Ready] | None = None
        self.closing = False
        self.user_id = ""
        self.device_id = ""
        self.head = 0  # ready.head of the current connection
        self.heartbeat_interval = 10.0
        self.ready_t = 0.0  # time.monotonic() of the last `ready`
        self.last_tx = 0.0  # time.monotonic() of the last frame sent (for heartbeats)
        # inbox
        self.last_seq = since
        self.acked_seq = since
        self.seq_gaps = 0
        self.seq_repeats = 0
        self.duplicates = 0
        self.received: set[str] = set()  # message ids
        # sending
        self.window = window
        self.target = b""  # frames.send_target(...) used when `send` gets none
        self.pad = b"x" * max(0, body_bytes - 20)
        self.sending = False  # closed loop: keep `window` sends in flight
        self.n_sent = 0
        self.inflight: dict[str, tuple[int, bytes]] = {}  # client_msg_id -> (t_ns, frame)
        self.outbox: deque[tuple[bytes, int]] | None = None
        self.acked_ids: set[str] = set()  # message ids of this device's acknowledged sends
        self.resent: set[str] = set()  # client_msg_ids sent again after a reconnect
        self._cmid_prefix = f"{name}-"
        # scenario hooks
        self.on_send: Callable[[Device, str, bytes], None] | None = None  # cmid, target
        self.on_sent: Callable[[Device, Sent, int], None] | None = None
        self.on_message: Callable[[Device, Message, int], None] | None = None
        self.on_other: Callable[[Device, Any], None] | None = None

    # -- connection ------------------------------------------------------------------

    @property
    def open(self) -> bool:
        return self.transport is not None and not self.transport.is_disconnected

    @property
    def online(self) -> bool:
        """Connected and past `ready`."""
        r = self.ready
        return self.open and r is not None and r.done() and r.exception() is None

    async def connect(
        self, ws_url: str, *, local_addr: str | None = None, handshake_timeout: float = 10.0
    ) -> None:
        """Open the socket, send hello(since = last seq), wait for ready, then resend
        every send still unanswered (same client_msg_id: the server answers a repeat with
        the original message)."""
        self.ready = asyncio.get_running_loop().create_future()
        self.closing = False
        kw: dict[str, Any] = {"local_addr": (local_addr, 0)} if local_addr else {}
        await ws_connect(lambda: self, ws_url, websocket_handshake_timeout=handshake_timeout, **kw)
        await asyncio.wait_for(self.ready, handshake_timeout + 10)
        self.tally.connects += 1
        if self.inflight and self.transport is not None:
            for cmid, (_, frame) in list(self.inflight.items()):
                self._write("send", frame)
                self.resent.add(cmid)
                self.tally.resent += 1

    def close(self) -> None:
        """Drop the socket on purpose (not counted as a disconnect)."""
        self.closing = True
        if self.open:
            assert self.transport is not None
            self.transport.disconnect()

    # -- picows callbacks --------------------------------------------------------------

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport
        self._write("hello", frames.hello(self.token, self.last_seq))

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        if not self.closing:
            self.tally.disconnects += 1
        r = self.ready
        if r is not None and not r.done():
            r.set_exception(ConnectionError(f"{self.name} disconnected before ready"))

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type != TEXT:
            if frame.msg_type == WSMsgType.CLOSE:
                transport.disconnect()
            return
        try:
            msg = DECODER.decode(frame.get_payload_as_memoryview())
        except msgspec.DecodeError:
            self.tally.unknown_frames += 1
            return
        kind = type(msg)
        self.tally.rx[TYPE_NAME[kind]] += 1
        if kind is Message:
            self._on_message(msg)
        elif kind is Sent:
            self._on_sent(msg)
        elif kind is Receipt:
            self.tally.receipts[msg.status] += 1
            if self.on_other is not None:
                self.on_other(self, msg)
        elif kind is Ready:
            self._on_ready(msg)
        elif kind is Error:
            self._on_error(msg)
        elif self.on_other is not None:
            self.on_other(self, msg)

    # -- frames in ---------------------------------------------------------------------

    def _on_ready(self, msg: Ready) -> None:
        self.user_id, self.device_id = msg.user_id, msg.device_id
        self.head, self.heartbeat_interval = msg.head, msg.heartbeat_interval
        self.ready_t = time.monotonic()
        r = self.ready
        if r is not None and not r.done():
            r.set_result(msg)

    def _on_message(self, msg: Message) -> None:
        now = time.monotonic_ns()
        t = self.tally
        seq = msg.seq
        if seq <= self.last_seq:
            self.seq_repeats += 1
        else:
            if seq != self.last_seq + 1:
                self.seq_gaps += 1
            self.last_seq = seq
        mid = msg.message_id
        if mid in self.received:
            self.duplicates += 1
            return
        self.received.add(mid)
        live = seq > self.head
        if not live:
            t.catch_up += 1
        own = msg.sender_id == self.user_id
        if own:
            t.own_echo += 1
        else:
            t.delivered += 1
            if live:
                with contextlib.suppress(ValueError):
                    t.deliver_lat_ns.append(now - int(msg.body[:19]))
        if self.on_message is not None:
            self.on_message(self, msg, now)
        mode = self.ack_mode
        if mode == ACK_EACH:
            # one ack per message from someone else; the end of catch-up acks it all
            if not own and seq >= self.head and self._ack():
                t.acks_on_delivery += 1
        elif mode == ACK_BATCH and self.last_seq - self.acked_seq >= BATCH_ACK_EVERY:
            self.flush_ack()

    def _on_sent(self, msg: Sent) -> None:
        t = self.tally
        sent = self.inflight.pop(msg.client_msg_id, None)
        if sent is None:
            t.unexpected_sent += 1
            return
        now = time.monotonic_ns()
        t.acked += 1
        if self.resent and msg.client_msg_id in self.resent:
            self.resent.discard(msg.client_msg_id)  # its latency would hold the time offline
        else:
            t.sent_lat_ns.append(now - sent[0])
        self.acked_ids.add(msg.message_id)
        if self.on_sent is not None:
            self.on_sent(self, msg, now)
        self._next()

    def _on_error(self, msg: Error) -> None:
        self.tally.note_error(f"{msg.code}: {msg.message}")
        cmid = msg.client_msg_id
        if cmid is not None and self.inflight.pop(cmid, None) is not None:
            self.tally.failed_sends += 1
            self._next()

    # -- frames out --------------------------------------------------------------------

    def _write(self, kind: str, frame: bytes) -> bool:
        t = self.transport
        if t is None or t.is_disconnected:
            return False
        t.send(TEXT, frame)
        self.tally.tx[kind] += 1
        self.last_tx = time.monotonic()
        return True

    def send(self, target: bytes | None = None, ts_ns: int | None = None) -> str:
        """Send one message now (to `target`, default self.target); `ts_ns` is when the
        user pressed send (default now): the latencies count from it."""
        self.n_sent += 1
        cmid = f"{self._cmid_prefix}{self.n_sent}"
        ts = ts_ns if ts_ns is not None else time.monotonic_ns()
        target = target or self.target
        frame = frames.send(cmid.encode(), target, b"%019d " % ts + self.pad)
        self.inflight[cmid] = (ts, frame)
        if self.on_send is not None:
            self.on_send(self, cmid, target)
        self._write("send", frame)  # offline: it goes after the next `connect`
        return cmid

    def submit(self, target: bytes | None = None, ts_ns: int | None = None) -> None:
        """Send now if the window has room, else queue behind the sends in flight."""
        ts = ts_ns if ts_ns is not None else time.monotonic_ns()
        if len(self.inflight) < self.window and not self.outbox:
            self.send(target, ts)
            return
        if self.outbox is None:
            self.outbox = deque()
        self.outbox.append((target or self.target, ts))

    def pump(self) -> None:
        """Closed loop: fill the window."""
        while (
            self.sending
            and len(self.inflight) < self.window
            and self.n_sent < MAX_SENDS_PER_DEVICE
            and self.open
        ):
            self.send()

    def _next(self) -> None:
        if self.outbox:
            while self.outbox and len(self.inflight) < self.window:
                target, ts = self.outbox.popleft()
                self.send(target, ts)
        elif self.sending:
            self.pump()

    def _ack(self) -> bool:
        if self.last_seq > self.acked_seq and self._write("ack", frames.ack(self.last_seq)):
            self.acked_seq = self.last_seq
            return True
        return False

    def flush_ack(self) -> None:
        """Ack whatever arrived since the last ack (batched acks, echoes, catch-up)."""
        if self.ack_mode != ACK_NONE and self._ack():
            self.tally.acks_flushed += 1

    def ping(self) -> None:
        self._write("ping", frames.PING)

    def typing(self, conversation_id: str) -> None:
        self._write("typing", frames.typing(conversation_id))

    def read(self, conversation_id: str, message_id: str) -> None:
        self._write("read", frames.read(conversation_id, message_id))

    @property
    def busy(self) -> bool:
        """Something waits for `sent` (in flight or queued)."""
        return bool(self.inflight or self.outbox)
