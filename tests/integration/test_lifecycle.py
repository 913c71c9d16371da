"""Clean shutdown on SIGTERM, restart on the same data dir, health check, web client."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from hubbub.client import HubbubClient
from tests.support import ServerProcess, messages_of, new_user, run


def test_sigterm_closes_sockets_with_1001_and_keeps_everything(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data").start()

    async def body() -> tuple[str, str, list[str]]:
        a, b = await new_user(server.url), await new_user(server.url)
        wa, wb = await a.connect(), await b.connect()
        ids = [(await wa.send_message(f"keep {i}", to=b.user_id))["message_id"] for i in range(5)]
        assert server.stop() == 0  # SIGTERM: exits cleanly
        for ws in (wa, wb):
            closed = await ws.expect("__closed__", timeout=10)
            assert closed["code"] == 1001
        return a.username, b.token or "", ids  # type: ignore[attr-defined]

    try:
        _, b_token, ids = run(body())  # type: ignore[misc]
        log = server.log()
        assert "node stopped cleanly" in log and "Traceback" not in log
        server.start()

        async def after() -> None:
            b = HubbubClient(server.url, token=b_token)  # the token survives a restart too
            wb = await b.connect(since=0)
            got = await messages_of(wb, 5)
            assert [m["message_id"] for m in got] == ids
            await wb.close()

        run(after())
    finally:
        server.stop()


def test_health_and_web_client_are_served(server: ServerProcess) -> None:
    health = httpx.get(server.url + "/healthz")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    page = httpx.get(server.url + "/")
    assert page.status_code == 200 and "Hubbub" in page.text
    assert page.headers["content-type"].startswith("text/html")


def test_serve_help_documents_every_option() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "hubbub.cli", "serve", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for option in (
        "--host",
        "--port",
        "--data-dir",
        "--heartbeat-timeout",
        "--node-id",
        "--max-group-members",
    ):
        assert option in out
