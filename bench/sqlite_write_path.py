"""The embedded store's message path alone, without sockets: where the SQLite writer's
time per message goes, and whether running a batch's sends and acks as one statement per
kind (the PostgreSQL writer's design) would make it cheaper.

    .venv/bin/python bench/sqlite_write_path.py store [--pairs 50] [--duration 8] [--runs 3]
    .venv/bin/python bench/sqlite_write_path.py shapes [--pairs 50] [--rounds 10] [--sync off]

`store`: the real SqliteStore (group-commit writer, synchronous=FULL) driven in-process.
Each sender sends one message at a time to its own peer, and the peer acks it at once:
one append and one ack per message, like the people load. Prints the process's CPU per
message, the writer thread's share of it (user and system apart), and the bytes written.

`shapes`: the same writes as SQL alone on the real schema (migrations.py), a batch of
`pairs` sends and their acks per transaction, in two shapes, alternating batch by batch
so a slow minute of a shared machine hits both alike:
  per_job   the statements the store's jobs run today, one execute each (a send: sent_keys,
            messages, conversations, inbox; an ack: devices, users, the covered entries);
  per_kind  one statement per kind per batch (sent_keys through json_each with RETURNING,
            the rest executemany, the covered entries from memory: no SELECT).
Prints one JSON line per shape: median CPU per message over the rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TICK = os.sysconf("SC_CLK_TCK")


def thread_cpu(tid: int) -> tuple[float, float]:
    """(user, system) seconds of one thread of this process."""
    fields = Path(f"/proc/self/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) / TICK, int(fields[12]) / TICK


def written_bytes() -> int:
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("write_bytes:"):
            return int(line.split()[1])
    return 0


async def drive_store(data_dir: Path, pairs: int, duration: float) -> dict[str, Any]:
    from hubbub.adapters.sqlite import SqliteStore  # noqa: PLC0415
    from hubbub.core.ids import IdGenerator  # noqa: PLC0415

    store = SqliteStore(data_dir, IdGenerator(1))
    await store.open()
    users = [await store.create_user(f"u{i}", "h", f"U{i}") for i in range(2 * pairs)]
    devices = [(await store.create_device(u.user_id, "d", os.urandom(16), 5))[0] for u in users]
    sent = 0
    stop_at = 0.0

    async def pair(i: int, warmup: bool) -> None:
        nonlocal sent
        me, peer, device = users[2 * i].user_id, users[2 * i + 1].user_id, devices[2 * i + 1]
        k = 0
        while time.perf_counter() < stop_at:
            k += 1
            stored = await store.append_message(
                me, f"{warmup}-{k}", "hello there", to_user=peer, conversation_id=None
            )
            await store.ack(peer, device.device_id, stored.inbox[peer])
            if not warmup:
                sent += 1

    stop_at = time.perf_counter() + 2.0  # warm up: conversations exist, caches are full
    await asyncio.gather(*(pair(i, True) for i in range(pairs)))
    writer = store.engine._writer  # a bench looks inside: the writer thread's CPU
    assert writer is not None and writer.native_id is not None
    cpu0, w0, disk0 = time.process_time(), thread_cpu(writer.native_id), written_bytes()
    t0 = time.perf_counter()
    stop_at = t0 + duration
    await asyncio.gather(*(pair(i, False) for i in range(pairs)))
    cpu1, w1, disk1 = time.process_time(), thread_cpu(writer.native_id), written_bytes()
    t1 = time.perf_counter()
    await store.close()
    per_msg = 1e6 / sent
    return {
        "part": "store",
        "messages": sent,
        "msgs_per_s": round(sent / (t1 - t0), 1),
        "process_cpu_us_per_msg": round((cpu1 - cpu0) * per_msg, 1),
        "writer_user_us_per_msg": round((w1[0] - w0[0]) * per_msg, 1),
        "writer_sys_us_per_msg": round((w1[1] - w0[1]) * per_msg, 1),
        "disk_kb_per_msg": round((disk1 - disk0) / sent / 1024, 2),
    }


class Shapes:
    """`pairs` direct conversations on the real schema, and a batch's writes in two shapes."""

    def __init__(self, path: Path, pairs: int, sync: str) -> None:
        from hubbub.adapters.sqlite.engine import connect  # noqa: PLC0415
        from hubbub.adapters.sqlite.migrations import migrate  # noqa: PLC0415

        self.c = connect(path)
        self.c.execute(f"PRAGMA synchronous = {sync}")
        migrate(self.c)
        self.pairs = pairs
        self.next_id = 1 << 40
        self.heads: dict[int, int] = {}
        self.sent = 0
        c = self.c
        c.execute("BEGIN IMMEDIATE")
        for u in range(2 * pairs):
            c.execute(
                "INSERT INTO users (user_id, username, display_name, password_hash, created_at)"
                " VALUES (?, ?, ?, 'h', 0)",
                (u + 1, f"u{u}", f"U{u}"),
            )
            c.execute(
                "INSERT INTO devices (device_id, user_id, name, token_hash, created_at)"
                " VALUES (?, ?, 'd', ?, 0)",
                (u + 1, u + 1, os.urandom(16)),
            )
            self.heads[u + 1] = 0
        for p in range(pairs):
            c.execute(
                "INSERT INTO conversations (conversation_id, kind, direct_key, created_at)"
                " VALUES (?, 'direct', ?, 0)",
                (10_000 + p, f"{2 * p + 1}:{2 * p + 2}"),
            )
        c.execute("COMMIT")

    def _messages(self) -> list[tuple[int, int, int, int, str]]:
        """(sender, recipient, conversation, message_id, client_msg_id) for one batch."""
        out = []
        for p in range(self.pairs):
            self.next_id += 1
            self.sent += 1
            out.append((2 * p + 1, 2 * p + 2, 10_000 + p, self.next_id, f"k{self.sent}"))
        return out

    def per_job(self) -> None:
        c = self.c
        batch = self._messages()
        for sender, peer, cid, mid, key in batch:
            c.execute(
                "INSERT INTO sent_keys VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (sender, key, mid, cid),
            )
            c.execute(
                "INSERT INTO messages (message_id, conversation_id, sender_id, client_msg_id,"
                " body, attachments) VALUES (?, ?, ?, ?, ?, ?)",
                (mid, cid, sender, key, "hello there", None),
            )
            c.execute(
                "UPDATE conversations SET last_message_id = ? WHERE conversation_id = ?",
                (mid, cid),
            )
            inbox = {u: self.heads[u] + 1 for u in (sender, peer)}
            c.executemany(
                "INSERT INTO inbox VALUES (?, ?, ?)", [(u, s, mid) for u, s in inbox.items()]
            )
            self.heads.update(inbox)
        for _sender, peer, _cid, _mid, _key in batch:
            seq = self.heads[peer]
            c.execute(
                "UPDATE devices SET acked_seq = max(acked_seq, ?) WHERE device_id = ?", (seq, peer)
            )
            c.execute("UPDATE users SET delivered_seq = ? WHERE user_id = ?", (seq, peer))
            c.execute(
                "SELECT m.conversation_id, m.message_id, m.sender_id FROM inbox i"
                " JOIN messages m ON m.message_id = i.message_id"
                " WHERE i.user_id = ? AND i.seq > ? AND i.seq <= ?",
                (peer, seq - 1, seq),
            ).fetchall()

    def per_kind(self) -> None:
        c = self.c
        batch = self._messages()
        keys, rows, last, inbox = [], [], {}, []
        for sender, peer, cid, mid, key in batch:
            keys.append([sender, key, mid, cid])
            rows.append((mid, cid, sender, key, "hello there", None))
            last[cid] = mid
            for u in (sender, peer):
                self.heads[u] += 1
                inbox.append((u, self.heads[u], mid))
        inserted = c.execute(
            "INSERT INTO sent_keys SELECT value->>0, value->>1, value->>2, value->>3"
            " FROM json_each(?) WHERE true ON CONFLICT DO NOTHING RETURNING message_id",
            (json.dumps(keys),),
        ).fetchall()
        assert len(inserted) == len(batch)
        c.executemany(
            "INSERT INTO messages (message_id, conversation_id, sender_id, client_msg_id,"
            " body, attachments) VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )
        c.executemany(
            "UPDATE conversations SET last_message_id = ? WHERE conversation_id = ?",
            [(mid, cid) for cid, mid in last.items()],
        )
        c.executemany("INSERT INTO inbox VALUES (?, ?, ?)", inbox)
        acks = [(self.heads[peer], peer) for _s, peer, _c, _m, _k in batch]
        c.executemany("UPDATE devices SET acked_seq = max(acked_seq, ?) WHERE device_id = ?", acks)
        c.executemany("UPDATE users SET delivered_seq = ? WHERE user_id = ?", acks)

    def timed(self, shape: str) -> float:
        """CPU microseconds per message of one batch (its transaction and COMMIT included)."""
        started = time.process_time()
        self.c.execute("BEGIN IMMEDIATE")
        getattr(self, shape)()
        self.c.execute("COMMIT")
        return (time.process_time() - started) / self.pairs * 1e6


def shapes(a: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="hubbub-sqlite-shapes-") as tmp:
        bench = Shapes(Path(tmp) / "db.sqlite3", a.pairs, a.sync)
        for _ in range(20):  # warm up: the pages of both shapes' tables are cached
            bench.timed("per_job")
            bench.timed("per_kind")
        figures: dict[str, list[float]] = {"per_job": [], "per_kind": []}
        for _ in range(a.rounds):
            for shape, out in figures.items():
                out.append(sum(bench.timed(shape) for _ in range(20)) / 20)
        for shape, out in figures.items():
            print(json.dumps({
                "part": "shapes", "shape": shape, "pairs": a.pairs, "sync": a.sync,
                "rounds": a.rounds, "cpu_us_per_msg_median": round(statistics.median(out), 1),
                "min": round(min(out), 1), "max": round(max(out), 1),
            }))  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("part", choices=["store", "shapes"])
    p.add_argument("--pairs", type=int, default=50)
    p.add_argument("--duration", type=float, default=8.0)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--sync", choices=["off", "full"], default="off")
    a = p.parse_args()
    if a.part == "shapes":
        shapes(a)
        return
    import uvloop  # noqa: PLC0415

    lines = []
    for run in range(a.runs):
        with tempfile.TemporaryDirectory(prefix="hubbub-sqlite-store-") as tmp:
            line = uvloop.run(drive_store(Path(tmp), a.pairs, a.duration))
        lines.append(line | {"run": run, "pairs": a.pairs})
        print(json.dumps(lines[-1]), flush=True)
    keys = [k for k in lines[0] if k.endswith("_per_msg") or k == "msgs_per_s"]
    print(json.dumps({"part": "store", "median_of": len(lines),
                      **{k: statistics.median(x[k] for x in lines) for k in keys}}))  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
