"""What keeps a service's consumers whole when the store or a message fails them.

One :class:`Recovery` per service process, wired by ``ServiceRuntime``:

- it states the store's durability (``sipas_runtime.durability``) at start and again
  when the store's server process changes;
- it resumes every consumer from its own position (``sipas_runtime.resume``) at start,
  when the store's server process changes (restart, failover: its
  ``topologyVersion.processId``, looked at every ``STORE_WATCH_SECONDS``) and every
  ``POSITION_CHECK_SECONDS`` (which also folds position entries);
- it answers operators' requests to replay dead letters (``sipas_runtime.dlq.replay``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal, Protocol

import structlog
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from pymongo import AsyncMongoClient
from pymongo.errors import PyMongoError

from sipas_contracts import subjects
from sipas_contracts.streams import ConsumerSpec
from sipas_runtime.dlq.replay import ReplayDesk
from sipas_runtime.durability import StoreDurability, describe_store, process_id
from sipas_runtime.messages import StreamMessage
from sipas_runtime.mongo import Document

log = structlog.get_logger(__name__)
STORE_WATCH_SECONDS = 1.0  # how soon a restarted store is noticed (one hello a second)
POSITION_CHECK_SECONDS = 60.0  # fold position entries, replay what the floor passed and is lost


class Recoverable(Protocol):
    """A consumer as recovery sees it (``IdempotentConsumer``, ``MemoryConsumer``)."""

    spec: ConsumerSpec

    async def recover(self, js: JetStreamContext) -> None:
        """Replay what the durable acked and the consumer's state lacks (``resume``)."""

    def forget(self) -> None:
        """The store's server changed: what is kept in memory may be what it lost."""

    async def replay_dead_letter(self, msg: StreamMessage) -> Literal["applied", "already_applied"]:
        """Apply a dead letter again, exactly once (``sipas_runtime.dlq.replay``)."""

    async def settled(self) -> None:
        """On stop: wait until what is applied is acknowledged (or checkpointed)."""


class Recovery:
    """Durability statement, resuming and dead-letter replays of one service's consumers."""

    def __init__(
        self,
        service: str,
        consumers: Sequence[Recoverable],
        mongo: Callable[[], AsyncMongoClient[Document]],
    ) -> None:
        self._service = service
        self._consumers = consumers
        self._mongo = mongo
        self.store: StoreDurability | None = None
        """What the store does with an acknowledged commit (known once started)."""
        self._replays: Subscription | None = None

    async def state_durability(self) -> None:
        """Say what an acknowledged commit is worth here (log and ``/readyz``)."""
        self.store = await describe_store(self._mongo())
        event = "store_durability" if self.store.commits_synced else "store_not_durable"
        level = log.info if self.store.commits_synced else log.warning
        level(event, **self.store.details())

    async def resume(self, js: JetStreamContext) -> None:
        """Replay what each consumer's durable acked and its store lost."""
        for consumer in self._consumers:
            try:
                await consumer.recover(js)
            except Exception:  # the next check (or the next restart) tries again
                log.exception("resume_failed", consumer=consumer.spec.durable)

    async def watch_store(self, js: JetStreamContext) -> None:
        """When the store's server process changes (restart, failover), resume every consumer."""
        try:
            hello = await self._mongo().admin.command("hello")
        except PyMongoError:
            return  # down: the consumers retry in place; we look again when it is back
        if self.store is None or process_id(hello) == self.store.process_id:
            return
        log.warning("store_restarted", was=self.store.process_id, now=process_id(hello))
        for consumer in self._consumers:
            consumer.forget()
        await self.state_durability()
        await self.resume(js)

    async def serve_replays(self, nc: Client, js: JetStreamContext) -> None:
        """Answer ``sipas dlq replay`` for this service's consumers (one instance answers)."""
        desk = ReplayDesk(js, {c.spec.durable: c for c in self._consumers})

        async def on_request(msg: Msg) -> None:
            answer = await desk.answer(msg.data)
            await msg.respond(answer.model_dump_json().encode())

        subject = subjects.replay_request(self._service)
        self._replays = await nc.subscribe(subject, queue="replay", cb=on_request)

    async def stop(self) -> None:
        """Stop answering replay requests."""
        if self._replays is not None:
            try:
                await self._replays.unsubscribe()
            except Exception:  # noqa: BLE001 - the connection may be gone already
                log.debug("replay_subscription_gone")
            self._replays = None
