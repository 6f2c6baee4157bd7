"""Exactly-once effects from at-least-once delivery: the idempotent batch consumer.

A consumer takes whole batches from a JetStream pull consumer and, for each batch:

1. dead-letters what can never succeed, with the reason, and acks it: bytes that do not
   decode or validate, and messages delivered ``max_deliveries`` times;
2. opens one Mongo transaction in which it (a) splits the valid deliveries into *fresh*
   and *replayed* using the processed markers it keeps (per event id) or the exact
   set of stream sequences applied (``sipas_runtime.sequences``), (b) records the
   fresh ones as processed and (c) lets the handler apply their effect: marker or
   sequence set, position and effect commit together or not at all
   (``sipas_runtime.dedup``). Writes the handler adds to
   ``batch.writes`` are sent in one ``bulkWrite`` when it returns
   (``sipas_runtime.writes``), so a batch costs few round trips whatever it touches;
3. publishes the events the handler returned (deterministic ids, so re-publishing after a
   crash is de-duplicated by JetStream), then acks the batch. The service lets this step
   run in the background, in batch order, while the next batch is applied
   (``sipas_runtime.settling``).

Its position — which stream sequences its store holds the effects of — is written by the
same transaction (``sipas_runtime.positions``), so ``sipas_runtime.resume`` can replay
what a store lost, and messages read back from the stream take the same path as
delivered ones (``sipas_runtime.messages``).

Transient infrastructure errors (Mongo down, failover, write conflict) are retried in
place with backoff while the messages are kept in progress, so nothing is
dead-lettered for an outage. A handler error that is not transient is a fact
about one message: the batch is replayed one message at a time and only the failing
message goes to the DLQ.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, Literal, TypeVar

import structlog
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from tenacity import AsyncRetrying, retry_if_exception, wait_exponential

from sipas_contracts.events import Event
from sipas_contracts.streams import ConsumerSpec
from sipas_runtime.admission import Admission
from sipas_runtime.batches import Batch, Delivery
from sipas_runtime.decoding import Decoder, MessageDecoder, message_decoder
from sipas_runtime.dedup import Dedup, DedupMode, event_key, for_mode
from sipas_runtime.dlq import letters
from sipas_runtime.dlq.letters import DeadLetters, failure_reason
from sipas_runtime.messages import StreamMessage
from sipas_runtime.metrics import RuntimeMetrics
from sipas_runtime.mongo import Document, in_transaction, is_transient
from sipas_runtime.publishing import EventPublisher
from sipas_runtime.republished import RepublishedGuard
from sipas_runtime.resume import resume
from sipas_runtime.sequences import AppliedSequences
from sipas_runtime.settling import Settling
from sipas_runtime.writes import Writes

__all__ = ["Handler", "IdempotentConsumer", "NotDeadError"]

E = TypeVar("E")
log = structlog.get_logger(__name__)

Handler = Callable[[Batch[E], AsyncClientSession], Awaitable[Sequence[Event] | None]]


class NotDeadError(LookupError):
    """Raised when a replayed dead letter is not (or no longer) recorded by its consumer."""


class IdempotentConsumer(Generic[E]):
    """Processes batches of one durable consumer with exactly-once effects in Mongo."""

    def __init__(
        self,
        *,
        spec: ConsumerSpec,
        decode: Decoder[E] | None = None,
        decode_message: MessageDecoder[E] | None = None,
        handler: Handler[E],
        client: Callable[[], AsyncMongoClient[Document]],
        database: str,
        publisher: Callable[[], EventPublisher],
        dead_letters: Callable[[], DeadLetters],
        metrics: RuntimeMetrics,
        dedup: DedupMode = "event_id",
        max_deliveries: int = 10,
        key: Callable[[Delivery[E]], str] = event_key,
        atomic_publish: bool = False,
        republished: RepublishedGuard | None = None,
    ) -> None:
        self.spec = spec
        self.dedup: Dedup[E] = for_mode(
            dedup, spec.durable, client, database, metrics, key=key, republished=republished
        )
        self._atomic_publish = atomic_publish
        decoder = message_decoder(decode, decode_message)
        self._admission = Admission(spec.durable, decoder, dead_letters, metrics, max_deliveries)
        self._handler = handler
        self._client = client
        self._database = database
        self._publisher = publisher
        self._metrics = metrics
        self._labels = (metrics.service, spec.durable)
        self._settling = Settling(
            spec.durable, publisher, metrics, atomic_publish=atomic_publish
        )  # committed, being published and acked
        self.applied_fresh = 0
        """Deliveries applied (not recognised as replays) since this process started."""

    async def process(self, messages: Sequence[Msg], *, wait: bool = True) -> None:
        """Handle one fetched batch end to end; acks every message it has dealt with.

        ``wait=False`` returns once the effects are committed: the batch's events are
        published and its messages acked by a background stage, in batch order, while
        the next batch is applied (a slow store acknowledgement, e.g. a disk flush on the
        event server, does not hold up the batches behind it; ``sipas_runtime.settling``).
        ``settled()`` waits for all of them.
        """
        await self.apply([StreamMessage.received(m) for m in messages], wait=wait)

    async def apply(self, messages: Sequence[StreamMessage], *, wait: bool = True) -> None:
        """Handle messages delivered or read back from the stream (see :meth:`process`)."""
        started = time.monotonic()
        self._metrics.batch_messages.labels(*self._labels).observe(len(messages))
        deliveries: list[Delivery[E]] = []
        raw_by_seq: dict[int, StreamMessage] = {}
        for msg in messages:
            delivery = await self._admission.admit(msg)
            if delivery is not None:
                deliveries.append(delivery)
                raw_by_seq[delivery.seq] = msg
        outputs = await self._apply_with_retry(deliveries, raw_by_seq) if deliveries else []
        task = await self._settling.add(outputs, messages, started)
        if wait:
            await task

    async def replay_dead_letter(self, msg: StreamMessage) -> Literal["applied", "already_applied"]:
        """Apply a dead letter again, read back from its source stream by sequence.

        Taking the consumer's record of the letter is part of the transaction, so a letter
        is applied at most once; ``NotDeadError`` when there is no record (never
        dead-lettered here, or replayed already). A handler error is raised as is (the
        letter stays recorded).
        """
        delivery = self._admission.delivery(msg, self._admission.decode(msg))

        async def work(session: AsyncClientSession) -> tuple[list[Event], Batch[E]]:
            database = self._client()[self._database]
            if not await letters.take(database, self.spec.durable, msg.seq, session):
                raise NotDeadError(f"{self.spec.durable} has no dead letter of seq {msg.seq}")
            return await self._apply([delivery], session)

        outputs, batch = await self._in_transaction(work)
        if outputs:
            await self._publisher().publish_many(outputs, atomic=self._atomic_publish)
        return "applied" if batch.fresh else "already_applied"

    async def recover(self, js: JetStreamContext) -> None:
        """Fold position entries; replay what the durable acked and the store lost."""
        await self.dedup.fold()
        await resume(js, self)

    def forget(self) -> None:
        """The store's server changed: read the applied set again before trusting it."""
        self.dedup.forget()

    async def position(self) -> AppliedSequences:
        """The sequences this consumer's store says it has applied."""
        return await self.dedup.position()

    async def dead_sequences(self) -> set[int]:
        """The sequences this consumer dead-lettered and nobody replayed since."""
        database = self._client()[self._database]
        return await letters.dead_sequences(database, self.spec.durable)

    async def cover(self, spans: list[tuple[int, int]]) -> None:
        """Record sequences that hold no message for this consumer (after a resume)."""
        await self.dedup.cover(spans)

    async def settled(self) -> None:
        """Wait until every committed batch is published and acked (or handed back)."""
        await self._settling.settled()

    async def _apply_with_retry(
        self, deliveries: list[Delivery[E]], raw_by_seq: dict[int, StreamMessage]
    ) -> list[Event]:
        try:
            return await self._retrying(deliveries, raw_by_seq)
        except Exception as exc:
            if is_transient(exc):
                raise
            if len(deliveries) == 1:
                reason = failure_reason(exc)
                log.exception("handler_failed", consumer=self.spec.durable, seq=deliveries[0].seq)
                await self._admission.dead_letter(
                    raw_by_seq[deliveries[0].seq], "handler_error", reason
                )
                return []
        # Find the culprit: apply one at a time; each failure is dead-lettered on its own.
        outputs: list[Event] = []
        for delivery in deliveries:
            outputs.extend(await self._apply_with_retry([delivery], raw_by_seq))
        return outputs

    async def _retrying(
        self, deliveries: list[Delivery[E]], raw_by_seq: dict[int, StreamMessage]
    ) -> list[Event]:
        async for attempt in AsyncRetrying(
            retry=retry_if_exception(is_transient),
            wait=wait_exponential(multiplier=0.05, max=5),
            reraise=True,
        ):
            with attempt:
                if attempt.retry_state.attempt_number > 1:
                    self._metrics.transient_errors.labels(*self._labels).inc()
                    for msg in raw_by_seq.values():
                        await msg.in_progress()
                outputs, _ = await self._in_transaction(
                    lambda session: self._apply(deliveries, session)
                )
                return outputs
        raise AssertionError("unreachable")  # pragma: no cover - reraise=True always returns/raises

    async def _in_transaction(
        self, work: Callable[[AsyncClientSession], Awaitable[tuple[list[Event], Batch[E]]]]
    ) -> tuple[list[Event], Batch[E]]:
        try:
            outputs, batch = await in_transaction(self._client(), work)
        except BaseException:
            self.dedup.forget()  # the outcome is unknown: read the applied set again
            raise
        self.applied_fresh += len(batch.fresh)
        # counted once committed: an attempt that aborts (and is retried) applied nothing
        self._metrics.consumed.labels(*self._labels, "applied").inc(len(batch.fresh))
        self._metrics.consumed.labels(*self._labels, "duplicate").inc(len(batch.replayed))
        self._metrics.observe_ages(self.spec.durable, (d.event for d in batch.fresh))
        for callback in batch.committed:
            callback()
        return outputs, batch

    async def _apply(
        self, deliveries: list[Delivery[E]], session: AsyncClientSession
    ) -> tuple[list[Event], Batch[E]]:
        batch: Batch[E] = Batch(writes=Writes(self._database))
        await self.dedup.split(deliveries, batch, session)
        outputs = await self._handler(batch, session)
        await batch.writes.flush(self._client(), session)
        return list(outputs or []), batch
