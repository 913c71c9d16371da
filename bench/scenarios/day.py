"""A day in the life: many devices, most of them idle, a few people chatting.

--devices (2000) devices of --devices / --devices-per-user users. Every user adds
--contacts (5) random others to their contacts (so presence frames flow to them), and
the users are dealt into groups of --group-size (20). At start --offline-share (10 %) of
the devices are offline; every connected device pings at heartbeat_interval when it has
sent nothing else.

For --duration seconds messages arrive as a Poisson process at --rate per second in
total. Each comes from a random online device of the --active-share of users who chat;
--group-share (20 %) go to the sender's group, the rest to one of its contacts. Before
--typing-share of them the sender sends `typing` (when it knows the conversation) and
sends the message --typing-lead s later. A device has one message in flight: the next
waits for `sent`. Every device acks each message as it arrives; after --read-share of
the messages it receives it sends `read` 0.5-3 s later. In --waves waves the offline
devices come back (hello with since = their last seq: catch-up) and as many online
devices with nothing in flight go offline; at the end all come back and catch up.

Reported over the measured window: server CPU per message (everything the server did:
acks, receipts, reads, typing, presence, pings, catch-ups), send -> `sent` and send ->
delivered-to-recipient latency (live entries), server RSS, every frame type received
and sent, lost / duplicated deliveries (every acknowledged message must reach every
device of every member of its conversation by the end).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import time
from typing import Any

from loadgen import drive
from loadgen.accounts import add_contacts, create_accounts, create_groups, tag
from loadgen.device import Device, Tally
from loadgen.frames import Message, Sent, send_target
from loadgen.measure import cpu_report, latency_ms, open_fds, per, pin_server_and_self, rss_kib
from loadgen.server import say
from loadgen.timeline import Timeline, fmt_ms

from scenarios.common import ACK_FLUSH_S, save_rate_plot, timed_window, ws_url

CATCH_UP_TIMEOUT_S = 60.0
MIN_GROUP = 3
READ_DELAY_S = (0.5, 3.0)


async def day_in_the_life(base: str, pid: int | None, a: argparse.Namespace) -> dict:
    rng = random.Random(a.seed)
    loop = asyncio.get_running_loop()
    n_users = math.ceil(a.devices / a.devices_per_user)
    t0 = time.monotonic()
    tg = tag()
    accounts = await create_accounts(
        base, [f"{tg}d{i}" for i in range(n_users)], a.devices_per_user, concurrency=32
    )
    uids = [acc.user_id for acc in accounts]
    k = min(a.contacts, n_users - 1)
    contacts_of: dict[str, list[str]] = {}
    edges = []
    for i, acc in enumerate(accounts):
        others = rng.sample(range(n_users - 1), k)
        peers = [uids[j if j < i else j + 1] for j in others]  # never oneself
        contacts_of[acc.user_id] = peers
        edges.extend((acc, p) for p in peers)
    await add_contacts(base, edges, concurrency=32)
    order = accounts[:]
    rng.shuffle(order)
    chunks = [order[i : i + a.group_size] for i in range(0, n_users, a.group_size)]
    if len(chunks) > 1 and len(chunks[-1]) < MIN_GROUP:
        chunks[-2].extend(chunks.pop())
    chunks = [c for c in chunks if len(c) >= MIN_GROUP]
    cids = await create_groups(base, chunks, "day")
    group_of: dict[str, str] = {}
    members_of: dict[str, tuple[str, ...]] = {}
    for cid, members in zip(cids, chunks, strict=True):
        members_of[cid] = tuple(m.user_id for m in members)
        for m in members:
            group_of[m.user_id] = cid
    setup_s = time.monotonic() - t0
    say(
        f"created {n_users} users x {a.devices_per_user} devices, {len(edges)} contacts, "
        f"{len(cids)} groups in {setup_s:.1f}s"
    )
    if a.pin and pin_server_and_self(pid):
        say("pinned: server -> CPU 0, load generator -> CPU 1")

    t = Tally()
    devices: list[Device] = []
    user_of: list[str] = []
    devs_of: dict[str, list[Device]] = {u: [] for u in uids}
    for acc in accounts:
        for j, tok in enumerate(acc.tokens):
            d = Device(t, tok, f"{acc.name}-{j}", ack="each", window=1, body_bytes=a.body_bytes)
            devices.append(d)
            user_of.append(acc.user_id)
            devs_of[acc.user_id].append(d)
    devices, user_of = devices[: a.devices], user_of[: a.devices]
    index = {id(d): i for i, d in enumerate(devices)}
    active_users = set(rng.sample(uids, max(1, round(a.active_share * n_users))))
    offline: set[int] = set(rng.sample(range(len(devices)), round(a.offline_share * len(devices))))

    # -- who gets what -----------------------------------------------------------------
    targets: dict[bytes, tuple[str, str]] = {}  # send target -> ("group", cid) / ("to", uid)
    pending: dict[str, bytes] = {}  # client_msg_id -> target
    expected: list[tuple[str, tuple[str, ...]]] = []  # (message id, member users)
    expected_deliveries = 0
    conv_of_pair: dict[tuple[str, str], str] = {}

    def target_for(kind: str, key: str) -> bytes:
        tb = send_target(to=key) if kind == "to" else send_target(conversation_id=key)
        targets.setdefault(tb, (kind, key))
        return tb

    def on_send(dev: Device, cmid: str, target: bytes) -> None:
        pending[cmid] = target

    def on_sent(dev: Device, msg: Sent, now: int) -> None:
        nonlocal expected_deliveries
        kind, key = targets[pending.pop(msg.client_msg_id)]
        me = user_of[index[id(dev)]]
        users = members_of[key] if kind == "group" else ((me,) if key == me else (me, key))
        if kind == "to":
            conv_of_pair[(me, key)] = conv_of_pair[(key, me)] = msg.conversation_id
        expected.append((msg.message_id, users))
        expected_deliveries += sum(len(devs_of[u]) for u in users)

    def read_later(dev: Device, cid: str, mid: str) -> None:
        if dev.online:
            dev.read(cid, mid)

    def on_message(dev: Device, msg: Message, now: int) -> None:
        if msg.seq > dev.head and msg.sender_id != dev.user_id and rng.random() < a.read_share:
            loop.call_later(
                rng.uniform(*READ_DELAY_S), read_later, dev, msg.conversation_id, msg.message_id
            )

    for d in devices:
        d.on_send, d.on_sent, d.on_message = on_send, on_sent, on_message

    # -- connect the online ones ----------------------------------------------------------
    url = ws_url(base)
    sources = drive.source_addrs(len(devices), a.per_source)
    first = [d for i, d in enumerate(devices) if i not in offline]
    t1 = time.monotonic()
    await drive.connect_all(url, first, 100, sources, a.per_source, 30.0)
    say(
        f"connected {sum(d.online for d in first)}/{len(first)} devices in "
        f"{time.monotonic() - t1:.1f}s ({len(offline)} offline); "
        f"failures={t.connect_failures}"
    )
    drive.stagger_heartbeats(devices)
    stop = asyncio.Event()
    bound = a.duration + CATCH_UP_TIMEOUT_S + 120
    tasks = [
        asyncio.create_task(drive.heartbeats(lambda: devices, stop, bound)),
        asyncio.create_task(
            drive.flush_acks_every(lambda: devices, ACK_FLUSH_S["each"], stop, bound)
        ),
    ]
    await asyncio.sleep(1.0)

    # -- the day ----------------------------------------------------------------------------
    sessions = {"waves": 0, "came_back": 0, "went_offline": 0}
    reconnects: list[asyncio.Task[int]] = []

    def come_back(back: list[int]) -> None:
        for i in back:
            offline.discard(i)
        sessions["came_back"] += len(back)
        reconnects.append(
            asyncio.create_task(
                drive.connect_all(url, [devices[i] for i in back], 100, sources, a.per_source, 30.0)
            )
        )

    async def waves(start_t: float) -> None:
        for w in range(1, a.waves + 1):
            await asyncio.sleep(
                max(0.0, start_t + a.duration * w / (a.waves + 1) - time.monotonic())
            )
            back = sorted(offline)
            calm = [
                i for i, d in enumerate(devices) if i not in offline and d.online and not d.busy
            ]
            go = rng.sample(calm, min(len(back), len(calm)))
            for i in go:
                devices[i].close()
                offline.add(i)
            come_back(back)
            sessions["waves"] += 1
            sessions["went_offline"] += len(go)
            say(f"wave {w}: {len(back)} devices back online (catch-up), {len(go)} went offline")

    def pick_sender() -> int | None:
        for _ in range(50):
            i = rng.randrange(len(devices))
            if user_of[i] in active_users and devices[i].online:
                return i
        return None

    typed = skipped = gone = 0

    def submit(dev: Device, target: bytes) -> None:
        nonlocal gone
        if not dev.online:  # went offline while typing: the person sends it another time
            gone += 1
            return
        dev.submit(target)  # one in flight: it waits in the outbox behind an unanswered one

    async def arrivals(start_t: float) -> None:
        nonlocal typed, skipped
        next_t = start_t
        for _ in range(int(a.rate * a.duration * 3) + 100):  # bounded: ~rate x duration arrivals
            next_t += rng.expovariate(a.rate)
            if next_t >= start_t + a.duration:
                return
            delay = next_t - time.monotonic()
            if delay > 0.001:
                await asyncio.sleep(delay)
            i = pick_sender()
            if i is None:
                skipped += 1
                continue
            dev, me = devices[i], user_of[i]
            if me in group_of and rng.random() < a.group_share:
                cid = group_of[me]
                target = target_for("group", cid)
            else:
                peer = rng.choice(contacts_of[me])
                target = target_for("to", peer)
                cid = conv_of_pair.get((me, peer), "")
            if cid and rng.random() < a.typing_share:
                dev.typing(cid)
                typed += 1
                loop.call_later(a.typing_lead, submit, dev, target)
            else:
                submit(dev, target)

    def deliveries() -> float:
        return float(t.delivered + t.own_echo)

    rss_peak = rss0 = rss_kib(pid)
    fds_peak = fds0 = open_fds(pid)
    samples: list[tuple[float, float, int]] = []  # (s, RSS MiB, fds), for a soak's trend

    def rss_mib() -> float:
        nonlocal rss_peak, fds_peak
        r, f = rss_kib(pid), open_fds(pid)
        rss_peak, fds_peak = max(rss_peak, r), max(fds_peak, f)
        samples.append((time.monotonic(), r / 1024, f))
        return r / 1024

    tl = Timeline(
        counters=lambda: {"acked": float(t.acked), "deliveries": deliveries()},
        lat=t.deliver_lat_ns,
        gauges=lambda: {"rss_mib": rss_mib()},
    )

    def status(b: Any) -> str:
        return (
            f"msgs/s={b.rates['acked']:5.0f} deliveries/s={b.rates['deliveries']:6.0f} "
            f"p99={fmt_ms(b.p99)} online={sum(d.online for d in devices)} "
            f"rss={b.values.get('rss_mib', 0):.0f}MiB errors={t.rx['error']}"
        )

    rx0, tx0 = t.rx.copy(), t.tx.copy()
    acked0, deliv0, n_sl0, n_dl0 = t.acked, deliveries(), len(t.sent_lat_ns), len(t.deliver_lat_ns)
    start_t = time.monotonic()
    load = [asyncio.create_task(arrivals(start_t)), asyncio.create_task(waves(start_t))]
    start, end = await timed_window("day", a.duration, pid, tl, status)
    rx1, tx1 = t.rx.copy(), t.tx.copy()
    acked_w, deliveries_w = t.acked - acked0, deliveries() - deliv0
    sent_lat = latency_ms(t.sent_lat_ns[n_sl0:])
    deliver_lat = latency_ms(t.deliver_lat_ns[n_dl0:])
    for task in load:
        await asyncio.wait_for(task, 30)
    rss_end, fds_end = rss_kib(pid), open_fds(pid)

    # -- everyone comes back; everything must arrive -------------------------------------
    come_back(sorted(offline))
    for task in reconnects:
        await asyncio.wait_for(task, CATCH_UP_TIMEOUT_S)
    drained = await drive.wait_until(
        lambda: (
            not any(d.busy for d in devices) and t.delivered + t.own_echo >= expected_deliveries
        ),
        CATCH_UP_TIMEOUT_S,
        0.05,
    )
    for d in devices:
        d.flush_ack()
    await asyncio.sleep(0.5)
    stop.set()
    for task in tasks:
        await asyncio.wait_for(task, 5)
    lost = 0
    for mid, users in expected:
        for u in users:
            lost += sum(1 for d in devs_of[u] if mid not in d.received)

    window_rx = {k: rx1[k] - rx0[k] for k in rx1 if rx1[k] - rx0[k]}
    window_tx = {k: tx1[k] - tx0[k] for k in tx1 if tx1[k] - tx0[k]}
    result: dict[str, Any] = {
        "scenario": "day-in-the-life",
        "devices": len(devices),
        "users": n_users,
        "devices_per_user": a.devices_per_user,
        "active_users": len(active_users),
        "contacts_per_user": k,
        "groups": len(cids),
        "group_size": a.group_size,
        "rate": a.rate,
        "group_share": a.group_share,
        "typing_share": a.typing_share,
        "read_share": a.read_share,
        "offline_share": a.offline_share,
        "seed": a.seed,
        "setup_s": round(setup_s, 1),
        "duration_s": round(end.t - start.t, 3),
        "msgs_acked_per_s": round(acked_w / max(end.t - start.t, 1e-9), 1),
        "deliveries_per_s": round(deliveries_w / max(end.t - start.t, 1e-9), 1),
        "latency_send_to_sent_ms": sent_lat,
        "latency_send_to_delivered_ms": deliver_lat,
        "server_rss_mib": {
            "start": round(rss0 / 1024, 1),
            "end": round(rss_end / 1024, 1),
            "peak": round(rss_peak / 1024, 1),
        },
        "server_fds": {"start": fds0, "end": fds_end, "peak": fds_peak},
        # a soak's trend: RSS and descriptors at each tenth of the window
        "trend": [
            {"t_s": round(ts - samples[0][0]), "rss_mib": round(r, 1), "fds": f}
            for ts, r, f in samples[:: max(1, len(samples) // 10)]
        ]
        if samples
        else [],
        "per_msg": {
            "deliveries": per(deliveries_w, acked_w, 2),
            "acks_sent": per(window_tx.get("ack", 0), acked_w, 2),
            "receipts_received": per(window_rx.get("receipt", 0), acked_w, 2),
            "reads_sent": per(window_tx.get("read", 0), acked_w, 2),
            "typing_sent": per(window_tx.get("typing", 0), acked_w, 2),
        },
        "window_frames": {"received": window_rx, "sent": window_tx},
        "frames": t.frame_counts(),
        "sessions": sessions,
        "catch_up_entries": t.catch_up,
        "resent_after_reconnect": t.resent,
        "typing_before_message": typed,
        "arrivals_without_online_sender": skipped,
        "typed_then_went_offline": gone,
        "sent": sum(d.n_sent for d in devices),
        "acked": t.acked,
        "expected_deliveries": expected_deliveries,
        "deliveries": t.delivered + t.own_echo,
        "lost": lost,
        "duplicated": sum(d.duplicates for d in devices),
        "seq_gaps": sum(d.seq_gaps + d.seq_repeats for d in devices),
        "unanswered": sum(len(d.inflight) + len(d.outbox or ()) for d in devices),
        "drained": drained,
        **t.problems(),
        **cpu_report(pid, start, end, acked_w, "msg"),
    }
    save_rate_plot(
        a,
        f"day-in-the-life: {len(devices):,} devices, {a.rate:g} msg/s Poisson, "
        f"{a.duration:g} s{', pinned' if a.pin else ''}\n"
        f"server CPU {result['server_cpu_us_per_msg']} us/msg, delivered p99 "
        f"{deliver_lat['p99']} ms, RSS peak {result['server_rss_mib']['peak']} MiB",
        tl,
        [("acked", "messages acked"), ("deliveries", "deliveries")],
        "per second",
        "send -> delivered latency (ms)",
        result,
    )
    await drive.hang_up(devices, 0.5)
    return result
