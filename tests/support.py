"""Test support: a real `hubbub serve` process on a free port, and client helpers."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

from hubbub.client import Connection, HubbubClient

PASSWORD = "correct horse 1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerProcess:
    """`hubbub serve` in its own process group; stop() is SIGTERM, kill9() a crash."""

    def __init__(self, data_dir: Path, heartbeat_timeout: float = 2.0, *extra: str) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.heartbeat_timeout = heartbeat_timeout
        self.extra = list(extra)
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir / "server.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> ServerProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        cmd = [
            sys.executable,
            "-m",
            "hubbub.cli",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
            "--heartbeat-timeout",
            str(self.heartbeat_timeout),
            *self.extra,
        ]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited {self.proc.returncode}: {self.log()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"server did not listen: {self.log()[-2000:]}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, timeout: float = 20.0) -> int | None:
        if not self.proc or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill9()
            raise

    def kill9(self) -> None:
        if not self.proc:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(15)


def name() -> str:
    return "u" + uuid.uuid4().hex[:12]


async def new_user(url: str, username: str | None = None, device: str = "test") -> HubbubClient:
    """A signed-up, logged-in client (close it with aclose())."""
    api = HubbubClient(url)
    username = username or name()
    await api.sign_up(username, PASSWORD)
    await api.log_in(username, PASSWORD, device)
    api.username = username  # type: ignore[attr-defined]
    return api


async def another_device(api: HubbubClient, device: str = "second") -> HubbubClient:
    other = HubbubClient(api.base_url)
    await other.log_in(api.username, PASSWORD, device)  # type: ignore[attr-defined]
    return other


async def messages_of(ws: Connection, count: int, timeout: float = 10.0) -> list[dict]:
    return [await ws.expect("message", timeout=timeout) for _ in range(count)]


def run(coro: object) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]
