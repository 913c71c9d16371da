"""What a run costs and how long things took: server CPU (utime + stime of the server
process tree from /proc), server RSS, the load generator's own CPU, CPU pinning, and
latency percentiles."""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CLK_TCK = os.sysconf("SC_CLK_TCK")
SATURATED_PCT = 90.0  # load generator above this share of its core: it measures itself
MAX_TREE = 1000


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                kids.extend(int(x) for x in (task / "children").read_text().split())
    return kids


def proc_tree(pid: int) -> list[int]:
    """pid and its descendants (bounded)."""
    seen: list[int] = []
    todo = [pid]
    while todo and len(seen) < MAX_TREE:
        p = todo.pop()
        seen.append(p)
        todo.extend(_children(p))
    return seen


def proc_cpu_s(pid: int) -> float:
    """utime + stime of one process (all its threads), in seconds; 0 if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = raw[raw.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def tree_cpu_s(pid: int | None) -> float:
    if pid is None:
        return 0.0
    return sum(proc_cpu_s(p) for p in proc_tree(pid))


def proc_written_bytes(pid: int | None) -> int:
    """Bytes the process tree caused to be written to disk (/proc/PID/io write_bytes: the
    WAL, the checkpoint's database pages, logs); 0 if unreadable."""
    total = 0
    for p in proc_tree(pid) if pid is not None else []:
        with contextlib.suppress(OSError, ValueError):
            for line in Path(f"/proc/{p}/io").read_text().splitlines():
                if line.startswith("write_bytes:"):
                    total += int(line.split()[1])
    return total


def own_cpu_s() -> float:
    t = os.times()
    return t.user + t.system


def rss_kib(pid: int | None) -> int:
    """VmRSS of a process tree, KiB (0 without a pid)."""
    if pid is None:
        return 0
    total = 0
    for p in proc_tree(pid):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


def open_fds(pid: int | None) -> int:
    """Open file descriptors of a process tree (0 without a pid)."""
    if pid is None:
        return 0
    total = 0
    for p in proc_tree(pid):
        with contextlib.suppress(OSError):
            total += len(os.listdir(f"/proc/{p}/fd"))
    return total


def pin_tree(pid: int, cpus: set[int]) -> None:
    """Pin every thread of pid and of its descendants."""
    for p in proc_tree(pid):
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{p}/task").iterdir():
                with contextlib.suppress(OSError):
                    os.sched_setaffinity(int(task.name), cpus)


def can_pin() -> bool:
    return len(os.sched_getaffinity(0)) >= 2


def pin_server_and_self(server_pid: int | None) -> bool:
    """Server threads -> CPU 0, this process -> CPU 1 (call once the server's threads
    exist, i.e. after setup). Returns whether it pinned."""
    if server_pid is None or not can_pin():
        return False
    pin_tree(server_pid, {0})
    os.sched_setaffinity(0, {1})
    return True


# --------------------------------------------------------------------------- CPU windows


@dataclass
class Meter:
    t: float  # time.monotonic()
    srv: float  # server CPU s
    own: float  # load generator CPU s
    parts: dict[str, float]  # CPU s of each of PARTS
    written: int = 0  # bytes the server wrote to disk


# --part NAME=PID: more processes (trees) to meter beside the server, each reported on its
# own: a cluster's nodes, PostgreSQL, Redis, nginx
PARTS: dict[str, int] = {}


def meter(pid: int | None) -> Meter:
    parts = {name: tree_cpu_s(p) for name, p in PARTS.items()}
    return Meter(
        time.monotonic(), tree_cpu_s(pid), own_cpu_s(), parts, proc_written_bytes(pid)
    )


def cpu_pct(a: Meter, b: Meter) -> tuple[float, float]:
    """(server, load generator) CPU % between two meters."""
    dt = max(b.t - a.t, 1e-9)
    return 100 * (b.srv - a.srv) / dt, 100 * (b.own - a.own) / dt


def cpu_report(pid: int | None, start: Meter, end: Meter, work: float, unit: str) -> dict[str, Any]:
    """Server CPU per unit of work and the load generator's own CPU over [start, end]."""
    srv = end.srv - start.srv
    srv_pct, own_pct = cpu_pct(start, end)
    have = pid is not None
    report = {
        "server_cpu_s": round(srv, 2) if have else None,
        "server_cpu_pct": round(srv_pct, 1) if have else None,
        f"server_cpu_us_per_{unit}": round(srv * 1e6 / work, 1) if have and work else None,
        f"server_disk_kb_per_{unit}": (
            round((end.written - start.written) / 1024 / work, 2) if have and work else None
        ),
        "loadgen_cpu_pct": round(own_pct, 1),
        "loadgen_saturated": own_pct > SATURATED_PCT,
    }
    if PARTS and work:
        report[f"cpu_us_per_{unit}_by_part"] = {
            name: round((end.parts[name] - start.parts[name]) * 1e6 / work, 1) for name in PARTS
        }
    return report


# --------------------------------------------------------------------------- latency


def percentile_ms(sorted_ns: Sequence[int], q: float) -> float:
    """The q-quantile (nearest rank) of sorted nanosecond samples, in ms; NaN if none."""
    if not sorted_ns:
        return math.nan
    return sorted_ns[min(len(sorted_ns) - 1, max(0, round(q * (len(sorted_ns) - 1))))] / 1e6


def latency_ms(samples_ns: Sequence[int]) -> dict[str, Any]:
    lat = sorted(samples_ns)

    def q(v: float) -> float | None:
        x = percentile_ms(lat, v)
        return None if math.isnan(x) else round(x, 2)

    return {
        "p50": q(0.50),
        "p95": q(0.95),
        "p99": q(0.99),
        "max": round(lat[-1] / 1e6, 2) if lat else None,
        "samples": len(lat),
    }


def lat_summary(lat: dict[str, Any]) -> str:
    return f"p50 {lat['p50']} / p95 {lat['p95']} / p99 {lat['p99']} ms"


def per(n: float, work: float, digits: int = 3) -> float | None:
    """n / work, rounded; None without work."""
    return round(n / work, digits) if work else None
