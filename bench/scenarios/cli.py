"""The command line every scenario shares: options, the server's life, the verdict.

Without --url a `hubbub serve` is started on 127.0.0.1 (free port, fresh temporary data
dir, embedded SQLite with fsync; argon2 made cheap for the sign-ups, see
loadgen/server.py, unless --real-argon2), pinned to CPU 0 with the load generator on
CPU 1 once the users exist (unless --no-pin), and stopped with SIGTERM at the end. With
--url URL --server-pid PID a running server is measured. Server CPU is utime+stime of the
server process tree from /proc; the load generator's own CPU % is reported next to it,
with `loadgen_saturated` when it passed 90 % of its core (then the numbers measure the
client too). --metrics reports GET /metrics deltas.

Prints progress on stderr and ONE JSON line on stdout. Exit status 1 if anything was
lost, duplicated, unanswered or failed, or the server logged errors; 2 if the run could
not be set up.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import uvloop
from loadgen import drive, measure
from loadgen.device import ACK_MODES
from loadgen.measure import can_pin
from loadgen.server import (
    default_log_path,
    hubbub_server,
    log_errors,
    metrics_delta,
    say,
    scrape_metrics,
)

from scenarios import connections, day, group, one_to_one

Runner = Callable[[str, int | None, argparse.Namespace], Awaitable[dict[str, Any]]]

SCENARIOS: dict[str, tuple[Runner, dict[str, Any], str]] = {
    "one-to-one": (
        one_to_one.one_to_one,
        {"duration": 10.0, "pairs": 50, "window": 1, "ack": "each"},
        "people: 1 in flight per sender, an ack per message (the primary figure)",
    ),
    "one-to-one-ceiling": (
        one_to_one.one_to_one_ceiling,
        {"duration": 10.0, "pairs": 50, "window": 8, "ack": "batch"},
        "throughput ceiling: 8 in flight per sender, batched acks",
    ),
    "offered-load": (
        one_to_one.offered_load,
        {"duration": 10.0, "pairs": 20, "ack": "batch", "rate": 5000.0},
        "a fixed total rate, open loop, latency from the scheduled send",
    ),
    "connection-scaling": (
        one_to_one.connection_scaling,
        {"duration": 10.0, "pairs": 50, "window": 1, "ack": "each"},
        "one-to-one with idle connections added up to each of --totals",
    ),
    "group": (
        group.group,
        {"duration": 10.0, "window": 1, "ack": "each"},
        "people in a group: 1 in flight per sender, every member acks each message",
    ),
    "group-ceiling": (
        group.group_ceiling,
        {"duration": 10.0, "window": 8, "ack": "batch"},
        "group throughput ceiling: 8 in flight per sender, batched acks",
    ),
    "day-in-the-life": (
        day.day_in_the_life,
        {"duration": 60.0, "devices": 2000, "rate": 100.0},
        "thousands of mostly idle devices, Poisson traffic, typing/read/presence, waves",
    ),
    "idle": (
        connections.idle,
        {"duration": 25.0},
        "idle connections: memory per connection",
    ),
    "reconnect-storm": (
        connections.reconnect_storm,
        {"duration": 0.0, "devices": 1000},
        "every device drops and resumes with since at once",
    ),
}
MAX_CONNECTIONS = 200_000
MAX_DURATION_S = 600.0
MAX_RATE = 200_000.0


def parser(scenario: str | None = None) -> argparse.ArgumentParser:
    """Every option; the scenario is the first argument unless given here."""
    lines = "\n".join(f"  {n:<20} {d}" for n, (_, _, d) in SCENARIOS.items())
    p = argparse.ArgumentParser(
        description=f"{__doc__}\nScenarios:\n{lines}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    if scenario is None:
        p.add_argument("scenario", choices=list(SCENARIOS))
    else:
        p.set_defaults(scenario=scenario)
    g = p.add_argument_group("server")
    g.add_argument("--url", help="an already running server (http://127.0.0.1:PORT)")
    g.add_argument("--server-pid", type=int, help="with --url: the server's pid, for CPU/RSS")
    g.add_argument(
        "--part",
        action="append",
        default=[],
        metavar="NAME=PID",
        help="with --url: another process tree to meter, reported on its own (repeat)",
    )
    g.add_argument("--metrics", action="store_true", help="report GET /metrics deltas")
    g.add_argument("--no-pin", action="store_true", help="do not pin server/loadgen to CPUs")
    g.add_argument("--server-log", type=Path, help="where the started server's log goes")
    g.add_argument(
        "--server-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="passed to the started `hubbub serve` (repeat; e.g. --server-arg=--database-url "
        "--server-arg=postgresql://...)",
    )
    g.add_argument(
        "--real-argon2", action="store_true", help="the production argon2 cost for sign-ups"
    )
    g = p.add_argument_group("load (defaults depend on the scenario)")
    g.add_argument("--duration", type=float, help="seconds of measured load")
    g.add_argument("--body-bytes", type=int, default=64)
    g.add_argument("--pairs", type=int, help="one-to-one family: sender/receiver pairs")
    g.add_argument("--window", type=int, help="sends in flight per sender")
    g.add_argument("--ack", choices=ACK_MODES, help="each: one ack per message; batch: 50/0.1s")
    g.add_argument("--rate", type=float, help="offered-load / day-in-the-life: msgs/s in total")
    g.add_argument("--idle-connections", type=int, default=0, help="one-to-one: extra idle")
    g.add_argument(
        "--idle-logins", type=int, default=0, help="users the idle sockets share (0: one each)"
    )
    g.add_argument("--per-source", type=int, default=10_000, help="sockets per 127.0.0.x")
    g.add_argument("--source-net", type=int, default=0, help="sources 127.NET.0.x (0..255)")
    g.add_argument("--baseline", type=float, default=3.0, help="s of idle-only server CPU")
    g.add_argument(
        "--totals",
        default="100,1000,10000",
        help="connection-scaling: connection totals, comma-separated",
    )
    g.add_argument("--members", type=int, default=100, help="group size")
    g.add_argument("--senders", type=int, default=4, help="group senders")
    g.add_argument("--connections", type=int, default=2000, help="idle: sockets")
    g.add_argument("--logins", type=int, default=20, help="idle: devices the sockets share")
    g = p.add_argument_group("reconnect-storm")
    g.add_argument("--devices", type=int, help="storm: 1000; day-in-the-life: 2000")
    g.add_argument("--users", type=int, default=50, help="storm: users")
    g.add_argument(
        "--logins-per-user",
        type=int,
        default=0,
        help="storm: log-ins per user, shared by its sockets (0: one per socket)",
    )
    g.add_argument("--before", type=int, default=3, help="storm: msgs per user before drop")
    g.add_argument("--during", type=int, default=5, help="storm: msgs per user while down")
    g.add_argument("--storm-timeout", type=float, default=120.0)
    g = p.add_argument_group("day-in-the-life")
    g.add_argument("--devices-per-user", type=int, default=1)
    g.add_argument("--active-share", type=float, default=0.2, help="users who send")
    g.add_argument("--contacts", type=int, default=5, help="contacts each user adds")
    g.add_argument("--group-size", type=int, default=20)
    g.add_argument("--group-share", type=float, default=0.2, help="messages sent to groups")
    g.add_argument("--typing-share", type=float, default=0.3, help="messages after `typing`")
    g.add_argument("--typing-lead", type=float, default=1.0, help="s from typing to send")
    g.add_argument("--read-share", type=float, default=0.5, help="received msgs then `read`")
    g.add_argument("--offline-share", type=float, default=0.1, help="devices offline at once")
    g.add_argument("--waves", type=int, default=3, help="times the offline devices come back")
    g.add_argument("--seed", type=int, default=1)
    g = p.add_argument_group("output")
    g.add_argument("--plot", type=Path, metavar="OUT.png", help="write a PNG (matplotlib)")
    g.add_argument("--plot-dpi", type=int, default=100, help="--plot resolution (40..300)")
    return p


def parse_args(argv: Sequence[str], scenario: str | None = None) -> argparse.Namespace:
    p = parser(scenario)
    a = p.parse_args(argv)
    defaults = {
        "duration": 10.0,
        "pairs": 50,
        "window": 1,
        "ack": "each",
        "rate": 5000.0,
        "devices": 1000,
    }
    defaults.update(SCENARIOS[a.scenario][1])
    for key, value in defaults.items():
        if getattr(a, key) is None:
            setattr(a, key, value)
    try:
        a.totals = sorted({int(x) for x in str(a.totals).split(",") if x.strip()})
    except ValueError:
        p.error("--totals must be comma-separated integers")
    shares = (a.active_share, a.group_share, a.typing_share, a.read_share, a.offline_share)
    checks = [
        (0 <= a.duration <= MAX_DURATION_S, "--duration out of range"),
        (1 <= a.pairs <= 5000, "--pairs must be 1..5000"),
        (1 <= a.window <= 20_000, "--window must be 1..20000"),
        (0 < a.rate <= MAX_RATE, "--rate out of range"),
        (0 <= a.idle_connections <= MAX_CONNECTIONS, "--idle-connections out of range"),
        (0 <= a.idle_logins <= MAX_CONNECTIONS, "--idle-logins out of range"),
        (100 <= a.per_source <= 28_000, "--per-source must be 100..28000"),
        (0 <= a.source_net <= 255, "--source-net must be 0..255"),
        (0 <= a.baseline <= 60, "--baseline must be 0..60 s"),
        (bool(a.totals) and all(0 < n <= MAX_CONNECTIONS for n in a.totals), "bad --totals"),
        (2 <= a.members <= 10_000, "--members out of range"),
        (1 <= a.senders <= a.members, "--senders must be 1..members"),
        (1 <= a.connections <= MAX_CONNECTIONS, "--connections out of range"),
        (1 <= a.logins <= 10_000, "--logins out of range"),
        (2 <= a.devices <= MAX_CONNECTIONS, "--devices out of range"),
        (1 <= a.users <= a.devices, "need 1 <= --users <= --devices"),
        (1 <= a.before <= 1000 and 1 <= a.during <= 1000, "--before/--during 1..1000"),
        (0 < a.storm_timeout <= 600, "--storm-timeout out of range"),
        (1 <= a.devices_per_user <= 10, "--devices-per-user must be 1..10"),
        (1 <= a.contacts <= 1000, "--contacts must be 1..1000"),
        (3 <= a.group_size <= 100, "--group-size must be 3..100"),
        (all(0 <= s <= 1 for s in shares), "shares must be in [0, 1]"),
        (0 <= a.typing_lead <= 10, "--typing-lead must be 0..10 s"),
        (0 <= a.waves <= 100, "--waves must be 0..100"),
        (20 <= a.body_bytes <= 100_000, "--body-bytes must be 20..100000 (19-digit timestamp)"),
        (40 <= a.plot_dpi <= 300, "--plot-dpi must be 40..300"),
        (a.plot is None or a.plot.suffix.lower() == ".png", "--plot must name a .png file"),
    ]
    for ok, msg in checks:
        if not ok:
            p.error(msg)
    if a.scenario == "day-in-the-life" and a.devices // a.devices_per_user < 2:
        p.error("day-in-the-life needs at least 2 users")
    if a.url and not a.url.startswith(("http://127.", "http://localhost")):
        p.error("--url must be on 127.0.0.0/8")
    if a.plot is not None:
        try:
            import matplotlib  # noqa: F401, PLC0415 - fail before a long run, not after it
        except ImportError:
            p.error("--plot needs matplotlib: .venv/bin/pip install -e '.[bench]'")
    return a


def sockets_needed(a: argparse.Namespace) -> int:
    """File descriptors the load generator (and the server, which inherits the limit)
    needs for this scenario."""
    return {
        "idle": a.connections,
        "connection-scaling": max(a.totals),
        "day-in-the-life": a.devices,
        "reconnect-storm": a.devices,
    }.get(a.scenario, 2 * a.pairs + a.idle_connections + a.members)


async def run_scenario(base: str, pid: int | None, a: argparse.Namespace) -> dict[str, Any]:
    before = await asyncio.to_thread(scrape_metrics, base) if a.metrics else None
    result = await SCENARIOS[a.scenario][0](base, pid, a)
    if before is not None:
        after = await asyncio.to_thread(scrape_metrics, base)
        result["metrics"] = metrics_delta(before, after)
    if result.get("loadgen_saturated"):
        say("NOTE: the load generator saturated its core: numbers measure the client too")
    return result


VERDICT_KEYS = (
    "lost",
    "duplicated",
    "unanswered",
    "failed_sends",
    "server_log_errors",
    "connect_failures",
    "error_frames",
    "timed_out",
)


def main(argv: Sequence[str], scenario: str | None = None) -> int:
    a = parse_args(argv, scenario)
    need = sockets_needed(a) + 1024
    soft, hard = drive.raise_nofile(need)  # before the server starts: it inherits it
    if soft < need - 900:
        say(f"RLIMIT_NOFILE {soft}/{hard} is too low for this run ({need} wanted)")
        return 2
    a.pin = not a.no_pin and not a.url and can_pin()
    for part in a.part:
        name, _, pid = part.partition("=")
        measure.PARTS[name] = int(pid)
    if a.url:
        result = uvloop.run(run_scenario(a.url.rstrip("/"), a.server_pid, a))
        result["server_log_errors"] = None
    else:
        log_path = a.server_log or default_log_path(a.scenario)
        with (
            log_path.open("w") as log,
            hubbub_server(log, log_path, a.real_argon2, a.server_arg) as server,
        ):
            result = uvloop.run(run_scenario(server.url, server.pid, a))
        errors = log_errors(log_path)
        result["server_exit_code"] = server.returncode
        result["server_log"] = str(log_path)
        result["server_log_errors"] = len(errors)
        for line in errors[:5]:
            say(f"SERVER LOG ERROR: {line}")
    result["pinned"] = a.pin
    result["argon2"] = "server's own" if a.url else ("real" if a.real_argon2 else "cheap")
    bad = [k for k in VERDICT_KEYS if result.get(k)]
    result["problems"] = bad
    if bad:
        say(f"PROBLEM: {', '.join(bad)} (see JSON)")
    print(json.dumps(result), flush=True)
    return 1 if bad else 0
