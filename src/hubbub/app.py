"""The composition root: reads the configuration, builds every adapter and service once,
and wires them into the ASGI app. Nothing else constructs long-lived objects."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException

from hubbub.adapters.discovery import Discovery, LocalDiscovery
from hubbub.adapters.local_presence import LocalPresenceDirectory
from hubbub.adapters.memory_bus import InProcessBus
from hubbub.adapters.passwords import Argon2Hasher
from hubbub.adapters.sqlite import SqliteStore
from hubbub.api.rest import build_routes, on_http_error, on_hubbub_error, on_unexpected
from hubbub.api.static import static_routes
from hubbub.core.errors import HubbubError
from hubbub.core.ids import IdGenerator
from hubbub.core.limits import Limits
from hubbub.gateway.hub import Hub
from hubbub.gateway.picows_gateway import Gateway
from hubbub.gateway.session import CLOSE_GOING_AWAY, Services
from hubbub.metrics import Metrics
from hubbub.ports import Bus, PresenceDirectory, Store
from hubbub.services.accounts import Accounts
from hubbub.services.chat import Chat
from hubbub.services.presence import Presence

log = logging.getLogger("hubbub")
WEB_DIR = Path(__file__).parent / "web"
DEFAULT_PORT = 8080


@dataclass(frozen=True)
class Config:
    data_dir: Path
    database_url: str | None = None  # PostgreSQL; None = embedded SQLite in data_dir
    redis_url: str | None = None  # Redis bus between nodes; None = in-process (one node)
    heartbeat_timeout: float = 30.0
    node_id: int = 0
    max_group_members: int = 100
    retention_interval: float = 3600.0
    ws_ping_interval: float = 20.0
    public_url: str | None = None  # advertised by discovery; None = the request's origin


class Node:
    """One running Hubbub node: the services and their lifecycle."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.metrics = Metrics()
        self.store = build_store(config, self.metrics)
        self.bus = build_bus(config)
        self.hub = Hub()
        self.metrics.watch(self.hub)
        limits = Limits(max_group_members=config.max_group_members)
        self.presence = Presence(
            self.store, self.bus, config.heartbeat_timeout, build_presence_directory(config)
        )
        self.services = Services(
            self.store,
            Accounts(self.store, Argon2Hasher(), self.bus),
            Chat(self.store, self.bus, limits),
            self.presence,
            self.hub,
            self.metrics,
            self.bus,
        )
        self.gateway = Gateway(self.services, config.ws_ping_interval)
        self._retention: asyncio.Task[None] | None = None
        self.discovery = build_discovery(config, self.hub.connection_count)

    async def start(self) -> None:
        await self.store.open()
        await self.bus.start(self.hub)
        await self.presence.start()
        await self.gateway.start()
        await self.discovery.start()
        self._retention = asyncio.create_task(self._retention_loop(), name="retention")
        where = "PostgreSQL" if self.config.database_url else f"SQLite in {self.config.data_dir}"
        bus = "Redis" if self.config.redis_url else "in-process"
        log.info("node %d ready; storage: %s; bus: %s", self.config.node_id, where, bus)

    async def close_sockets(self, timeout: float = 5.0) -> None:
        """Close every device socket with 1001 and wait (bounded) for the sessions."""
        for session in list(self.services.sessions):
            session.close(CLOSE_GOING_AWAY, "server shutting down")
        deadline = time.monotonic() + timeout
        while self.services.sessions and time.monotonic() < deadline:  # noqa: ASYNC110 (once, at shutdown)
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        await self.discovery.stop()  # no new clients sent here
        await self.close_sockets()
        if self._retention:
            self._retention.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._retention
        await self.gateway.stop()
        await self.presence.stop()
        await self.bus.stop()
        await self.store.close()  # commits every write already accepted
        log.info("node stopped cleanly")

    async def purge_once(self) -> tuple[int, int]:
        entries, messages = await self.store.purge_expired(int(time.time() * 1000))
        if entries or messages:
            log.info("retention removed %d inbox entries and %d messages", entries, messages)
        return entries, messages

    async def _retention_loop(self) -> None:
        while True:
            try:
                await self.purge_once()
            except Exception:
                log.exception("retention run failed; will retry")
            await asyncio.sleep(self.config.retention_interval)


def build_store(config: Config, metrics: Metrics) -> Store:
    """The embedded SQLite default, or PostgreSQL when a database URL is given."""
    ids = IdGenerator(config.node_id)
    if config.database_url:
        from hubbub.adapters.postgres import PostgresStore  # noqa: PLC0415 - optional engine

        return PostgresStore(config.database_url, ids, on_commit=metrics.on_commit)
    return SqliteStore(config.data_dir, ids, on_commit=metrics.on_commit)


def build_bus(config: Config) -> Bus:
    """In-process for one node; Redis pub/sub between nodes when a Redis URL is given."""
    if config.redis_url:
        from hubbub.adapters.redis_bus import RedisBus  # noqa: PLC0415 - optional engine

        return RedisBus(config.redis_url, config.node_id)
    return InProcessBus()


def build_discovery(config: Config, load: Callable[[], int]) -> Discovery:
    """This node alone, or the Redis node registry when a Redis URL is given."""
    if config.redis_url:
        from hubbub.adapters.redis_discovery import RedisDiscovery  # noqa: PLC0415

        public = config.public_url or f"http://127.0.0.1:{DEFAULT_PORT}"
        return RedisDiscovery(config.redis_url, config.node_id, public, load)
    return LocalDiscovery(config.node_id, config.public_url, load)


def build_presence_directory(config: Config) -> PresenceDirectory:
    """Who is online: this node alone, or every node through Redis."""
    if config.redis_url:
        from hubbub.adapters.redis_presence import RedisPresenceDirectory  # noqa: PLC0415

        timeout_ms = int(config.heartbeat_timeout * 1000)
        return RedisPresenceDirectory(config.redis_url, config.node_id, timeout_ms)
    return LocalPresenceDirectory()


def build_app(config: Config) -> tuple[Starlette, Node]:
    node = Node(config)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await node.start()
        try:
            yield
        finally:
            await node.stop()

    routes = [
        *build_routes(node.services, node.discovery),
        *static_routes(WEB_DIR),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={
            HubbubError: on_hubbub_error,
            HTTPException: on_http_error,
            Exception: on_unexpected,
        },
    )
    app.state.metrics = node.metrics
    return app, node
