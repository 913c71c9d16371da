"""What the scenarios share beyond the load client itself: the timed measuring window
(1 s marks, progress line or bar, timeline), plots, and a crowd of idle devices."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from loadgen import drive
from loadgen.accounts import Account, create_accounts, tag
from loadgen.device import ACK_BATCH, ACK_EACH, ACK_NONE, Device, Tally
from loadgen.measure import Meter, cpu_pct, meter
from loadgen.server import say, scrape_metrics
from loadgen.timeline import Bar, Bucket, Panel, Timeline, plot, rate_latency_panels, run_for

TTY_TICK_S = 0.25  # progress bar refresh; on a pipe one line a second
DRAIN_TIMEOUT_S = 15.0
ACK_FLUSH_S = {ACK_EACH: 1.0, ACK_BATCH: 0.1, ACK_NONE: 1.0}  # periodic flush_ack
SETTLE_MAX_S = 300.0  # after connecting many devices, at most this long for the server to calm
SETTLE_QUIET_S = 2
# commits a second that still count as calm: with 10,000 users online the server keeps
# writing their last-seen times, a steady ~2 commits a second that is part of the idle cost
# (the idle baseline measures it); the burst after connecting is hundreds a second
SETTLE_TRICKLE = 5
COMMITS = "hubbub_commit_batch_jobs_count"


def ws_url(base: str) -> str:
    return base.replace("http", "ws", 1) + "/v1/ws"


async def timed_window(
    label: str,
    duration: float,
    pid: int | None,
    timeline: Timeline,
    status: Callable[[Bucket], str],
) -> tuple[Meter, Meter]:
    """Measure `duration` seconds from now (the load is already running): a timeline
    bucket and a progress line (pipe) or bar (TTY) every second. Returns (start, end)."""
    start = meter(pid)
    marks = [start]
    timeline.start(start.t)
    bar = Bar(label, duration)

    def on_mark(now: float) -> None:
        prev, cur = marks[-1], meter(pid)
        b = timeline.mark(cur.t)
        marks.append(cur)
        if not bar.tty:
            srv, own = cpu_pct(prev, cur)
            say(
                f"{label} t={cur.t - start.t:5.1f}s {status(b)} "
                f"server_cpu={srv:4.0f}% loadgen_cpu={own:4.0f}%"
            )

    def bar_text() -> str:
        b = timeline.last
        if b is None or len(marks) < 2:
            return "..."
        srv, _ = cpu_pct(marks[-2], marks[-1])
        return f"{status(b)}  srv cpu {srv:.0f}%"

    await run_for(duration, bar, on_mark, bar_text, time.monotonic, tick_s=TTY_TICK_S)
    end = meter(pid)
    if end.t - marks[-1].t > 0.05:
        timeline.mark(end.t)
    bar.close()
    return start, end


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


def save_rate_plot(
    a: argparse.Namespace,
    title: str,
    tl: Timeline,
    rates: Sequence[tuple[str, str]],
    rate_ylabel: str,
    lat_ylabel: str,
    result: dict[str, Any],
    adjust: Callable[[Panel, Panel], None] | None = None,
) -> None:
    """--plot: counter rates per second over latency p50/p95/p99 per second."""
    if not a.plot:
        return
    top, bottom = rate_latency_panels(tl, rates, rate_ylabel, lat_ylabel)
    if adjust is not None:
        adjust(top, bottom)
    save_plot(a, title, [top, bottom], result)


async def settle(base: str, bound_s: float = SETTLE_MAX_S) -> float:
    """Wait until the server has worked off what connecting the idle devices caused: each
    user coming online is a presence announcement, and the server writes them one at a
    time (one commit each). Settled = at most SETTLE_TRICKLE commits a second for
    SETTLE_QUIET_S seconds in a row. Returns the seconds."""
    t0 = time.monotonic()
    quiet = 0
    last = None
    for _ in range(int(bound_s)):
        with contextlib.suppress(OSError):
            now = (await asyncio.to_thread(scrape_metrics, base)).get(COMMITS, 0.0)
            calm = last is not None and now - last <= SETTLE_TRICKLE
            quiet = quiet + 1 if calm else 0
            last = now
        if quiet >= SETTLE_QUIET_S:
            break
        await asyncio.sleep(1.0)
    return round(time.monotonic() - t0, 1)


@dataclass
class IdleCrowd:
    """Connected devices that only keep themselves online: a `ping` every
    heartbeat_interval. Each is a user of its own, or `logins` users hold them all (a
    device token may carry several sockets); nobody writes to those users."""

    tally: Tally = field(default_factory=Tally)
    devices: list[Device] = field(default_factory=list)
    accounts: list[Account] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    source_net: int = 0  # 127.NET.0.x: see drive.source_addrs

    async def sign_up(self, base: str, logins: int) -> None:
        """Have at least `logins` users (one device each)."""
        have = len(self.accounts)
        if have < logins:
            prefix = tag()
            names = [f"{prefix}idle{i}" for i in range(have, logins)]
            self.accounts.extend(await create_accounts(base, names, concurrency=32))

    async def grow(self, base: str, total: int, logins: int, per_source: int) -> float:
        """Add devices until there are `total` (over `logins` users; 0: a user each);
        returns the seconds connecting took."""
        need = total - len(self.devices)
        if need <= 0:
            return 0.0
        await self.sign_up(base, min(logins, total) if logins else total)
        n0 = len(self.devices)
        new = [
            Device(self.tally, self.accounts[i % len(self.accounts)].token, f"idle{i}", ack="none")
            for i in range(n0, total)
        ]
        self.devices.extend(new)
        self.sources = drive.source_addrs(total, per_source, self.source_net)
        t0 = time.monotonic()
        # ~2 ms of server CPU per connect (log-in check, bus and presence): a big crowd
        # on a shared machine needs longer than the default bound
        bound = max(drive.CONNECT_TIMEOUT_S, len(new) / 10)
        await drive.connect_all(
            ws_url(base), new, 100, self.sources, per_source, 30.0, bound, first_index=n0
        )
        drive.stagger_heartbeats(new)
        return time.monotonic() - t0

    @property
    def online(self) -> int:
        return sum(d.online for d in self.devices)

    def all(self) -> Sequence[Device]:
        return self.devices

    def close(self) -> None:
        drive.close_all(self.devices)


async def with_heartbeats(
    devices: Callable[[], Sequence[Device]], bound_s: float
) -> tuple[asyncio.Event, asyncio.Task[None]]:
    """Start the heartbeat task; set the event and await the task to stop it."""
    stop = asyncio.Event()
    return stop, asyncio.create_task(drive.heartbeats(devices, stop, bound_s))
