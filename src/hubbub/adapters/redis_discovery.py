"""Service discovery on Redis (the seeds' ZooKeeper step).

Every node writes `hubbub:node:{id}` = JSON {node_id, ws_url, http_url, connections,
updated_ms} about once a second with a TTL of a few seconds, and deletes it when it
stops; a node that dies simply stops refreshing and disappears when the key expires.
The ids of registered nodes are also kept in the sorted set `hubbub:nodes` (score: last
beat), so `best()` reads a handful of keys instead of scanning the keyspace (presence
keys live in the same Redis). Entries whose key expired long ago are pruned by the beats.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import Callable
from collections.abc import Set as AbstractSet

import redis.asyncio as aioredis

from hubbub.core.discovery import NodeInfo, node_info

STOP_TIMEOUT_S = 2.0
log = logging.getLogger("hubbub.discovery")

NODE_KEY = "hubbub:node:{}"
NODES = "hubbub:nodes"
PRUNE_AFTER_MS = 60_000


class RedisDiscovery:
    def __init__(
        self,
        url: str,
        node_id: int,
        public_url: str | None,
        load: Callable[[], int],
        *,
        interval: float = 1.0,
        ttl: float = 3.0,
    ) -> None:
        self.url = url
        self.node_id = node_id
        self.public_url = public_url
        self.load = load
        self.interval = interval
        self.ttl_ms = int(ttl * 1000)
        self.key = NODE_KEY.format(node_id)
        self._redis: aioredis.Redis | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    @property
    def redis(self) -> aioredis.Redis:
        if self._redis is None:
            raise RuntimeError("discovery not started")
        return self._redis

    async def start(self) -> None:
        self._redis = aioredis.from_url(self.url, socket_timeout=2.0, socket_connect_timeout=2.0)
        try:
            await self.beat()  # registered before the node reports ready
        except Exception:
            log.warning("discovery: first registration failed; will retry", exc_info=True)
        self._task = asyncio.create_task(self._loop(), name="discovery")

    async def stop(self) -> None:
        """Leave the registry, bounded: shutdown must never wait on Redis. The beat loop
        is asked to stop, not cancelled: a redis-py command cancelled halfway can leave
        its connection waiting for a reply forever (that hung SIGTERM, 1 run in ~15)."""
        self._stopping.set()
        if self._task:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), STOP_TIMEOUT_S)
            except (TimeoutError, asyncio.CancelledError):
                self._task.cancel()
            self._task = None
        if self._redis is not None:
            try:
                await asyncio.wait_for(self._deregister(), STOP_TIMEOUT_S)
            except Exception:
                log.warning("discovery: could not deregister (the key expires anyway)")
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._redis.aclose(), STOP_TIMEOUT_S)
            self._redis = None

    async def _deregister(self) -> None:
        assert self._redis is not None
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(self.key)
            pipe.zrem(NODES, str(self.node_id))
            await pipe.execute()

    async def beat(self) -> None:
        info = node_info(self.node_id, self.public_url, self.load())
        now = info["updated_ms"]
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(self.key, json.dumps(info), px=self.ttl_ms)
            pipe.zadd(NODES, {str(self.node_id): now})
            pipe.zremrangebyscore(NODES, "-inf", now - PRUNE_AFTER_MS)
            await pipe.execute()

    async def _loop(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.interval)
                return  # asked to stop between beats
            try:
                await self.beat()
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.warning("discovery: heartbeat failed: %s", e)

    async def nodes(self) -> list[NodeInfo]:
        """Every healthy node (its key still present)."""
        ids = await self.redis.zrange(NODES, 0, -1)
        if not ids:
            return []
        keys = [NODE_KEY.format(i.decode() if isinstance(i, bytes) else i) for i in ids]
        out = []
        for raw in await self.redis.mget(keys):
            if raw is None:
                continue
            with contextlib.suppress(ValueError, TypeError):
                info = json.loads(raw)
                if isinstance(info, dict) and "node_id" in info:
                    out.append(info)
        return out

    async def best(self, exclude: AbstractSet[int] = frozenset()) -> NodeInfo | None:
        """The healthy node with the fewest connections (ties broken at random, so a
        burst of clients does not all land on one node between two beats)."""
        candidates = [n for n in await self.nodes() if int(n["node_id"]) not in exclude]
        if not candidates:
            return None
        fewest = min(int(n.get("connections", 0)) for n in candidates)
        return random.choice([n for n in candidates if int(n.get("connections", 0)) == fewest])
