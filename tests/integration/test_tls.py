"""TLS on the node itself (--certfile/--keyfile): https for REST and the web client, wss
for the WebSocket, on one port, with a certificate from a throwaway CA."""

from __future__ import annotations

import asyncio
import json
import ssl
from pathlib import Path

import httpx
import pytest
import trustme
import websockets

from tests.support import PASSWORD, ServerProcess, name, run


def test_https_and_wss_on_the_node(tmp_path: Path) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert_file, key_file, ca_file = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    for pem in cert.cert_chain_pems[1:]:
        cert_file.write_bytes(cert_file.read_bytes() + pem.bytes())
    cert.private_key_pem.write_to_path(str(key_file))
    ca.cert_pem.write_to_path(str(ca_file))
    s = ServerProcess(
        tmp_path / "data", 2.0, "--certfile", str(cert_file), "--keyfile", str(key_file)
    ).start()
    base = f"https://127.0.0.1:{s.port}"
    context = ssl.create_default_context(cafile=str(ca_file))

    async def body() -> None:
        async with httpx.AsyncClient(base_url=base, verify=context) as http:
            assert (await http.get("/healthz")).json()["status"] == "ok"
            page = await http.get("/")
            assert page.status_code == 200
            assert "max-age" in page.headers["strict-transport-security"]
            user = name()
            await http.post("/v1/users", json={"username": user, "password": PASSWORD})
            login = await http.post("/v1/sessions", json={"username": user, "password": PASSWORD})
            token, me = login.json()["token"], login.json()["user_id"]
        async with websockets.connect(f"wss://127.0.0.1:{s.port}/v1/ws", ssl=context) as ws:
            await ws.send(json.dumps({"type": "hello", "token": token, "since": 0}))
            assert json.loads(await ws.recv())["type"] == "ready"
            await ws.send(
                json.dumps({"type": "send", "client_msg_id": "t1", "to": me, "body": "secret"})
            )
            seen = set()
            while seen != {"sent", "message"}:
                seen.add(json.loads(await asyncio.wait_for(ws.recv(), 10))["type"])
        async with httpx.AsyncClient(timeout=5) as plain:  # no plain HTTP on the TLS port
            with pytest.raises(httpx.HTTPError):
                await plain.get(f"http://127.0.0.1:{s.port}/healthz")

    try:
        run(body())
    finally:
        s.stop()
    assert "Traceback" not in s.log(), s.log()[-3000:]
