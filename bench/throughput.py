"""End-to-end message throughput and latency of a real Hubbub server ("one-to-one").

P pairs of users; every user signs up and logs in over REST (hubbub.client), and each
sender device and each receiver device holds a WebSocket (hello -> ready). Each sender
keeps W `send` frames in flight (closed loop: a new send as soon as a `sent` arrives) for
D seconds, then everyone waits (at most DRAIN_TIMEOUT_S) for outstanding acks and
deliveries. Every device acks its inbox cumulatively, every ACK_EVERY messages or
ACK_INTERVAL_S, like a real client (acks are writes on the server: they are real load).

Measured over the send window: acked and delivered messages/s, server CPU (utime+stime
of the server process tree from /proc) per acked message, load-generator CPU %.
Over the whole run: send-to-receive latency (sender's monotonic timestamp in the body),
lost (acked but never delivered) and duplicated (delivered twice to one device) messages.

Usage (from the repo root):

    .venv/bin/python bench/throughput.py [--url URL] [--pairs 50] [--window 8]
                                         [--duration 10] [--body-bytes 64]

Without --url it starts `hubbub serve` on 127.0.0.1 (free port, fresh temporary data dir,
embedded SQLite with fsync), pins it to CPU 0 and itself to CPU 1 once the users exist
(unless --no-pin or fewer than 2 CPUs), and stops it with SIGTERM at the end. With --url,
pass --server-pid to get server CPU figures. Prints a progress line each second and one
JSON line of results last. Exit status 1 if anything was lost or duplicated or the server
logged errors.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import msgspec
import uvloop
from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_connect
from timeline import Bar, Timeline, fmt_ms, run_for

from hubbub.client import HubbubClient

HOST = "127.0.0.1"
CLK_TCK = os.sysconf("SC_CLK_TCK")
TEXT = WSMsgType.TEXT

# Bounds: every loop and wait in this script is bounded by one of these.
SERVER_START_TIMEOUT_S = 20.0
SERVER_STOP_TIMEOUT_S = 15.0
SIGNUP_CHUNK = 8  # concurrent sign-ups/log-ins (argon2id: ~100 ms CPU and 64 MiB each)
SETUP_TIMEOUT_S = 300.0
CONNECT_CONCURRENCY = 50
CONNECT_TIMEOUT_S = 30.0
DRAIN_TIMEOUT_S = 10.0
MAX_DURATION_S = 600.0
MAX_PAIRS = 2000
MAX_WINDOW = 256
MAX_MSGS_PER_SENDER = 10_000_000
ACK_EVERY = 50
ACK_INTERVAL_S = 0.1
TTY_TICK_S = 0.25  # progress bar refresh while sending (on a pipe: one line a second)
PASSWORD = "bench password 1"
LOG_ERROR_MARKERS = (" ERROR ", " CRITICAL ", "Traceback (most recent call last)")


# --------------------------------------------------------------------------- wire frames


class Ready(msgspec.Struct, tag_field="type", tag="ready"):
    user_id: str
    head: int


class Sent(msgspec.Struct, tag_field="type", tag="sent"):
    client_msg_id: str
    message_id: str


class Message(msgspec.Struct, tag_field="type", tag="message"):
    seq: int
    sender_id: str
    body: str
    client_msg_id: str


class Receipt(msgspec.Struct, tag_field="type", tag="receipt"):
    status: str


class Error(msgspec.Struct, tag_field="type", tag="error"):
    code: str
    message: str
    client_msg_id: str | None = None


class Pong(msgspec.Struct, tag_field="type", tag="pong"):
    pass


class Presence(msgspec.Struct, tag_field="type", tag="presence"):
    pass


class Typing(msgspec.Struct, tag_field="type", tag="typing"):
    pass


ServerFrame = Ready | Sent | Message | Receipt | Error | Pong | Presence | Typing
DECODER = msgspec.json.Decoder(ServerFrame)
ENCODER = msgspec.json.Encoder()


# --------------------------------------------------------------------------- /proc helpers


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                kids.extend(int(x) for x in (task / "children").read_text().split())
    return kids


def proc_tree(pid: int) -> list[int]:
    """pid and its descendants (bounded)."""
    seen: list[int] = []
    todo = [pid]
    while todo and len(seen) < 1000:
        p = todo.pop()
        seen.append(p)
        todo.extend(_children(p))
    return seen


def proc_cpu_s(pid: int) -> float:
    """utime + stime of one process (all its threads), in seconds; 0 if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = raw[raw.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def tree_cpu_s(pid: int | None) -> float:
    if pid is None:
        return 0.0
    return sum(proc_cpu_s(p) for p in proc_tree(pid))


def own_cpu_s() -> float:
    t = os.times()
    return t.user + t.system


def pin_tree(pid: int, cpus: set[int]) -> None:
    """Pin every thread of pid and of its descendants."""
    for p in proc_tree(pid):
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{p}/task").iterdir():
                with contextlib.suppress(OSError):
                    os.sched_setaffinity(int(task.name), cpus)


# --------------------------------------------------------------------------- load generator


@dataclass
class Totals:
    acked: int = 0  # `sent` frames received by senders
    delivered: int = 0  # `message` frames from the peer received by receivers
    own_echo: int = 0  # senders' own messages echoed to their device (inbox entries)
    receipts: int = 0
    acks_sent: int = 0
    error_frames: int = 0
    error_samples: list[str] = field(default_factory=list)
    other_frames: int = 0
    disconnects: int = 0
    latencies_ns: list[int] = field(default_factory=list)


class Device(WSListener):
    """One device's socket. A sender keeps `window` sends in flight while `sending`;
    every device acks its inbox; a receiver records deliveries and latency."""

    def __init__(
        self,
        totals: Totals,
        token: str,
        name: str,
        peer_id: str | None,
        window: int,
        body_bytes: int,
    ) -> None:
        super().__init__()
        self.totals = totals
        self.name = name
        self.peer_id = peer_id
        self.window = window
        self.transport: WSTransport | None = None
        self.ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.user_id = ""
        self.hello = ENCODER.encode({"type": "hello", "token": token, "since": 0})
        # sender state
        self.sending = False
        self.inflight = 0
        self.sent = 0
        self.acked: set[str] = set()
        self.inflight_ids: set[str] = set()
        self.prefix = f'{{"type":"send","client_msg_id":"{name}-'.encode()
        self.middle = f'","to":"{peer_id}","body":"'.encode()
        self.pad = b"x" * max(0, body_bytes - 20)
        # inbox state (every device)
        self.expected_sender = ""
        self.received: set[str] = set()
        self.duplicates = 0
        self.seq_gaps = 0
        self.last_seq = 0
        self.acked_seq = 0

    # -- picows callbacks
    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport
        transport.send(TEXT, self.hello)

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type != TEXT:
            if frame.msg_type == WSMsgType.CLOSE:
                transport.disconnect()
            return
        try:
            msg = DECODER.decode(frame.get_payload_as_memoryview())
        except msgspec.DecodeError:
            self.totals.other_frames += 1
            return
        kind = type(msg)
        if kind is Message:
            self._on_message(msg)
        elif kind is Sent:
            self._on_sent(msg.client_msg_id)
        elif kind is Receipt:
            self.totals.receipts += 1
        elif kind is Ready:
            if not self.ready.done():
                self.ready.set_result(msg.user_id)
        elif kind is Error:
            err: Error = msg
            self.totals.error_frames += 1
            if len(self.totals.error_samples) < 5:
                self.totals.error_samples.append(f"{err.code}: {err.message}")
            if err.client_msg_id is not None and err.client_msg_id in self.inflight_ids:
                self.inflight_ids.discard(err.client_msg_id)
                self.inflight -= 1
        else:
            self.totals.other_frames += 1

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self.totals.disconnects += 1
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(f"{self.name} disconnected"))

    # -- frames
    def _on_message(self, msg: Message) -> None:
        seq = msg.seq
        if seq != self.last_seq + 1:
            self.seq_gaps += 1
        self.last_seq = max(self.last_seq, seq)
        if msg.sender_id == self.expected_sender:
            now = time.monotonic_ns()
            cmid = msg.client_msg_id
            if cmid in self.received:
                self.duplicates += 1
            else:
                self.received.add(cmid)
            self.totals.delivered += 1
            with contextlib.suppress(ValueError):
                self.totals.latencies_ns.append(now - int(msg.body[:19]))
        else:
            self.totals.own_echo += 1
        if self.last_seq - self.acked_seq >= ACK_EVERY:
            self.flush_ack()

    def _on_sent(self, cmid: str) -> None:
        if cmid not in self.inflight_ids:
            self.totals.other_frames += 1  # an ack we did not wait for
            return
        self.inflight_ids.discard(cmid)
        self.acked.add(cmid)
        self.inflight -= 1
        self.totals.acked += 1
        if self.sending:
            self.pump()

    def flush_ack(self) -> None:
        t = self.transport
        if self.last_seq > self.acked_seq and t is not None and not t.is_disconnected:
            self.acked_seq = self.last_seq
            t.send(TEXT, b'{"type":"ack","seq":%d}' % self.last_seq)
            self.totals.acks_sent += 1

    def pump(self) -> None:
        t = self.transport
        if t is None:
            return
        while self.inflight < self.window and self.sent < MAX_MSGS_PER_SENDER:
            self.sent += 1
            self.inflight += 1
            n = str(self.sent).encode()
            self.inflight_ids.add(f"{self.name}-{self.sent}")
            body = b"%019d " % time.monotonic_ns() + self.pad
            t.send(TEXT, self.prefix + n + self.middle + body + b'"}')


@dataclass
class Account:
    name: str
    token: str
    user_id: str


async def create_accounts(base_url: str, names: Sequence[str]) -> list[Account]:
    """Sign up and log in every name, SIGNUP_CHUNK at a time (argon2 is slow by design)."""

    async def one(name: str) -> Account:
        async with HubbubClient(base_url) as api:
            await api.sign_up(name, PASSWORD)
            session = await api.log_in(name, PASSWORD, device_name="bench")
            return Account(name, str(session["token"]), str(session["user_id"]))

    accounts: list[Account] = []
    for i in range(0, len(names), SIGNUP_CHUNK):
        chunk = names[i : i + SIGNUP_CHUNK]
        accounts.extend(await asyncio.gather(*(one(n) for n in chunk)))
    return accounts


async def connect_devices(ws_url: str, devices: Sequence[Device]) -> None:
    sem = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def one(device: Device) -> None:
        async with sem:
            await ws_connect(lambda: device, ws_url)
            device.user_id = await device.ready

    await asyncio.wait_for(asyncio.gather(*(one(d) for d in devices)), CONNECT_TIMEOUT_S)


def percentile(sorted_values: Sequence[int], q: float) -> float:
    if not sorted_values:
        return float("nan")
    i = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[i] / 1e6


@dataclass
class Snapshot:
    t: float
    acked: int
    delivered: int
    srv_cpu: float
    own_cpu: float


class Run:
    """One load run against a server whose users and sockets are set up by `prepare`."""

    def __init__(self, server_pid: int | None, args: argparse.Namespace) -> None:
        self.server_pid = server_pid
        self.args = args
        self.totals = Totals()
        self.senders: list[Device] = []
        self.receivers: list[Device] = []
        self.setup_s = 0.0
        self.loop = asyncio.get_running_loop()
        t = self.totals
        self.timeline = Timeline(
            counters=lambda: {"acked": t.acked, "delivered": t.delivered}, lat=t.latencies_ns
        )
        self.bar = Bar(getattr(args, "label", "one-to-one"), float(args.duration))
        self.srv_pct = 0.0
        self.prev = Snapshot(0.0, 0, 0, 0.0, 0.0)  # last 1 s mark, set by send_phase

    @property
    def devices(self) -> list[Device]:
        return [*self.senders, *self.receivers]

    @property
    def pairs(self) -> zip[tuple[Device, Device]]:
        return zip(self.senders, self.receivers, strict=True)

    def snap(self) -> Snapshot:
        t = self.totals
        return Snapshot(
            self.loop.time(), t.acked, t.delivered, tree_cpu_s(self.server_pid), own_cpu_s()
        )

    async def prepare(self, base_url: str, pin_self: bool) -> None:
        a = self.args
        t0 = time.monotonic()
        tag = f"b{os.getpid()}x{int(time.time()) % 100000}"
        names = [f"{tag}s{i}" for i in range(a.pairs)] + [f"{tag}r{i}" for i in range(a.pairs)]
        accounts = await asyncio.wait_for(create_accounts(base_url, names), SETUP_TIMEOUT_S)
        senders_acc, receivers_acc = accounts[: a.pairs], accounts[a.pairs :]
        self.setup_s = time.monotonic() - t0
        say(f"created {len(accounts)} users in {self.setup_s:.1f}s")
        if pin_self and self.server_pid is not None:
            pin_tree(self.server_pid, {0})
            os.sched_setaffinity(0, {1})
            say("pinned: server -> CPU 0, load generator -> CPU 1")
        t, w, bb = self.totals, a.window, a.body_bytes
        self.receivers = [Device(t, r.token, r.name, None, w, bb) for r in receivers_acc]
        self.senders = [
            Device(t, s.token, s.name, r.user_id, w, bb)
            for s, r in zip(senders_acc, receivers_acc, strict=True)
        ]
        for r, sa in zip(self.receivers, senders_acc, strict=True):
            r.expected_sender = sa.user_id
        await connect_devices(base_url.replace("http", "ws", 1) + "/v1/ws", self.devices)
        say(f"connected {len(self.devices)} sockets")
        await asyncio.sleep(0.5)

    async def acker(self, stop: asyncio.Event, bound_s: float) -> None:
        """Cumulative acks every ACK_INTERVAL_S for devices below ACK_EVERY unacked."""
        deadline = self.loop.time() + bound_s
        while not stop.is_set() and self.loop.time() < deadline:
            for d in self.devices:
                d.flush_ack()
            await asyncio.sleep(ACK_INTERVAL_S)

    async def send_phase(self) -> tuple[Snapshot, Snapshot]:
        start = self.snap()
        self.timeline.start(start.t)
        self.prev = start
        for s in self.senders:
            s.sending = True
            s.pump()
        await run_for(
            self.args.duration,
            self.bar,
            lambda now: self.mark(start),
            self.bar_text,
            self.loop.time,
            tick_s=TTY_TICK_S,
        )
        for s in self.senders:
            s.sending = False
        return start, self.finish_marks()

    def finish_marks(self) -> Snapshot:
        end = self.snap()
        if end.t - self.prev.t > 0.05:
            self.timeline.mark(end.t)
        self.bar.close()
        return end

    def mark(self, start: Snapshot) -> None:
        """A 1 s mark: timeline bucket, progress line (on a pipe)."""
        prev, cur = self.prev, self.snap()
        self.timeline.mark(cur.t)
        self.progress(start, prev, cur)
        self.srv_pct = 100 * (cur.srv_cpu - prev.srv_cpu) / max(cur.t - prev.t, 1e-9)
        self.prev = cur

    def bar_text(self) -> str:
        b = self.timeline.last
        rate = f"{b.rates['acked']:,.0f} msg/s  p99 {fmt_ms(b.p99)}" if b else "..."
        return f"{rate}  srv cpu {self.srv_pct:.0f}%  err {self.totals.error_frames}"

    def progress(self, start: Snapshot, prev: Snapshot, cur: Snapshot) -> None:
        if self.bar.tty:
            return  # the bar shows it
        dt_s = max(cur.t - prev.t, 1e-9)
        say(
            f"t={cur.t - start.t:5.1f}s acked/s={(cur.acked - prev.acked) / dt_s:7.0f} "
            f"delivered/s={(cur.delivered - prev.delivered) / dt_s:7.0f} "
            f"inflight={sum(s.inflight for s in self.senders)} "
            f"server_cpu={100 * (cur.srv_cpu - prev.srv_cpu) / dt_s:4.0f}% "
            f"loadgen_cpu={100 * (cur.own_cpu - prev.own_cpu) / dt_s:4.0f}% "
            f"errors={self.totals.error_frames}"
        )

    async def drain(self) -> bool:
        """Wait for outstanding acks and for every acked message to be delivered."""
        t0 = self.loop.time()
        while self.loop.time() - t0 < DRAIN_TIMEOUT_S:
            if all(s.inflight == 0 for s in self.senders) and all(
                len(s.acked) <= len(r.received) for s, r in self.pairs
            ):
                return True
            await asyncio.sleep(0.005)
        return False

    async def run(self) -> dict[str, Any]:
        stop = asyncio.Event()
        ack_task = asyncio.create_task(self.acker(stop, self.args.duration + DRAIN_TIMEOUT_S + 30))
        start, end = await self.send_phase()
        drained = await self.drain()
        drain_s = self.loop.time() - end.t
        for d in self.devices:
            d.flush_ack()
        await asyncio.sleep(0.3)  # let the last acks reach the server
        stop.set()
        await asyncio.wait_for(ack_task, 5)
        final = self.snap()
        result = self.report(start, end, final)
        result["drained"], result["drain_s"] = drained, round(drain_s, 3)
        for d in self.devices:
            if d.transport is not None and not d.transport.is_disconnected:
                d.transport.disconnect()
        await asyncio.sleep(0.2)
        return result

    def report(self, start: Snapshot, end: Snapshot, final: Snapshot) -> dict[str, Any]:
        a, t, srv = self.args, self.totals, self.server_pid is not None
        lat = sorted(t.latencies_ns)
        window_s = end.t - start.t
        acked_w = end.acked - start.acked
        srv_w = end.srv_cpu - start.srv_cpu
        return {
            "scenario": "one-to-one",
            "pairs": a.pairs,
            "window": a.window,
            "duration_s": round(window_s, 3),
            "body_bytes": a.body_bytes,
            "setup_s": round(self.setup_s, 1),
            "acked_per_s": round(acked_w / window_s, 1),
            "delivered_per_s": round((end.delivered - start.delivered) / window_s, 1),
            "latency_ms": {
                "p50": round(percentile(lat, 0.50), 2),
                "p95": round(percentile(lat, 0.95), 2),
                "p99": round(percentile(lat, 0.99), 2),
                "max": round(lat[-1] / 1e6, 2) if lat else None,
                "samples": len(lat),
            },
            "sent": sum(s.sent for s in self.senders),
            "acked": t.acked,
            "delivered": t.delivered,
            "lost": sum(len(s.acked - r.received) for s, r in self.pairs),
            "duplicated": sum(r.duplicates for r in self.receivers),
            "unacked_delivered": sum(len(r.received - s.acked) for s, r in self.pairs),
            "seq_gaps": sum(d.seq_gaps for d in self.devices),
            "own_echo": t.own_echo,
            "receipts": t.receipts,
            "acks_sent": t.acks_sent,
            "error_frames": t.error_frames,
            "error_samples": t.error_samples,
            "other_frames": t.other_frames,
            "disconnects": t.disconnects,
            "server_cpu_s": round(srv_w, 2) if srv else None,
            "server_cpu_pct": round(100 * srv_w / window_s, 1) if srv else None,
            "server_cpu_us_per_msg": round(srv_w * 1e6 / acked_w, 1) if srv and acked_w else None,
            "server_cpu_us_per_msg_incl_drain": (
                round((final.srv_cpu - start.srv_cpu) * 1e6 / max(t.acked, 1), 1) if srv else None
            ),
            "loadgen_cpu_pct": round(100 * (end.own_cpu - start.own_cpu) / window_s, 1),
        }


async def run_load(
    base_url: str, server_pid: int | None, args: argparse.Namespace, pin_self: bool
) -> dict[str, Any]:
    run = Run(server_pid, args)
    await run.prepare(base_url, pin_self)
    return await run.run()


# --------------------------------------------------------------------------- server


STARTED = time.monotonic()


def say(text: str) -> None:
    print(f"[{time.monotonic() - STARTED:6.1f}s] {text}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def hubbub_command() -> list[str]:
    script = Path(sys.executable).parent / "hubbub"
    if script.exists():
        return [str(script)]
    found = shutil.which("hubbub")
    return [found] if found else [sys.executable, "-m", "hubbub.cli"]


@dataclass
class Server:
    pid: int
    url: str
    log_path: Path
    returncode: int | None = None


@contextlib.contextmanager
def running_server(log: IO[str], log_path: Path) -> Iterator[Server]:
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="hubbub-bench-") as data_dir:
        cmd = [
            *hubbub_command(),
            "serve",
            "--host",
            HOST,
            "--port",
            str(port),
            "--data-dir",
            data_dir,
            "--rate-limits",  # a load generator is a flood by design
            "off",
        ]
        say("starting: " + " ".join(cmd))
        proc = subprocess.Popen(cmd, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        server = Server(proc.pid, f"http://{HOST}:{port}", log_path)
        try:
            deadline = time.monotonic() + SERVER_START_TIMEOUT_S
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"server exited early (rc={proc.returncode})")
                with (
                    contextlib.suppress(OSError),
                    urllib.request.urlopen(f"{server.url}/healthz", timeout=1) as r,
                ):
                    if r.status == 200:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError("server did not become healthy")
                time.sleep(0.05)
            yield server
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=SERVER_STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    say("server ignored SIGTERM; killing it")
                    proc.kill()
                    proc.wait(timeout=5)
            server.returncode = proc.returncode


def log_errors(path: Path) -> list[str]:
    lines = path.read_text(errors="replace").splitlines()
    return [ln for ln in lines if any(m in ln for m in LOG_ERROR_MARKERS)]


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--url", help="an already running server (http://127.0.0.1:PORT)")
    p.add_argument("--server-pid", type=int, help="with --url: the server's pid, for CPU")
    p.add_argument("--pairs", type=int, default=50)
    p.add_argument("--window", type=int, default=8, help="sends in flight per sender")
    p.add_argument("--duration", type=float, default=10.0, help="seconds of sending")
    p.add_argument("--body-bytes", type=int, default=64)
    p.add_argument("--no-pin", action="store_true", help="do not pin server/loadgen to CPUs")
    p.add_argument("--server-log", type=Path, help="where the started server's log goes")
    args = p.parse_args(argv)
    if not 1 <= args.pairs <= MAX_PAIRS:
        p.error(f"--pairs must be 1..{MAX_PAIRS}")
    if not 1 <= args.window <= MAX_WINDOW:
        p.error(f"--window must be 1..{MAX_WINDOW}")
    if not 0 < args.duration <= MAX_DURATION_S:
        p.error(f"--duration must be in (0, {MAX_DURATION_S:g}]")
    if not 20 <= args.body_bytes <= 100_000:
        p.error("--body-bytes must be 20..100000 (the body starts with a 19-digit timestamp)")
    if args.url and not args.url.startswith(("http://127.0.0.1", "http://localhost")):
        p.error("--url must be on 127.0.0.1")
    return args


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    pin = not args.no_pin and len(os.sched_getaffinity(0)) >= 2
    if args.url:
        result = uvloop.run(run_load(args.url.rstrip("/"), args.server_pid, args, pin_self=False))
        result["server_log_errors"] = None
    else:
        log_path = args.server_log or Path(tempfile.gettempdir()) / (
            f"hubbub-bench-server-{os.getpid()}.log"
        )
        with log_path.open("w") as log, running_server(log, log_path) as server:
            result = uvloop.run(run_load(server.url, server.pid, args, pin_self=pin))
        errors = log_errors(log_path)
        result["server_exit_code"] = server.returncode
        result["server_log"] = str(log_path)
        result["server_log_errors"] = len(errors)
        for line in errors[:5]:
            say(f"SERVER LOG ERROR: {line}")
    result["pinned"] = pin and not args.url
    bad = result["lost"] or result["duplicated"] or result["server_log_errors"]
    if bad:
        say("PROBLEM: lost/duplicated messages or server errors (see JSON)")
    print(json.dumps(result), flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
