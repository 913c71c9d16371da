"""The `hubbub` command."""

from __future__ import annotations

import asyncio
import gc
import logging
import socket
from dataclasses import replace
from pathlib import Path
from typing import Any

import click
import uvicorn

from hubbub import __version__
from hubbub.app import Config, ConfigError, Node, build_app, migrate_database
from hubbub.cli_media import media_options, media_policy, s3_settings
from hubbub.cli_push import apns_config, fcm_config, push_service_options
from hubbub.core.addresses import TrustedProxies
from hubbub.core.ratelimit import RateRules, parse_override
from hubbub.gateway.front_door import EdgeLimits
from hubbub.services.accounts import DevicePolicy

_EDGE = EdgeLimits()  # the defaults the options show
GC_YOUNG_THRESHOLD = 10_000  # default 700; see tune_gc


class _Server(uvicorn.Server):
    """uvicorn closes WebSockets with 1012; we first close ours with 1001 (going away),
    then let uvicorn finish. After a clean shutdown the process exits 0 (uvicorn would
    re-raise the signal, which reports a clean stop as death by SIGTERM)."""

    def __init__(self, config: uvicorn.Config, node: Node) -> None:
        super().__init__(config)
        self.node = node

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        tune_gc()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in getattr(self, "servers", []):
            server.close()  # stop accepting first
        await self.node.discovery.stop()  # leave the registry before draining
        await self.node.close_sockets()
        await super().shutdown(sockets)
        captured = getattr(self, "_captured_signals", None)
        if isinstance(captured, list):
            captured.clear()


def tune_gc() -> None:
    """What is alive once the node serves (modules, the app, its caches) lives as long as
    the process: freeze it out of every later collection, and collect the young
    generation less often. A message's objects are freed by reference counting; the
    collector only finds cycles, and with the default thresholds it ran every ~700
    allocations, scanning every connection's objects in each full collection (profiled:
    10-20 us of each message; freezing and the threshold measured ~3 us of it back,
    one-to-one people load). Not higher: at
    50,000 the cycles a closed connection leaves waited minutes for a full collection,
    and a soak's memory grew with every reconnect."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, 10, 10)


@click.group()
@click.version_option(__version__)
def main() -> None:
    """Hubbub: a chat service."""


@main.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    envvar="HUBBUB_HOST",
    help="Address to listen on (0.0.0.0 for every interface).",
)
@click.option("--port", default=8080, show_default=True, type=int, envvar="HUBBUB_PORT")
@click.option(
    "--data-dir",
    default="./hubbub-data",
    show_default=True,
    envvar="HUBBUB_DATA_DIR",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the embedded database lives (created if missing).",
)
@click.option(
    "--heartbeat-timeout",
    default=30.0,
    show_default=True,
    type=float,
    envvar="HUBBUB_HEARTBEAT_TIMEOUT",
    help="Seconds without a frame after which a user shows offline.",
)
@click.option(
    "--node-id",
    default=0,
    show_default=True,
    type=click.IntRange(0, 1023),
    envvar="HUBBUB_NODE_ID",
    help="This node's id in message ids (unique per node).",
)
@click.option(
    "--max-group-members",
    default=100,
    show_default=True,
    type=click.IntRange(2),
    envvar="HUBBUB_MAX_GROUP_MEMBERS",
)
@click.option(
    "--retention-interval",
    default=3600.0,
    show_default=True,
    type=float,
    envvar="HUBBUB_RETENTION_INTERVAL",
    help="Seconds between retention runs.",
)
@click.option(
    "--ws-ping-interval",
    default=20.0,
    show_default=True,
    type=click.FloatRange(min=0.1),
    envvar="HUBBUB_WS_PING_INTERVAL",
    help="Seconds of silence before a WebSocket ping; a socket that stays silent as long "
    "again is dropped.",
)
@click.option(
    "--database-url",
    default=None,
    envvar="HUBBUB_DATABASE_URL",
    help="PostgreSQL (postgresql://user:pass@host/db) instead of the embedded SQLite.",
)
@click.option(
    "--redis-url",
    default=None,
    envvar="HUBBUB_REDIS_URL",
    help="Redis (redis://host:6379/0) to route frames between nodes; needs --database-url.",
)
@click.option(
    "--public-url",
    default=None,
    envvar="HUBBUB_PUBLIC_URL",
    help="This node's URL as clients reach it (http[s]://host:port), answered by "
    "GET /v1/discovery. Default: with --redis-url, http://HOST:PORT; alone, the "
    "caller's own origin.",
)
@click.option(
    "--certfile",
    default=None,
    envvar="HUBBUB_CERTFILE",
    type=click.Path(exists=True, dir_okay=False),
    help="TLS certificate chain (PEM): serve https and wss on --port without a proxy.",
)
@click.option(
    "--keyfile",
    default=None,
    envvar="HUBBUB_KEYFILE",
    type=click.Path(exists=True, dir_okay=False),
    help="The certificate's private key (PEM).",
)
@click.option(
    "--trusted-proxies",
    default="",
    envvar="HUBBUB_TRUSTED_PROXIES",
    help="Comma-separated addresses or CIDR blocks of proxies whose X-Forwarded-For names "
    "the client (rate limits and connection caps key on the client's address).",
)
@click.option(
    "--allowed-hosts",
    default="",
    envvar="HUBBUB_ALLOWED_HOSTS",
    help="Comma-separated host names GET /v1/discovery may answer with when there is no "
    "--public-url (IP addresses and localhost always may).",
)
@click.option(
    "--allowed-origins",
    default="",
    envvar="HUBBUB_ALLOWED_ORIGINS",
    help="Comma-separated origins (https://app.example.com) of pages elsewhere that may "
    "open WebSockets here; * for any. The node's own origin and --public-url always may.",
)
@click.option(
    "--max-connections",
    default=_EDGE.max_connections,
    show_default=True,
    type=click.IntRange(1),
    envvar="HUBBUB_MAX_CONNECTIONS",
    help="Open connections in total (also kept under the file-descriptor limit); past it "
    "only GET /healthz is served.",
)
@click.option(
    "--max-connections-per-address",
    default=_EDGE.max_connections_per_address,
    show_default=True,
    type=click.IntRange(1),
    envvar="HUBBUB_MAX_CONNECTIONS_PER_ADDRESS",
)
@click.option(
    "--request-timeout",
    default=_EDGE.head_timeout_s,
    show_default=True,
    type=click.FloatRange(min=0.1),
    envvar="HUBBUB_REQUEST_TIMEOUT",
    help="Seconds for a request's line and headers to arrive (and for a stalled body).",
)
@click.option(
    "--keep-alive-timeout",
    default=_EDGE.keep_alive_s,
    show_default=True,
    type=click.IntRange(1),
    envvar="HUBBUB_KEEP_ALIVE_TIMEOUT",
    help="Seconds an idle keep-alive HTTP connection stays open.",
)
@click.option(
    "--token-ttl-days",
    default=30,
    show_default=True,
    type=click.IntRange(1, 3650),
    envvar="HUBBUB_TOKEN_TTL_DAYS",
    help="A device unused this long is logged out (each use extends it).",
)
@click.option(
    "--max-devices",
    default=50,
    show_default=True,
    type=click.IntRange(1, 10_000),
    envvar="HUBBUB_MAX_DEVICES",
    help="Devices per account; a log-in past it logs out the least recently used.",
)
@click.option(
    "--rate-limits",
    default="on",
    show_default=True,
    type=click.Choice(["on", "off"]),
    envvar="HUBBUB_RATE_LIMITS",
    help="Rate limits (see docs/security.md); off only for benchmarks.",
)
@click.option(
    "--rate-limit",
    "rate_limit",
    multiple=True,
    envvar="HUBBUB_RATE_LIMIT",
    help="Change one limit: NAME=BURST/PER_SECOND (repeatable; the environment variable "
    "takes them space-separated). Names: " + ", ".join(RateRules.names()) + ".",
)
@click.option(
    "--push-contact",
    default="mailto:push@localhost",
    show_default=True,
    envvar="HUBBUB_PUSH_CONTACT",
    help="The VAPID `sub` push services may write to: a mailto: or https: URL.",
)
@click.option(
    "--push-delay",
    default=10.0,
    show_default=True,
    type=click.FloatRange(min=0),
    envvar="HUBBUB_PUSH_DELAY",
    help="Seconds a device with a live socket has to ack a message before it is pushed.",
)
@click.option(
    "--push-lease",
    default=60.0,
    show_default=True,
    type=click.FloatRange(min=1),
    envvar="HUBBUB_PUSH_LEASE",
    help="Seconds a node holds a claimed push before another node (or this one, after a "
    "crash) may take it; keep it above the 10 s request timeout.",
)
@click.option(
    "--push-allow-private-endpoints",
    is_flag=True,
    default=False,
    envvar="HUBBUB_PUSH_ALLOW_PRIVATE_ENDPOINTS",
    help="Accept push endpoints on loopback, private or link-local addresses (tests, "
    "on-premises push services). Off: they are refused with bad_request.",
)
@push_service_options
@media_options
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    envvar="HUBBUB_LOG_LEVEL",
    type=click.Choice(["debug", "info", "warning", "error"]),
)
def serve(**o: Any) -> None:
    """Run a complete single-node service (REST, WebSocket and web client)."""
    host, port, redis_url, log_level = o["host"], o["port"], o["redis_url"], o["log_level"]
    if o["heartbeat_timeout"] <= 0:
        raise click.BadParameter("must be positive", param_hint="--heartbeat-timeout")
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    config = Config(
        data_dir=o["data_dir"].resolve(),
        heartbeat_timeout=o["heartbeat_timeout"],
        node_id=o["node_id"],
        max_group_members=o["max_group_members"],
        retention_interval=o["retention_interval"],
        ws_ping_interval=o["ws_ping_interval"],
        database_url=o["database_url"],
        redis_url=redis_url,
        public_url=o["public_url"]
        or (advertised_url(host, port, tls=o["certfile"] is not None) if redis_url else None),
        trusted_proxies=_listed(o["trusted_proxies"]),
        allowed_hosts=_listed(o["allowed_hosts"]),
        allowed_origins=_listed(o["allowed_origins"]),
        edge=EdgeLimits(
            head_timeout_s=o["request_timeout"],
            body_idle_timeout_s=o["request_timeout"],
            keep_alive_s=o["keep_alive_timeout"],
            max_connections=o["max_connections"],
            max_connections_per_address=o["max_connections_per_address"],
        ),
    )
    try:
        TrustedProxies(config.trusted_proxies)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--trusted-proxies") from None
    try:
        rules = RateRules().with_overrides(dict(map(parse_override, o["rate_limit"])))
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--rate-limit") from None
    config = replace(
        config,
        rate_limits=o["rate_limits"] == "on",
        rate_rules=rules,
        devices=DevicePolicy(o["token_ttl_days"], o["max_devices"]),
        push_contact=o["push_contact"],
        push_delay=o["push_delay"],
        push_lease=o["push_lease"],
        push_allow_private_endpoints=o["push_allow_private_endpoints"],
        apns=apns_config(o),
        fcm=fcm_config(o),
        media=media_policy(o),
        s3=s3_settings(o),
    )
    if not o["push_contact"].startswith(("mailto:", "https:")):
        raise click.BadParameter("a mailto: or https: URL", param_hint="--push-contact")
    if (o["certfile"] is None) != (o["keyfile"] is None):
        raise click.BadParameter("give both --certfile and --keyfile", param_hint="--certfile")
    if redis_url and not o["database_url"]:
        raise click.BadParameter(
            "nodes that share a Redis bus must share a database too", param_hint="--redis-url"
        )
    try:
        app, node = build_app(config)
    except ConfigError as e:
        raise click.BadParameter(str(e), param_hint=e.option) from None
    uv_config: Any = uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="uvloop",
        # REST on uvicorn's httptools protocol; /v1/ws handed to picows on the same port
        http=node.front_door,
        timeout_keep_alive=config.edge.keep_alive_s,
        ws="none",
        log_level=log_level,
        lifespan="on",
        timeout_graceful_shutdown=10,
        ssl_certfile=o["certfile"],
        ssl_keyfile=o["keyfile"],
    )
    scheme = "https" if o["certfile"] else "http"
    click.echo(f"Hubbub {__version__}: open {scheme}://{host}:{port}/ (data in {config.data_dir})")
    _Server(uv_config, node).run()


def _listed(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def advertised_url(host: str, port: int, *, tls: bool = False) -> str:
    """http(s)://HOST:PORT as served; a wildcard address is advertised by host name."""
    if host in ("0.0.0.0", "::", ""):
        host = socket.getfqdn()
    if ":" in host:
        host = f"[{host}]"
    return f"{'https' if tls else 'http'}://{host}:{port}"


@main.command()
@click.option(
    "--database-url",
    required=True,
    envvar="HUBBUB_DATABASE_URL",
    help="The PostgreSQL database to bring up to date.",
)
def migrate(database_url: str) -> None:
    """Apply the PostgreSQL schema migrations (nodes also apply them when they start)."""
    applied = asyncio.run(migrate_database(database_url))
    click.echo(f"applied migrations {applied}" if applied else "schema already up to date")


if __name__ == "__main__":
    main()
