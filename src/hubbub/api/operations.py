"""REST handlers for running the service: health, metrics, and discovery (which node a
client should connect its WebSocket to)."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Collection

import msgspec
from starlette.responses import Response

from hubbub.api.http import Call
from hubbub.api.schemas import DiscoveryOut, HealthOut
from hubbub.core.discovery import ws_url_of
from hubbub.core.errors import HubbubError
from hubbub.ports import Discovery

METRICS_MEDIA_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class OperationsApi:
    def __init__(
        self,
        discovery: Discovery,
        connection_count: Callable[[], int],
        render_metrics: Callable[[], bytes],
        allowed_hosts: Collection[str] = (),
    ) -> None:
        self.discovery = discovery
        self.connection_count = connection_count
        self.render_metrics = render_metrics
        self.allowed_hosts = {h.lower() for h in allowed_hosts}

    async def healthz(self, call: Call) -> HealthOut:
        return HealthOut("ok", self.connection_count())

    async def metrics(self, call: Call) -> Response:
        return Response(self.render_metrics(), media_type=METRICS_MEDIA_TYPE)

    async def discover(self, call: Call) -> Response:
        node = await self.discovery.best()
        if node is None:
            raise HubbubError("unavailable", "no healthy node to connect to")
        http_url = node.get("http_url")
        if not http_url:
            # no configured public URL: answer the caller's own origin, but only for a host
            # this node answers to (never reflect any Host: a cache could keep the answer
            # and send every client's WebSocket, token and all, elsewhere)
            host = call.request.headers.get("host", "")
            if not self._answers_to(host):
                raise HubbubError(
                    "unavailable", "this node has no public URL for that host; use its origin"
                )
            http_url = str(call.request.base_url).rstrip("/")
        ws_url = node.get("ws_url") or ws_url_of(http_url)
        answer = DiscoveryOut(ws_url, http_url, str(node["node_id"]))
        return Response(
            msgspec.json.encode(answer),
            media_type="application/json",
            headers={"cache-control": "no-store", "vary": "Host"},
        )

    def _answers_to(self, host: str) -> bool:
        """An IP literal, localhost, or a configured host name (--allowed-hosts)."""
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        name = name.strip("[]").lower()
        if not name:
            return False
        if name == "localhost" or name in self.allowed_hosts:
            return True
        try:
            ipaddress.ip_address(name)
        except ValueError:
            return False
        return True
