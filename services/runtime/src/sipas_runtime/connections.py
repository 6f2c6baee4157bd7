"""A service's connections: its broker, its Mongo client and what runs on them once started.

:class:`Connections` is the bottom of :class:`~sipas_runtime.service.ServiceRuntime`: the
broker and the metrics registry exist from construction; the Mongo client, the JetStream
context, the publisher and the dead-letter queue exist once the service has started
(:mod:`~sipas_runtime.lifecycle`), and using them earlier raises :class:`NotStartedError`.
"""

from __future__ import annotations

from faststream.nats import NatsBroker
from faststream.nats.prometheus import NatsPrometheusMiddleware
from faststream.nats.security import NatsUserPassword
from nats.js import JetStreamContext
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from sipas_runtime.dlq.letters import DeadLetters
from sipas_runtime.metrics import RuntimeMetrics, new_registry
from sipas_runtime.mongo import ConnectedDatabase, Document
from sipas_runtime.nats_access import inbox_prefix
from sipas_runtime.publishing import EventPublisher
from sipas_runtime.settings import ServiceSettings


class NotStartedError(RuntimeError):
    """Raised when Mongo or NATS is used before the service has started."""


def create_broker(settings: ServiceSettings, metrics: RuntimeMetrics) -> NatsBroker:
    """The service's NATS broker (its own user and inbox prefix, reconnecting forever)."""
    name = settings.service_name
    return NatsBroker(
        settings.nats_url.split(","),
        logger=None,
        name=f"sipas-{name}",
        security=(
            NatsUserPassword(settings.nats_user, settings.nats_password or "")
            if settings.nats_user
            else None
        ),
        inbox_prefix=inbox_prefix(name),
        max_reconnect_attempts=-1,
        middlewares=[NatsPrometheusMiddleware(registry=metrics.registry, app_name=f"sipas-{name}")],
    )


class Connections:
    """The broker, the Mongo client and the publishing and dead-letter ends built on them."""

    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        self.name = settings.service_name
        self.registry = new_registry()
        self.metrics = RuntimeMetrics(self.name, self.registry)
        self.broker = create_broker(settings, self.metrics)
        self._client: AsyncMongoClient[Document] | None = None
        self.database = ConnectedDatabase(lambda: self.mongo, settings.database_name)
        """The service's database for stores built before it connects."""
        self._js: JetStreamContext | None = None
        self._publisher: EventPublisher | None = None
        self._dead_letters: DeadLetters | None = None

    @property
    def mongo(self) -> AsyncMongoClient[Document]:
        """The service's Mongo client."""
        if self._client is None:
            raise NotStartedError("Mongo client is not connected yet")
        return self._client

    @property
    def db(self) -> AsyncDatabase[Document]:
        """The service's own database (never another service's)."""
        return self.mongo[self.settings.database_name]

    @property
    def js(self) -> JetStreamContext:
        """JetStream context on the broker's connection."""
        if self._js is None:
            raise NotStartedError("NATS is not connected yet")
        return self._js

    @property
    def publisher(self) -> EventPublisher:
        """Publishes contract events with dedup ids."""
        if self._publisher is None:
            raise NotStartedError("publisher is not ready yet")
        return self._publisher

    @property
    def dead_letters(self) -> DeadLetters:
        """The service's dead-letter queue."""
        if self._dead_letters is None:
            raise NotStartedError("dead-letter queue is not ready yet")
        return self._dead_letters
