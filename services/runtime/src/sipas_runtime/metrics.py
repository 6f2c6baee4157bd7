"""Prometheus metrics common to every service, on a per-service ``CollectorRegistry``.

Runtime metrics share one name across services and carry a ``service`` label, so one
PromQL expression covers the whole stack (``sum by (service) (...)``). Domain metrics
that belong to one service are named ``sipas_<service>_<thing>_<unit>`` and live in that
service's ``metrics.py``. Labels are bounded: service, consumer, reason, event type; never
dossier ids, tokens or people.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)

__all__ = ["CONTENT_TYPE_LATEST", "RuntimeMetrics", "new_registry", "render"]


def new_registry() -> CollectorRegistry:
    """A registry with process (CPU, memory, fds) and platform collectors."""
    registry = CollectorRegistry(auto_describe=True)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    return registry


def render(registry: CollectorRegistry) -> bytes:
    """The text exposition of ``registry``."""
    return generate_latest(registry)


class RuntimeMetrics:
    """Metrics the runtime kit records for every consumer, publisher and HTTP route."""

    DLQ_KINDS = ("malformed", "schema", "rejected", "handler_error", "max_deliveries")
    OUTCOMES = ("applied", "duplicate", "dead_lettered")

    def __init__(self, service: str, registry: CollectorRegistry) -> None:
        self.service = service
        self.registry = registry
        self.consumed = Counter(
            "sipas_events_consumed",
            "Events taken from JetStream, by outcome (applied, duplicate, dead_lettered)",
            ["service", "consumer", "outcome"],
            registry=registry,
        )
        self.published = Counter(
            "sipas_events_published",
            "Events published to JetStream (acknowledged, including duplicates)",
            ["service", "event_type"],
            registry=registry,
        )
        self.handler_duration = Histogram(
            "sipas_handler_duration_seconds",
            "Time to process one batch, from fetch to ack",
            ["service", "consumer"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.batch_messages = Histogram(
            "sipas_consumer_batch_messages",
            "Messages per fetched batch",
            ["service", "consumer"],
            buckets=BATCH_BUCKETS,
            registry=registry,
        )
        self.event_age = Histogram(
            "sipas_event_age_seconds",
            "Age of an event (now - occurred_at) when its effect was committed",
            ["service", "consumer"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.redeliveries = Counter(
            "sipas_redeliveries",
            "Messages received more than once",
            ["service", "consumer"],
            registry=registry,
        )
        self.dead_letters = Counter(
            "sipas_dlq_messages",
            "Messages sent to the dead-letter queue, by reason kind",
            ["service", "consumer", "reason"],
            registry=registry,
        )
        self.pending = Gauge(
            "sipas_consumer_pending_messages",
            "Messages in the stream not yet delivered to the consumer (lag)",
            ["service", "consumer"],
            registry=registry,
        )
        self.ack_pending = Gauge(
            "sipas_consumer_ack_pending_messages",
            "Messages delivered but not yet acknowledged",
            ["service", "consumer"],
            registry=registry,
        )
        self.dlq_size = Gauge(
            "sipas_dlq_stream_messages",
            "Dead letters of this service currently kept on the DLQ stream",
            ["service"],
            registry=registry,
        )
        self.transient_errors = Counter(
            "sipas_transient_errors",
            "Retried infrastructure errors (database or broker unavailable)",
            ["service", "consumer"],
            registry=registry,
        )
        self.stale_applied = Counter(
            "sipas_consumer_stale_applied_sets",
            "Batches retried because another instance had changed the consumer's applied "
            "sequences (several instances on one durable)",
            ["service", "consumer"],
            registry=registry,
        )
        self.dlq_size.labels(service).set(0)
        self.http_requests = Counter(
            "sipas_http_requests",
            "HTTP requests by route template and status code",
            ["service", "method", "route", "status"],
            registry=registry,
        )
        self.http_duration = Histogram(
            "sipas_http_request_duration_seconds",
            "HTTP request latency by route template",
            ["service", "method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )

    def observe_ages(self, consumer: str, events: Iterable[object]) -> None:
        """How old each event (its ``occurred_at``) is now that its effect is applied."""
        now = datetime.now(UTC)
        histogram = self.event_age.labels(self.service, consumer)
        for event in events:
            occurred = getattr(event, "occurred_at", None)
            if isinstance(occurred, datetime):
                histogram.observe(max(0.0, (now - occurred).total_seconds()))

    def declare_consumer(self, consumer: str) -> None:
        """Create a consumer's series at 0, so the first redelivery or dead letter shows."""
        labels = (self.service, consumer)
        for outcome in self.OUTCOMES:
            self.consumed.labels(*labels, outcome)
        for kind in self.DLQ_KINDS:
            self.dead_letters.labels(*labels, kind)
        for metric in (
            self.redeliveries,
            self.transient_errors,
            self.stale_applied,
            self.pending,
            self.ack_pending,
        ):
            metric.labels(*labels)
