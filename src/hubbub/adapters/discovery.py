"""Service discovery: which node a client should connect its WebSocket to.

`best()` answers a node as `{node_id, ws_url, http_url, connections, updated_ms}`, or
None when no node is healthy. `ws_url`/`http_url` may be None: the node has no public
URL configured and the caller (the REST route) answers the request's own origin.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from typing import Any, Protocol

NodeInfo = dict[str, Any]


class Discovery(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def best(self, exclude: AbstractSet[int] = ...) -> NodeInfo | None: ...


def ws_url_of(http_url: str) -> str:
    """http(s)://host[:port][/prefix] -> ws(s)://host[:port][/prefix]/v1/ws"""
    scheme, sep, rest = http_url.rstrip("/").partition("://")
    ws_scheme = "wss" if scheme.lower() == "https" else "ws"
    return f"{ws_scheme}{sep}{rest}/v1/ws"


def node_info(node_id: int, public_url: str | None, connections: int) -> NodeInfo:
    http_url = public_url.rstrip("/") if public_url else None
    return {
        "node_id": node_id,
        "ws_url": ws_url_of(http_url) if http_url else None,
        "http_url": http_url,
        "connections": connections,
        "updated_ms": int(time.time() * 1000),
    }


class LocalDiscovery:
    """One node: the answer is always this node."""

    def __init__(
        self, node_id: int, public_url: str | None, load: Callable[[], int] = lambda: 0
    ) -> None:
        self.node_id = node_id
        self.public_url = public_url
        self.load = load

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def best(self, exclude: AbstractSet[int] = frozenset()) -> NodeInfo | None:
        if self.node_id in exclude:
            return None
        return node_info(self.node_id, self.public_url, self.load())
