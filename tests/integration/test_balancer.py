"""Nodes behind nginx (deploy/nginx.conf.template): the conformance kit through the
balancer against two nodes on real PostgreSQL and Redis, and scripts/local-cluster
starting and stopping a whole cluster. Without nginx these are skipped, except in CI
(CI=true) or with HUBBUB_REQUIRE_SERVERS=1, where they fail."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from hubbub.client import Connection
from tests.bus_fixtures import redis_server, redis_url, servers_required  # noqa: F401
from tests.pg_server import PostgresServer, create_database
from tests.support import ServerProcess, free_port, new_user, run

ROOT = Path(__file__).resolve().parents[2]
KIT = ROOT.parent / "shared" / "conformance"
LOCAL_CLUSTER = ROOT / "scripts" / "local-cluster"


def nginx_binary() -> str | None:
    return shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )


@pytest.fixture
def nginx() -> str:
    found = nginx_binary()
    if found is None:
        message = "nginx is not installed (apt-get install nginx-light)"
        if servers_required():
            pytest.fail(message)
        pytest.skip(message)
    return found


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.3):
            return True
    except OSError:
        return False


class Balancer:
    """nginx in the foreground with the rendered template, in a prefix of its own (under
    /tmp and readable: as root its workers run as nobody)."""

    def __init__(self, binary: str, nodes: list[ServerProcess]) -> None:
        self.port = free_port()
        self.prefix = Path(tempfile.mkdtemp(prefix="hubbub-nginx-"))
        self.prefix.chmod(0o755)
        (self.prefix / "tmp").mkdir()
        conf = subprocess.run(
            [
                sys.executable,
                str(LOCAL_CLUSTER),
                "render-nginx",
                "--listen",
                f"127.0.0.1:{self.port}",
                "--prefix",
                str(self.prefix),
                *[arg for node in nodes for arg in ("--node", f"127.0.0.1:{node.port}")],
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        (self.prefix / "nginx.conf").write_text(conf)
        self.cmd = [binary, "-p", str(self.prefix), "-e", str(self.prefix / "error.log")]
        self.cmd += ["-c", str(self.prefix / "nginx.conf")]
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Balancer:
        checked = subprocess.run([*self.cmd, "-t"], capture_output=True, text=True, check=False)
        assert checked.returncode == 0, checked.stderr
        self.proc = subprocess.Popen(
            [*self.cmd, "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 10
        while not _listening(self.port):
            assert self.proc.poll() is None, self.log()
            assert time.monotonic() < deadline, "nginx did not listen: " + self.log()
            time.sleep(0.05)
        return self

    def log(self) -> str:
        path = self.prefix / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)  # graceful; WebSockets are cut anyway
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        shutil.rmtree(self.prefix, ignore_errors=True)


@pytest.fixture
def cluster(
    nginx: str,
    postgres_server: PostgresServer,
    redis_url: str,  # noqa: F811 - the fixture
    tmp_path: Path,
) -> Iterator[tuple[Balancer, list[ServerProcess]]]:
    dsn = create_database(postgres_server, f"hubbub_{uuid.uuid4().hex[:10]}")
    shared = ("--database-url", dsn, "--redis-url", redis_url)
    nodes: list[ServerProcess] = []
    balancer: Balancer | None = None
    try:
        for n in (1, 2):
            nodes.append(
                ServerProcess(tmp_path / f"node{n}", 2.0, *shared, "--node-id", str(n)).start()
            )
        balancer = Balancer(nginx, nodes).start()
        yield balancer, nodes
    finally:
        if balancer is not None:
            balancer.stop()
        for node in nodes:
            node.stop()
    for node in nodes:
        assert "Traceback" not in node.log(), node.log()[-3000:]


@pytest.mark.timeout(600)
def test_conformance_kit_passes_through_nginx(
    cluster: tuple[Balancer, list[ServerProcess]],
) -> None:
    if not KIT.is_dir():
        pytest.skip(f"no conformance kit at {KIT}")
    balancer, nodes = cluster
    # Every kit case but the group limit, which signs up and logs in 101 users (202
    # argon2 hashes, ~60 s here) to test a REST rule that a balancer cannot change; the
    # direct kit run in scripts/test covers it.
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k",
         "not test_group_member_limit", "."],
        cwd=KIT,
        env={**os.environ, "HUBBUB_URL": balancer.url},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:] + balancer.log()[-2000:]
    # round robin: both nodes served the kit
    for node in nodes:
        assert "POST /v1/sessions" in node.log(), "a node behind nginx got no traffic"


def test_websockets_through_nginx_reach_both_nodes(
    cluster: tuple[Balancer, list[ServerProcess]],
) -> None:
    """Sockets opened through the balancer land on both nodes (even after REST calls on
    the same upstream connections) and deliver to each other."""
    balancer, nodes = cluster
    ws_url = balancer.url.replace("http", "ws", 1) + "/v1/ws"

    async def body() -> None:
        users = [await new_user(balancer.url) for _ in range(4)]
        sockets = [await Connection.open(ws_url, u.token or "", 0) for u in users]
        for sender, receiver in zip(sockets, sockets[1:] + sockets[:1], strict=True):
            target = users[sockets.index(receiver)]
            sent = await sender.send_message("through nginx", to=target.user_id)
            await receiver.expect("message", message_id=sent["message_id"])
        for ws in sockets:
            await ws.close()
        for u in users:
            await u.aclose()

    run(body())
    for node in nodes:
        assert "connected (since" in node.log(), "nginx sent no WebSocket to a node"


def test_local_cluster_script_starts_and_stops(nginx: str, tmp_path: Path) -> None:
    del nginx  # only needed installed
    base = Path(tempfile.mkdtemp(prefix="hubbub-local-cluster-test-"))
    port = free_port()
    script = [sys.executable, str(LOCAL_CLUSTER)]
    boot = tmp_path / "boot.py"  # what bench/cluster.py's cheap password hash rides on
    boot.write_text(
        "import sys\n"
        "print('started by --python-boot', sys.argv[1:3], file=sys.stderr, flush=True)\n"
        "from hubbub.cli import main\n"
        "sys.argv[0] = 'hubbub'\n"
        "main()\n"
    )
    start = [*script, "start", "--dir", str(base), "--port", str(port), "--nodes", "2"]
    try:
        started = subprocess.run(
            [*start, "--python-boot", str(boot)],
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert started.returncode == 0, started.stdout + started.stderr
        assert f"open http://127.0.0.1:{port}/" in started.stdout
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
            assert r.status == 200
        state = json.loads((base / "cluster.json").read_text())
        assert len(state["nodes"]) == 2
        for node in state["nodes"]:
            assert "started by --python-boot ['serve', '--host']" in Path(node["log"]).read_text()

        async def body() -> None:
            url = f"http://127.0.0.1:{port}"
            a, b = await new_user(url), await new_user(url)
            ws_url = url.replace("http", "ws", 1) + "/v1/ws"
            wa = await Connection.open(ws_url, a.token or "", 0)
            wb = await Connection.open(ws_url, b.token or "", 0)
            sent = await wa.send_message("local cluster", to=b.user_id)
            await wb.expect("message", message_id=sent["message_id"])
            for c in (wa, wb):
                await c.close()
            for u in (a, b):
                await u.aclose()

        run(body())
    finally:
        stopped = subprocess.run(
            [*script, "stop", "--dir", str(base), "--purge"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    pids = [p for p in state["pids"].values() if p]
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        pytest.fail(f"process {pid} still running after stop")
    assert not _listening(port) and not _listening(state["pg_port"])
    assert not base.exists()
