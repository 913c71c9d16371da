"""Live numbers in the Prometheus text format (GET /metrics).

Each node has its own registry (so several nodes in one test process do not collide).
The per-message counts are plain integers read at scrape time (a prometheus Counter
takes a lock on every increment, and a group message makes a hundred deliveries);
gauges are read from the hub only when scraped.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from hubbub.gateway.hub import Hub

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.messages_stored = 0  # repeats of a client_msg_id excluded
        self.send_latency = Histogram(
            "hubbub_send_to_sent_seconds",
            "From a send frame's arrival to its `sent` ack",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.commit_batch = Histogram(
            "hubbub_commit_batch_jobs",
            "Writes committed together by one fsync (group commit)",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
            registry=r,
        )
        self.commit_seconds = Histogram(
            "hubbub_commit_seconds",
            "Time of COMMIT (the fsync) per batch",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.errors = Counter(
            "hubbub_errors", "Refusals sent to clients, by error code", ["code"], registry=r
        )
        self.connections = Gauge("hubbub_connections", "Open device WebSockets", registry=r)
        self.connected_users = Gauge(
            "hubbub_connected_users", "Users with at least one open WebSocket", registry=r
        )
        self.queued_bytes = Gauge(
            "hubbub_outgoing_queued_bytes", "Bytes waiting in device send queues", registry=r
        )

    def watch(self, hub: Hub) -> None:
        self.registry.register(_HotCounts(self, hub))
        self.connections.set_function(hub.connection_count)
        self.connected_users.set_function(hub.user_count)
        self.queued_bytes.set_function(hub.queued_bytes)

    def on_commit(self, jobs: int, seconds: float) -> None:
        """Called by the storage writer thread after each batch."""
        self.commit_batch.observe(jobs)
        self.commit_seconds.observe(seconds)

    def render(self) -> bytes:
        return bytes(generate_latest(self.registry))


class _HotCounts(Collector):
    def __init__(self, metrics: Metrics, hub: Hub) -> None:
        self.metrics = metrics
        self.hub = hub

    def collect(self) -> Iterator[Metric]:
        yield CounterMetricFamily(
            "hubbub_messages_stored",
            "Messages stored (repeats of a client_msg_id excluded)",
            value=self.metrics.messages_stored,
        )
        yield CounterMetricFamily(
            "hubbub_deliveries",
            "Inbox entries handed to device connections",
            value=self.hub.delivered,
        )
