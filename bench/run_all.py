"""Run every scenario N times (default 3), one after another, and print the medians as a
markdown table; raw JSON lines go to bench/results/runs.jsonl and plots to bench/results/.

    .venv/bin/python bench/run_all.py [--runs 3] [--only one-to-one,group]

one-to-one, group and day-in-the-life are people (one message in flight, an ack per
message); the *-ceiling entries are pipelined throughput ceilings.

The machine has 2 cores shared with the load generator: run nothing else meanwhile.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"

# name -> (arguments, [(label, json key path, unit)])
SCENARIOS: dict[str, tuple[list[str], list[tuple[str, str, str]]]] = {
    "one-to-one": (
        ["one-to-one", "--pairs", "50", "--duration", "10"],
        [
            ("server CPU per message", "server_cpu_us_per_msg", "us"),
            ("messages/s acked", "acked_per_s", ""),
            ("acks sent per message", "acks_sent_per_msg", ""),
            ("receipts per message", "receipts_per_msg", ""),
            ("send -> sent p50", "latency_send_to_sent_ms.p50", "ms"),
            ("send -> delivered p50", "latency_ms.p50", "ms"),
            ("send -> delivered p99", "latency_ms.p99", "ms"),
            ("lost", "lost", ""),
            ("duplicated", "duplicated", ""),
            ("load generator CPU", "loadgen_cpu_pct", "%"),
        ],
    ),
    "one-to-one-200": (
        ["one-to-one", "--pairs", "200", "--duration", "10"],
        [
            ("server CPU per message", "server_cpu_us_per_msg", "us"),
            ("messages/s acked", "acked_per_s", ""),
            ("send -> delivered p99", "latency_ms.p99", "ms"),
            ("lost", "lost", ""),
            ("load generator CPU", "loadgen_cpu_pct", "%"),
        ],
    ),
    "connection-scaling": (
        ["connection-scaling", "--pairs", "50", "--totals", "100,1000,10000", "--duration", "10"],
        [
            ("100 connections: server CPU per message", "steps.0.server_cpu_us_per_msg", "us"),
            ("1,000 connections: server CPU per message", "steps.1.server_cpu_us_per_msg", "us"),
            ("10,000 connections: server CPU per message", "steps.2.server_cpu_us_per_msg", "us"),
            ("10,000: net of idle's own cost", "steps.2.server_cpu_us_per_msg_net_of_idle", "us"),
            ("10,000: idle alone, server CPU", "steps.2.idle_baseline_server_cpu_pct", "%"),
            ("lost", "lost", ""),
            ("load generator saturated", "loadgen_saturated", ""),
        ],
    ),
    "day-in-the-life": (
        ["day-in-the-life", "--devices", "2000", "--rate", "100", "--duration", "60"],
        [
            ("server CPU per message (everything)", "server_cpu_us_per_msg", "us"),
            ("server CPU", "server_cpu_pct", "%"),
            ("send -> sent p50", "latency_send_to_sent_ms.p50", "ms"),
            ("send -> sent p99", "latency_send_to_sent_ms.p99", "ms"),
            ("send -> delivered p50", "latency_send_to_delivered_ms.p50", "ms"),
            ("send -> delivered p99", "latency_send_to_delivered_ms.p99", "ms"),
            ("server RSS peak", "server_rss_mib.peak", "MiB"),
            ("lost", "lost", ""),
            ("duplicated", "duplicated", ""),
        ],
    ),
    "one-to-one-ceiling": (
        ["one-to-one-ceiling", "--pairs", "50", "--window", "8", "--duration", "10"],
        [
            ("server CPU per message", "server_cpu_us_per_msg", "us"),
            ("messages/s acked", "acked_per_s", ""),
            ("latency p50", "latency_ms.p50", "ms"),
            ("latency p99", "latency_ms.p99", "ms"),
            ("lost", "lost", ""),
            ("duplicated", "duplicated", ""),
            ("load generator CPU", "loadgen_cpu_pct", "%"),
        ],
    ),
    "offered-load": (
        ["offered-load", "--rate", "10000", "--duration", "10"],
        [
            ("achieved rate", "achieved_rate", "msg/s"),
            ("latency p50", "latency_ms.p50", "ms"),
            ("latency p99", "latency_ms.p99", "ms"),
            ("latency max", "latency_ms.max", "ms"),
            ("server CPU per message", "server_cpu_us_per_msg", "us"),
            ("server CPU", "server_cpu_pct", "%"),
            ("lost", "lost", ""),
        ],
    ),
    "group": (
        ["group", "--members", "100", "--senders", "4", "--duration", "10"],
        [
            ("server CPU per delivery", "server_cpu_us_per_delivery", "us"),
            ("server CPU per message", "server_cpu_us_per_msg", "us"),
            ("deliveries/s", "deliveries_per_s", ""),
            ("receipts per message", "receipts_per_msg", ""),
            ("latency to last recipient p50", "latency_to_last_recipient_ms.p50", "ms"),
            ("latency to last recipient p99", "latency_to_last_recipient_ms.p99", "ms"),
            ("lost", "lost", ""),
            ("duplicated", "duplicated", ""),
        ],
    ),
    "group-ceiling": (
        ["group-ceiling", "--members", "100", "--senders", "4", "--window", "8"],
        [
            ("server CPU per delivery", "server_cpu_us_per_delivery", "us"),
            ("deliveries/s", "deliveries_per_s", ""),
            ("latency to last recipient p50", "latency_to_last_recipient_ms.p50", "ms"),
            ("latency to last recipient p99", "latency_to_last_recipient_ms.p99", "ms"),
            ("lost", "lost", ""),
            ("duplicated", "duplicated", ""),
        ],
    ),
    "idle": (
        ["idle", "--connections", "4000", "--per-source", "2000", "--duration", "15"],
        [
            ("server memory per connection", "server_rss_kib_per_connection", "KiB"),
            ("held at the end", "held_at_end", ""),
            ("server CPU per connection-second", "server_cpu_us_per_connection_second", "us"),
        ],
    ),
    "reconnect-storm": (
        ["reconnect-storm", "--devices", "10000", "--users", "100", "--logins-per-user", "5"],
        [
            ("all 10,000 resumed after", "storm_all_resumed_s", "s"),
            ("server CPU per resumed device", "server_cpu_us_per_resumed_device", "us"),
            ("lost", "lost", ""),
            ("duplicated", "duplicated", ""),
        ],
    ),
}


def dig(result: dict[str, Any], path: str) -> Any:
    """result["a"]["b"] for "a.b"; a number indexes a list ("steps.0.x")."""
    value: Any = result
    for key in path.split("."):
        if isinstance(value, dict):
            value = value.get(key)
        elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        else:
            value = None
    return value


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--only", default="", help="comma-separated scenario names")
    a = p.parse_args()
    names = [n for n in SCENARIOS if not a.only or n in a.only.split(",")]
    RESULTS.mkdir(exist_ok=True)
    rows = []
    with open(RESULTS / "runs.jsonl", "a") as raw:
        for name in names:
            args, figures = SCENARIOS[name]
            results = []
            for run in range(1, a.runs + 1):
                cmd = [
                    sys.executable,
                    str(HERE / "hubbub_bench.py"),
                    *args,
                    "--metrics",
                    "--plot",
                    str(RESULTS / f"{name}-run{run}.png"),
                    "--plot-dpi",
                    "80",
                ]
                print(f"== {name} run {run}/{a.runs}", file=sys.stderr, flush=True)
                out = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=False)
                if out.returncode not in (0, 1) or not out.stdout.strip():
                    print(out.stderr[-2000:], file=sys.stderr)
                    raise SystemExit(f"{name} run {run} failed")
                result = json.loads(out.stdout.strip().splitlines()[-1])
                raw.write(json.dumps(result) + "\n")
                results.append(result)
            for label, path, unit in figures:
                values = [dig(r, path) for r in results]
                numbers = [v for v in values if isinstance(v, (int, float))]
                median = statistics.median(numbers) if numbers else None
                rows.append((name, label, median, unit, values))
    print("| scenario | figure | median | runs |")
    print("|---|---|---:|---|")
    for name, label, median, unit, values in rows:
        shown = f"{median:,.2f}".rstrip("0").rstrip(".") if median is not None else "-"
        print(f"| {name} | {label} | {shown} {unit} | {' / '.join(map(str, values))} |")


if __name__ == "__main__":
    main()
