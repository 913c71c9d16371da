"""The composition root: reads the configuration, builds every adapter and service once
with exactly what it needs, and wires them into the ASGI app. It is the only module (with
cli.py) that names concrete adapters; nothing else constructs long-lived objects."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import resource
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.middleware import Middleware

from hubbub.adapters.blobs.files import FileBlobStore
from hubbub.adapters.inspector import PillowInspector
from hubbub.adapters.local_discovery import LocalDiscovery
from hubbub.adapters.local_presence import LocalPresenceDirectory
from hubbub.adapters.memory_bus import InProcessBus
from hubbub.adapters.memory_limiter import MemoryRateLimiter
from hubbub.adapters.passwords import Argon2Hasher
from hubbub.adapters.push.apns import ApnsProvider, ProviderToken, load_signing_key
from hubbub.adapters.push.fcm import FcmProvider, load_service_account
from hubbub.adapters.push.resolver import SystemResolver
from hubbub.adapters.push.webpush import VapidSigner, WebPushProvider, new_vapid_keys
from hubbub.adapters.sqlite import SqliteStore
from hubbub.api.accounts import AccountsApi
from hubbub.api.conversations import ConversationsApi
from hubbub.api.groups import GroupsApi
from hubbub.api.headers import SecurityHeaders
from hubbub.api.http import exception_handlers
from hubbub.api.media import MediaApi
from hubbub.api.operations import OperationsApi
from hubbub.api.people import PeopleApi
from hubbub.api.push import PushApi
from hubbub.api.routes import build_routes, endpoint_table
from hubbub.api.static import static_routes
from hubbub.core.addresses import TrustedProxies
from hubbub.core.clock import days_ago_ms, now_ms
from hubbub.core.ids import IdGenerator, first_id_at
from hubbub.core.limits import Limits
from hubbub.core.media import MediaTotals
from hubbub.core.push import PushKind
from hubbub.core.ratelimit import RateRules
from hubbub.gateway.front_door import ConnectionGate, EdgeLimits, front_door
from hubbub.gateway.hub import Hub
from hubbub.gateway.picows_gateway import Gateway, OriginPolicy
from hubbub.gateway.session import SessionDeps
from hubbub.metrics import Metrics
from hubbub.ports import (
    BlobStore,
    Bus,
    Discovery,
    MediaStore,
    PresenceDirectory,
    PushProvider,
    PushStore,
    RateLimiter,
    Store,
)
from hubbub.services.accounts import Accounts, DevicePolicy
from hubbub.services.conversations import Conversations
from hubbub.services.counters import Counters
from hubbub.services.groups import Groups
from hubbub.services.media import Media, MediaCounters, MediaPolicy
from hubbub.services.messaging import Messaging
from hubbub.services.people import People
from hubbub.services.presence import Presence
from hubbub.services.push import DispatchPolicy, Push, PushCounters, PushDispatcher
from hubbub.services.sync import Sync
from hubbub.services.throttle import Throttle

if TYPE_CHECKING:
    from hubbub.adapters.blobs.settings import S3Settings
    from hubbub.adapters.redis_bus import RedisBus

log = logging.getLogger("hubbub")
WEB_DIR = Path(__file__).parent / "web"
DEFAULT_PORT = 8080


class ConfigError(ValueError):
    """A configuration the node cannot run with; `option` names the option to fix."""

    def __init__(self, option: str, message: str) -> None:
        super().__init__(message)
        self.option = option


@dataclass(frozen=True)
class ApnsConfig:
    key_file: Path  # the .p8 signing key
    key_id: str
    team_id: str
    url: str  # https://api.push.apple.com, the sandbox, or an --apns-url


@dataclass(frozen=True)
class FcmConfig:
    service_account_file: Path  # the JSON key file (project_id, client_email, private_key)
    url: str  # https://fcm.googleapis.com, or an --fcm-url


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
    trusted_proxies: tuple[str, ...] = ()  # whose X-Forwarded-For names the client
    allowed_hosts: tuple[str, ...] = ()  # host names discovery may answer with
    allowed_origins: tuple[str, ...] = ()  # pages elsewhere that may open WebSockets
    edge: EdgeLimits = field(default_factory=EdgeLimits)  # max_connections: see edge_limits
    rate_limits: bool = True  # off only for benchmarks
    rate_rules: RateRules = field(default_factory=RateRules)
    devices: DevicePolicy = field(default_factory=DevicePolicy)  # token lifetime, device cap
    push_contact: str = "mailto:push@localhost"  # the VAPID `sub`
    push_delay: float = 10.0  # seconds a live socket has to ack before its device is pushed
    push_allow_private_endpoints: bool = False
    push_lease: float = 60.0  # seconds a claimed push is held before it may be retaken
    apns: ApnsConfig | None = None  # None: APNs subscriptions are kept but not pushed
    fcm: FcmConfig | None = None  # the same for FCM
    media: MediaPolicy = field(default_factory=MediaPolicy)  # upload size and daily quota
    s3: S3Settings | None = None  # None: media files under data_dir/media


class Node:
    """One running Hubbub node: its adapters, services and edges, and their lifecycle."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.metrics = metrics = Metrics()
        counters = Counters()
        limits = Limits(max_group_members=config.max_group_members)
        # adapters
        ids = IdGenerator(config.node_id)
        store, push_store, media_store = build_store(config, metrics, ids)
        self.store = store
        self.bus = bus = build_bus(config, metrics)
        self.hub = hub = Hub(counters)
        self.discovery = build_discovery(config, hub.connection_count)
        # services
        self.presence = presence = Presence(
            store, bus, config.heartbeat_timeout, build_presence_directory(config)
        )
        throttle = Throttle(
            config.rate_rules, build_rate_limiter(config), enabled=config.rate_limits
        )
        accounts = Accounts(store, Argon2Hasher(), bus, throttle, config.devices)
        self.push = push = Push(
            push_store, SystemResolver(), allow_private=config.push_allow_private_endpoints
        )
        self.push_store = push_store
        self.webpush = WebPushProvider(allow_private=config.push_allow_private_endpoints)
        self.push_counters = push_counters = PushCounters()
        self.dispatcher = dispatcher = PushDispatcher(
            push_store,
            {"webpush": self.webpush, **build_mobile_push(config)},
            self._live,
            DispatchPolicy(delay_s=config.push_delay, lease_s=config.push_lease),
            push_counters,
            metrics.push_latency.observe,
        )
        messaging = Messaging(
            store, bus, limits, counters, throttle,
            wake_push=dispatcher.wake,
        )  # fmt: skip
        people = People(store, presence, throttle)
        self.media_counters = media_counters = MediaCounters()
        self.blobs = build_blob_store(config)
        self.inspector = PillowInspector()
        self.media = media = Media(
            media_store,
            self.blobs,
            self.inspector,
            config.data_dir / "media" / "staging",
            lambda: ids.next_id(now_ms()),
            partial(not_before_id, store),
            throttle,
            config.media,
            media_counters,
        )
        self.media_store = media_store
        # edges
        self.gateway = Gateway(
            SessionDeps(
                accounts=accounts,
                sync=Sync(store, bus),
                messaging=messaging,
                presence=presence,
                hub=hub,
                throttle=throttle,
                sessions=set(),
                observe_send=metrics.send_latency.observe,
                count_refusal=metrics.count_refusal,
            ),
            config.ws_ping_interval,
            OriginPolicy(
                [
                    *config.allowed_origins,
                    *([origin_of(config.public_url)] if config.public_url else []),
                ]
            ),
        )
        self.trusted = trusted = TrustedProxies(config.trusted_proxies)
        gate = ConnectionGate(edge_limits(config.edge), trusted)
        self.front_door = front_door(self.gateway.listener_for, gate, trusted)
        self.endpoints = endpoint_table(
            AccountsApi(accounts, people, push),
            PeopleApi(people),
            ConversationsApi(Conversations(store, bus, limits), messaging),
            GroupsApi(Groups(store, bus, messaging, limits, throttle)),
            OperationsApi(
                self.discovery, hub.connection_count, metrics.render, config.allowed_hosts
            ),
            PushApi(push),
            MediaApi(media),
        )
        self.authenticate = accounts.authenticate
        watch_node(metrics, counters, hub)
        watch_push(metrics, push_counters)
        self.media_totals = MediaTotals(0, 0, 0)
        watch_media(metrics, media_counters, lambda: self.media_totals)
        self._retention: asyncio.Task[None] | None = None
        self._media_totals: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.store.open()
        await self.bus.start(self.hub)
        await self.presence.start()
        await self.gateway.start()
        await self.discovery.start()
        await self.start_push()
        (self.config.data_dir / "media" / "staging").mkdir(parents=True, exist_ok=True)
        await self.blobs.start()
        self._retention = asyncio.create_task(self._retention_loop(), name="retention")
        self._media_totals = asyncio.create_task(self._media_totals_loop(), name="media-totals")
        where = "PostgreSQL" if self.config.database_url else f"SQLite in {self.config.data_dir}"
        bus = "Redis" if self.config.redis_url else "in-process"
        log.info("node %d ready; storage: %s; bus: %s", self.config.node_id, where, bus)

    async def start_push(self) -> None:
        """The VAPID pair: made on first start and kept in storage (insert if absent, then
        read: every node of a cluster uses the one that won), then the dispatcher."""
        private_pem, public_key = await self.push_store.vapid_keys(*new_vapid_keys())
        self.webpush.signer = VapidSigner(private_pem, self.config.push_contact)
        self.push.public_key = public_key
        await self.dispatcher.start()

    async def _live(self, user_id: int, device_id: int) -> bool:
        """Whether the device has a live socket: on this node (exact), or on another
        (the presence directory's per-node device lists)."""
        if self.hub.has_device(device_id):
            return True
        try:
            return await self.presence.device_live(user_id, device_id)
        except Exception as error:  # the directory is away: wait for an ack, then push
            log.warning("device liveness unknown (%s): treated as live", error)
            return True

    async def close_sockets(self) -> None:
        await self.gateway.close_sessions()

    async def stop(self) -> None:
        await self.discovery.stop()  # no new clients sent here
        await self.gateway.close_sessions()
        for task in (self._retention, self._media_totals):
            if task:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self.gateway.stop()
        await self.dispatcher.stop()
        await self.presence.stop()
        await self.bus.stop()
        await self.blobs.stop()
        self.inspector.close()
        await self.store.close()  # commits every write already accepted
        log.info("node stopped cleanly")

    async def purge_once(self) -> tuple[int, int]:
        """Retention: expired inbox entries and messages, then the uploads and blobs
        nothing refers to any more, then files a crash left behind."""
        entries, messages = await self.store.purge_expired(now_ms())
        if entries or messages:
            log.info("retention removed %d inbox entries and %d messages", entries, messages)
        blobs = await self.media.purge()
        if blobs:
            log.info("retention deleted %d media blobs nothing refers to", blobs)
        await self.media.sweep()
        return entries, messages

    async def _media_totals_loop(self) -> None:
        """What /metrics says of stored media (read from storage every 30 s, so a scrape
        never waits on the database)."""
        while True:
            try:
                self.media_totals = await self.media_store.totals()
            except Exception as error:
                log.warning("media totals unavailable: %s", error)
            await asyncio.sleep(30)

    async def _retention_loop(self) -> None:
        while True:
            try:
                await self.purge_once()
            except Exception:
                log.exception("retention run failed; will retry")
            await asyncio.sleep(self.config.retention_interval)


def origin_of(url: str) -> str:
    """scheme://host[:port] of a URL."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


def edge_limits(limits: EdgeLimits, reserve: int = 256) -> EdgeLimits:
    """The connection cap within this process's file descriptors, keeping `reserve` of them
    for the database, the log, and the health check of a full node."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return limits
    return replace(limits, max_connections=min(limits.max_connections, max(soft - reserve, 1)))


def watch_node(metrics: Metrics, counters: Counters, hub: Hub) -> None:
    """The numbers /metrics reads from the node at scrape time."""
    metrics.count(
        "hubbub_messages_stored",
        "Messages stored (repeats of a client_msg_id excluded)",
        lambda: counters.messages_stored,
    )
    metrics.count(
        "hubbub_deliveries",
        "Inbox entries handed to device connections",
        lambda: counters.deliveries,
    )
    metrics.gauge("hubbub_connections", "Open device WebSockets", hub.connection_count)
    metrics.gauge(
        "hubbub_connected_users", "Users with at least one open WebSocket", hub.user_count
    )
    metrics.gauge(
        "hubbub_outgoing_queued_bytes", "Bytes waiting in device send queues", hub.queued_bytes
    )


def watch_push(metrics: Metrics, c: PushCounters) -> None:
    for name, doc, read in (
        ("hubbub_push_sent", "Pushes a push service accepted", lambda: c.sent),
        ("hubbub_push_failed", "Push attempts that failed and will be retried (5xx, network)",
         lambda: c.failed),
        ("hubbub_push_dropped", "Pushes given up (retries exhausted, refused, no provider)",
         lambda: c.dropped),
        ("hubbub_push_subscriptions_removed",
         "Subscriptions deleted because the push service no longer accepts them",
         lambda: c.removed),
        ("hubbub_push_skipped", "Pushes not needed: acked, read or muted before they went out",
         lambda: c.skipped),
        ("hubbub_push_throttled", "429 answers from push services", lambda: c.throttled),
        ("hubbub_push_unconfigured",
         "Pushes not sent: no provider configured for the kind (apns, fcm)",
         lambda: c.unconfigured),
    ):  # fmt: skip
        metrics.count(name, doc, read)
    metrics.gauge("hubbub_push_outbox_depth", "Push jobs waiting in the outbox", lambda: c.depth)


def watch_media(
    metrics: Metrics, c: MediaCounters, totals: Callable[[], MediaTotals]
) -> None:
    metrics.count("hubbub_media_uploads", "Uploads stored", lambda: c.uploads)
    metrics.count(
        "hubbub_media_uploads_deduplicated",
        "Uploads whose content was stored already (no new blob)",
        lambda: c.deduplicated,
    )
    metrics.count_by(
        "hubbub_media_uploads_refused", "Uploads refused, by error code", "reason",
        lambda: c.refused or {},
    )  # fmt: skip
    metrics.count("hubbub_media_blobs_deleted", "Blobs deleted (last reference gone)",
                  lambda: c.blobs_deleted)  # fmt: skip
    metrics.gauge("hubbub_media_blobs", "Blobs stored (the whole store)",
                  lambda: totals().blobs)  # fmt: skip
    metrics.gauge("hubbub_media_bytes_stored", "Bytes of blobs stored",
                  lambda: totals().bytes_stored)  # fmt: skip
    metrics.gauge(
        "hubbub_media_bytes_saved",
        "Bytes not stored thanks to dedupe (each reference beyond a blob's first)",
        lambda: totals().bytes_referenced - totals().bytes_stored,
    )


def watch_bus(metrics: Metrics, bus: RedisBus) -> None:
    metrics.count("hubbub_bus_published", "Frames Redis acknowledged", lambda: bus.published)
    metrics.count(
        "hubbub_bus_dropped", "Frames the bus lost (Redis away, queue full)", lambda: bus.dropped
    )
    metrics.count("hubbub_bus_received", "Frames received from Redis", lambda: bus.received)
    metrics.count("hubbub_bus_reconnects", "Reconnections to Redis", lambda: bus.reconnects)


def build_mobile_push(config: Config) -> dict[PushKind, PushProvider]:
    """The APNs (and FCM) providers that are configured; ConfigError for credentials
    that cannot be used (checked at start, not at the first push)."""
    providers: dict[PushKind, PushProvider] = {}
    if config.apns:
        try:
            key = load_signing_key(config.apns.key_file)
        except ValueError as e:
            raise ConfigError("--apns-key-file", str(e)) from None
        token = ProviderToken(key, config.apns.key_id, config.apns.team_id)
        providers["apns"] = ApnsProvider(token, config.apns.url)
    if config.fcm:
        try:
            account = load_service_account(config.fcm.service_account_file)
        except ValueError as e:
            raise ConfigError("--fcm-service-account-file", str(e)) from None
        providers["fcm"] = FcmProvider(account, config.fcm.url)
    return providers


def build_store(
    config: Config, metrics: Metrics, ids: IdGenerator
) -> tuple[Store, PushStore, MediaStore]:
    """The embedded SQLite default, or PostgreSQL when a database URL is given; the push
    and media stores share its engine (the outbox and a message's attachments are
    written in the message's commit)."""
    if config.database_url:
        from hubbub.adapters.postgres import PostgresStore  # noqa: PLC0415 - optional engine

        pg = PostgresStore(
            config.database_url, ids, on_commit=metrics.on_commit, on_retry=metrics.on_retry
        )
        return pg, pg.push, pg.media
    sqlite = SqliteStore(config.data_dir, ids, on_commit=metrics.on_commit)
    return sqlite, sqlite.push, sqlite.media


def build_blob_store(config: Config) -> BlobStore:
    """Files under data_dir/media/blobs, or an S3 bucket (shared by a cluster's nodes)."""
    if config.s3 is not None:
        from hubbub.adapters.blobs.s3 import S3BlobStore  # noqa: PLC0415 - optional

        return S3BlobStore(config.s3)
    return FileBlobStore(config.data_dir / "media" / "blobs")


async def not_before_id(store: Store, user_id: int) -> int:
    """The first message id the user still sees (their history retention)."""
    user = await store.user_by_id(user_id)
    days = user.history_retention_days if user else None
    return first_id_at(days_ago_ms(days, now_ms())) if days else 0


def build_bus(config: Config, metrics: Metrics) -> Bus:
    """In-process for one node; Redis pub/sub between nodes when a Redis URL is given."""
    if config.redis_url:
        from hubbub.adapters.redis_bus import RedisBus  # noqa: PLC0415 - optional engine

        bus = RedisBus(config.redis_url, config.node_id)
        watch_bus(metrics, bus)
        return bus
    return InProcessBus()


def build_discovery(config: Config, load: Callable[[], int]) -> Discovery:
    """This node alone, or the Redis node registry when a Redis URL is given."""
    if config.redis_url:
        from hubbub.adapters.redis_discovery import RedisDiscovery  # noqa: PLC0415

        public = config.public_url or f"http://127.0.0.1:{DEFAULT_PORT}"
        return RedisDiscovery(config.redis_url, config.node_id, public, load)
    return LocalDiscovery(config.node_id, config.public_url, load)


def build_rate_limiter(config: Config) -> RateLimiter:
    """This node's buckets, or buckets every node shares in Redis."""
    if config.redis_url:
        from hubbub.adapters.redis_limiter import RedisRateLimiter  # noqa: PLC0415

        return RedisRateLimiter(config.redis_url)
    return MemoryRateLimiter()


def build_presence_directory(config: Config) -> PresenceDirectory:
    """Who is online: this node alone, or every node through Redis."""
    if config.redis_url:
        from hubbub.adapters.redis_presence import RedisPresenceDirectory  # noqa: PLC0415

        timeout_ms = int(config.heartbeat_timeout * 1000)
        return RedisPresenceDirectory(config.redis_url, config.node_id, timeout_ms)
    return LocalPresenceDirectory()


async def migrate_database(database_url: str) -> list[int]:
    """Apply the PostgreSQL schema migrations; the versions applied now."""
    from hubbub.adapters.postgres.migrations import migrate_url  # noqa: PLC0415

    return await migrate_url(database_url)


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
        *build_routes(node.endpoints, node.authenticate, node.trusted),
        *static_routes(WEB_DIR),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers=exception_handlers(node.metrics.count_refusal),
        middleware=[Middleware(SecurityHeaders)],
    )
    return app, node
