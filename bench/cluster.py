"""A scenario against a 2-node cluster on this machine, beside the embedded node.

Starts `scripts/local-cluster` (PostgreSQL, Redis, N nodes, nginx; rate limits off), runs
the scenario through nginx --runs times, and meters every part of the cluster on its own
(each node, PostgreSQL with its backends, Redis, nginx) over each measured window; then
the same scenario on the embedded node (both unpinned: the cluster cannot be pinned, so
the embedded run is not either). Counts `deadlock detected` in PostgreSQL's log.

    .venv/bin/python bench/cluster.py --runs 3 -- one-to-one --pairs 50 --duration 10

Prints one JSON line per run (`"where": "cluster"` or `"embedded"`) and a last line with
the medians and the cluster/embedded ratio of messages per second.

The nodes hash passwords at argon2's cheapest cost, as the embedded runs do
(loadgen/server.py): sign-ups and log-ins are setup, never inside a measured window, and
2,000 users take ~12 minutes to set up at the production cost (--real-argon2).

With --pg-stats PostgreSQL loads pg_stat_statements, and each cluster run reports the
statements PostgreSQL ran in its window: calls per acknowledged message, mean and total
execution time, the top ones by total time (`pg_statements`).

With --idle N it holds N idle connections instead, spread evenly over the nodes (each node
its own `idle` load process, connected to the node directly: a process here may hold at
most 20,000 descriptors, nginx included), and reports what they cost in all:

    .venv/bin/python bench/cluster.py --nodes 6 --idle 100000 -- --duration 60
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
BENCH = REPO / "bench" / "hubbub_bench.py"
CLUSTER = REPO / "scripts" / "local-cluster"

from loadgen.server import CHEAP_ARGON2_BOOT  # noqa: E402  (bench/ is on the path above)


def run_bench(args: list[str]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(BENCH), *args], capture_output=True, text=True, check=False
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        sys.stderr.write(done.stderr[-3000:])
        raise SystemExit(f"bench failed ({done.returncode})")
    result: dict[str, Any] = json.loads(lines[-1])
    result["exit_status"] = done.returncode
    return result


def postmaster_pid(state: dict[str, Any]) -> int:
    return int((Path(state["pg_root"]) / "data" / "postmaster.pid").read_text().split()[0])


def deadlocks(state: dict[str, Any]) -> int:
    logs = list(Path(state["pg_root"]).glob("**/*.log"))
    return sum(p.read_text(errors="replace").count("deadlock detected") for p in logs)


PG_STATS_OPTIONS = "-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all"


def pg_sql(state: dict[str, Any], query: str) -> list[dict[str, Any]]:
    import asyncio  # noqa: PLC0415 - only --pg-stats needs a database client

    import asyncpg  # noqa: PLC0415

    async def run() -> list[dict[str, Any]]:
        conn = await asyncpg.connect(
            host="127.0.0.1", port=state["pg_port"], user="postgres", database="hubbub"
        )
        try:
            return [dict(r) for r in await conn.fetch(query)]
        finally:
            await conn.close()

    return asyncio.run(run())


def pg_statements(state: dict[str, Any], messages: int) -> dict[str, Any]:
    """What PostgreSQL ran since the last reset, per acknowledged message."""
    rows = pg_sql(
        state,
        "SELECT query, calls, total_exec_time, rows FROM pg_stat_statements"
        " WHERE dbid = (SELECT oid FROM pg_database WHERE datname = 'hubbub')"
        " ORDER BY total_exec_time DESC",
    )
    per = max(messages, 1)
    calls = sum(r["calls"] for r in rows)
    exec_ms = sum(r["total_exec_time"] for r in rows)
    return {
        "statements_per_msg": round(calls / per, 2),
        "exec_ms_total": round(exec_ms, 1),
        "exec_us_per_msg": round(exec_ms * 1e3 / per, 1),
        "top": [
            {
                "query": " ".join(r["query"].split())[:160],
                "calls_per_msg": round(r["calls"] / per, 3),
                "mean_us": round(r["total_exec_time"] * 1e3 / max(r["calls"], 1), 1),
                "share": round(r["total_exec_time"] / max(exec_ms, 1e-9), 3),
            }
            for r in rows[:12]
        ],
    }


def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    def med(key: str) -> float | None:
        values = [r[key] for r in runs if r.get(key) is not None]
        return statistics.median(values) if values else None

    # one-to-one reports send -> delivered as latency_ms; day-in-the-life names it
    lat = "latency_ms" if "latency_ms" in runs[0] else "latency_send_to_delivered_ms"
    out = {
        "acked_per_s": med("acked_per_s") or med("msgs_acked_per_s"),
        "server_cpu_us_per_msg": med("server_cpu_us_per_msg"),
        "p50_ms": statistics.median(r[lat]["p50"] for r in runs),
        "p99_ms": statistics.median(r[lat]["p99"] for r in runs),
        "lost": sum(r.get("lost", 0) for r in runs),
        "duplicated": sum(r.get("duplicated", 0) for r in runs),
    }
    parts = [r.get("cpu_us_per_msg_by_part") for r in runs]
    if all(parts):
        out["cpu_us_per_msg_by_part"] = {
            name: statistics.median(p[name] for p in parts if p) for name in parts[0] or {}
        }
    return out


def hold_idle(state: dict[str, Any], pids: dict[str, int], total: int, extra: list[str]) -> int:
    """One idle bench per node, all at once; one JSON line with the sums.

    Each load process's stderr goes to DIR/idle-nodeN.log beside the node's own log.
    """
    from loadgen.measure import tree_cpu_s  # noqa: PLC0415 - bench/ is on sys.path here

    nodes = state["nodes"]
    # node k (0-based) holds total // n, the first total % n nodes one more
    share = [total // len(nodes) + (k < total % len(nodes)) for k in range(len(nodes))]
    parts = {"postgres": pids["postgres"], "redis": pids["redis"]}
    cpu0 = {name: tree_cpu_s(pid) for name, pid in parts.items()}
    logs = [(Path(state["dir"]) / f"idle-node{n['node_id']}.log").open("w") for n in nodes]
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                str(BENCH),
                "idle",
                "--connections",
                str(share[k]),
                "--url",
                f"http://127.0.0.1:{node['port']}",
                "--server-pid",
                str(pids[f"node{node['node_id']}"]),
                "--no-pin",
                # each load process its own source addresses, ~5,000 sockets on each:
                # bind() searches for a free port, and slows as an address fills up
                f"--source-net={node['node_id']}",
                "--per-source=5000",
                *extra,
            ],
            stdout=subprocess.PIPE,
            stderr=logs[k],
            text=True,
        )
        for k, node in enumerate(nodes)
    ]
    runs = []
    for proc in procs:
        out, _ = proc.communicate()
        lines = [line for line in out.splitlines() if line.startswith("{")]
        runs.append(json.loads(lines[-1]) if lines else {"failed": proc.returncode})
    for f in logs:
        f.close()
    for node, r, want in zip(nodes, runs, share, strict=True):
        if "failed" in r or r.get("held_at_end") != want:
            log = Path(state["dir"]) / f"idle-node{node['node_id']}.log"
            sys.stderr.write(f"-- node {node['node_id']}: {log}\n{log.read_text()[-2000:]}\n")
    for r in runs:
        print(json.dumps(r), flush=True)
    held = sum(r.get("held_at_end", 0) for r in runs)
    rss_after = sum(r.get("server_rss_after_mib", 0) for r in runs)
    rss_before = sum(r.get("server_rss_before_mib", 0) for r in runs)
    out = {
        "idle_connections": total,
        "nodes": len(nodes),
        "held_at_end": held,
        "nodes_rss_before_mib": round(rss_before, 1),
        "nodes_rss_after_mib": round(rss_after, 1),
        "nodes_rss_kib_per_connection": round((rss_after - rss_before) * 1024 / max(held, 1), 2),
        "nodes_cpu_pct_holding": round(sum(r.get("server_cpu_pct") or 0 for r in runs), 1),
        "cpu_s_whole_run": {n: round(tree_cpu_s(p) - cpu0[n], 1) for n, p in parts.items()},
        "failures": sum(r.get("connect_failures", 0) for r in runs),
    }
    print(json.dumps(out), flush=True)
    return 0 if held == total and all("failed" not in r for r in runs) else 1


def main() -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--nodes", type=int, default=2)
    p.add_argument("--port", type=int, default=18480)
    p.add_argument("--no-embedded", action="store_true", help="skip the embedded runs")
    p.add_argument("--idle", type=int, help="hold this many idle connections instead")
    p.add_argument("--direct", action="store_true", help="load node 1 directly, not through nginx")
    p.add_argument("--pg-stats", action="store_true", help="report pg_stat_statements per run")
    p.add_argument(
        "--real-argon2",
        action="store_true",
        help="the nodes hash passwords at the production cost (setup of 2,000 users ~12 min)",
    )
    p.add_argument("scenario", nargs=argparse.REMAINDER, help="-- SCENARIO [options]")
    a = p.parse_args()
    # SIGTERM (a `timeout`, a kill) unwinds like Ctrl-C, so the `finally` below stops
    # the cluster instead of leaving PostgreSQL, Redis, the nodes and nginx running
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    scenario = [x for x in a.scenario if x != "--"]
    if not a.idle and (not scenario or scenario[0].startswith("-")):
        scenario = ["one-to-one", *scenario]
    results: dict[str, list[dict[str, Any]]] = {"cluster": [], "embedded": []}
    env = dict(os.environ)
    if a.pg_stats:
        env["LOCAL_CLUSTER_PG_OPTIONS"] = PG_STATS_OPTIONS
    with tempfile.TemporaryDirectory(prefix="hubbub-cluster-bench-") as tmp:
        boot = []
        if not a.real_argon2:  # as the embedded runs: cheap hashes for sign-ups and log-ins
            (Path(tmp) / "boot.py").write_text(CHEAP_ARGON2_BOOT)
            boot = ["--python-boot", str(Path(tmp) / "boot.py")]
        subprocess.run(
            [sys.executable, str(CLUSTER), "start", "--dir", tmp, "--port", str(a.port),
             "--nodes", str(a.nodes), "--serve-arg=--rate-limits", "--serve-arg=off",
             # the load comes from a few loopback addresses, far past a real office's share
             "--serve-arg=--max-connections-per-address", "--serve-arg=20000", *boot],
            check=True, stdout=subprocess.DEVNULL, env=env,
        )  # fmt: skip
        try:
            state = json.loads((Path(tmp) / "cluster.json").read_text())
            pids = dict(state["pids"])
            pids["postgres"] = postmaster_pid(state)
            part_args = [f"--part={name}={pid}" for name, pid in sorted(pids.items())]
            url = f"http://127.0.0.1:{a.port}"
            if a.direct:
                url = f"http://127.0.0.1:{state['nodes'][0]['port']}"
            if a.idle:
                return hold_idle(state, pids, a.idle, scenario)
            if a.pg_stats:
                pg_sql(state, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            for _n in range(a.runs):
                if a.pg_stats:
                    pg_sql(state, "SELECT pg_stat_statements_reset()")
                r = run_bench(
                    [*scenario, "--url", url, "--server-pid", str(pids["node1"]), *part_args]
                )
                if a.pg_stats:
                    # the reset is before the run's setup: sign-ups and log-ins count too
                    r["pg_statements"] = pg_statements(state, int(r.get("acked") or 0))
                r["where"] = "cluster"
                r["argon2"] = "real" if a.real_argon2 else "cheap"
                r["deadlocks_so_far"] = deadlocks(state)
                results["cluster"].append(r)
                print(json.dumps(r), flush=True)
            dead = deadlocks(state)
        finally:
            subprocess.run(
                [sys.executable, str(CLUSTER), "stop", "--dir", tmp],
                check=False, stdout=subprocess.DEVNULL,
            )  # fmt: skip
    if not a.no_embedded:
        for _n in range(a.runs):
            r = run_bench([*scenario, "--no-pin"])
            r["where"] = "embedded"
            results["embedded"].append(r)
            print(json.dumps(r), flush=True)
    out: dict[str, Any] = {"scenario": scenario, "nodes": a.nodes, "deadlocks": dead}
    out["cluster"] = summary(results["cluster"])
    if results["embedded"]:
        out["embedded"] = summary(results["embedded"])
        c, e = out["cluster"]["acked_per_s"], out["embedded"]["acked_per_s"]
        out["cluster_over_embedded_msgs"] = round(c / e, 3) if c and e else None
    print(json.dumps(out), flush=True)
    failed = dead or any(r["exit_status"] for rs in results.values() for r in rs)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
