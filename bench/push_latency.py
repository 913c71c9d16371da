"""Commit-to-push latency under load: how long after a message is committed its push
reaches the push service, while senders keep the node busy.

P senders, each with one socket, send to P receivers that have NO socket (offline: the
rule is to push at once) and one Web Push subscription each on a local push service
(tests/push_service.py: it checks the VAPID JWT and decrypts every payload, as a real
push service and browser would). A sender has one message in flight and waits for `sent`
(the commit) before the next, like a person; `--rate` paces all senders together to that
many messages per second (0: each sends as fast as its `sent` frames come back).

Latency of a push = when the push service received it - when the sender got `sent` for
the message it carries (`sent` follows the commit, so this slightly understates the
time from commit). A burst to one receiver collapses into one push carrying the newest
message, so pushes per message can be below 1 at high rates. Server CPU per message is
reported beside the same run with nobody subscribed (`--no-subscriptions`).

    .venv/bin/python bench/push_latency.py --pairs 200 --rate 200 --duration 20
    .venv/bin/python bench/push_latency.py --pairs 50 --rate 0 --duration 20   # saturated
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "bench"), str(ROOT)]

from loadgen.accounts import create_accounts, tag  # noqa: E402
from loadgen.measure import cpu_report, latency_ms, meter, pin_server_and_self  # noqa: E402
from loadgen.server import hubbub_server, say, scrape_metrics  # noqa: E402
from tests.push_service import PushService, make_ca  # noqa: E402

from hubbub.client import HubbubClient  # noqa: E402

DRAIN_S = 10.0  # after the window: time for the last pushes to arrive


async def run(a: argparse.Namespace, url: str, pid: int, service: PushService) -> dict[str, Any]:
    async with HubbubClient(url) as anon:
        service.server_key = (await anon.request("GET", "/v1/push/vapid-public-key"))["key"]
    tg = tag()
    names = [f"{tg}s{i}" for i in range(a.pairs)] + [f"{tg}r{i}" for i in range(a.pairs)]
    accounts = await create_accounts(url, names)
    senders, receivers = accounts[: a.pairs], accounts[a.pairs :]
    if not a.no_subscriptions:
        for r in receivers:
            async with HubbubClient(url, r.token) as api:
                body = service.new_subscription(r.name).body()
                await api.request("POST", "/v1/push/subscriptions", json=body)
    clients = [HubbubClient(url, s.token) for s in senders]
    sockets = [await c.connect(discover=False, heartbeat=True) for c in clients]
    say(f"{a.pairs} senders connected, {a.pairs} receivers offline")
    if a.pin and pin_server_and_self(pid):
        say("pinned: server -> CPU 0, load generator -> CPU 1")
    sent_at: dict[str, float] = {}  # message_id -> when its `sent` arrived (time.time())
    send_ns: list[int] = []  # send -> `sent`: the message path while pushes go out
    last: dict[str, str] = {}  # receiver name -> the newest message_id sent to it
    stop = time.monotonic() + a.duration
    interval = a.pairs / a.rate if a.rate > 0 else 0.0  # each sender's own pace

    async def sender(i: int) -> None:
        ws, to = sockets[i], receivers[i].user_id
        due = time.monotonic() + interval * i / a.pairs  # spread the senders' phases
        n = 0
        while time.monotonic() < stop:
            if interval:
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                due += interval
            began = time.perf_counter_ns()
            frame = await ws.send_message(f"message {n} from sender {i}", to=to, timeout=30)
            send_ns.append(time.perf_counter_ns() - began)
            sent_at[str(frame["message_id"])] = time.time()
            last[receivers[i].name] = str(frame["message_id"])
            n += 1

    received_before = len(service.received)
    start = meter(pid)
    m0 = scrape_metrics(url)
    await asyncio.gather(*(sender(i) for i in range(a.pairs)))
    end = meter(pid)
    window_s = end.t - start.t
    messages = len(sent_at)
    deadline = time.monotonic() + DRAIN_S
    while not a.no_subscriptions and time.monotonic() < deadline:
        # until each receiver's newest message has been pushed (or the drain bound)
        pushed = {(p.path.rsplit("/", 1)[1], str(p.payload["message_id"])) for p in
                  service.received[received_before:]}  # fmt: skip
        if all(item in pushed for item in last.items()):
            break
        await asyncio.sleep(0.2)
    m1 = scrape_metrics(url)
    pushes = service.received[received_before:]
    lat_ns = sorted(
        int((p.at - sent_at[str(p.payload["message_id"])]) * 1e9)
        for p in pushes
        if str(p.payload["message_id"]) in sent_at
    )
    for ws in sockets:
        await ws.close()
    for c in clients:
        await c.aclose()

    def delta(name: str) -> float:
        return m1.get(name, 0.0) - m0.get(name, 0.0)

    return {
        "scenario": "push-latency",
        "subscriptions": not a.no_subscriptions,
        "pairs": a.pairs,
        "offered_rate": a.rate or "closed loop",
        "duration_s": round(window_s, 2),
        "messages": messages,
        "messages_per_s": round(messages / window_s, 1),
        "pushes": len(pushes),
        "receivers_missing_newest": sum(
            1
            for name, mid in last.items()
            if not any(
                p.path.endswith("/" + name) and str(p.payload["message_id"]) == mid for p in pushes
            )
        )
        if not a.no_subscriptions
        else None,
        "pushes_per_message": round(len(pushes) / messages, 3) if messages else None,
        "push_latency_ms": latency_ms(lat_ns),
        "send_to_sent_ms": latency_ms(sorted(send_ns)),
        "server_pushes_sent": delta("hubbub_push_sent_total") or delta("hubbub_push_sent"),
        "server_push_failed": delta("hubbub_push_failed_total") or delta("hubbub_push_failed"),
        "server_commit_to_push_mean_ms": round(
            1000
            * delta("hubbub_push_commit_to_request_seconds_sum")
            / max(1.0, delta("hubbub_push_commit_to_request_seconds_count")),
            1,
        ),
        "violations": list(service.violations),
        **cpu_report(pid, start, end, messages, "msg"),
    }


async def with_push_service(a: argparse.Namespace, url: str, pid: int, ca: Any) -> dict[str, Any]:
    service = await PushService(ca).start()
    try:
        return await run(a, url, pid, service)
    finally:
        await service.stop()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--pairs", type=int, default=200)
    p.add_argument("--rate", type=float, default=200.0, help="msg/s, all (0: closed loop)")
    p.add_argument("--duration", type=float, default=20.0)
    p.add_argument("--no-subscriptions", action="store_true", help="nobody subscribed")
    p.add_argument("--pin", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--out", type=Path, help="append the JSON line to this file too")
    a = p.parse_args()
    if not 1 <= a.pairs <= 5000 or not 0 < a.duration <= 600:
        p.error("--pairs 1..5000, --duration up to 600 s")
    with tempfile.TemporaryDirectory(prefix="hubbub-push-bench-") as tmp:
        ca, pem = make_ca(Path(tmp))
        os.environ["SSL_CERT_FILE"] = str(pem)  # the server trusts the push service's CA
        log_path = Path(tmp) / "server.log"
        extra = ["--push-allow-private-endpoints", "--push-contact", "mailto:bench@example.org"]
        with log_path.open("w") as log, hubbub_server(log, log_path, extra=extra) as srv:
            report = asyncio.run(with_push_service(a, srv.url, srv.pid, ca))
    line = json.dumps(report)
    print(line)
    if a.out:
        with a.out.open("a") as f:
            f.write(line + "\n")


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
