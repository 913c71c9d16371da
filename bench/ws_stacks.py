"""Which WebSocket server stack costs the least server CPU per relayed chat message?

Runs the same tiny chat relay on several stacks, each as its own server subprocess on
127.0.0.1 with uvloop, drives it from a separate load-generator process (the shared
picows load client of bench/loadgen/), and reports:

* server CPU time (utime+stime from /proc/<pid>/stat) per delivered message, in microseconds;
* delivered messages/s, server CPU %, load-generator CPU %;
* marginal server RSS per idle (post-hello) connection, in KB;
* lost messages (acked by the server but never delivered to the peer) -- must be 0.

Stacks: Starlette on uvicorn (ws="websockets-sansio" and the deprecated legacy
ws="websockets"), aiohttp.web, picows.

Usage (from the repo root):

    .venv/bin/python bench/ws_stacks.py [--duration 8] [--pairs 50] [--window 8]
                                        [--idle-conns 2000] [--repeats 2]

Writes the table to bench/results/ws_stacks.md (or --out); server stderr goes to the
servers.log next to it.
"""

# Stack imports are deliberately local: each server subprocess loads only its own stack,
# so "base RSS" and idle memory are not inflated by the other frameworks.
# ruff: noqa: PLC0415

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import importlib.metadata
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Generic, Literal, TypeVar

import msgspec
import uvloop
from loadgen.measure import own_cpu_s, rss_kib, tree_cpu_s
from loadgen.server import HOST, free_port, server_process

if TYPE_CHECKING:
    from picows import WSFrame, WSTransport

WS_PATH = "/ws"
HERE = Path(__file__).resolve().parent
RESULTS_DIR = HERE / "results"
BODY_BYTES = 64  # the load client's bodies: a 19-digit send timestamp and padding

# Bounds (every loop/wait in this script is bounded by one of these).
CONNECT_TIMEOUT_S = 30.0
DRAIN_TIMEOUT_S = 10.0
CONNECT_CONCURRENCY = 100
IDLE_WARMUP_CONNS = 100


# --------------------------------------------------------------------------- wire protocol


class Hello(msgspec.Struct, tag_field="type", tag="hello"):
    token: str


class Send(msgspec.Struct, tag_field="type", tag="send"):
    client_msg_id: str
    to: str
    body: str


class Ready(msgspec.Struct, tag_field="type", tag="ready"):
    pass


class Sent(msgspec.Struct, tag_field="type", tag="sent"):
    client_msg_id: str
    message_id: str


class Message(msgspec.Struct, tag_field="type", tag="message"):
    seq: int
    message_id: str
    body: str
    sender_id: str


class Error(msgspec.Struct, tag_field="type", tag="error"):
    reason: str


SERVER_DECODER = msgspec.json.Decoder(Hello | Send)
ENCODER = msgspec.json.Encoder()
READY = ENCODER.encode(Ready())
ERR_BAD_FRAME = ENCODER.encode(Error("bad frame"))
ERR_NO_HELLO = ENCODER.encode(Error("hello first"))
ERR_NO_PEER = ENCODER.encode(Error("unknown peer"))

C = TypeVar("C")
Run = dict[str, Any]  # JSON result of one load/idle child run


class Relay(Generic[C]):
    """Stack-independent relay state: registered name -> connection handle, a seq per
    receiver, message ids."""

    def __init__(self) -> None:
        self.conns: dict[str, C] = {}
        self.seqs: dict[str, int] = {}  # per receiver, like an inbox
        self.counter = 0
        self.fwd = b""  # the frame `handle` last routed

    def route(self, sender: str, msg: Send) -> tuple[C, bytes, bytes] | None:
        """Return (peer, forward frame, ack frame), or None when the peer is unknown."""
        peer = self.conns.get(msg.to)
        if peer is None:
            return None
        self.counter += 1
        n = self.counter
        seq = self.seqs[msg.to] = self.seqs.get(msg.to, 0) + 1
        fwd = ENCODER.encode(Message(seq=seq, message_id=str(n), body=msg.body, sender_id=sender))
        ack = ENCODER.encode(Sent(client_msg_id=msg.client_msg_id, message_id=str(n)))
        return peer, fwd, ack

    def handle(self, name: str | None, raw: Any, conn: C) -> tuple[str | None, C | None, bytes]:
        """One text frame from `conn` (registered as `name`, None before hello). Returns
        (its name now, the peer to forward `self.fwd` to or None, the reply to conn)."""
        try:
            msg = SERVER_DECODER.decode(raw)
        except msgspec.DecodeError:
            return name, None, ERR_BAD_FRAME
        if not isinstance(msg, Send):
            self.conns[msg.token] = conn
            return msg.token, None, READY
        if name is None:
            return name, None, ERR_NO_HELLO
        routed = self.route(name, msg)
        if routed is None:
            return name, None, ERR_NO_PEER
        peer, self.fwd, ack = routed
        return name, peer, ack

    def unregister(self, name: str | None, conn: C) -> None:
        if name is not None and self.conns.get(name) is conn:
            del self.conns[name]


# --------------------------------------------------------------------------- servers
# Semantics (identical in every stack): decode with msgspec; hello -> register + "ready";
# send -> forward "message" to the peer, then "sent" ack to the sender (ack == relayed).


def serve_starlette(port: int, ws_impl: Literal["websockets", "websockets-sansio"]) -> None:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route, WebSocketRoute
    from starlette.websockets import WebSocket, WebSocketDisconnect

    relay: Relay[WebSocket] = Relay()

    async def relay_ws(ws: WebSocket) -> None:
        await ws.accept()
        name: str | None = None
        try:
            while True:
                name, peer, reply = relay.handle(name, await ws.receive_text(), ws)
                if peer is not None:
                    with contextlib.suppress(Exception):  # peer went away mid-send
                        await peer.send_text(relay.fwd.decode())
                await ws.send_text(reply.decode())
        except WebSocketDisconnect:
            pass
        finally:
            relay.unregister(name, ws)

    async def health(_request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/health", health), WebSocketRoute(WS_PATH, relay_ws)])
    config = uvicorn.Config(
        app,
        host=HOST,
        port=port,
        loop="uvloop",
        http="httptools",
        ws=ws_impl,
        lifespan="off",
        log_level="warning",
        access_log=False,
        backlog=2048,
    )
    uvicorn.Server(config).run()


def serve_aiohttp(port: int) -> None:
    from aiohttp import WSMsgType, web

    relay: Relay[web.WebSocketResponse] = Relay()

    async def relay_ws(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        name: str | None = None
        try:
            async for frame in ws:
                if frame.type != WSMsgType.TEXT:
                    continue
                name, peer, reply = relay.handle(name, frame.data, ws)
                if peer is not None:
                    with contextlib.suppress(Exception):  # peer went away mid-send
                        await peer.send_str(relay.fwd.decode())
                await ws.send_str(reply.decode())
        finally:
            relay.unregister(name, ws)
        return ws

    async def health(_request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def main() -> None:
        app = web.Application()
        app.router.add_get(WS_PATH, relay_ws)
        app.router.add_get("/health", health)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, HOST, port, backlog=2048).start()
        await asyncio.Event().wait()  # until SIGTERM

    uvloop.run(main())


def serve_picows(port: int, read_buffer_init_size: int = 16 * 1024) -> None:
    from picows import (
        WSListener,
        WSMsgType,
        WSUpgradeRequest,
        WSUpgradeResponse,
        WSUpgradeResponseWithListener,
        ws_create_server,
    )

    relay: Relay[WSTransport] = Relay()
    text = WSMsgType.TEXT

    class RelayConn(WSListener):
        def __init__(self) -> None:
            super().__init__()
            self.name: str | None = None
            self.transport: WSTransport | None = None

        def on_ws_connected(self, transport: WSTransport) -> None:
            self.transport = transport

        def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
            mtype = frame.msg_type
            if mtype != text:
                if mtype == WSMsgType.CLOSE:
                    transport.send_close(frame.get_close_code())
                    transport.disconnect()
                return
            self.name, peer, reply = relay.handle(
                self.name, frame.get_payload_as_memoryview(), transport
            )
            if peer is not None:
                peer.send(text, relay.fwd)
            transport.send(text, reply)

        def on_ws_disconnected(self, transport: WSTransport) -> None:
            relay.unregister(self.name, transport)

    def factory(request: WSUpgradeRequest) -> Any:
        if request.path == WS_PATH.encode():
            return RelayConn()
        if request.path == b"/health":  # plain HTTP on the same port
            return WSUpgradeResponseWithListener(WSUpgradeResponse.create_ok_response(b"ok"), None)
        return None

    async def main() -> None:
        server = await ws_create_server(
            factory, HOST, port, backlog=2048, read_buffer_init_size=read_buffer_init_size
        )
        await server.serve_forever()

    uvloop.run(main())


@dataclass(frozen=True)
class Stack:
    key: str
    label: str
    serve: Callable[[int], None]
    note: str = ""
    idle_only: bool = False


STACKS: tuple[Stack, ...] = (
    Stack(
        "uvicorn-sansio",
        "Starlette + uvicorn (httptools, ws=websockets-sansio)",
        lambda port: serve_starlette(port, "websockets-sansio"),
    ),
    Stack(
        "uvicorn-websockets",
        "Starlette + uvicorn (httptools, ws=websockets, legacy)",
        lambda port: serve_starlette(port, "websockets"),
        "deprecated websockets.legacy impl",
    ),
    Stack("aiohttp", "aiohttp.web (WebSocketResponse)", serve_aiohttp),
    Stack("picows", "picows (ws_create_server)", serve_picows),
    Stack(
        "picows-1k",
        "picows, read_buffer_init_size=1 KiB",
        lambda port: serve_picows(port, 1024),
        "idle-memory variant only",
        idle_only=True,
    ),
)
STACKS_BY_KEY = {s.key: s for s in STACKS}


def stack_unavailable_reason(stack: Stack) -> str | None:
    if stack.key != "uvicorn-websockets":
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import uvicorn.protocols.websockets.websockets_impl  # noqa: F401
    except Exception as exc:
        return f"uvicorn ws='websockets' unavailable: {exc!r}"
    return None


# --------------------------------------------------------------------------- load generator
# The shared load client (bench/loadgen): the relays speak its subset of the protocol
# (hello -> ready; send -> sent + message with seq and message_id); acks are off.


async def relay_devices(port: int, specs: Sequence[tuple[str, str | None]], tally: Any) -> list:
    from loadgen.device import ACK_NONE, Device
    from loadgen.drive import connect_all
    from loadgen.frames import send_target

    devices = []
    for name, peer in specs:
        d = Device(tally, name, name, ack=ACK_NONE, body_bytes=BODY_BYTES)
        if peer is not None:
            d.target = send_target(to=peer)
        devices.append(d)
    online = await connect_all(
        f"ws://{HOST}:{port}{WS_PATH}", devices, CONNECT_CONCURRENCY, bound_s=CONNECT_TIMEOUT_S
    )
    if online != len(devices):
        raise RuntimeError(f"connect failures: {tally.connect_failure_samples}")
    return devices


async def run_load(
    port: int, server_pid: int, *, pairs: int, window: int, duration: float, rate: float
) -> Run:
    """Closed loop (rate=0: each sender keeps `window` in flight) or paced at `rate` msgs/s."""
    from loadgen.device import Tally
    from loadgen.drive import close_all, pace, wait_until

    tally = Tally()
    receivers = await relay_devices(port, [(f"r{i}", None) for i in range(pairs)], tally)
    senders = await relay_devices(port, [(f"s{i}", f"r{i}") for i in range(pairs)], tally)
    wrong_sender = 0
    for s, r in zip(senders, receivers, strict=True):
        s.window = window

        def check(dev: Any, msg: Any, now: int, expect: str = s.name) -> None:
            nonlocal wrong_sender
            wrong_sender += msg.sender_id != expect

        r.on_message = check
    await asyncio.sleep(0.3)

    t0, srv0, own0 = time.monotonic(), tree_cpu_s(server_pid), own_cpu_s()
    if rate > 0:
        await pace(senders, rate, duration, window)
    else:
        for s in senders:
            s.sending = True
            s.pump()
        await asyncio.sleep(duration)
        for s in senders:
            s.sending = False
    t_stop = time.monotonic()
    drained = await wait_until(
        lambda: tally.delivered >= tally.acked and not any(s.inflight for s in senders),
        DRAIN_TIMEOUT_S,
        0.002,
    )
    t1, srv1, own1 = time.monotonic(), tree_cpu_s(server_pid), own_cpu_s()
    zipped = list(zip(senders, receivers, strict=True))
    result = {
        "wall_s": t1 - t0,
        "drain_s": t1 - t_stop,
        "drained": drained,
        "sent": sum(s.n_sent for s in senders),
        "acked": tally.acked,
        "delivered": tally.delivered,
        "lost": sum(len(s.acked_ids - r.received) for s, r in zipped),
        "unacked_delivered": sum(len(r.received - s.acked_ids) for s, r in zipped),
        "duplicates": sum(r.duplicates + r.seq_repeats for r in receivers),
        "bad_frames": wrong_sender + tally.unknown_frames + tally.unexpected_sent,
        "errors": tally.rx["error"],
        "disconnects": tally.disconnects,
        "server_cpu_s": srv1 - srv0,
        "loadgen_cpu_s": own1 - own0,
    }
    close_all([*senders, *receivers])
    await asyncio.sleep(0.2)
    return result


async def run_idle(port: int, server_pid: int, conns: int) -> Run:
    from loadgen.device import Tally
    from loadgen.drive import close_all

    tally = Tally()
    # Warm-up connections absorb one-time costs (lazy imports, caches, first arenas).
    warm = await relay_devices(port, [(f"w{i}", None) for i in range(IDLE_WARMUP_CONNS)], tally)
    await asyncio.sleep(1.0)
    rss0 = rss_kib(server_pid)
    idle = await relay_devices(port, [(f"idle{i}", None) for i in range(conns)], tally)
    await asyncio.sleep(1.5)
    rss1 = rss_kib(server_pid)
    alive = sum(1 for c in idle if c.open)
    close_all([*warm, *idle])
    await asyncio.sleep(0.2)
    return {
        "rss_before_kb": rss0,
        "rss_after_kb": rss1,
        "conns": conns,
        "alive": alive,
        "kb_per_conn": (rss1 - rss0) / conns,
    }


# --------------------------------------------------------------------------- orchestration


def pin(pid: int, cpu: int | None) -> None:
    if cpu is not None:
        os.sched_setaffinity(pid, {cpu})


@contextlib.contextmanager
def running_server(stack: Stack, log: IO[str], cpu: int | None) -> Iterator[tuple[int, int]]:
    """Start a relay server subprocess; yield (pid, port); always stop it."""
    port = free_port()
    log.write(f"\n===== {stack.key} port={port} {dt.datetime.now().isoformat()}\n")
    log.flush()
    cmd = [sys.executable, "-W", "ignore::DeprecationWarning", __file__, "_serve", stack.key]
    health = f"http://{HOST}:{port}/health"
    with server_process([*cmd, str(port)], health, log, f"{stack.key} server") as proc:
        pin(proc.pid, cpu)
        yield proc.pid, port
        if proc.poll() is not None:
            raise RuntimeError(f"{stack.key} server died during the run (rc={proc.returncode})")


def run_child(argv: list[str], cpu: int | None, timeout: float) -> Run:
    proc = subprocess.Popen(
        [sys.executable, __file__, *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        pin(proc.pid, cpu)
        out, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
    if proc.returncode != 0:
        raise RuntimeError(f"child {argv[0]} failed rc={proc.returncode}: {err.strip()[-2000:]}")
    return dict(json.loads(out.strip().splitlines()[-1]))


@dataclass
class StackResult:
    stack: Stack
    runs: list[Run] = field(default_factory=list)  # closed-loop (window) runs
    paced: Run | None = None  # fixed-rate run
    idle: Run | None = None
    base_rss_kb: int | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(n.startswith(("skipped", "failed")) for n in self.notes)


def fmt_range(values: list[float], digits: int = 1) -> str:
    mean = statistics.fmean(values)
    if len(values) == 1:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def us_per_msg(run: Run) -> float:
    return float(run["server_cpu_s"]) * 1e6 / max(int(run["delivered"]), 1)


def pct(run: Run, key: str) -> float:
    return 100 * float(run[key]) / float(run["wall_s"])


def render_table(results: list[StackResult], paced_rate: float) -> str:
    paced_head = f"server µs/msg @ {paced_rate:g}/s (CPU %)"
    head = (
        "| Stack | msgs/s | server CPU µs/msg | server CPU % | loadgen CPU % "
        f"| {paced_head} | delivered | lost | idle KB/conn | base RSS MB | notes |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n"
    )
    rows = []
    for r in results:
        notes = "; ".join(r.notes)
        idle = f"{r.idle['kb_per_conn']:.1f}" if r.idle else "-"
        base = f"{r.base_rss_kb / 1024:.1f}" if r.base_rss_kb else "-"
        if r.paced:
            paced = f"{us_per_msg(r.paced):.1f} ({pct(r.paced, 'server_cpu_s'):.0f}%)"
        else:
            paced = "-"
        every = [*r.runs, *([r.paced] if r.paced else [])]
        delivered = str(sum(x["delivered"] for x in every)) if every else "-"
        lost = str(sum(x["lost"] for x in every)) if every else "-"
        if r.runs:
            rate = fmt_range([x["delivered"] / x["wall_s"] for x in r.runs], 0)
            us = fmt_range([us_per_msg(x) for x in r.runs])
            srv = fmt_range([pct(x, "server_cpu_s") for x in r.runs], 0)
            gen = fmt_range([pct(x, "loadgen_cpu_s") for x in r.runs], 0)
        else:
            rate = us = srv = gen = "-"
        rows.append(
            f"| {r.stack.label} | {rate} | {us} | {srv} | {gen} | {paced} | {delivered} | {lost} "
            f"| {idle} | {base} | {notes} |"
        )
    return head + "\n".join(rows) + "\n"


def machine_info() -> str:
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    pkgs = [
        "starlette",
        "uvicorn",
        "httptools",
        "websockets",
        "aiohttp",
        "picows",
        "msgspec",
        "uvloop",
    ]
    versions = []
    for p in pkgs:
        try:
            versions.append(f"{p} {importlib.metadata.version(p)}")
        except importlib.metadata.PackageNotFoundError:
            versions.append(f"{p} (missing)")
    return (
        f"- Machine: nproc {os.cpu_count()} ({cpu}), Linux {platform.release()}\n"
        f"- Python {platform.python_version()} ({platform.python_implementation()})\n"
        f"- Packages: {', '.join(versions)}\n"
    )


class Runner:
    def __init__(self, args: argparse.Namespace, log: IO[str]) -> None:
        self.args = args
        self.log = log
        pinned = not args.no_pin and (os.cpu_count() or 1) >= 2
        self.pinned = pinned
        self.srv_cpu: int | None = 0 if pinned else None
        self.gen_cpu: int | None = 1 if pinned else None
        self.started = time.monotonic()
        self.child_timeout = args.duration + DRAIN_TIMEOUT_S + 2 * CONNECT_TIMEOUT_S + 10

    def say(self, text: str) -> None:
        print(f"[{time.monotonic() - self.started:5.1f}s] {text}", flush=True)

    def load(self, res: StackResult, rate: float) -> Run | None:
        a = self.args
        try:
            with running_server(res.stack, self.log, self.srv_cpu) as (pid, port):
                if res.base_rss_kb is None:
                    res.base_rss_kb = rss_kib(pid)
                argv = [str(x) for x in ("_load", port, pid, a.pairs, a.window, a.duration, rate)]
                run = run_child(argv, self.gen_cpu, self.child_timeout)
        except Exception as exc:
            res.notes.append(f"failed: {exc}")
            self.say(f"  FAILED: {exc}")
            return None
        self.say(
            f"  delivered={run['delivered']} lost={run['lost']} "
            f"rate={run['delivered'] / run['wall_s']:.0f}/s srv={us_per_msg(run):.1f}us/msg "
            f"srv={pct(run, 'server_cpu_s'):.0f}% gen={pct(run, 'loadgen_cpu_s'):.0f}%"
        )
        return run

    def idle(self, res: StackResult) -> None:
        try:
            with running_server(res.stack, self.log, self.srv_cpu) as (pid, port):
                argv = [str(x) for x in ("_idle", port, pid, self.args.idle_conns)]
                res.idle = run_child(argv, self.gen_cpu, self.child_timeout)
        except Exception as exc:
            res.notes.append(f"idle failed: {exc}")
            self.say(f"  FAILED: {exc}")
            return
        self.say(f"  {res.idle}")


def check_runs(r: StackResult) -> None:
    every = [*r.runs, *([r.paced] if r.paced else [])]
    for run in every:
        if not run["drained"] or run["unacked_delivered"] or run["duplicates"]:
            r.notes.append(
                f"check: drained={run['drained']} unacked_delivered={run['unacked_delivered']} "
                f"dups={run['duplicates']}"
            )
        if run["bad_frames"] or run["errors"] or run["disconnects"]:
            r.notes.append(
                f"check: bad={run['bad_frames']} errors={run['errors']} "
                f"disconnects={run['disconnects']}"
            )
    if any(pct(x, "loadgen_cpu_s") > 90 for x in r.runs):
        r.notes.append("loadgen saturated (closed loop)")
    if r.paced and r.paced["delivered"] / r.paced["wall_s"] < 0.95 * r.paced["target_rate"]:
        r.notes.append("paced rate not reached")
    if r.idle and r.idle["alive"] != r.idle["conns"]:
        r.notes.append(f"only {r.idle['alive']}/{r.idle['conns']} idle conns alive")


def run_all(runner: Runner, results: list[StackResult]) -> None:
    args = runner.args
    loaded = [r for r in results if not r.stack.idle_only]
    # Closed-loop runs, round-robin across stacks so drift affects all stacks alike.
    for rep in range(args.repeats):
        for res in loaded:
            if not res.failed:
                runner.say(f"closed-loop {res.stack.key} rep {rep + 1}/{args.repeats}")
                run = runner.load(res, 0)
                if run:
                    res.runs.append(run)
    if args.paced_rate > 0:
        for res in loaded:
            if not res.failed:
                runner.say(f"paced {args.paced_rate:g} msgs/s {res.stack.key}")
                res.paced = runner.load(res, args.paced_rate)
                if res.paced:
                    res.paced["target_rate"] = args.paced_rate
    # Idle memory, each against a fresh server.
    for res in results:
        if not res.failed:
            runner.say(f"idle {res.stack.key} x{args.idle_conns}")
            runner.idle(res)


def orchestrate(args: argparse.Namespace) -> int:
    stacks = [STACKS_BY_KEY[k] for k in args.stacks.split(",")]
    results = {s.key: StackResult(s) for s in stacks}
    for s in stacks:
        reason = stack_unavailable_reason(s)
        if reason:
            results[s.key].notes.append(f"skipped: {reason}")
        elif s.note:
            results[s.key].notes.append(s.note)

    ordered = [results[s.key] for s in stacks]
    out = args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    with (out.parent / f"{out.stem}_servers.log").open("w") as log:
        runner = Runner(args, log)
        run_all(runner, ordered)
    for r in ordered:
        check_runs(r)
    table = render_table(ordered, args.paced_rate)
    exe = sys.executable
    if exe.startswith(os.getcwd()):
        exe = os.path.relpath(exe)
    command = shlex.join([exe, os.path.relpath(__file__), *sys.argv[1:]])
    total_lost = sum(x["lost"] for r in ordered for x in [*r.runs, *([r.paced] if r.paced else [])])
    pin_text = "server on CPU 0, load generator on CPU 1" if runner.pinned else "none"
    doc = (
        "# WebSocket stack benchmark (Hubbub relay)\n\n"
        f"- Date: {dt.datetime.now().astimezone().isoformat(timespec='seconds')}\n"
        f"{machine_info()}"
        f"- Command (from repo root): `{command}`\n"
        f"- Closed loop: {args.pairs} sender->receiver pairs, window {args.window} in flight per "
        f"sender, {args.duration:g} s per run, {args.repeats} run(s) per stack (mean, min-max); "
        f"paced: same pairs at {args.paced_rate:g} msgs/s total, 1 run. 64-byte bodies; "
        "picows client in 1 process.\n"
        f"- CPU pinning: {pin_text}; uvloop everywhere; 127.0.0.1 only.\n"
        "- server CPU µs/msg = server utime+stime over the send+drain window / messages "
        "delivered (each message = 1 frame in, 2 frames out: forward + ack).\n"
        f"- Idle memory: marginal VmRSS for {args.idle_conns} post-hello idle connections on a "
        f"fresh server, measured after {IDLE_WARMUP_CONNS} warm-up connections. "
        "base RSS = server VmRSS right after start.\n"
        f"- Total lost (acked but never delivered): {total_lost}\n\n"
        f"{table}"
    )
    out.write_text(doc)
    print()
    print(table)
    runner.say(f"wrote {out}")
    return 0 if total_lost == 0 else 1


def main(argv: list[str]) -> int:
    if argv and argv[0] == "_serve":
        STACKS_BY_KEY[argv[1]].serve(int(argv[2]))
        return 0
    if argv and argv[0] == "_load":
        port, pid, pairs, window, duration, rate = argv[1:7]
        res = uvloop.run(
            run_load(
                int(port),
                int(pid),
                pairs=int(pairs),
                window=int(window),
                duration=float(duration),
                rate=float(rate),
            )
        )
        print(json.dumps(res))
        return 0
    if argv and argv[0] == "_idle":
        port, pid, conns = argv[1:4]
        print(json.dumps(uvloop.run(run_idle(int(port), int(pid), int(conns)))))
        return 0

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--pairs", type=int, default=50)
    p.add_argument("--window", type=int, default=8)
    p.add_argument("--duration", type=float, default=8.0)
    p.add_argument("--idle-conns", type=int, default=2000)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument(
        "--paced-rate", type=float, default=20000, help="total msgs/s for the fixed-rate run; 0=off"
    )
    p.add_argument("--stacks", default=",".join(s.key for s in STACKS))
    p.add_argument("--no-pin", action="store_true", help="do not pin server/loadgen to CPUs")
    p.add_argument("--out", type=Path, default=RESULTS_DIR / "ws_stacks.md", help="table file")
    return orchestrate(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
