"""The PostgreSQL store's message path alone, without sockets, nginx or Redis: what a node
spends in the store (asyncpg, the writer's batches) and what PostgreSQL spends, per message.

    .venv/bin/python bench/pg_write_path.py [--pairs 50] [--duration 8] [--runs 5]
        [--src A_SRC --src B_SRC]

Each sender sends one message at a time (to its own peer) and the peer acks it at once,
as a device does: one append and one ack per message, like the people load. One
PostgreSQL server for all runs, a fresh database per run. With two --src trees (e.g. a
checkout of the code before a change under /tmp), runs alternate between them, so a slow
minute of a shared machine hits both alike; each run is its own process.

Prints one JSON line per run: messages/s, the store's CPU per message (this process:
everything a node spends on the store, asyncpg included) and PostgreSQL's (postmaster and
backends, from /proc).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
TICK = os.sysconf("SC_CLK_TCK")


def tree_cpu(root_pid: int) -> float:
    """utime + stime of a process and its children (PostgreSQL's backends), in seconds."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, ppid = int(stat.parent.name), int(fields[1])
        if root_pid in (pid, ppid):
            total += (int(fields[11]) + int(fields[12])) / TICK
    return total


async def drive(dsn: str, postmaster: int, pairs: int, duration: float) -> dict[str, Any]:
    from hubbub.adapters.postgres import PostgresStore  # noqa: PLC0415 - from --src
    from hubbub.core.ids import IdGenerator  # noqa: PLC0415

    store = PostgresStore(dsn, IdGenerator(1))
    await store.open()
    users = [await store.create_user(f"u{i}", "h", f"U{i}") for i in range(2 * pairs)]
    sent = 0
    stop_at = 0.0

    async def pair(me: int, peer: int, warmup: bool) -> None:
        nonlocal sent
        k = 0
        while time.perf_counter() < stop_at:
            k += 1
            stored = await store.append_message(
                me, f"{warmup}-{k}", "hello there", to_user=peer, conversation_id=None
            )
            await store.ack(peer, 0, stored.inbox[peer])
            if not warmup:
                sent += 1

    ids = [u.user_id for u in users]
    stop_at = time.perf_counter() + 2.0  # warm up: conversations exist, plans are cached
    await asyncio.gather(*(pair(ids[2 * i], ids[2 * i + 1], True) for i in range(pairs)))
    cpu0, pg0, t0 = time.process_time(), tree_cpu(postmaster), time.perf_counter()
    stop_at = t0 + duration
    await asyncio.gather(*(pair(ids[2 * i], ids[2 * i + 1], False) for i in range(pairs)))
    cpu1, pg1, t1 = time.process_time(), tree_cpu(postmaster), time.perf_counter()
    await store.close()
    return {
        "messages": sent,
        "msgs_per_s": round(sent / (t1 - t0), 1),
        "store_cpu_us_per_msg": round((cpu1 - cpu0) / sent * 1e6, 1),
        "postgres_cpu_us_per_msg": round((pg1 - pg0) / sent * 1e6, 1),
    }


def child(a: argparse.Namespace) -> None:
    import uvloop  # noqa: PLC0415

    result = uvloop.run(drive(a.dsn, a.postmaster, a.pairs, a.duration))
    print(json.dumps(result))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--pairs", type=int, default=50)
    p.add_argument("--duration", type=float, default=8.0)
    p.add_argument("--runs", type=int, default=5, help="runs per source tree")
    p.add_argument("--src", action="append", default=[], help="a src/ tree to import hubbub from")
    p.add_argument("--dsn", help=argparse.SUPPRESS)  # the child's
    p.add_argument("--postmaster", type=int, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.dsn:
        child(a)
        return
    sys.path.insert(0, str(REPO))
    from tests.pg_server import PostgresServer, create_database, find_bindir  # noqa: PLC0415

    bindir = find_bindir()
    if bindir is None:
        raise SystemExit("no PostgreSQL here (apt-get install postgresql)")
    server = PostgresServer(bindir).start()
    sources = a.src or [str(REPO / "src")]
    results: dict[str, list[dict[str, Any]]] = {s: [] for s in sources}
    try:
        postmaster = int((server.datadir / "postmaster.pid").read_text().split()[0])
        for run in range(a.runs):
            for src in sources:
                dsn = create_database(server, f"bench_{run}_{sources.index(src)}")
                done = subprocess.run(
                    [sys.executable, __file__, "--dsn", dsn, "--postmaster", str(postmaster),
                     "--pairs", str(a.pairs), "--duration", str(a.duration)],
                    env={**os.environ, "PYTHONPATH": src}, capture_output=True, text=True,
                    check=True,
                )  # fmt: skip
                line = json.loads(done.stdout.strip().splitlines()[-1])
                line |= {"src": src, "run": run, "pairs": a.pairs}
                results[src].append(line)
                print(json.dumps(line), flush=True)
    finally:
        server.stop()
    for src, lines in results.items():
        medians = {
            k: statistics.median(x[k] for x in lines)
            for k in ("msgs_per_s", "store_cpu_us_per_msg", "postgres_cpu_us_per_msg")
        }
        print(json.dumps({"src": src, "median_of": len(lines), **medians}))


if __name__ == "__main__":
    main()
