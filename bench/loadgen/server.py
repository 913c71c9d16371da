"""The server under test as a process: start it on 127.0.0.1 (free port), wait until it
answers its health URL, stop it with SIGTERM (bounded, then SIGKILL); its log; its
GET /metrics. Also the progress line every bench prints on stderr (`say`)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

HOST = "127.0.0.1"
SERVER_START_TIMEOUT_S = 20.0
SERVER_STOP_TIMEOUT_S = 15.0
LOG_ERROR_MARKERS = (" ERROR ", " CRITICAL ", "Traceback (most recent call last)")

# `hubbub serve` with argon2id at t=1, m=64 KiB, p=1 instead of argon2-cffi's default
# profile (t=3, m=64 MiB, p=4: ~0.2 s of CPU per sign-up or log-in). Passwords are hashed
# only at sign-up and log-in, which every scenario does before it measures anything; the
# cheap profile makes 10,000 users a matter of seconds instead of an hour, and changes
# nothing a measured window contains (hello checks a token's SHA-256, not a password).
CHEAP_ARGON2_BOOT = (
    "import sys, argon2\n"
    "_Hasher = argon2.PasswordHasher\n"
    "argon2.PasswordHasher = lambda *a, **k: _Hasher(time_cost=1, memory_cost=64, "
    "parallelism=1)\n"
    "from hubbub.cli import main\n"
    "sys.argv[0] = 'hubbub'\n"
    "main()\n"
)

STARTED = time.monotonic()


def say(text: str) -> None:
    print(f"[{time.monotonic() - STARTED:6.1f}s] {text}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def server_process(
    cmd: Sequence[str], health_url: str, log: IO[str], name: str = "server"
) -> Iterator[subprocess.Popen[bytes]]:
    """Start `cmd`, wait until `health_url` answers 200, yield the process; always stop
    it (SIGTERM, then SIGKILL after SERVER_STOP_TIMEOUT_S)."""
    proc = subprocess.Popen(list(cmd), stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited early (rc={proc.returncode})")
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(health_url, timeout=1) as r,
            ):
                if r.status == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not become healthy")
            time.sleep(0.05)
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=SERVER_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                say(f"{name} ignored SIGTERM; killing it")
                proc.kill()
                proc.wait(timeout=5)


@dataclass
class Server:
    pid: int
    url: str
    log_path: Path
    returncode: int | None = None


def hubbub_command(real_argon2: bool) -> list[str]:
    if real_argon2:
        return [sys.executable, "-m", "hubbub.cli"]
    return [sys.executable, "-c", CHEAP_ARGON2_BOOT]


@contextlib.contextmanager
def hubbub_server(
    log: IO[str], log_path: Path, real_argon2: bool = False, extra: Sequence[str] = ()
) -> Iterator[Server]:
    """`hubbub serve` on a free port with a fresh temporary data dir (embedded SQLite)."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="hubbub-bench-") as data_dir:
        cmd = [
            *hubbub_command(real_argon2),
            "serve",
            "--host",
            HOST,
            "--port",
            str(port),
            "--data-dir",
            data_dir,
            "--rate-limits",  # a load generator is a flood by design
            "off",
            # and it comes from a few loopback addresses, each far past an office's share
            "--max-connections-per-address",
            "20000",
            *extra,
        ]
        say(f"starting hubbub serve on {HOST}:{port} ({'real' if real_argon2 else 'cheap'} argon2)")
        url = f"http://{HOST}:{port}"
        with server_process(cmd, url + "/healthz", log, "hubbub serve") as proc:
            say(f"hubbub serve is pid {proc.pid} (py-spy record --pid {proc.pid} ...)")
            server = Server(proc.pid, url, log_path)
            try:
                yield server
            finally:
                server.returncode = proc.poll()
        server.returncode = proc.returncode


def default_log_path(label: str) -> Path:
    return Path(tempfile.gettempdir()) / f"hubbub-bench-{label}-{os.getpid()}.log"


def log_errors(path: Path) -> list[str]:
    lines = path.read_text(errors="replace").splitlines()
    return [ln for ln in lines if any(m in ln for m in LOG_ERROR_MARKERS)]


# --------------------------------------------------------------------------- /metrics


def scrape_metrics(base_url: str) -> dict[str, float]:
    """GET /metrics, summed per metric name over labels."""
    with urllib.request.urlopen(base_url + "/metrics", timeout=10) as r:
        text = r.read().decode()
    out: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        head, _, value = line.rpartition(" ")
        name = head.split("{", 1)[0]
        with contextlib.suppress(ValueError):
            out[name] = out.get(name, 0.0) + float(value)
    return out


def metrics_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, Any]:
    def d(name: str) -> float:
        return after.get(name, 0.0) - before.get(name, 0.0)

    batches = d("hubbub_commit_batch_jobs_count")
    sends = d("hubbub_send_to_sent_seconds_count")
    return {
        "messages_stored": int(d("hubbub_messages_stored_total")),
        "deliveries": int(d("hubbub_deliveries_total")),
        "commits": int(batches),
        "commit_batch_mean": round(d("hubbub_commit_batch_jobs_sum") / batches, 2)
        if batches
        else None,
        "send_to_sent_mean_ms": round(1000 * d("hubbub_send_to_sent_seconds_sum") / sends, 3)
        if sends
        else None,
        "connections_after": int(after.get("hubbub_connections", 0)),
    }
