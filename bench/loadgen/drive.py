"""Driving many devices: connecting them (bounded concurrency, spread over loopback
source addresses), the periodic ack flusher, heartbeats, an open-loop pacer, waits.
Every loop here is bounded in time and in turns."""

from __future__ import annotations

import asyncio
import contextlib
import math
import resource
import time
from collections.abc import Callable, Sequence

from loadgen.device import MAX_SENDS_PER_DEVICE, Device

CONNECT_TIMEOUT_S = 120.0
HEARTBEAT_TICK_S = 0.5


def source_addrs(count: int, per_source: int, net: int = 0) -> list[str]:
    """Loopback source addresses 127.NET.0.1, .2, ...: one source IP has ~28k ports.
    Load processes that run side by side each take a NET of their own: a port bound on
    an address is taken for every destination, so they would share those 28k."""
    n = max(1, math.ceil(count / per_source))
    if n > 250:
        raise ValueError("too many connections for 127.x.0.1-250")
    return [f"127.{net}.0.{1 + i}" for i in range(n)]


def raise_nofile(needed: int) -> tuple[int, int]:
    """Raise RLIMIT_NOFILE to at least `needed` (hard too, if we may); returns the limits.
    Call it before starting a server: the server inherits it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        new_hard = hard if hard == resource.RLIM_INFINITY or hard >= needed else needed
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (needed, new_hard))
        except (ValueError, OSError):
            with contextlib.suppress(ValueError, OSError):
                resource.setrlimit(resource.RLIMIT_NOFILE, (min(needed, hard), hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


async def connect_all(
    ws_url: str,
    devices: Sequence[Device],
    concurrency: int = 50,
    sources: Sequence[str] | None = None,
    per_source: int = 1,
    handshake_timeout: float = 10.0,
    bound_s: float = CONNECT_TIMEOUT_S,
    first_index: int = 0,
) -> int:
    """Connect every device and wait for its `ready`; failures are counted in the
    devices' tallies, not raised. Device i uses source address (first_index + i) //
    per_source. Returns how many are online."""
    sem = asyncio.Semaphore(concurrency)

    async def one(i: int, d: Device) -> None:
        async with sem:
            k = (first_index + i) // per_source
            src = sources[min(k, len(sources) - 1)] if sources else None
            try:
                await d.connect(ws_url, local_addr=src, handshake_timeout=handshake_timeout)
            except (TimeoutError, OSError, ConnectionError, RuntimeError) as e:
                d.tally.note_connect_failure(f"{type(e).__name__}: {e}")

    await asyncio.wait_for(asyncio.gather(*(one(i, d) for i, d in enumerate(devices))), bound_s)
    return sum(d.online for d in devices)


def close_all(devices: Sequence[Device]) -> None:
    for d in devices:
        d.close()


async def hang_up(devices: Sequence[Device], settle_s: float = 0.2) -> None:
    """Close every device and give the closes a moment to leave."""
    close_all(devices)
    await asyncio.sleep(settle_s)


async def wait_until(cond: Callable[[], bool], timeout: float, step: float = 0.01) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if cond():
            return True
        await asyncio.sleep(step)
    return cond()


async def flush_acks_every(
    devices: Callable[[], Sequence[Device]], interval: float, stop: asyncio.Event, bound_s: float
) -> None:
    """Periodic `flush_ack` (batched acks; echoes and catch-up in ack mode "each")."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + bound_s
    while not stop.is_set() and loop.time() < deadline:
        for d in devices():
            d.flush_ack()
        await asyncio.sleep(interval)


async def heartbeats(
    devices: Callable[[], Sequence[Device]], stop: asyncio.Event, bound_s: float
) -> None:
    """What a client does to stay online: a `ping` when it has sent nothing for
    `heartbeat_interval` (any frame counts as a heartbeat)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + bound_s
    while not stop.is_set() and loop.time() < deadline:
        now = time.monotonic()
        for d in devices():
            if now - d.last_tx >= d.heartbeat_interval and d.online:
                d.ping()
        await asyncio.sleep(HEARTBEAT_TICK_S)


def stagger_heartbeats(devices: Sequence[Device]) -> None:
    """Spread the devices' next ping evenly over one heartbeat interval."""
    now = time.monotonic()
    n = max(1, len(devices))
    for i, d in enumerate(devices):
        d.last_tx = now - d.heartbeat_interval * i / n


async def pace(
    senders: Sequence[Device],
    rate: float,
    duration: float,
    max_inflight: int,
    on_skip: Callable[[], None] | None = None,
) -> int:
    """Open loop: `rate` sends per second in total, round robin over `senders`, for
    `duration` s. A send's timestamp is its SCHEDULED time, so queueing behind a slow
    server counts in the latency. A sender with `max_inflight` unanswered skips its turn.
    Returns the number of sends made."""
    n = len(senders)
    t0 = time.monotonic_ns()
    interval_ns = 1e9 / rate
    total = int(rate * duration)
    i = made = 0
    for _ in range(int(duration * 2000) + 10):  # ~1 ms ticks, bounded
        elapsed_ns = time.monotonic_ns() - t0
        if elapsed_ns >= duration * 1e9:
            break
        due = min(total, int(elapsed_ns / interval_ns) + 1)
        while i < due:
            d = senders[i % n]
            if len(d.inflight) >= max_inflight or not d.open or d.n_sent >= MAX_SENDS_PER_DEVICE:
                if on_skip is not None:
                    on_skip()
            else:
                d.send(ts_ns=int(t0 + i * interval_ns))
                made += 1
            i += 1
        await asyncio.sleep(0.001)
    return made
