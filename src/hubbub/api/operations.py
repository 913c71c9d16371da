"""REST handlers for running the service: health, metrics, and discovery (which node a
client should connect its WebSocket to)."""

from __future__ import annotations

from collections.abc import Callable

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
    ) -> None:
        self.discovery = discovery
        self.connection_count = connection_count
        self.render_metrics = render_metrics

    async def healthz(self, call: Call) -> HealthOut:
        return HealthOut("ok", self.connection_count())

    async def metrics(self, call: Call) -> Response:
        return Response(self.render_metrics(), media_type=METRICS_MEDIA_TYPE)

    async def discover(self, call: Call) -> DiscoveryOut:
        node = await self.discovery.best()
        if node is None:
            raise HubbubError("unavailable", "no healthy node to connect to")
        # a node without a configured public URL answers the caller's own origin
        http_url = node.get("http_url") or str(call.request.base_url).rstrip("/")
        ws_url = node.get("ws_url") or ws_url_of(http_url)
        return DiscoveryOut(ws_url, http_url, str(node["node_id"]))
