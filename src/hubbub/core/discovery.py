"""What discovery answers about a node (the Discovery port's record), built without I/O."""

from __future__ import annotations

from typing import Any

from hubbub.core.clock import now_ms

NodeInfo = dict[str, Any]


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
        "updated_ms": now_ms(),
    }
