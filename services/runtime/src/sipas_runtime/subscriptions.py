"""A service's consumers, registered before it starts and pulled once it runs.

:class:`Subscriptions` turns each registration into a consumer with exactly-once effects
(:mod:`~sipas_runtime.consumer`, or :mod:`~sipas_runtime.memory` for state kept in
memory) and into the factory of its pull loop, which the service's lifecycle starts once
NATS is connected (:mod:`~sipas_runtime.lifecycle`).
"""

from __future__ import annotations

import contextlib
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from sipas_contracts.streams import ConsumerSpec
from sipas_runtime.batches import Delivery
from sipas_runtime.checkpoints import CheckpointPolicy, MemoryState
from sipas_runtime.connections import Connections
from sipas_runtime.consumer import Handler, IdempotentConsumer
from sipas_runtime.decoding import Decoder, MessageDecoder
from sipas_runtime.dedup import DedupMode, event_key
from sipas_runtime.memory import MemoryConsumer, TakeOverHook
from sipas_runtime.pull import PullLoop
from sipas_runtime.recovery import Recoverable
from sipas_runtime.republished import RepublishedGuard
from sipas_runtime.settings import ServiceSettings
from sipas_runtime.streams import consumer_config

E = TypeVar("E")
log = structlog.get_logger(__name__)


class Subscriptions(Connections):
    """The consumers a service registered and the pull loops that feed them."""

    def __init__(self, settings: ServiceSettings) -> None:
        super().__init__(settings)
        self._consumers: list[Recoverable] = []
        self._loops: list[Callable[[Client, JetStreamContext], PullLoop]] = []
        self.instance = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        """This process among the service's instances (owner of in-memory state)."""

    def consume(
        self,
        spec: ConsumerSpec,
        *,
        decode: Decoder[E] | None = None,
        decode_message: MessageDecoder[E] | None = None,
        handler: Handler[E],
        dedup: DedupMode = "event_id",
        key: Callable[[Delivery[E]], str] | None = None,
        batch_size: int | None = None,
        after_batch: Callable[[], None] | None = None,
        atomic_publish: bool = False,
        pace: float = 0.0,
        refuse_republished: bool = True,
    ) -> IdempotentConsumer[E]:
        """Subscribe ``handler`` to ``spec`` with exactly-once effects (see ``consumer``).

        ``decode`` turns the message bytes into an event; ``decode_message`` gets the whole
        NATS message instead (subject, headers) for decoders that need them.
        ``atomic_publish`` stores the handler's outputs in atomic batches (see ``publishing``).
        ``after_batch`` is called once a batch's effects are committed (e.g. to wake a loop
        that reads what the batch wrote); its events are published and its messages acked
        in the background, in batch order. ``pace``: start a batch at most every
        ``pace`` seconds (a consumer nobody waits on; see ``pull``). A sequence-mode
        consumer refuses an event id published again late (``republished``) unless
        ``refuse_republished`` is off because its handler already recognises a repeat.
        """
        consumer = self._idempotent(
            spec,
            handler,
            decode=decode,
            decode_message=decode_message,
            dedup=dedup,
            key=key or event_key,
            atomic_publish=atomic_publish,
            republished=self._republished_unless(spec, dedup, recognised=not refuse_republished),
        )
        self._pull(spec, self._batches(consumer, after_batch), batch_size, pace)
        self._register(consumer)
        return consumer

    def _idempotent(
        self,
        spec: ConsumerSpec,
        handler: Handler[E],
        *,
        decode: Decoder[E] | None,
        decode_message: MessageDecoder[E] | None,
        dedup: DedupMode,
        key: Callable[[Delivery[E]], str],
        atomic_publish: bool,
        republished: RepublishedGuard | None,
    ) -> IdempotentConsumer[E]:
        """A consumer of ``spec`` on this runtime's Mongo client, publisher and dead letters."""
        return IdempotentConsumer(
            spec=spec,
            decode=decode,
            decode_message=decode_message,
            handler=handler,
            client=lambda: self.mongo,
            database=self.settings.database_name,
            publisher=lambda: self.publisher,
            dead_letters=lambda: self.dead_letters,
            metrics=self.metrics,
            dedup=dedup,
            max_deliveries=self.settings.max_deliveries,
            key=key,
            atomic_publish=atomic_publish,
            republished=republished,
        )

    def _republished_unless(
        self, spec: ConsumerSpec, dedup: DedupMode, *, recognised: bool
    ) -> RepublishedGuard | None:
        """The guard of a sequence-mode consumer, unless its handler recognises a repeat."""
        return None if dedup != "sequence" or recognised else self._republished_guard(spec)

    def consume_in_memory(
        self,
        spec: ConsumerSpec,
        *,
        decode: Decoder[E],
        state: MemoryState[E],
        on_applied: Callable[[], None] | None = None,
        active: Callable[[], bool] | None = None,
        refuse_republished: bool = True,
        on_take_over: TakeOverHook | None = None,
        pace: float = 0.0,
    ) -> MemoryConsumer[E]:
        """Fold ``spec``'s pinned durable into ``state`` in memory, with checkpoints.

        One instance at a time owns it (``sipas_runtime.memory``); ``on_applied`` is
        called after each batch is folded (e.g. to wake a loop that acts on the state);
        ``active``: whether this instance should pull it now (partitions);
        ``refuse_republished`` is off when ``state`` already recognises a repeat;
        ``on_take_over``: called by each new owner with the checkpoint it loaded;
        ``pace``: start a batch at most every ``pace`` seconds (fewer, larger folds and
        acks when the consumer keeps up, at the cost of up to ``pace`` of latency).
        """
        if not spec.pinned:  # its permissions and the server's priority group depend on it
            msg = f"{spec.durable}: a consumer whose state is in memory must be pinned"
            raise ValueError(msg)
        settings = self.settings
        consumer: MemoryConsumer[E] = MemoryConsumer(
            spec=spec,
            decode=decode,
            state=state,
            client=lambda: self.mongo,
            database=settings.database_name,
            dead_letters=lambda: self.dead_letters,
            metrics=self.metrics,
            instance=self.instance,
            policy=CheckpointPolicy(
                settings.checkpoint_interval, settings.checkpoint_events, settings.owner_timeout
            ),
            max_deliveries=settings.max_deliveries,
            republished=self._republished_guard(spec) if refuse_republished else None,
            on_applied=on_applied,
            active=active,
            on_take_over=on_take_over,
        )
        self._loops.append(
            lambda nc, js: consumer.pull_loop(
                nc, js, batch=settings.batch_size, linger=settings.batch_timeout, pace=pace
            )
        )
        self._register(consumer)
        return consumer

    def _batches(
        self, consumer: IdempotentConsumer[E], after_batch: Callable[[], None] | None
    ) -> Callable[[list[Msg]], Awaitable[None]]:
        """What the pull loop does with each batch: process it, or nak it to come again."""

        async def on_batch(messages: list[Msg]) -> None:
            try:
                await consumer.process(messages, wait=False)
                if after_batch is not None:
                    after_batch()
            except Exception:
                # Not acked: JetStream redelivers after a delay; the DLQ threshold bounds it.
                log.exception("batch_failed", consumer=consumer.spec.durable, size=len(messages))
                for msg in messages:
                    with contextlib.suppress(Exception):
                        await msg.nak(delay=1.0)

        return on_batch

    def _pull(
        self,
        spec: ConsumerSpec,
        on_batch: Callable[[list[Msg]], Awaitable[None]],
        batch_size: int | None,
        pace: float,
    ) -> None:
        """Start pulling ``spec``'s durable into ``on_batch`` once NATS is connected."""
        settings = self.settings
        self._loops.append(
            lambda nc, js: PullLoop(
                nc,
                js,
                stream=spec.stream,
                config=consumer_config(spec, max_deliver=settings.max_deliveries),
                handler=on_batch,
                batch=batch_size or settings.batch_size,
                linger=settings.batch_timeout,
                pace=pace,
            )
        )

    def _register(self, consumer: Recoverable) -> None:
        self._consumers.append(consumer)
        self.metrics.declare_consumer(consumer.spec.durable)

    def _republished_guard(self, spec: ConsumerSpec) -> RepublishedGuard:
        """Refuses, in a sequence-mode consumer, an event id published again late."""
        return RepublishedGuard(
            spec.durable,
            spec.stream,
            lambda: self.broker.connection,
            lambda: self.mongo,
            self.settings.database_name,
        )
