"""Hubbub load scenarios against a real server: one entry point, one JSON line per run.

    .venv/bin/python bench/hubbub_bench.py SCENARIO [--url URL --server-pid PID] [--metrics] ...

Scenarios (each prints a progress line per second on stderr and ONE JSON line on stdout):

  one-to-one       P sender/receiver pairs, closed loop with W in flight (bench/throughput.py).
  group            a group of --members (100) connected members, every one acking its inbox;
                   --senders (4) members each keep --window (8) sends in flight for --duration:
                   deliveries/s, latency send -> LAST recipient, server CPU us per delivery,
                   lost / duplicated deliveries.
  offered-load     one-to-one at a fixed total --rate (5000 msg/s), paced open loop, for
                   --duration: latency (from the scheduled send time, so queueing behind a
                   slow server is counted), achieved rate, server CPU per message.
  idle             --connections (2000) idle logged-in sockets, each pinging at the server's
                   heartbeat_interval, held for --duration: server RSS per connection,
                   connections held at the end. Sockets spread over source addresses
                   127.0.0.1, .2, ... (--per-source each) and RLIMIT_NOFILE is raised first
                   (before the server is started, which inherits it).
  reconnect-storm  --devices (1000) devices of --users (50) users, each has received
                   --before (3) messages per user; all drop at once, --during (5) more per user
                   are sent, then all reconnect at once with since = their last seq: time
                   until every device is resumed (ready + everything missed), errors.

Without --url a `hubbub serve` is started (embedded storage, fresh temp dir) exactly as in
bench/throughput.py, pinned to CPU 0 with the load generator on CPU 1 once the users exist
(unless --no-pin). Server CPU is utime+stime of the server process tree from /proc; the load
generator's own CPU % is reported next to it, with `loadgen_saturated` true when above 90 %
of its core (then the numbers measure the client, not the server). --metrics scrapes
GET /metrics before and after and reports the deltas. Exit status 1 if anything was lost,
duplicated or failed, or the server logged errors.

Progress: on a terminal, one `\r`-updated bar on stderr; on a pipe, one line per second.
--plot OUT.png (matplotlib, from the `bench` extra) writes per-second throughput and
latency p50/p95/p99 (one-to-one, group, offered-load), held sockets / RSS / pings (idle) or
cumulative ready / resumed devices and a resume-time histogram (reconnect-storm); samples
come from bench/timeline.py (1 s marks: counters and a slice of the latency list).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import resource
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import throughput as tp
import uvloop
from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_connect
from timeline import Bar, Panel, Timeline, fmt_ms, plot, rate_latency_panels, run_for

from hubbub.client import HubbubClient

TEXT = WSMsgType.TEXT
say = tp.say

SCENARIOS = ("one-to-one", "group", "offered-load", "idle", "reconnect-storm")
LOGIN_CONCURRENCY = 16  # argon2: each sign-up / log-in costs the server ~50-100 ms of CPU
SETUP_TIMEOUT_S = 600.0
CONNECT_TIMEOUT_S = 120.0
DRAIN_TIMEOUT_S = 15.0
MAX_CONNECTIONS = 200_000
MAX_DEVICES = 20_000
MAX_RATE = 200_000
MAX_INFLIGHT_PER_SENDER = 20_000  # open loop, but bounded: beyond this a paced send is skipped
SATURATED_PCT = 90.0
ACK_EVERY = tp.ACK_EVERY
ACK_INTERVAL_S = tp.ACK_INTERVAL_S
TTY_TICK_S = tp.TTY_TICK_S


# --------------------------------------------------------------------------- wire frames


class Ready(msgspec.Struct, tag_field="type", tag="ready"):
    user_id: str
    head: int
    heartbeat_interval: float = 10.0


class Message(msgspec.Struct, tag_field="type", tag="message"):
    seq: int
    sender_id: str
    body: str
    client_msg_id: str


ServerFrame = Ready | Message | tp.Sent | tp.Receipt | tp.Error | tp.Pong | tp.Presence | tp.Typing
DECODER = msgspec.json.Decoder(ServerFrame)
ENCODER = msgspec.json.Encoder()


# --------------------------------------------------------------------------- measuring


@dataclass
class Meter:
    t: float
    srv: float
    own: float


def meter(pid: int | None) -> Meter:
    return Meter(time.monotonic(), tp.tree_cpu_s(pid), tp.own_cpu_s())


def cpu_report(pid: int | None, start: Meter, end: Meter, work: float, unit: str) -> dict[str, Any]:
    """Server CPU per unit of work and the load generator's own CPU over [start, end]."""
    dt = max(end.t - start.t, 1e-9)
    srv = end.srv - start.srv
    own_pct = 100 * (end.own - start.own) / dt
    have = pid is not None
    return {
        "server_cpu_s": round(srv, 2) if have else None,
        "server_cpu_pct": round(100 * srv / dt, 1) if have else None,
        f"server_cpu_us_per_{unit}": round(srv * 1e6 / work, 2) if have and work else None,
        "loadgen_cpu_pct": round(own_pct, 1),
        "loadgen_saturated": own_pct > SATURATED_PCT,
    }


def progress(label: str, start: Meter, prev: Meter, cur: Meter, extra: str) -> None:
    dt = max(cur.t - prev.t, 1e-9)
    say(
        f"{label} t={cur.t - start.t:5.1f}s {extra} "
        f"server_cpu={100 * (cur.srv - prev.srv) / dt:4.0f}% "
        f"loadgen_cpu={100 * (cur.own - prev.own) / dt:4.0f}%"
    )


def latency_ms(samples_ns: list[int]) -> dict[str, Any]:
    lat = sorted(samples_ns)
    return {
        "p50": round(tp.percentile(lat, 0.50), 2),
        "p95": round(tp.percentile(lat, 0.95), 2),
        "p99": round(tp.percentile(lat, 0.99), 2),
        "max": round(lat[-1] / 1e6, 2) if lat else None,
        "samples": len(lat),
    }


def save_plot(
    a: argparse.Namespace, title: str, panels: list[Panel], result: dict[str, Any]
) -> None:
    """--plot: write the PNG (a failure to plot is reported, it does not fail the run)."""
    if not a.plot:
        return
    try:
        plot(a.plot, title, panels, dpi=a.plot_dpi)
    except (OSError, ValueError, RuntimeError) as e:
        say(f"plot failed: {type(e).__name__}: {e}")
        result["plot"] = None
        return
    say(f"plot written to {a.plot}")
    result["plot"] = str(a.plot)


def lat_summary(lat: dict[str, Any]) -> str:
    return f"p50 {lat['p50']} / p95 {lat['p95']} / p99 {lat['p99']} ms"


def scrape_metrics(base_url: str) -> dict[str, float]:
    """GET /metrics, summed per metric name over labels."""
    with urllib.request.urlopen(base_url + "/metrics", timeout=10) as r:
        text = r.read().decode()
    out: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        head, _, value = line.rpartition(" ")
        name = head.split("{", 1)[0]
        with contextlib.suppress(ValueError):
            out[name] = out.get(name, 0.0) + float(value)
    return out


def metrics_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, Any]:
    def d(name: str) -> float:
        return after.get(name, 0.0) - before.get(name, 0.0)

    batches = d("hubbub_commit_batch_jobs_count")
    sends = d("hubbub_send_to_sent_seconds_count")
    return {
        "messages_stored": int(d("hubbub_messages_stored_total")),
        "deliveries": int(d("hubbub_deliveries_total")),
        "commits": int(batches),
        "commit_batch_mean": round(d("hubbub_commit_batch_jobs_sum") / batches, 2)
        if batches
        else None,
        "send_to_sent_mean_ms": round(1000 * d("hubbub_send_to_sent_seconds_sum") / sends, 3)
        if sends
        else None,
        "connections_after": int(after.get("hubbub_connections", 0)),
    }


def rss_kib(pid: int | None) -> int:
    """VmRSS of the server process tree, KiB."""
    if pid is None:
        return 0
    total = 0
    for p in tp.proc_tree(pid):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


def raise_nofile(needed: int) -> tuple[int, int]:
    """Raise RLIMIT_NOFILE to at least `needed` (hard too, if we may); returns the limits."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        new_hard = hard if hard == resource.RLIM_INFINITY or hard >= needed else needed
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (needed, new_hard))
        except (ValueError, OSError):
            with contextlib.suppress(ValueError, OSError):
                resource.setrlimit(resource.RLIMIT_NOFILE, (min(needed, hard), hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def source_addrs(count: int, per_source: int) -> list[str]:
    """Loopback source addresses: a TCP 4-tuple limits one source IP to ~28k ports."""
    n = max(1, math.ceil(count / per_source))
    if n > 250:
        raise ValueError("too many connections for 127.0.0.1-250")
    return [f"127.0.0.{1 + i}" for i in range(n)]


# --------------------------------------------------------------------------- client side


@dataclass
class Stats:
    messages: int = 0
    sent_acks: int = 0
    acks_sent: int = 0
    pings: int = 0
    pongs: int = 0
    error_frames: int = 0
    error_samples: list[str] = field(default_factory=list)
    other_frames: int = 0
    disconnects: int = 0
    connect_failures: int = 0
    connect_failure_samples: list[str] = field(default_factory=list)


class Conn(WSListener):
    """One device socket: hello(since) -> ready, tracks its inbox (gaps, duplicates, acks) and
    can keep a window of sends in flight."""

    def __init__(self, stats: Stats, token: str, name: str, since: int = 0) -> None:
        super().__init__()
        self.stats = stats
        self.name = name
        self.transport: WSTransport | None = None
        self.ready: asyncio.Future[Ready] = asyncio.get_running_loop().create_future()
        self.user_id = ""
        self.head = 0
        self.heartbeat_interval = 10.0
        self.ready_t = 0.0
        self.hello = ENCODER.encode({"type": "hello", "token": token, "since": since})
        self.since = since
        self.last_seq = since
        self.acked_seq = since
        self.seq_gaps = 0
        self.seq_repeats = 0
        self.duplicates = 0
        self.received: set[str] = set()
        self.on_new: Callable[[Conn, Message], None] | None = None
        self.closing = False
        self.next_ping = 0.0
        # sender state
        self.sending = False
        self.window = 0
        self.inflight = 0
        self.sent = 0
        self.acked: set[str] = set()
        self.inflight_ids: set[str] = set()
        self.prefix = b""
        self.middle = b""
        self.pad = b""

    def target(self, key: str, value: str, body_bytes: int) -> None:
        self.prefix = f'{{"type":"send","client_msg_id":"{self.name}-'.encode()
        self.middle = f'","{key}":"{value}","body":"'.encode()
        self.pad = b"x" * max(0, body_bytes - 20)

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
            self.stats.other_frames += 1
            return
        kind = type(msg)
        if kind is Message:
            self._on_message(msg)
        elif kind is tp.Sent:
            self._on_sent(msg.client_msg_id)
        elif kind is Ready:
            self.user_id, self.head = msg.user_id, msg.head
            self.heartbeat_interval = msg.heartbeat_interval
            self.ready_t = time.monotonic()
            if not self.ready.done():
                self.ready.set_result(msg)
        elif kind is tp.Pong:
            self.stats.pongs += 1
        elif kind is tp.Error:
            err: tp.Error = msg
            self.stats.error_frames += 1
            if len(self.stats.error_samples) < 5:
                self.stats.error_samples.append(f"{err.code}: {err.message}")
            if err.client_msg_id is not None and err.client_msg_id in self.inflight_ids:
                self.inflight_ids.discard(err.client_msg_id)
                self.inflight -= 1
        elif kind is not tp.Receipt and kind is not tp.Presence:
            self.stats.other_frames += 1

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        if not self.closing:
            self.stats.disconnects += 1
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(f"{self.name} disconnected"))

    # -- frames
    def _on_message(self, msg: Message) -> None:
        seq = msg.seq
        if seq <= self.last_seq:
            self.seq_repeats += 1
        elif seq != self.last_seq + 1:
            self.seq_gaps += 1
        self.last_seq = max(self.last_seq, seq)
        self.stats.messages += 1
        cmid = msg.client_msg_id
        if cmid in self.received:
            self.duplicates += 1
        else:
            self.received.add(cmid)
            if self.on_new is not None:
                self.on_new(self, msg)
        if self.last_seq - self.acked_seq >= ACK_EVERY:
            self.flush_ack()

    def _on_sent(self, cmid: str) -> None:
        self.stats.sent_acks += 1
        if cmid not in self.inflight_ids:
            self.stats.other_frames += 1
            return
        self.inflight_ids.discard(cmid)
        self.acked.add(cmid)
        self.inflight -= 1
        if self.sending:
            self.pump()

    @property
    def open(self) -> bool:
        return self.transport is not None and not self.transport.is_disconnected

    def flush_ack(self) -> None:
        if self.last_seq > self.acked_seq and self.open:
            assert self.transport is not None
            self.acked_seq = self.last_seq
            self.transport.send(TEXT, b'{"type":"ack","seq":%d}' % self.last_seq)
            self.stats.acks_sent += 1

    def send_one(self, ts_ns: int) -> None:
        assert self.transport is not None
        self.sent += 1
        self.inflight += 1
        self.inflight_ids.add(f"{self.name}-{self.sent}")
        body = b"%019d " % ts_ns + self.pad
        self.transport.send(
            TEXT, self.prefix + str(self.sent).encode() + self.middle + body + b'"}'
        )

    def pump(self) -> None:
        if self.transport is None:
            return
        while self.inflight < self.window and self.sent < tp.MAX_MSGS_PER_SENDER:
            self.send_one(time.monotonic_ns())

    def ping(self) -> None:
        if self.open:
            assert self.transport is not None
            self.transport.send(TEXT, b'{"type":"ping"}')
            self.stats.pings += 1

    def close(self) -> None:
        self.closing = True
        if self.open:
            assert self.transport is not None
            self.transport.disconnect()


async def connect_all(
    ws_url: str,
    conns: Sequence[Conn],
    concurrency: int,
    sources: Sequence[str] | None = None,
    per_source: int = 1,
    handshake_timeout: float = 10.0,
) -> None:
    """Connect and await `ready` on every conn; failures are counted, not raised."""
    sem = asyncio.Semaphore(concurrency)

    async def one(i: int, c: Conn) -> None:
        async with sem:
            kw: dict[str, Any] = {}
            if sources:
                kw["local_addr"] = (sources[min(i // per_source, len(sources) - 1)], 0)
            try:
                await ws_connect(
                    lambda: c, ws_url, websocket_handshake_timeout=handshake_timeout, **kw
                )
                await asyncio.wait_for(c.ready, handshake_timeout + 10)
            except (TimeoutError, OSError, ConnectionError, RuntimeError) as e:
                c.stats.connect_failures += 1
                if len(c.stats.connect_failure_samples) < 5:
                    c.stats.connect_failure_samples.append(f"{type(e).__name__}: {e}")

    await asyncio.wait_for(
        asyncio.gather(*(one(i, c) for i, c in enumerate(conns))), CONNECT_TIMEOUT_S
    )


async def make_users(
    base_url: str, names: Sequence[str], logins_each: int
) -> list[tuple[str, list[str]]]:
    """Sign up every name and log each in `logins_each` times (each log-in is a device),
    LOGIN_CONCURRENCY requests at a time. Returns (user_id, tokens) per name."""
    sem = asyncio.Semaphore(LOGIN_CONCURRENCY)
    ids: dict[str, str] = {}

    async def sign_up(name: str) -> None:
        async with sem, HubbubClient(base_url) as api:
            ids[name] = str((await api.sign_up(name, tp.PASSWORD))["user_id"])

    async def log_in(name: str) -> str:
        async with sem, HubbubClient(base_url) as api:
            return str((await api.log_in(name, tp.PASSWORD, device_name="bench"))["token"])

    async def run() -> list[tuple[str, list[str]]]:
        await asyncio.gather(*(sign_up(n) for n in names))
        tokens = await asyncio.gather(*(log_in(n) for n in names for _ in range(logins_each)))
        return [
            (ids[n], list(tokens[i * logins_each : (i + 1) * logins_each]))
            for i, n in enumerate(names)
        ]

    return await asyncio.wait_for(run(), SETUP_TIMEOUT_S)


def tag() -> str:
    return f"b{os.getpid()}x{int(time.time()) % 100000}"


def pin(server_pid: int | None, enabled: bool) -> None:
    if enabled and server_pid is not None:
        tp.pin_tree(server_pid, {0})
        os.sched_setaffinity(0, {1})
        say("pinned: server -> CPU 0, load generator -> CPU 1")


async def acker(conns: Sequence[Conn], stop: asyncio.Event, bound_s: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + bound_s
    while not stop.is_set() and loop.time() < deadline:
        for c in conns:
            c.flush_ack()
        await asyncio.sleep(ACK_INTERVAL_S)


async def wait_until(cond: Callable[[], bool], timeout: float, step: float = 0.01) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if cond():
            return True
        await asyncio.sleep(step)
    return cond()


def errors_of(stats: Stats) -> dict[str, Any]:
    return {
        "error_frames": stats.error_frames,
        "error_samples": stats.error_samples,
        "other_frames": stats.other_frames,
        "disconnects": stats.disconnects,
        "connect_failures": stats.connect_failures,
        "connect_failure_samples": stats.connect_failure_samples,
    }


# --------------------------------------------------------------------------- scenarios


async def one_to_one(base: str, pid: int | None, a: argparse.Namespace) -> dict[str, Any]:
    ns = argparse.Namespace(
        pairs=a.pairs,
        window=a.window,
        duration=a.duration,
        body_bytes=a.body_bytes,
        label="one-to-one",
    )
    run = tp.Run(pid, ns)
    await run.prepare(base, a.pin)
    result = await run.run()
    result["loadgen_saturated"] = result["loadgen_cpu_pct"] > SATURATED_PCT
    save_plot(
        a,
        f"one-to-one: {a.pairs} pairs, window {a.window}, {a.body_bytes} B bodies, "
        f"{a.duration:g} s{', pinned' if a.pin else ''}\n"
        f"mean {result['acked_per_s']:,.0f} msgs/s acked, latency "
        f"{lat_summary(result['latency_ms'])}, server CPU {result['server_cpu_pct']} %",
        rate_latency_panels(
            run.timeline,
            [("acked", "acked (sender got `sent`)"), ("delivered", "delivered to receiver")],
            "messages / s",
            "send -> receive latency (ms)",
        ),
        result,
    )
    return result


async def group(base: str, pid: int | None, a: argparse.Namespace) -> dict[str, Any]:
    t0 = time.monotonic()
    names = [f"{tag()}m{i}" for i in range(a.members)]
    users = await make_users(base, names, 1)
    async with HubbubClient(base, token=users[0][1][0]) as api:
        g = await api.create_group("bench", [uid for uid, _ in users[1:]])
    cid = str(g["conversation_id"])
    setup_s = time.monotonic() - t0
    say(f"created {len(users)} users and a group of {len(g['members'])} in {setup_s:.1f}s")
    pin(pid, a.pin)
    stats = Stats()
    conns = [Conn(stats, toks[0], f"g{i}") for i, (_, toks) in enumerate(users)]
    await connect_all(base.replace("http", "ws", 1) + "/v1/ws", conns, 50)
    if stats.connect_failures:
        raise RuntimeError(f"connect failures: {stats.connect_failure_samples}")
    senders = conns[: a.senders]
    for s in senders:
        s.target("conversation_id", cid, a.body_bytes)
        s.window = a.window
    recipients = len(conns) - 1
    remaining: dict[str, int] = {}
    lat: list[int] = []

    def on_new(conn: Conn, msg: Message) -> None:
        if msg.sender_id == conn.user_id:
            return  # the sender's own inbox entry
        cmid = msg.client_msg_id
        left = remaining.get(cmid, recipients) - 1
        if left:
            remaining[cmid] = left
        else:
            remaining.pop(cmid, None)
            with contextlib.suppress(ValueError):
                lat.append(time.monotonic_ns() - int(msg.body[:19]))

    for c in conns:
        c.on_new = on_new
    await asyncio.sleep(0.5)

    stop = asyncio.Event()
    ack_task = asyncio.create_task(acker(conns, stop, a.duration + DRAIN_TIMEOUT_S + 30))

    def acked_now() -> float:
        return float(sum(len(s.acked) for s in senders))

    tl = Timeline(
        counters=lambda: {"acked": acked_now(), "deliveries": float(stats.messages)}, lat=lat
    )
    bar = Bar("group", a.duration)
    start = meter(pid)
    marks = [start]
    tl.start(start.t)
    d0, acked0 = stats.messages, 0
    for s in senders:
        s.sending = True
        s.pump()

    def on_mark(now: float) -> None:
        prev, cur = marks[-1], meter(pid)
        b = tl.mark(cur.t)
        marks.append(cur)
        if not bar.tty:
            progress(
                "group",
                start,
                prev,
                cur,
                f"msgs/s={b.rates['acked']:6.0f} deliveries/s={b.rates['deliveries']:7.0f}"
                f" complete={len(lat)} errors={stats.error_frames}",
            )

    def bar_text() -> str:
        b = tl.last
        if b is None or len(marks) < 2:
            return "..."
        m0, m1 = marks[-2], marks[-1]
        cpu = 100 * (m1.srv - m0.srv) / max(m1.t - m0.t, 1e-9)
        return (
            f"{b.rates['deliveries']:,.0f} deliveries/s  {b.rates['acked']:,.0f} msg/s  "
            f"p99 {fmt_ms(b.p99)}  srv cpu {cpu:.0f}%  err {stats.error_frames}"
        )

    await run_for(a.duration, bar, on_mark, bar_text, time.monotonic, tick_s=TTY_TICK_S)
    for s in senders:
        s.sending = False
    end = meter(pid)
    if end.t - marks[-1].t > 0.05:
        tl.mark(end.t)
    bar.close()
    acked_w = sum(len(s.acked) for s in senders) - acked0
    deliveries_w = stats.messages - d0

    def drained_now() -> bool:
        if any(s.inflight for s in senders):
            return False
        n = sum(len(s.acked) for s in senders)
        return all(len(c.received) >= n for c in conns)

    drained = await wait_until(drained_now, DRAIN_TIMEOUT_S, 0.05)
    drain_s = time.monotonic() - end.t
    all_acked: set[str] = set().union(*(s.acked for s in senders))
    for c in conns:
        c.flush_ack()
    await asyncio.sleep(0.3)
    stop.set()
    await asyncio.wait_for(ack_task, 5)
    window_s = end.t - start.t
    result: dict[str, Any] = {
        "scenario": "group",
        "members": len(conns),
        "senders": a.senders,
        "window": a.window,
        "duration_s": round(window_s, 3),
        "body_bytes": a.body_bytes,
        "setup_s": round(setup_s, 1),
        "msgs_acked_per_s": round(acked_w / window_s, 1),
        "deliveries_per_s": round(deliveries_w / window_s, 1),
        "latency_to_last_recipient_ms": latency_ms(lat),
        "sent": sum(s.sent for s in senders),
        "acked": len(all_acked),
        "deliveries": stats.messages,
        "expected_deliveries": len(all_acked) * len(conns),
        "lost": sum(len(all_acked - c.received) for c in conns),
        "duplicated": sum(c.duplicates for c in conns),
        "unacked_delivered": sum(len(c.received - all_acked) for c in conns),
        "seq_gaps": sum(c.seq_gaps + c.seq_repeats for c in conns),
        "drained": drained,
        "drain_s": round(drain_s, 3),
        "acks_sent": stats.acks_sent,
        **errors_of(stats),
        **cpu_report(pid, start, end, deliveries_w, "delivery"),
    }
    result["server_cpu_us_per_msg"] = (
        round((end.srv - start.srv) * 1e6 / acked_w, 1) if pid and acked_w else None
    )
    top, bottom = rate_latency_panels(
        tl, [("acked", "messages acked (sent to group)")], "messages / s", ""
    )
    top.right = [
        (
            top.series[0][0],
            [b.rates["deliveries"] for b in tl.buckets if b.dt > 0.05],
            "deliveries (message x recipient device)",
        )
    ]
    top.right_ylabel = "deliveries / s"
    bottom.ylabel = "send -> LAST recipient latency (ms)"
    save_plot(
        a,
        f"group: {len(conns)} members, {a.senders} senders x window {a.window}, "
        f"{a.body_bytes} B bodies, {a.duration:g} s{', pinned' if a.pin else ''}\n"
        f"mean {result['deliveries_per_s']:,.0f} deliveries/s, "
        f"{result['msgs_acked_per_s']:,.0f} msgs/s, latency "
        f"{lat_summary(result['latency_to_last_recipient_ms'])}, "
        f"server CPU {result['server_cpu_pct']} %",
        [top, bottom],
        result,
    )
    for c in conns:
        c.close()
    await asyncio.sleep(0.2)
    return result


class OfferedRun(tp.Run):
    """throughput.py's one-to-one run with its send phase replaced by an open-loop pacer."""

    skipped = 0

    async def send_phase(self) -> tuple[tp.Snapshot, tp.Snapshot]:
        a = self.args
        rate, duration = float(a.rate), float(a.duration)
        senders = self.senders
        n = len(senders)
        start = self.prev = self.snap()
        self.timeline.start(start.t)
        t0 = time.monotonic_ns()
        interval_ns = 1e9 / rate
        total = int(rate * duration)
        i = 0
        next_progress = start.t + 1.0
        for _ in range(int(duration * 2000) + 10):  # ~1 ms ticks, bounded
            elapsed_ns = time.monotonic_ns() - t0
            if elapsed_ns >= duration * 1e9:
                break
            due = min(total, int(elapsed_ns / interval_ns) + 1)
            while i < due:
                dev = senders[i % n]
                if dev.inflight >= MAX_INFLIGHT_PER_SENDER or dev.transport is None:
                    self.skipped += 1
                else:
                    # body timestamp = scheduled send time: no coordinated omission
                    dev.sent += 1
                    dev.inflight += 1
                    dev.inflight_ids.add(f"{dev.name}-{dev.sent}")
                    body = b"%019d " % int(t0 + i * interval_ns) + dev.pad
                    dev.transport.send(
                        TEXT, dev.prefix + str(dev.sent).encode() + dev.middle + body + b'"}'
                    )
                i += 1
            now = self.loop.time()
            if now >= next_progress:
                self.mark(start)
                next_progress += 1.0
            if self.bar.due(now):
                self.bar.draw(now, now - start.t, self.bar_text())
            await asyncio.sleep(0.001)
        return start, self.finish_marks()


async def offered_load(base: str, pid: int | None, a: argparse.Namespace) -> dict[str, Any]:
    ns = argparse.Namespace(
        pairs=a.pairs,
        window=tp.MAX_WINDOW,
        duration=a.duration,
        body_bytes=a.body_bytes,
        rate=a.rate,
        label="offered-load",
    )
    run = OfferedRun(pid, ns)
    await run.prepare(base, a.pin)
    result = await run.run()
    result["scenario"] = "offered-load"
    result["target_rate"] = a.rate
    result["achieved_rate"] = result["acked_per_s"]
    result["skipped_inflight_cap"] = run.skipped
    result["latency_from"] = "scheduled send time"
    del result["window"]
    result["loadgen_saturated"] = result["loadgen_cpu_pct"] > SATURATED_PCT
    top, bottom = rate_latency_panels(
        run.timeline,
        [("acked", "acked (sender got `sent`)"), ("delivered", "delivered to receiver")],
        "messages / s",
        "scheduled send -> receive latency (ms)",
    )
    xs = top.series[0][0]
    top.series.append((xs, [a.rate] * len(xs), "offered (target)"))
    save_plot(
        a,
        f"offered-load: {a.rate:,.0f} msgs/s offered over {a.pairs} pairs, "
        f"{a.body_bytes} B bodies, {a.duration:g} s{', pinned' if a.pin else ''}\n"
        f"achieved {result['achieved_rate']:,.0f} msgs/s, latency "
        f"{lat_summary(result['latency_ms'])}, server CPU {result['server_cpu_pct']} %",
        [top, bottom],
        result,
    )
    return result


async def idle(base: str, pid: int | None, a: argparse.Namespace) -> dict[str, Any]:
    t0 = time.monotonic()
    logins = min(a.logins, a.connections)
    users = await make_users(base, [f"{tag()}i{i}" for i in range(logins)], 1)
    tokens = [toks[0] for _, toks in users]
    setup_s = time.monotonic() - t0
    say(f"created {logins} users (one device each) in {setup_s:.1f}s")
    pin(pid, a.pin)
    sources = source_addrs(a.connections, a.per_source)
    stats = Stats()
    # a device may hold several sockets: C sockets over `logins` devices (no argon2 per socket)
    conns = [Conn(stats, tokens[i % logins], f"i{i}") for i in range(a.connections)]
    await asyncio.sleep(1.0)
    rss0 = rss_kib(pid)
    c0 = meter(pid)
    await connect_all(
        base.replace("http", "ws", 1) + "/v1/ws", conns, 100, sources, a.per_source, 30.0
    )
    c1 = meter(pid)
    connected = sum(c.ready.done() and not c.ready.exception() for c in conns)
    say(
        f"connected {connected}/{a.connections} sockets from {len(sources)} source address(es)"
        f" in {c1.t - c0.t:.1f}s; failures={stats.connect_failures}"
    )
    interval = next((c.heartbeat_interval for c in conns if c.user_id), 10.0)
    now = time.monotonic()
    for i, c in enumerate(conns):
        c.next_ping = now + interval * i / len(conns)  # spread evenly over one interval
    start = meter(pid)
    marks = [start]
    tl = Timeline(
        counters=lambda: {"pings": float(stats.pings), "pongs": float(stats.pongs)},
        gauges=lambda: {
            "held": float(sum(c.open for c in conns)),
            "rss_mib": rss_kib(pid) / 1024,
        },
    )
    tl.start(start.t)
    bar = Bar("idle", a.duration)

    def every(now: float) -> None:
        for c in conns:
            if c.next_ping <= now:
                c.ping()
                c.next_ping += interval

    def on_mark(now: float) -> None:
        prev, cur = marks[-1], meter(pid)
        b = tl.mark(cur.t)
        marks.append(cur)
        if not bar.tty:
            progress(
                "idle",
                start,
                prev,
                cur,
                f"held={b.values['held']:.0f} pings={stats.pings} pongs={stats.pongs} "
                f"rss={b.values['rss_mib']:.0f}MiB",
            )

    def bar_text() -> str:
        b = tl.last
        if b is None:
            return "..."
        return (
            f"held {b.values['held']:,.0f}/{a.connections:,}  rss {b.values['rss_mib']:.0f} MiB"
            f"  pongs {stats.pongs:,}  disconnects {stats.disconnects}"
        )

    await run_for(a.duration, bar, on_mark, bar_text, time.monotonic, every, TTY_TICK_S)
    bar.close()
    end = meter(pid)
    rss1 = rss_kib(pid)
    held = sum(c.open for c in conns)
    server_conns = None
    with contextlib.suppress(OSError):
        server_conns = int(
            (await asyncio.to_thread(scrape_metrics, base)).get("hubbub_connections", -1)
        )
    conn_s = held * (end.t - start.t)
    result: dict[str, Any] = {
        "scenario": "idle",
        "connections": a.connections,
        "devices": logins,
        "source_addresses": sources,
        "rlimit_nofile": list(resource.getrlimit(resource.RLIMIT_NOFILE)),
        "setup_s": round(setup_s, 1),
        "connect_s": round(c1.t - c0.t, 2),
        "server_cpu_ms_per_connect": round((c1.srv - c0.srv) * 1e3 / max(connected, 1), 3)
        if pid
        else None,
        "hold_s": round(end.t - start.t, 1),
        "heartbeat_interval_s": interval,
        "connected": connected,
        "held_at_end": held,
        "server_connections_gauge": server_conns,
        "pings": stats.pings,
        "pongs": stats.pongs,
        "server_rss_before_mib": round(rss0 / 1024, 1),
        "server_rss_after_mib": round(rss1 / 1024, 1),
        "server_rss_kib_per_connection": round((rss1 - rss0) / a.connections, 2) if pid else None,
        **errors_of(stats),
        **cpu_report(pid, start, end, conn_s, "connection_second"),
    }
    bs = tl.buckets
    xs = [b.t for b in bs]
    save_plot(
        a,
        f"idle: {a.connections:,} sockets over {logins} devices, {len(sources)} source "
        f"address(es), held {a.duration:g} s, heartbeat {interval:g} s\n"
        f"RSS {result['server_rss_before_mib']} -> {result['server_rss_after_mib']} MiB "
        f"({result['server_rss_kib_per_connection']} KiB/connection), "
        f"server CPU {result['server_cpu_pct']} %",
        [
            Panel(
                "connections held (open sockets)",
                [(xs, [b.values["held"] for b in bs], "held")],
                xlabel="time since all sockets connected (s)",
                right=[(xs, [b.values["rss_mib"] for b in bs], "server RSS")],
                right_ylabel="server RSS (MiB)",
            ),
            Panel(
                "frames / s",
                [
                    (xs, [b.rates["pings"] for b in bs], "pings sent"),
                    (xs, [b.rates["pongs"] for b in bs], "pongs received"),
                ],
                xlabel="time since all sockets connected (s; 1 s buckets)",
            ),
        ],
        result,
    )
    for c in conns:
        c.close()
    await asyncio.sleep(0.5)
    return result


async def reconnect_storm(base: str, pid: int | None, a: argparse.Namespace) -> dict[str, Any]:
    ws_url = base.replace("http", "ws", 1) + "/v1/ws"
    per_user = math.ceil(a.devices / a.users)
    # each login (a device token) may carry several sockets: 10,000 sockets then need far
    # fewer argon2 log-ins, while every socket still resumes on its own
    logins = min(per_user, a.logins_per_user or per_user)
    t0 = time.monotonic()
    tg = tag()
    users = await make_users(base, [f"{tg}u{i}" for i in range(a.users)], logins)
    (_, sender_toks), *_ = await make_users(base, [f"{tg}sender"], 1)
    setup_s = time.monotonic() - t0
    say(f"created {a.users} users x {logins} log-ins (+1 sender) in {setup_s:.1f}s")
    pin(pid, a.pin)
    stats = Stats()
    devs: list[tuple[int, str]] = [
        (u, toks[j % len(toks)]) for u, (_, toks) in enumerate(users) for j in range(per_user)
    ]
    devs = devs[: a.devices]
    conns = [Conn(stats, tok, f"d{i}") for i, (_, tok) in enumerate(devs)]
    sender_stats = Stats()
    sender = Conn(sender_stats, sender_toks[0], "s")
    await connect_all(ws_url, [sender, *conns], 100)
    say(f"connected {len(conns)} devices; failures={stats.connect_failures}")
    if stats.connect_failures or sender_stats.connect_failures:
        raise RuntimeError(f"connect failures: {stats.connect_failure_samples}")

    async def send_round(label: str, n_each: int) -> bool:
        frames = 0
        for uid, _ in users:
            for k in range(n_each):
                assert sender.transport is not None
                cmid = f"{label}-{uid}-{k}"
                sender.inflight_ids.add(cmid)
                sender.inflight += 1
                body = f"{time.monotonic_ns():019d} {label}"
                sender.transport.send(
                    TEXT,
                    ENCODER.encode(
                        {"type": "send", "client_msg_id": cmid, "to": uid, "body": body}
                    ),
                )
                frames += 1
        return await wait_until(lambda: sender.inflight == 0, 60.0, 0.02)

    ok = await send_round("before", a.before)
    got = await wait_until(lambda: all(c.last_seq >= a.before for c in conns), 60.0, 0.05)
    for c in [sender, *conns]:
        c.flush_ack()
    say(f"pre-drop messages: acked={ok} all received={got}")
    await asyncio.sleep(0.5)
    since = [c.last_seq for c in conns]
    # everyone drops at once
    for c in conns:
        c.close()
    gone = False
    for _ in range(150):
        with contextlib.suppress(OSError):
            m = await asyncio.to_thread(scrape_metrics, base)
            if m.get("hubbub_connections", 0) <= 1:
                gone = True
                break
        await asyncio.sleep(0.1)
    say(f"dropped {len(conns)} sockets; server saw them go: {gone}")
    ok2 = await send_round("during", a.during)
    say(f"downtime messages acked: {ok2}")
    # the storm
    stats2 = Stats()
    conns2 = [
        Conn(stats2, tok, f"r{i}", since=s)
        for i, ((_, tok), s) in enumerate(zip(devs, since, strict=True))
    ]
    targets = [s + a.during for s in since]
    done_at: list[float] = [0.0] * len(conns2)
    index = {id(c): i for i, c in enumerate(conns2)}

    def on_new(conn: Conn, msg: Message) -> None:
        i = index[id(conn)]
        if conn.last_seq >= targets[i] and not done_at[i]:
            done_at[i] = time.monotonic()

    for c in conns2:
        c.on_new = on_new
    start = prev = meter(pid)
    connect_task = asyncio.create_task(
        connect_all(ws_url, conns2, len(conns2), handshake_timeout=60.0)
    )
    stop = asyncio.Event()
    ack_task = asyncio.create_task(acker(conns2, stop, 200.0))
    timed_out = True
    bar = Bar("storm", len(conns2), unit="resumed")
    for _ in range(int(a.storm_timeout * 20) + 2):
        now = time.monotonic()
        resumed = sum(1 for t in done_at if t)
        if resumed == len(conns2):
            timed_out = False
            break
        if connect_task.done() and stats2.connect_failures + resumed >= len(conns2):
            break
        if now - start.t > a.storm_timeout:
            break
        if bar.due(now):
            bar.draw(
                now,
                resumed,
                f"{now - start.t:5.1f} s  ready {sum(1 for c in conns2 if c.ready_t):,}  "
                f"failures {stats2.connect_failures}  errors {stats2.error_frames}",
            )
        if now - prev.t >= 1.0 and not bar.tty:
            cur = meter(pid)
            progress(
                "storm",
                start,
                prev,
                cur,
                f"ready={sum(1 for c in conns2 if c.ready_t)} resumed={resumed}/{len(conns2)}"
                f" failures={stats2.connect_failures} errors={stats2.error_frames}",
            )
            prev = cur
        await asyncio.sleep(0.05)
    end = meter(pid)
    bar.draw(
        end.t,
        sum(1 for t in done_at if t),
        f"{end.t - start.t:5.1f} s  ready {sum(1 for c in conns2 if c.ready_t):,}  "
        f"failures {stats2.connect_failures}  errors {stats2.error_frames}",
        force=True,
    )
    bar.close()
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(connect_task, 30)
    for c in conns2:
        c.flush_ack()
    await asyncio.sleep(0.3)
    stop.set()
    await asyncio.wait_for(ack_task, 5)
    resumed_t = sorted(t - start.t for t in done_at if t)
    ready_t = sorted(c.ready_t - start.t for c in conns2 if c.ready_t)
    expected = {f"during-{users[u][0]}-{k}" for u in range(len(users)) for k in range(a.during)}
    missing = 0
    extra = 0
    for (u, _), c in zip(devs, conns2, strict=True):
        mine = {f"during-{users[u][0]}-{k}" for k in range(a.during)}
        missing += len(mine - c.received)
        extra += len(c.received - expected)
    resumed = len(resumed_t)

    def pct(v: list[float], q: float) -> float | None:
        return round(v[min(len(v) - 1, round(q * (len(v) - 1)))], 3) if v else None

    result: dict[str, Any] = {
        "scenario": "reconnect-storm",
        "devices": len(conns2),
        "users": a.users,
        "devices_per_user": per_user,
        "logins_per_user": logins,
        "before_per_user": a.before,
        "during_per_user": a.during,
        "setup_s": round(setup_s, 1),
        "storm_all_resumed_s": round(resumed_t[-1], 3) if resumed == len(conns2) else None,
        "resumed": resumed,
        "timed_out": timed_out,
        "ready_s": {"p50": pct(ready_t, 0.5), "p95": pct(ready_t, 0.95), "max": pct(ready_t, 1)},
        "resumed_s": {
            "p50": pct(resumed_t, 0.5),
            "p95": pct(resumed_t, 0.95),
            "max": pct(resumed_t, 1),
        },
        "lost": missing,
        "duplicated": sum(c.duplicates + c.seq_repeats for c in conns2),
        "unexpected_messages": extra,
        "seq_gaps": sum(c.seq_gaps for c in conns2),
        "pre_drop_ok": ok and got,
        "downtime_sends_ok": ok2,
        **errors_of(stats2),
        "sender_errors": sender_stats.error_frames,
        **cpu_report(pid, start, end, max(resumed, 1), "resumed_device"),
    }
    save_plot(
        a,
        f"reconnect-storm: {len(conns2):,} devices of {a.users} users reconnect at once, "
        f"{a.during} missed msgs/user\n"
        f"resumed {resumed:,}/{len(conns2):,}, all in {result['storm_all_resumed_s']} s, "
        f"server CPU {result['server_cpu_pct']} %",
        [
            Panel(
                "devices (cumulative)",
                [
                    (ready_t, list(range(1, len(ready_t) + 1)), "ready (hello answered)"),
                    (resumed_t, list(range(1, resumed + 1)), "resumed (all missed received)"),
                ],
                xlabel="time since the reconnect storm began (s)",
            ),
            Panel(
                "devices",
                [([], resumed_t, "time to resume")],
                kind="hist",
                xlabel="time to resume (s)",
            ),
        ],
        result,
    )
    for c in [sender, *conns2]:
        c.close()
    await asyncio.sleep(0.3)
    return result


RUNNERS = {
    "one-to-one": one_to_one,
    "group": group,
    "offered-load": offered_load,
    "idle": idle,
    "reconnect-storm": reconnect_storm,
}


async def run_scenario(base: str, pid: int | None, a: argparse.Namespace) -> dict[str, Any]:
    before = await asyncio.to_thread(scrape_metrics, base) if a.metrics else None
    result = await RUNNERS[a.scenario](base, pid, a)
    if before is not None:
        after = await asyncio.to_thread(scrape_metrics, base)
        result["metrics"] = metrics_delta(before, after)
    if result.get("loadgen_saturated"):
        say("NOTE: the load generator saturated its core: numbers measure the client too")
    return result


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("scenario", choices=SCENARIOS)
    p.add_argument("--url", help="an already running server (http://127.0.0.1:PORT)")
    p.add_argument("--server-pid", type=int, help="with --url: the server's pid, for CPU/RSS")
    p.add_argument("--metrics", action="store_true", help="report GET /metrics deltas")
    p.add_argument("--no-pin", action="store_true")
    p.add_argument("--server-log", type=Path)
    p.add_argument("--duration", type=float, help="seconds of load (default per scenario)")
    p.add_argument("--body-bytes", type=int, default=64)
    p.add_argument("--pairs", type=int, help="one-to-one: 50, offered-load: 20")
    p.add_argument("--window", type=int, default=8, help="one-to-one/group sends in flight")
    p.add_argument("--members", type=int, default=100, help="group size")
    p.add_argument("--senders", type=int, default=4, help="group senders")
    p.add_argument("--rate", type=float, default=5000.0, help="offered-load msgs/s total")
    p.add_argument("--connections", type=int, default=2000, help="idle sockets")
    p.add_argument("--logins", type=int, default=20, help="idle: devices the sockets share")
    p.add_argument("--per-source", type=int, default=20_000, help="idle: sockets per 127.0.0.x")
    p.add_argument("--devices", type=int, default=1000, help="reconnect-storm devices")
    p.add_argument("--users", type=int, default=50, help="reconnect-storm users")
    p.add_argument("--logins-per-user", type=int, default=0,
                   help="reconnect-storm: device log-ins per user, shared by its sockets "
                   "(0: one log-in per socket)")
    p.add_argument("--before", type=int, default=3, help="storm: msgs per user before drop")
    p.add_argument("--during", type=int, default=5, help="storm: msgs per user while down")
    p.add_argument("--storm-timeout", type=float, default=120.0)
    p.add_argument(
        "--plot",
        type=Path,
        metavar="OUT.png",
        help="write a PNG: per-second throughput and latency p50/p95/p99 (needs matplotlib)",
    )
    p.add_argument("--plot-dpi", type=int, default=100, help="--plot resolution (40..300)")
    a = p.parse_args(argv)
    defaults = {"one-to-one": 10.0, "group": 10.0, "offered-load": 10.0, "idle": 25.0}
    if a.duration is None:
        a.duration = defaults.get(a.scenario, 0.0)
    if a.pairs is None:
        a.pairs = 20 if a.scenario == "offered-load" else 50
    checks = [
        (0 <= a.duration <= tp.MAX_DURATION_S, "--duration out of range"),
        (1 <= a.pairs <= tp.MAX_PAIRS, "--pairs out of range"),
        (1 <= a.window <= tp.MAX_WINDOW, "--window out of range"),
        (2 <= a.members <= 10_000, "--members out of range"),
        (1 <= a.senders <= a.members, "--senders must be 1..members"),
        (0 < a.rate <= MAX_RATE, "--rate out of range"),
        (1 <= a.connections <= MAX_CONNECTIONS, "--connections out of range"),
        (1 <= a.logins <= 1000, "--logins out of range"),
        (100 <= a.per_source <= 28_000, "--per-source must be 100..28000"),
        (1 <= a.users <= a.devices <= MAX_DEVICES, "need 1 <= --users <= --devices <= 20000"),
        (1 <= a.before <= 1000 and 1 <= a.during <= 1000, "--before/--during 1..1000"),
        (0 < a.storm_timeout <= 600, "--storm-timeout out of range"),
        (20 <= a.body_bytes <= 100_000, "--body-bytes must be 20..100000"),
        (40 <= a.plot_dpi <= 300, "--plot-dpi must be 40..300"),
        (a.plot is None or a.plot.suffix.lower() == ".png", "--plot must name a .png file"),
    ]
    for ok, msg in checks:
        if not ok:
            p.error(msg)
    if a.url and not a.url.startswith(("http://127.", "http://localhost")):
        p.error("--url must be on 127.0.0.0/8")
    if a.plot is not None:
        try:
            import matplotlib  # noqa: F401, PLC0415 - fail before a long run, not after it
        except ImportError:
            p.error("--plot needs matplotlib: .venv/bin/pip install -e '.[bench]'")
    return a


def main(argv: Sequence[str]) -> int:
    a = parse_args(argv)
    if a.scenario == "idle":
        # before the server starts: it inherits this process's limits
        soft, hard = raise_nofile(a.connections + 1024)
        say(f"RLIMIT_NOFILE now {soft}/{hard}")
        if soft < a.connections + 100:
            say("RLIMIT_NOFILE too low for --connections")
            return 2
    a.pin = not a.no_pin and not a.url and len(os.sched_getaffinity(0)) >= 2
    if a.url:
        result = uvloop.run(run_scenario(a.url.rstrip("/"), a.server_pid, a))
        result["server_log_errors"] = None
    else:
        log_path = a.server_log or Path(tempfile.gettempdir()) / (
            f"hubbub-bench-{a.scenario}-{os.getpid()}.log"
        )
        with log_path.open("w") as log, tp.running_server(log, log_path) as server:
            result = uvloop.run(run_scenario(server.url, server.pid, a))
        errors = tp.log_errors(log_path)
        result["server_exit_code"] = server.returncode
        result["server_log"] = str(log_path)
        result["server_log_errors"] = len(errors)
        for line in errors[:5]:
            say(f"SERVER LOG ERROR: {line}")
    result["pinned"] = a.pin
    bad = (
        result.get("lost")
        or result.get("duplicated")
        or result.get("server_log_errors")
        or result.get("connect_failures")
        or result.get("error_frames")
        or result.get("timed_out")
    )
    if bad:
        say("PROBLEM: lost/duplicated/failed or server errors (see JSON)")
    print(json.dumps(result), flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
