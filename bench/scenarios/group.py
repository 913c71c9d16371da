"""Group: one group of --members connected members; --senders of them send to it.

group          people: each sender has ONE message in flight (waits for `sent`), each
               member acks EACH message as it arrives (so the sender gets one `delivered`
               receipt per member per message).
group-ceiling  a throughput ceiling: --window (8) in flight per sender, acks batched.

Reported: server CPU per delivery (message x member device, the sender's own echo
included) and per message, deliveries/s, latency send -> each recipient and send -> the
LAST recipient, acks and receipts per message, lost / duplicated deliveries.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from typing import Any

from loadgen import drive
from loadgen.accounts import create_accounts, create_groups, tag
from loadgen.device import Device, Tally
from loadgen.frames import Message, send_target
from loadgen.measure import cpu_report, lat_summary, latency_ms, per, pin_server_and_self
from loadgen.server import say
from loadgen.timeline import Panel, Timeline, fmt_ms

from scenarios.common import ACK_FLUSH_S, DRAIN_TIMEOUT_S, save_rate_plot, timed_window, ws_url


async def group(base: str, pid: int | None, a: argparse.Namespace) -> dict[str, Any]:
    return await run_group(base, pid, a, "group")


async def group_ceiling(base: str, pid: int | None, a: argparse.Namespace) -> dict[str, Any]:
    return await run_group(base, pid, a, "group-ceiling")


async def run_group(base: str, pid: int | None, a: argparse.Namespace, name: str) -> dict:
    t0 = time.monotonic()
    accounts = await create_accounts(base, [f"{tag()}m{i}" for i in range(a.members)])
    (cid,) = await create_groups(base, [accounts])
    setup_s = time.monotonic() - t0
    say(f"created {len(accounts)} users and their group in {setup_s:.1f}s")
    if a.pin and pin_server_and_self(pid):
        say("pinned: server -> CPU 0, load generator -> CPU 1")
    t = Tally()
    devices = [
        Device(t, acc.token, f"g{i}", ack=a.ack, window=a.window, body_bytes=a.body_bytes)
        for i, acc in enumerate(accounts)
    ]
    online = await drive.connect_all(ws_url(base), devices, 50)
    if online != len(devices):
        raise RuntimeError(f"connect failures: {t.connect_failure_samples}")
    senders = devices[: a.senders]
    target = send_target(conversation_id=cid)
    for s in senders:
        s.target = target
    recipients = len(devices) - 1
    remaining: dict[str, int] = {}
    last_lat: list[int] = []

    def on_message(dev: Device, msg: Message, now: int) -> None:
        if msg.sender_id == dev.user_id:
            return  # the sender's own inbox entry
        left = remaining.get(msg.message_id, recipients) - 1
        if left:
            remaining[msg.message_id] = left
        else:
            remaining.pop(msg.message_id, None)
            with contextlib.suppress(ValueError):
                last_lat.append(now - int(msg.body[:19]))

    for d in devices:
        d.on_message = on_message
    await asyncio.sleep(0.5)

    stop = asyncio.Event()
    bound = a.duration + DRAIN_TIMEOUT_S + 60
    flusher = asyncio.create_task(
        drive.flush_acks_every(lambda: devices, ACK_FLUSH_S[a.ack], stop, bound)
    )

    def deliveries() -> float:
        return float(t.delivered + t.own_echo)

    tl = Timeline(
        counters=lambda: {"acked": float(t.acked), "deliveries": deliveries()}, lat=last_lat
    )

    def status(b: Any) -> str:
        return (
            f"msgs/s={b.rates['acked']:6.0f} deliveries/s={b.rates['deliveries']:7.0f} "
            f"p99(last)={fmt_ms(b.p99)} errors={t.rx['error']}"
        )

    acked0, deliv0, acks0, rec0 = t.acked, deliveries(), t.tx["ack"], t.rx["receipt"]
    n_lat0 = len(t.deliver_lat_ns)
    for s in senders:
        s.sending = True
        s.pump()
    start, end = await timed_window(name, a.duration, pid, tl, status)
    acked_w, deliveries_w = t.acked - acked0, deliveries() - deliv0
    acks_w, receipts_w = t.tx["ack"] - acks0, t.rx["receipt"] - rec0
    lat_each = latency_ms(t.deliver_lat_ns[n_lat0:])
    for s in senders:
        s.sending = False
    all_acked: set[str] = set().union(*(s.acked_ids for s in senders))

    def drained() -> bool:
        if any(s.busy for s in senders):
            return False
        n = sum(len(s.acked_ids) for s in senders)
        return all(len(d.received) >= n for d in devices)

    drained_ok = await drive.wait_until(drained, DRAIN_TIMEOUT_S, 0.05)
    drain_s = time.monotonic() - end.t
    all_acked = set().union(*(s.acked_ids for s in senders))
    for d in devices:
        d.flush_ack()
    await asyncio.sleep(0.3)
    stop.set()
    await asyncio.wait_for(flusher, 5)
    window_s = end.t - start.t
    result: dict[str, Any] = {
        "scenario": name,
        "members": len(devices),
        "senders": a.senders,
        "window": a.window,
        "ack": a.ack,
        "duration_s": round(window_s, 3),
        "body_bytes": a.body_bytes,
        "setup_s": round(setup_s, 1),
        "msgs_acked_per_s": round(acked_w / window_s, 1),
        "deliveries_per_s": round(deliveries_w / window_s, 1),
        "latency_to_last_recipient_ms": latency_ms(last_lat),
        "latency_ms": lat_each,
        "latency_send_to_sent_ms": latency_ms(t.sent_lat_ns),
        "acks_sent_per_msg": per(acks_w, acked_w, 2),
        "receipts_per_msg": per(receipts_w, acked_w, 2),
        "sent": sum(s.n_sent for s in senders),
        "acked": len(all_acked),
        "deliveries": t.delivered + t.own_echo,
        "expected_deliveries": len(all_acked) * len(devices),
        "lost": sum(len(all_acked - d.received) for d in devices),
        "duplicated": sum(d.duplicates for d in devices),
        "unacked_delivered": sum(len(d.received - all_acked) for d in devices),
        "unanswered": sum(len(s.inflight) for s in senders),
        "seq_gaps": sum(d.seq_gaps + d.seq_repeats for d in devices),
        "drained": drained_ok,
        "drain_s": round(drain_s, 3),
        "acks_sent": t.tx["ack"],
        "receipts": t.rx["receipt"],
        **t.problems(),
        "frames": t.frame_counts(),
        **cpu_report(pid, start, end, deliveries_w, "delivery"),
    }
    result["server_cpu_us_per_msg"] = (
        round((end.srv - start.srv) * 1e6 / acked_w, 1) if pid and acked_w else None
    )

    def deliveries_too(top: Panel, bottom: Panel) -> None:
        top.right = [
            (
                top.series[0][0],
                [b.rates["deliveries"] for b in tl.buckets if b.dt > 0.05],
                "deliveries (message x member device)",
            )
        ]
        top.right_ylabel = "deliveries / s"

    save_rate_plot(
        a,
        f"{name}: {len(devices)} members, {a.senders} senders x window {a.window}, "
        f"ack {a.ack}, {a.body_bytes} B bodies, {a.duration:g} s{', pinned' if a.pin else ''}\n"
        f"mean {result['deliveries_per_s']:,.0f} deliveries/s, "
        f"{result['msgs_acked_per_s']:,.0f} msgs/s, latency "
        f"{lat_summary(result['latency_to_last_recipient_ms'])}, "
        f"server CPU {result['server_cpu_pct']} %",
        tl,
        [("acked", "messages acked (sent to group)")],
        "messages / s",
        "send -> LAST recipient latency (ms)",
        result,
        deliveries_too,
    )
    await drive.hang_up(devices)
    return result
