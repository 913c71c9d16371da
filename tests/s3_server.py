"""A throwaway S3 server for tests: moto's server mode (`moto_server`) in its own process
on a free port of 127.0.0.1. It speaks the S3 REST API (signatures, multipart uploads,
ranges, listing) well enough that the S3 adapter cannot tell it from a real service."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.support import free_port

ACCESS_KEY = "hubbub-test-key"
SECRET_KEY = "hubbub-test-secret"


class S3Server:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> S3Server:
        self.directory.mkdir(parents=True, exist_ok=True)
        log = (self.directory / "moto.log").open("ab")
        script = "from moto.server import main; main()"
        cmd = [sys.executable, "-c", script, "-H", "127.0.0.1", "-p", str(self.port)]
        env = {**os.environ, "MOTO_ALLOW_NONEXISTENT_REGION": "true"}
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        log.close()
        deadline = time.monotonic() + timeout
        while not self._answers():
            if self.proc.poll() is not None:
                raise RuntimeError(f"moto_server exited: {self._log()[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"moto_server did not answer: {self._log()[-2000:]}")
            time.sleep(0.1)
        return self

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/moto-api/", timeout=1) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    def _log(self) -> str:
        path = self.directory / "moto.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
