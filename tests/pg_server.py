"""A throwaway PostgreSQL server for tests: initdb into a temp dir, start it on 127.0.0.1
and a free port (its unix socket in the same dir), stop it and delete everything at the end.

PostgreSQL refuses to run as root, so when the tests run as root the server runs as the
`postgres` user (Debian's package creates it) through `runuser`.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from tests.support import free_port


def find_bindir() -> Path | None:
    """The newest /usr/lib/postgresql/*/bin holding initdb and pg_ctl (or $PG_BINDIR)."""
    candidates = [os.environ["PG_BINDIR"]] if os.environ.get("PG_BINDIR") else []
    candidates += sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda p: int(p.split("/")[-2]) if p.split("/")[-2].isdigit() else 0,
        reverse=True,
    )
    for path in candidates:
        if (Path(path) / "initdb").exists() and (Path(path) / "pg_ctl").exists():
            return Path(path)
    return None


class PostgresServer:
    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.port = free_port()
        self.user = "postgres"
        self.root = Path(tempfile.mkdtemp(prefix="hubbub-pg-"))
        self.datadir = self.root / "data"
        self.socket_dir = self.root
        self._as_other: list[str] = []
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")  # KeyError: no postgres user to run the server
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
            self._as_other = ["runuser", "-u", "postgres", "--"]
        self.started = False

    def _run(self, *args: str) -> None:
        subprocess.run(
            [*self._as_other, *args],
            check=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=self.root,
        )

    def start(self, timeout: float = 60.0) -> PostgresServer:
        if not (self.datadir / "PG_VERSION").exists():  # a restart reuses the cluster
            self._run(
                str(self.bindir / "initdb"),
                "-D",
                str(self.datadir),
                "-U",
                self.user,
                "--auth=trust",
                "--encoding=UTF8",
                "--no-locale",
            )
        options = (
            f"-h 127.0.0.1 -p {self.port} -k {self.socket_dir}"
            " -c max_connections=200 -c shared_buffers=32MB"
        )
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.datadir),
            "-l",
            str(self.root / "server.log"),
            "-o",
            options,
            "-w",
            "-t",
            str(int(timeout)),
            "start",
        )
        self.started = True
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:  # pg_ctl -w waited; make sure TCP answers too
            ready = subprocess.run(
                [str(self.bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=False,
            )
            if ready.returncode == 0:
                return self
            time.sleep(0.1)
        raise RuntimeError(f"postgres did not start: {self.log()[-2000:]}")

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def log(self) -> str:
        path = self.root / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def halt(self) -> None:
        """Stop the server (pg_ctl stop -m fast: every session is cut) but keep its data:
        start() brings it back on the same port and data dir."""
        if self.started:
            with contextlib.suppress(subprocess.CalledProcessError):
                self._run(
                    str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "fast", "stop"
                )
            self.started = False

    def crash(self) -> None:
        """Stop it like a crash (pg_ctl stop -m immediate: no checkpoint, every process
        gone at once; start() then runs crash recovery from the WAL)."""
        if self.started:
            with contextlib.suppress(subprocess.CalledProcessError):
                self._run(
                    str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "immediate", "stop"
                )
            self.started = False

    def begin_smart_shutdown(self) -> None:
        """pg_ctl stop -m smart without waiting: the open sessions go on, every new one is
        refused (57P03, "the database system is shutting down"); halt() then ends it."""
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "smart", "-W", "stop")

    def restart(self, timeout: float = 60.0) -> PostgresServer:
        self.halt()
        return self.start(timeout)

    def stop(self) -> None:
        self.halt()
        shutil.rmtree(self.root, ignore_errors=True)


def create_database(server: PostgresServer, name: str) -> str:
    """CREATE DATABASE `name` (through psql on the server's socket); returns its DSN."""
    subprocess.run(
        [
            str(server.bindir / "psql"),
            "-h",
            str(server.socket_dir),
            "-p",
            str(server.port),
            "-U",
            server.user,
            "-d",
            "postgres",
            "-v",
            "ON_ERROR_STOP=1",
            "-qc",
            f'CREATE DATABASE "{name}"',
        ],
        check=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    return server.dsn(name)
