"""One-to-one: P pairs of users, one sender device and one receiver device each.

one-to-one          (the primary figure) people: each sender sends ONE message, waits for
                    `sent`, sends the next (closed loop, window 1); each receiver acks EACH
                    message as it arrives, which makes one `delivered` receipt per message.
                    Reported: acks sent and receipts received per message (~1 each).
one-to-one-ceiling  a throughput ceiling, not a conversation: W sends in flight per sender
                    (default 8) and acks batched every 50 entries or 0.1 s.
offered-load        a fixed total --rate, paced open loop; latency from the SCHEDULED send.
connection-scaling  the one-to-one load with idle connections added in steps up to each
                    of --totals connections (one server, one set of pairs): server CPU per
                    message at each total, next to the idle connections' own cost.

Every device's own messages come back to it as inbox entries (echoes); they are acked
with the next ack or the periodic flush. `--idle-connections N` adds N idle devices
(pinging every heartbeat_interval) to one-to-one and one-to-one-ceiling.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from loadgen import drive
from loadgen.accounts import create_accounts, tag
from loadgen.device import Device, Tally
from loadgen.frames import send_target
from loadgen.measure import (
    Meter,
    cpu_report,
    lat_summary,
    latency_ms,
    meter,
    per,
    pin_server_and_self,
)
from loadgen.server import say
from loadgen.timeline import Panel, Timeline, fmt_ms

from scenarios.common import (
    ACK_FLUSH_S,
    DRAIN_TIMEOUT_S,
    IdleCrowd,
    save_rate_plot,
    settle,
    timed_window,
    ws_url,
)

MAX_INFLIGHT_PER_SENDER = 20_000  # open loop, bounded: beyond this a paced send is skipped


@dataclass
class Pairs:
    tally: Tally
    senders: list[Device]
    receivers: list[Device]
    setup_s: float

    @property
    def devices(self) -> list[Device]:
        return [*self.senders, *self.receivers]

    def zipped(self) -> zip[tuple[Device, Device]]:
        return zip(self.senders, self.receivers, strict=True)

    def drained(self) -> bool:
        t = self.tally
        return (
            not any(s.busy for s in self.senders)
            and t.delivered >= t.acked
            and t.own_echo >= t.acked
        )

    def accounting(self) -> dict[str, Any]:
        """Lost (acknowledged, never in the receiver's or the sender's own inbox),
        duplicated (one message id twice at one device), and the rest."""
        lost_receiver = sum(len(s.acked_ids - r.received) for s, r in self.zipped())
        lost_echo = sum(len(s.acked_ids - s.received) for s in self.senders)
        return {
            "sent": sum(s.n_sent for s in self.senders),
            "acked": self.tally.acked,
            "delivered": self.tally.delivered,
            "own_echo": self.tally.own_echo,
            "lost": lost_receiver + lost_echo,
            "lost_at_receiver": lost_receiver,
            "lost_echo": lost_echo,
            "duplicated": sum(d.duplicates for d in self.devices),
            "unacked_delivered": sum(len(r.received - s.acked_ids) for s, r in self.zipped()),
            "unanswered": sum(len(s.inflight) + len(s.outbox or ()) for s in self.senders),
            "seq_gaps": sum(d.seq_gaps + d.seq_repeats for d in self.devices),
            "receipts": self.tally.rx["receipt"],
            "acks_sent": self.tally.tx["ack"],
            **self.tally.problems(),
            "frames": self.tally.frame_counts(),
        }


async def make_pairs(
    base: str, pid: int | None, a: argparse.Namespace, window: int, ack: str
) -> Pairs:
    t0 = time.monotonic()
    tg = tag()
    names = [f"{tg}s{i}" for i in range(a.pairs)] + [f"{tg}r{i}" for i in range(a.pairs)]
    accounts = await create_accounts(base, names)
    setup_s = time.monotonic() - t0
    say(f"created {len(accounts)} users in {setup_s:.1f}s")
    if a.pin and pin_server_and_self(pid):
        say("pinned: server -> CPU 0, load generator -> CPU 1")
    tally = Tally()
    senders, receivers = [], []
    for s, r in zip(accounts[: a.pairs], accounts[a.pairs :], strict=True):
        sender = Device(tally, s.token, s.name, ack=ack, window=window, body_bytes=a.body_bytes)
        sender.target = send_target(to=r.user_id)
        senders.append(sender)
        receivers.append(Device(tally, r.token, r.name, ack=ack, body_bytes=a.body_bytes))
    pairs = Pairs(tally, senders, receivers, setup_s)
    online = await drive.connect_all(ws_url(base), pairs.devices, 50)
    if online != len(pairs.devices):
        raise RuntimeError(f"connect failures: {tally.connect_failure_samples}")
    say(f"connected {online} sockets")
    await asyncio.sleep(0.5)
    return pairs


@dataclass
class Counts:
    """Tally counters at one instant (window figures are differences)."""

    acked: int
    delivered: int
    acks: int
    acks_on_delivery: int
    receipts: int
    n_sent_lat: int
    n_deliver_lat: int

    @classmethod
    def of(cls, t: Tally) -> Counts:
        return cls(
            t.acked,
            t.delivered,
            t.tx["ack"],
            t.acks_on_delivery,
            t.rx["receipt"],
            len(t.sent_lat_ns),
            len(t.deliver_lat_ns),
        )


def window_figures(
    pid: int | None, t: Tally, c0: Counts, c1: Counts, start: Meter, end: Meter
) -> dict[str, Any]:
    w = max(end.t - start.t, 1e-9)
    acked = c1.acked - c0.acked
    return {
        "duration_s": round(w, 3),
        "acked_per_s": round(acked / w, 1),
        "delivered_per_s": round((c1.delivered - c0.delivered) / w, 1),
        "latency_ms": latency_ms(t.deliver_lat_ns[c0.n_deliver_lat : c1.n_deliver_lat]),
        "latency_send_to_sent_ms": latency_ms(t.sent_lat_ns[c0.n_sent_lat : c1.n_sent_lat]),
        "acks_sent_per_msg": per(c1.acks - c0.acks, acked),
        "acks_on_delivery_per_msg": per(c1.acks_on_delivery - c0.acks_on_delivery, acked),
        "receipts_per_msg": per(c1.receipts - c0.receipts, acked),
        **cpu_report(pid, start, end, acked, "msg"),
    }


def make_timeline(t: Tally) -> Timeline:
    return Timeline(
        counters=lambda: {"acked": float(t.acked), "delivered": float(t.delivered)},
        lat=t.deliver_lat_ns,
    )


def status(pairs: Pairs) -> Any:
    def text(b: Any) -> str:
        inflight = sum(len(s.inflight) for s in pairs.senders)
        return (
            f"acked/s={b.rates['acked']:7.0f} delivered/s={b.rates['delivered']:7.0f} "
            f"p99={fmt_ms(b.p99)} inflight={inflight} errors={pairs.tally.rx['error']}"
        )

    return text


async def closed_loop_window(
    pairs: Pairs, pid: int | None, label: str, duration: float, tl: Timeline
) -> dict[str, Any]:
    """Senders keep their window full for `duration` s; the window's figures."""
    t = pairs.tally
    for s in pairs.senders:
        s.sending = True
    c0 = Counts.of(t)
    for s in pairs.senders:
        s.pump()
    start, end = await timed_window(label, duration, pid, tl, status(pairs))
    c1 = Counts.of(t)
    for s in pairs.senders:
        s.sending = False
    return window_figures(pid, t, c0, c1, start, end)


async def finish(pairs: Pairs, stop: asyncio.Event, tasks: list[asyncio.Task[None]]) -> dict:
    """Drain (every acknowledged message delivered), flush the last acks, stop tasks."""
    t0 = time.monotonic()
    drained = await drive.wait_until(pairs.drained, DRAIN_TIMEOUT_S, 0.005)
    drain_s = time.monotonic() - t0
    for d in pairs.devices:
        d.flush_ack()
    await asyncio.sleep(0.3)  # let the last acks reach the server
    stop.set()
    for task in tasks:
        await asyncio.wait_for(task, 5)
    return {"drained": drained, "drain_s": round(drain_s, 3)}


async def idle_baseline(
    base: str, crowd: IdleCrowd, pid: int | None, seconds: float
) -> dict[str, Any]:
    """Server CPU with only the idle connections (their pings) for `seconds`, once the
    server has settled after connecting them."""
    if not crowd.devices or seconds <= 0:
        return {}
    settled_s = await settle(base)
    m0 = meter(pid)
    await asyncio.sleep(seconds)
    m1 = meter(pid)
    rep = cpu_report(pid, m0, m1, 0, "x")
    return {
        "idle_settle_s": settled_s,
        "idle_baseline_s": round(m1.t - m0.t, 1),
        "idle_baseline_server_cpu_pct": rep["server_cpu_pct"],
        "idle_baseline_loadgen_cpu_pct": rep["loadgen_cpu_pct"],
    }


def net_of_baseline(fig: dict[str, Any], base: dict[str, Any]) -> float | None:
    """Server CPU per message minus what the idle connections cost on their own."""
    pct = base.get("idle_baseline_server_cpu_pct")
    if pct is None or fig.get("server_cpu_s") is None or not fig["acked_per_s"]:
        return None
    srv = fig["server_cpu_s"] - pct / 100 * fig["duration_s"]
    return round(srv * 1e6 / (fig["acked_per_s"] * fig["duration_s"]), 1)


PAIR_RATES = [("acked", "acked (sender got `sent`)"), ("delivered", "delivered to receiver")]


def plot_one_to_one(
    a: argparse.Namespace,
    name: str,
    tl: Timeline,
    result: dict[str, Any],
    what: str,
    lat_label: str = "send -> receive latency (ms)",
    adjust: Callable[[Panel, Panel], None] | None = None,
) -> None:
    save_rate_plot(
        a,
        f"{name}: {what}, {a.body_bytes} B bodies, {a.duration:g} s"
        f"{', pinned' if a.pin else ''}\n"
        f"mean {result['acked_per_s']:,.0f} msgs/s acked, latency "
        f"{lat_summary(result['latency_ms'])}, server CPU {result['server_cpu_pct']} %",
        tl,
        PAIR_RATES,
        "messages / s",
        lat_label,
        result,
        adjust,
    )


async def run_closed(base: str, pid: int | None, a: argparse.Namespace, name: str) -> dict:
    pairs = await make_pairs(base, pid, a, a.window, a.ack)
    devices = pairs.devices
    crowd = IdleCrowd()
    extra: dict[str, Any] = {}
    stop = asyncio.Event()
    bound = a.duration + DRAIN_TIMEOUT_S + a.baseline + 120
    tasks = [
        asyncio.create_task(
            drive.flush_acks_every(lambda: devices, ACK_FLUSH_S[a.ack], stop, bound)
        )
    ]
    if a.idle_connections:
        connect_s = await crowd.grow(base, a.idle_connections, a.idle_logins, a.per_source)
        say(f"{crowd.online}/{a.idle_connections} idle connections in {connect_s:.1f}s")
        tasks.append(asyncio.create_task(drive.heartbeats(crowd.all, stop, bound)))
        extra = await idle_baseline(base, crowd, pid, a.baseline)
    tl = make_timeline(pairs.tally)
    fig = await closed_loop_window(pairs, pid, name, a.duration, tl)
    end_srv = meter(pid)
    done = await finish(pairs, stop, tasks)
    final = meter(pid)
    acct = pairs.accounting()
    result: dict[str, Any] = {
        "scenario": name,
        "pairs": a.pairs,
        "window": a.window,
        "ack": a.ack,
        "body_bytes": a.body_bytes,
        "setup_s": round(pairs.setup_s, 1),
        **fig,
        **acct,
        **done,
        "server_cpu_us_per_msg_incl_drain": (
            round((final.srv - end_srv.srv + fig["server_cpu_s"]) * 1e6 / max(acct["acked"], 1), 1)
            if pid is not None
            else None
        ),
    }
    if a.idle_connections:
        result.update(
            idle_connections=a.idle_connections,
            idle_online_at_end=crowd.online,
            connections_total=len(devices) + len(crowd.devices),
            idle_problems=crowd.tally.problems(),
            **extra,
            server_cpu_us_per_msg_net_of_idle=net_of_baseline(fig, extra),
        )
        result["disconnects"] += crowd.tally.disconnects
        result["connect_failures"] += crowd.tally.connect_failures
        result["error_frames"] += crowd.tally.rx["error"]
        crowd.close()
    what = f"{a.pairs} pairs, window {a.window}, ack {a.ack}"
    plot_one_to_one(a, name, tl, result, what)
    await drive.hang_up(devices)
    return result


async def one_to_one(base: str, pid: int | None, a: argparse.Namespace) -> dict[str, Any]:
    return await run_closed(base, pid, a, "one-to-one")


async def one_to_one_ceiling(base: str, pid: int | None, a: argparse.Namespace) -> dict:
    return await run_closed(base, pid, a, "one-to-one-ceiling")


async def offered_load(base: str, pid: int | None, a: argparse.Namespace) -> dict[str, Any]:
    pairs = await make_pairs(base, pid, a, MAX_INFLIGHT_PER_SENDER, a.ack)
    devices = pairs.devices
    stop = asyncio.Event()
    bound = a.duration + DRAIN_TIMEOUT_S + 60
    flusher = asyncio.create_task(
        drive.flush_acks_every(lambda: devices, ACK_FLUSH_S[a.ack], stop, bound)
    )
    tl = make_timeline(pairs.tally)
    skipped = 0

    def skip() -> None:
        nonlocal skipped
        skipped += 1

    t = pairs.tally
    c0 = Counts.of(t)
    pacer = asyncio.create_task(
        drive.pace(pairs.senders, a.rate, a.duration, MAX_INFLIGHT_PER_SENDER, skip)
    )
    start, end = await timed_window("offered-load", a.duration, pid, tl, status(pairs))
    c1 = Counts.of(t)
    await asyncio.wait_for(pacer, 10)
    fig = window_figures(pid, t, c0, c1, start, end)
    done = await finish(pairs, stop, [flusher])
    result: dict[str, Any] = {
        "scenario": "offered-load",
        "pairs": a.pairs,
        "ack": a.ack,
        "body_bytes": a.body_bytes,
        "setup_s": round(pairs.setup_s, 1),
        "target_rate": a.rate,
        **fig,
        "achieved_rate": fig["acked_per_s"],
        "latency_from": "scheduled send time",
        "skipped_inflight_cap": skipped,
        **pairs.accounting(),
        **done,
    }

    def offered(top: Panel, bottom: Panel) -> None:
        xs = top.series[0][0]
        top.series.append((xs, [a.rate] * len(xs), "offered (target)"))

    what = f"{a.rate:,.0f} msgs/s offered over {a.pairs} pairs"
    plot_one_to_one(
        a, "offered-load", tl, result, what, "scheduled send -> receive latency (ms)", offered
    )
    await drive.hang_up(devices)
    return result


async def connection_scaling(base: str, pid: int | None, a: argparse.Namespace) -> dict:
    """The one-to-one load at several connection totals, smallest first."""
    pairs = await make_pairs(base, pid, a, a.window, a.ack)
    devices = pairs.devices
    crowd = IdleCrowd()
    stop = asyncio.Event()
    bound = len(a.totals) * (a.duration + a.baseline + 180) + 120
    tasks = [
        asyncio.create_task(
            drive.flush_acks_every(lambda: devices, ACK_FLUSH_S[a.ack], stop, bound)
        ),
        asyncio.create_task(drive.heartbeats(crowd.all, stop, bound)),
    ]
    steps = []
    for total in a.totals:
        idle = max(0, total - len(devices))
        connect_s = await crowd.grow(base, idle, a.idle_logins, a.per_source)
        say(f"step {total}: {crowd.online}/{idle} idle connections (+{connect_s:.1f}s connecting)")
        await asyncio.sleep(1.0)
        base_fig = await idle_baseline(base, crowd, pid, a.baseline)
        tl = make_timeline(pairs.tally)
        fig = await closed_loop_window(pairs, pid, f"scaling {total}", a.duration, tl)
        await drive.wait_until(lambda: not any(s.busy for s in pairs.senders), 10, 0.005)
        step = {
            "connections": len(devices) + crowd.online,
            "idle_connections": crowd.online,
            **base_fig,
            **fig,
            "server_cpu_us_per_msg_net_of_idle": net_of_baseline(fig, base_fig),
        }
        steps.append(step)
        say(
            f"step {total}: {step['server_cpu_us_per_msg']} us/msg "
            f"({step['server_cpu_us_per_msg_net_of_idle']} net of idle), "
            f"{step['acked_per_s']:,.0f} msg/s, loadgen {step['loadgen_cpu_pct']}%"
        )
    done = await finish(pairs, stop, tasks)
    acct = pairs.accounting()
    result: dict[str, Any] = {
        "scenario": "connection-scaling",
        "pairs": a.pairs,
        "window": a.window,
        "ack": a.ack,
        "body_bytes": a.body_bytes,
        "setup_s": round(pairs.setup_s, 1),
        "idle_logins": a.idle_logins,
        "steps": steps,
        "server_cpu_us_per_msg_by_connections": {
            str(s["connections"]): s["server_cpu_us_per_msg"] for s in steps
        },
        "loadgen_saturated": any(s["loadgen_saturated"] for s in steps),
        **acct,
        **done,
        "idle_problems": crowd.tally.problems(),
    }
    result["disconnects"] += crowd.tally.disconnects
    result["connect_failures"] += crowd.tally.connect_failures
    result["error_frames"] += crowd.tally.rx["error"]
    crowd.close()
    await drive.hang_up(devices, 0.5)
    return result
