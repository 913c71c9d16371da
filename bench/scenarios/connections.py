"""Connections rather than messages.

idle             --connections (2000) idle logged-in sockets, each pinging at the server's
                 heartbeat_interval, held for --duration: server RSS per connection,
                 connections held at the end. Sockets spread over source addresses
                 127.0.0.1, .2, ... (--per-source each); they share --logins devices.
reconnect-storm  --devices (1000) devices of --users (50) users, each has received
                 --before (3) messages per user; all drop at once, --during (5) more per
                 user are sent, then all reconnect at once with since = their last seq:
                 time until every device is resumed (ready + everything missed), errors.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import resource
import time
from typing import Any

from loadgen import drive
from loadgen.accounts import create_accounts, tag
from loadgen.device import Device, Tally
from loadgen.frames import Message, Sent, send_target
from loadgen.measure import cpu_pct, cpu_report, meter, pin_server_and_self, rss_kib
from loadgen.server import say, scrape_metrics
from loadgen.timeline import Bar, Bucket, Panel, Timeline

from scenarios.common import IdleCrowd, save_plot, settle, timed_window, ws_url


async def idle(base: str, pid: int | None, a: argparse.Namespace) -> dict[str, Any]:
    t0 = time.monotonic()
    logins = min(a.logins, a.connections)
    crowd = IdleCrowd(source_net=a.source_net)
    await crowd.sign_up(base, logins)
    setup_s = time.monotonic() - t0
    say(f"created {logins} users (one device each) in {setup_s:.1f}s")
    if a.pin and pin_server_and_self(pid):
        say("pinned: server -> CPU 0, load generator -> CPU 1")
    await asyncio.sleep(1.0)
    rss0 = rss_kib(pid)
    c0 = meter(pid)
    await crowd.grow(base, a.connections, logins, a.per_source)
    c1 = meter(pid)
    stats = crowd.tally
    connected = crowd.online
    say(
        f"connected {connected}/{a.connections} sockets from {len(crowd.sources)} source "
        f"address(es) in {c1.t - c0.t:.1f}s; failures={stats.connect_failures}"
    )
    interval = next((d.heartbeat_interval for d in crowd.devices if d.user_id), 10.0)
    stop = asyncio.Event()
    pinger = asyncio.create_task(drive.heartbeats(crowd.all, stop, a.duration + 400))
    settle_s = await settle(base)  # every user that came online is a presence write
    c2 = meter(pid)
    say(f"server settled after {settle_s:.1f}s")
    tl = Timeline(
        counters=lambda: {"pings": float(stats.tx["ping"]), "pongs": float(stats.rx["pong"])},
        gauges=lambda: {"held": float(crowd.online), "rss_mib": rss_kib(pid) / 1024},
    )

    def status(b: Bucket) -> str:
        return (
            f"held={b.values['held']:.0f}/{a.connections} pings={stats.tx['ping']} "
            f"pongs={stats.rx['pong']} rss={b.values['rss_mib']:.0f}MiB "
            f"disconnects={stats.disconnects}"
        )

    start, end = await timed_window("idle", a.duration, pid, tl, status)
    stop.set()
    await asyncio.wait_for(pinger, 5)
    rss1 = rss_kib(pid)
    held = crowd.online
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
        "source_addresses": crowd.sources,
        "rlimit_nofile": list(resource.getrlimit(resource.RLIMIT_NOFILE)),
        "setup_s": round(setup_s, 1),
        "connect_s": round(c1.t - c0.t, 2),
        "settle_s": settle_s,
        "server_cpu_ms_per_connect": round((c1.srv - c0.srv) * 1e3 / max(connected, 1), 3)
        if pid
        else None,
        "server_cpu_ms_per_connect_incl_settle": round(
            (c2.srv - c0.srv) * 1e3 / max(connected, 1), 3
        )
        if pid
        else None,
        "hold_s": round(end.t - start.t, 1),
        "heartbeat_interval_s": interval,
        "connected": connected,
        "held_at_end": held,
        "server_connections_gauge": server_conns,
        "pings": stats.tx["ping"],
        "pongs": stats.rx["pong"],
        "server_rss_before_mib": round(rss0 / 1024, 1),
        "server_rss_after_mib": round(rss1 / 1024, 1),
        "server_rss_kib_per_connection": round((rss1 - rss0) / a.connections, 2) if pid else None,
        **stats.problems(),
        **cpu_report(pid, start, end, conn_s, "connection_second"),
    }
    bs = tl.buckets
    xs = [b.t for b in bs]
    save_plot(
        a,
        f"idle: {a.connections:,} sockets over {logins} devices, {len(crowd.sources)} source "
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
    await drive.hang_up(crowd.devices, 0.5)
    return result


async def reconnect_storm(base: str, pid: int | None, a: argparse.Namespace) -> dict[str, Any]:
    url = ws_url(base)
    per_user = math.ceil(a.devices / a.users)
    # each login (a device token) may carry several sockets: 10,000 sockets then need far
    # fewer log-ins, while every socket still resumes on its own
    logins = min(per_user, a.logins_per_user or per_user)
    t0 = time.monotonic()
    tg = tag()
    users = await create_accounts(base, [f"{tg}u{i}" for i in range(a.users)], logins)
    (sender_acc,) = await create_accounts(base, [f"{tg}sender"])
    setup_s = time.monotonic() - t0
    say(f"created {a.users} users x {logins} log-ins (+1 sender) in {setup_s:.1f}s")
    if a.pin and pin_server_and_self(pid):
        say("pinned: server -> CPU 0, load generator -> CPU 1")
    stats = Tally()
    devs: list[tuple[int, str]] = [
        (u, acc.tokens[j % len(acc.tokens)]) for u, acc in enumerate(users) for j in range(per_user)
    ][: a.devices]
    conns = [Device(stats, tok, f"d{i}", ack="batch") for i, (_, tok) in enumerate(devs)]
    sender_stats = Tally()
    sender = Device(sender_stats, sender_acc.token, "s", ack="batch", window=1 << 30)
    await drive.connect_all(url, [sender, *conns], 100)
    say(f"connected {len(conns)} devices; failures={stats.connect_failures}")
    if stats.connect_failures or sender_stats.connect_failures:
        raise RuntimeError(f"connect failures: {stats.connect_failure_samples}")
    targets_of: dict[str, int] = {}  # client_msg_id -> user index
    expected: dict[str, list[set[str]]] = {"before": [], "during": []}

    async def send_round(label: str, n_each: int) -> bool:
        per_user_ids: list[set[str]] = [set() for _ in users]
        expected[label] = per_user_ids

        def on_sent(dev: Device, msg: Sent, now: int) -> None:
            per_user_ids[targets_of[msg.client_msg_id]].add(msg.message_id)

        sender.on_sent = on_sent
        for u, acc in enumerate(users):
            target = send_target(to=acc.user_id)
            for _ in range(n_each):
                targets_of[sender.send(target)] = u
        return await drive.wait_until(lambda: not sender.inflight, 60.0, 0.02)

    ok = await send_round("before", a.before)
    got = await drive.wait_until(lambda: all(c.last_seq >= a.before for c in conns), 60.0, 0.05)
    for c in [sender, *conns]:
        c.flush_ack()
    say(f"pre-drop messages: acked={ok} all received={got}")
    await asyncio.sleep(0.5)
    # everyone drops at once
    drive.close_all(conns)
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
    # the storm: the same devices reconnect with since = their last seq
    stats2 = Tally()
    for c in conns:
        c.tally = stats2
    targets = [c.last_seq + a.during for c in conns]
    done_at: list[float] = [0.0] * len(conns)
    index = {id(c): i for i, c in enumerate(conns)}

    def on_new(conn: Device, msg: Message, now: int) -> None:
        i = index[id(conn)]
        if conn.last_seq >= targets[i] and not done_at[i]:
            done_at[i] = time.monotonic()

    for c in conns:
        c.on_message = on_new
    start = prev = meter(pid)
    connect_task = asyncio.create_task(
        drive.connect_all(url, conns, len(conns), handshake_timeout=60.0)
    )
    stop = asyncio.Event()
    ack_task = asyncio.create_task(drive.flush_acks_every(lambda: conns, 0.1, stop, 200.0))
    timed_out = True
    bar = Bar("storm", len(conns), unit="resumed")

    def ready_count() -> int:
        return sum(1 for c in conns if c.ready_t >= start.t)

    for _ in range(int(a.storm_timeout * 20) + 2):
        now = time.monotonic()
        resumed = sum(1 for t in done_at if t)
        if resumed == len(conns):
            timed_out = False
            break
        if connect_task.done() and stats2.connect_failures + resumed >= len(conns):
            break
        if now - start.t > a.storm_timeout:
            break
        text = (
            f"ready={ready_count()} resumed={resumed}/{len(conns)} "
            f"failures={stats2.connect_failures} errors={stats2.rx['error']}"
        )
        bar.draw(now, resumed, f"{now - start.t:5.1f} s  {text}")
        if now - prev.t >= 1.0 and not bar.tty:
            cur = meter(pid)
            srv, own = cpu_pct(prev, cur)
            say(
                f"storm t={cur.t - start.t:5.1f}s {text} "
                f"server_cpu={srv:4.0f}% loadgen_cpu={own:4.0f}%"
            )
            prev = cur
        await asyncio.sleep(0.05)
    end = meter(pid)
    bar.draw(end.t, sum(1 for t in done_at if t), f"{end.t - start.t:5.1f} s", force=True)
    bar.close()
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(connect_task, 30)
    for c in conns:
        c.flush_ack()
    await asyncio.sleep(0.3)
    stop.set()
    await asyncio.wait_for(ack_task, 5)
    resumed_t = sorted(t - start.t for t in done_at if t)
    ready_t = sorted(c.ready_t - start.t for c in conns if c.ready_t >= start.t)
    during = expected["during"]
    everything = set().union(*during, *expected["before"])
    missing = extra = 0
    for (u, _), c in zip(devs, conns, strict=True):
        missing += len((during[u] | expected["before"][u]) - c.received)
        extra += len(c.received - everything)
    resumed = len(resumed_t)

    def pct(v: list[float], q: float) -> float | None:
        return round(v[min(len(v) - 1, round(q * (len(v) - 1)))], 3) if v else None

    result: dict[str, Any] = {
        "scenario": "reconnect-storm",
        "devices": len(conns),
        "users": a.users,
        "devices_per_user": per_user,
        "logins_per_user": logins,
        "before_per_user": a.before,
        "during_per_user": a.during,
        "setup_s": round(setup_s, 1),
        "storm_all_resumed_s": round(resumed_t[-1], 3) if resumed == len(conns) else None,
        "resumed": resumed,
        "timed_out": timed_out,
        "ready_s": {"p50": pct(ready_t, 0.5), "p95": pct(ready_t, 0.95), "max": pct(ready_t, 1)},
        "resumed_s": {
            "p50": pct(resumed_t, 0.5),
            "p95": pct(resumed_t, 0.95),
            "max": pct(resumed_t, 1),
        },
        "lost": missing,
        "duplicated": sum(c.duplicates + c.seq_repeats for c in conns),
        "unexpected_messages": extra,
        "seq_gaps": sum(c.seq_gaps for c in conns),
        "pre_drop_ok": ok and got,
        "downtime_sends_ok": ok2,
        **stats2.problems(),
        "sender_errors": sender_stats.rx["error"],
        **cpu_report(pid, start, end, max(resumed, 1), "resumed_device"),
    }
    save_plot(
        a,
        f"reconnect-storm: {len(conns):,} devices of {a.users} users reconnect at once, "
        f"{a.during} missed msgs/user\n"
        f"resumed {resumed:,}/{len(conns):,}, all in {result['storm_all_resumed_s']} s, "
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
    await drive.hang_up([sender, *conns], 0.3)
    return result
