"""Live numbers in the Prometheus text format (GET /metrics).

Each node has its own registry (so several nodes in one test process do not collide).
Hot counts are plain integers read at scrape time (see services/counters.py); gauges and
the other read-at-scrape counts are functions handed in by the composition root, so this
module knows no other part of the node.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

_LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self._counts = _ReadAtScrape()
        r.register(self._counts)
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
        self.storage_retries = Counter(
            "hubbub_storage_retried_jobs",
            "Writes rolled back by a deadlock or serialization failure and retried",
            registry=r,
        )
        self.push_latency = Histogram(
            "hubbub_push_commit_to_request_seconds",
            "From the commit of a message to its push service's acceptance",
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 30.0, 60.0),
            registry=r,
        )
        self.errors = Counter(
            "hubbub_errors", "Refusals sent to clients, by error code", ["code"], registry=r
        )

    def gauge(self, name: str, documentation: str, read: Callable[[], float]) -> None:
        """A gauge whose value is `read()` at scrape time."""
        Gauge(name, documentation, registry=self.registry).set_function(read)

    def count(self, name: str, documentation: str, read: Callable[[], int]) -> None:
        """A counter (monotonic) whose value is `read()` at scrape time."""
        self._counts.add(name, documentation, read)

    def count_by(
        self, name: str, documentation: str, label: str, read: Callable[[], dict[str, int]]
    ) -> None:
        """A counter with one label, its values `read()` at scrape time."""
        self._counts.add_labelled(name, documentation, label, read)

    def on_commit(self, jobs: int, seconds: float) -> None:
        """Called by the storage writer after each batch."""
        self.commit_batch.observe(jobs)
        self.commit_seconds.observe(seconds)

    def on_retry(self) -> None:
        self.storage_retries.inc()

    def count_refusal(self, code: str) -> None:
        self.errors.labels(code).inc()

    def render(self) -> bytes:
        return bytes(generate_latest(self.registry))


class _ReadAtScrape(Collector):
    def __init__(self) -> None:
        self._reads: list[tuple[str, str, Callable[[], int]]] = []
        self._labelled: list[tuple[str, str, str, Callable[[], dict[str, int]]]] = []

    def add(self, name: str, documentation: str, read: Callable[[], int]) -> None:
        self._reads.append((name, documentation, read))

    def add_labelled(
        self, name: str, documentation: str, label: str, read: Callable[[], dict[str, int]]
    ) -> None:
        self._labelled.append((name, documentation, label, read))

    def collect(self) -> Iterator[Metric]:
        for name, documentation, read in self._reads:
            yield CounterMetricFamily(name, documentation, value=read())
        for name, documentation, label, by in self._labelled:
            family = CounterMetricFamily(name, documentation, labels=[label])
            for value, count in sorted(by().items()):
                family.add_metric([value], count)
            yield family
