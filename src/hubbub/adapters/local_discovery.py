"""The Discovery port for one node: the answer is always this node."""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Set as AbstractSet

from hubbub.core.discovery import NodeInfo, node_info


class LocalDiscovery:
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
