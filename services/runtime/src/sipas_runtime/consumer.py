"""Exactly-once effects from at-least-once delivery: the idempotent batch consumer.

A consumer takes whole batches from a JetStream pull consumer and, for each batch:

1. dead-letters what can never succeed, with the reason, and acks it: bytes that do not
   decode or validate, and messages delivered ``max_deliveries`` times;
2. opens one Mongo transaction in which it (a) splits the valid deliveries into *fresh*
   and *replayed* using the processed markers it keeps (per event id) or the exact
   set of stream sequences applied (``sipas_runtime.sequences``), (b) records the
   fresh ones as processed and (c) lets the handler apply their effect: marker or
   sequence set and effect commit together or not at all. Writes the handler adds to
   ``batch.writes`` are sent in one ``bulkWrite`` when it returns
   (``sipas_runtime.writes``), so a batch costs few round trips whatever it touches;
3. publishes the events the handler returned (deterministic ids, so re-publishing after a
   crash is de-duplicated by JetStream), then acks the batch. The service lets this step
   run in the background, in batch order, while the next batch is applied.

Transient infrastructure errors (Mongo down, failover, write conflict) are retried in
place with backoff while the messages are kept in progress, so nothing is
dead-lettered for an outage. A handler error that is not transient is a fact
about one message: the batch is replayed one message at a time and only the failing
message goes to the DLQ.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, Literal, TypeVar
from urllib.parse import quote, unquote

import structlog
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from pydantic import ValidationError
from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import PyMongoError
from tenacity import AsyncRetrying, retry_if_exception, wait_exponential

from sipas_contracts import subjects
from sipas_contracts.events import Event
from sipas_contracts.streams import ConsumerSpec
from sipas_runtime.logs import mask_text
from sipas_runtime.metrics import RuntimeMetrics
from sipas_runtime.mongo import Document, in_transaction, is_transient
from sipas_runtime.publishing import EventPublisher
from sipas_runtime.sequences import AppliedSequences
from sipas_runtime.writes import Writes

E = TypeVar("E")
DedupMode = Literal["event_id", "sequence", "handler"]
"""How replays are recognised: per event id, by stream-sequence watermark, or by the handler
itself (``handler``: every delivery is passed as fresh; the handler's own state — e.g. a
ledger keyed by a natural id — makes a replay harmless, and no shared document serialises
concurrent instances)."""
log = structlog.get_logger(__name__)

# NATS header values must be ASCII: the reason is percent-encoded (UTF-8), which leaves
# ASCII text readable as is; decode_reason() restores Vietnamese text exactly.
_HEADER_SAFE = "".join(chr(c) for c in range(32, 127) if chr(c) != "%")

PROCESSED = "processed_events"
WATERMARKS = "consumer_watermarks"
_MAX_REASON = 1500
_MARK_PAUSE_SECONDS = 30.0
_MAX_SETTLING = 4  # committed batches whose events may still be on their way to the stream


@dataclass(frozen=True, slots=True)
class Delivery(Generic[E]):
    """A decoded message and where it sits in its stream."""

    event: E
    seq: int
    subject: str
    deliveries: int


@dataclass(slots=True)
class Batch(Generic[E]):
    """Deliveries to apply (``fresh``) and ones already applied before (``replayed``)."""

    fresh: list[Delivery[E]] = field(default_factory=list)
    replayed: list[Delivery[E]] = field(default_factory=list)
    version: int | None = None
    """Sequence mode: how many batches with fresh deliveries this consumer has committed,
    this one included — a change counter stored with the applied sequences, so it moves
    in the same transaction as the effect and in commit order (None in other modes)."""
    writes: Writes = field(kw_only=True)
    """Writes sent with the consumer's own in one ``bulkWrite`` after the handler returns
    (see ``sipas_runtime.writes``); a handler may also write directly with the session."""
    committed: list[Callable[[], None]] = field(default_factory=list)
    """Called, in order, once the transaction this batch was applied in has committed
    (an attempt that is rolled back and retried gets a new batch; its callbacks never run)."""

    def on_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` after this batch's effects have committed."""
        self.committed.append(callback)


Handler = Callable[[Batch[E], AsyncClientSession], Awaitable[Sequence[Event] | None]]
Decoder = Callable[[bytes], E]
MessageDecoder = Callable[[Msg], E]
"""A decoder that also needs the subject or headers (e.g. the source of a raw record)."""


class RejectedError(ValueError):
    """Raised by a decoder for input that is well-formed but unacceptable (e.g. unknown unit)."""

    def __init__(self, reason: str, *, kind: str = "rejected") -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


def decode_reason(header_value: str) -> str:
    """The human-readable reason stored in a ``Sipas-Dlq-Reason`` header."""
    return unquote(header_value)


def describe_validation_error(exc: ValidationError) -> str:
    """``field: reason; field: reason`` for a pydantic error, for humans and the DLQ."""
    parts = []
    for error in exc.errors():
        location = ".".join(str(p) for p in error["loc"]) or "(body)"
        parts.append(f"{location}: {error['msg']}")
    return "; ".join(parts)


def failure_reason(exc: BaseException) -> str:
    """What a dead letter says about a failed handler: the error's kind and codes.

    A database error's text quotes the documents it failed on (a duplicate key error holds
    the whole invitation), so only its codes are kept; other errors keep their message with
    phone numbers and e-mail addresses masked.
    """
    name = type(exc).__name__
    if not isinstance(exc, PyMongoError):
        return f"handler failed: {name}: {mask_text(str(exc))}"
    details = getattr(exc, "details", None)
    errors = list(getattr(exc, "write_errors", None) or [])
    if isinstance(details, dict):
        errors += details.get("writeErrors") or []
    codes = {e.get("code") for e in errors if isinstance(e, dict)}
    codes.add(getattr(exc, "code", None))
    known = sorted(str(c) for c in codes if c is not None)
    return f"handler failed: {name}" + (f" (error code {', '.join(known)})" if known else "")


def _message_decoder(
    decode: Decoder[E] | None, decode_message: MessageDecoder[E] | None
) -> MessageDecoder[E]:
    if decode_message is not None and decode is None:
        return decode_message
    if decode is not None and decode_message is None:
        return lambda msg: decode(msg.data)
    msg = "give exactly one of decode (bytes) or decode_message (the whole NATS message)"
    raise TypeError(msg)


def _default_key(delivery: Delivery[Any]) -> str:
    event_id = getattr(delivery.event, "event_id", None)
    return str(event_id) if event_id is not None else f"seq:{delivery.seq}"


class StaleWatermarkError(PyMongoError):
    """The applied set changed since this process kept it: retry with a fresh read."""

    def __init__(self, durable: str) -> None:
        super().__init__(
            f"the applied sequences of {durable} changed since this process read them",
            error_labels=["TransientTransactionError"],
        )


class DeadLetters:
    """Publishes unprocessable messages to ``sipas.dlq.<service>`` with the reason in headers."""

    def __init__(self, js: JetStreamContext, metrics: RuntimeMetrics) -> None:
        self._js = js
        self._metrics = metrics

    async def send(self, msg: Msg, *, consumer: str, kind: str, reason: str) -> None:
        """Store ``msg``'s original bytes on the DLQ stream; raises if the DLQ write fails."""
        meta = msg.metadata
        seq = meta.sequence.stream
        headers = {
            "Nats-Msg-Id": f"dlq:{consumer}:{seq}",
            "Sipas-Dlq-Kind": kind,
            "Sipas-Dlq-Reason": quote(" ".join(reason[:_MAX_REASON].split()), safe=_HEADER_SAFE),
            "Sipas-Dlq-Consumer": consumer,
            "Sipas-Dlq-Stream": meta.stream,
            "Sipas-Dlq-Stream-Seq": str(seq),
            "Sipas-Dlq-Subject": msg.subject,
            "Sipas-Dlq-At": datetime.now(UTC).isoformat(),
        }
        await self._js.publish(
            subjects.dead_letter(self._metrics.service), msg.data, headers=headers
        )
        self._metrics.dead_letters.labels(self._metrics.service, consumer, kind).inc()
        log.warning("dead_lettered", consumer=consumer, kind=kind, reason=reason[:300], seq=seq)


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
        key: Callable[[Delivery[E]], str] = _default_key,
        atomic_publish: bool = False,
    ) -> None:
        self.spec = spec
        self._atomic_publish = atomic_publish
        self._decode = _message_decoder(decode, decode_message)
        self._handler = handler
        self._client = client
        self._database = database
        self._publisher = publisher
        self._dead_letters = dead_letters
        self._metrics = metrics
        self._dedup = dedup
        self._max_deliveries = max_deliveries
        self._key = key
        self._labels = (metrics.service, spec.durable)
        # Sequence mode: the applied set and version as last committed (or read) here.
        self._mark: tuple[AppliedSequences, int] | None = None
        self._mark_paused_until = 0.0
        self._settling: list[asyncio.Task[None]] = []  # committed, being published and acked

    async def process(self, messages: Sequence[Msg], *, wait: bool = True) -> None:
        """Handle one fetched batch end to end; acks every message it has dealt with.

        ``wait=False`` returns once the effects are committed: the batch's events are
        published and its messages acked by a background stage, in batch order, while
        the next batch is applied (a slow store acknowledgement, e.g. a disk flush on the
        event server, no longer holds up the batches behind it). At most
        ``_MAX_SETTLING`` batches wait there; ``settled()`` waits for all of them.
        """
        started = time.monotonic()
        self._metrics.batch_messages.labels(*self._labels).observe(len(messages))
        deliveries: list[Delivery[E]] = []
        raw_by_seq: dict[int, Msg] = {}
        for msg in messages:
            delivery = await self._admit(msg)
            if delivery is not None:
                deliveries.append(delivery)
                raw_by_seq[delivery.seq] = msg
        outputs = await self._apply_with_retry(deliveries, raw_by_seq) if deliveries else []
        if len(self._settling) >= _MAX_SETTLING:
            await asyncio.wait({self._settling[0]})
        previous = self._settling[-1] if self._settling else None
        task = asyncio.create_task(self._settle(previous, outputs, messages, started))
        self._settling.append(task)
        task.add_done_callback(self._settled_one)
        if wait:
            await task

    def _settled_one(self, task: asyncio.Task[None]) -> None:
        self._settling.remove(task)
        if not task.cancelled():
            task.exception()  # retrieved: the failure was logged and the batch handed back

    async def settled(self) -> None:
        """Wait until every committed batch is published and acked (or handed back)."""
        while self._settling:
            await asyncio.wait({self._settling[-1]})

    async def _settle(
        self,
        previous: asyncio.Task[None] | None,
        outputs: list[Event],
        messages: Sequence[Msg],
        started: float,
    ) -> None:
        """Publish a committed batch's events, then ack its messages (after ``previous``).

        Order holds while publishing works: a batch whose events cannot be stored is handed
        back and comes again as a replay, after the batches behind it (as it did before
        this stage ran in the background).
        """
        if previous is not None:
            await asyncio.wait({previous})  # events in batch order
        try:
            if outputs:
                await self._publisher().publish_many(outputs, atomic=self._atomic_publish)
        except Exception:
            # Committed but not published: redelivered, the batch is a replay whose
            # events are rebuilt from the stored effects and published again.
            log.exception("publish_failed", consumer=self.spec.durable, size=len(messages))
            for msg in messages:
                with contextlib.suppress(Exception):
                    await msg.nak(delay=1.0)
            raise
        for msg in messages:
            await msg.ack()
        self._metrics.handler_duration.labels(*self._labels).observe(time.monotonic() - started)

    async def _admit(self, msg: Msg) -> Delivery[E] | None:
        meta = msg.metadata
        if meta.num_delivered > 1:
            self._metrics.redeliveries.labels(*self._labels).inc()
        if meta.num_delivered > self._max_deliveries:
            await self._dead_letter(
                msg, "max_deliveries", f"delivered {meta.num_delivered} times without success"
            )
            return None
        try:
            event = self._decode(msg)
        except RejectedError as exc:
            await self._dead_letter(msg, exc.kind, exc.reason)
            return None
        except ValidationError as exc:
            kind = (
                "malformed" if any(e["type"] == "json_invalid" for e in exc.errors()) else "schema"
            )
            await self._dead_letter(msg, kind, describe_validation_error(exc))
            return None
        except (ValueError, UnicodeDecodeError) as exc:
            await self._dead_letter(msg, "malformed", f"cannot decode message: {exc}")
            return None
        return Delivery(event, meta.sequence.stream, msg.subject, meta.num_delivered)

    async def _dead_letter(self, msg: Msg, kind: str, reason: str) -> None:
        await self._dead_letters().send(msg, consumer=self.spec.durable, kind=kind, reason=reason)
        self._metrics.consumed.labels(*self._labels, "dead_lettered").inc()  # once stored

    async def _apply_with_retry(
        self, deliveries: list[Delivery[E]], raw_by_seq: dict[int, Msg]
    ) -> list[Event]:
        try:
            return await self._retrying(deliveries, raw_by_seq)
        except Exception as exc:
            if is_transient(exc):
                raise
            if len(deliveries) == 1:
                reason = failure_reason(exc)
                log.exception("handler_failed", consumer=self.spec.durable, seq=deliveries[0].seq)
                await self._dead_letter(raw_by_seq[deliveries[0].seq], "handler_error", reason)
                return []
        # Find the culprit: apply one at a time; each failure is dead-lettered on its own.
        outputs: list[Event] = []
        for delivery in deliveries:
            outputs.extend(await self._apply_with_retry([delivery], raw_by_seq))
        return outputs

    async def _retrying(
        self, deliveries: list[Delivery[E]], raw_by_seq: dict[int, Msg]
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
                try:
                    outputs, batch = await in_transaction(
                        self._client(), lambda session: self._apply(deliveries, session)
                    )
                except BaseException:
                    self._mark = None  # the outcome is unknown: read the applied set again
                    raise
                for callback in batch.committed:
                    callback()
                return outputs
        raise AssertionError("unreachable")  # pragma: no cover - reraise=True always returns/raises

    async def _apply(
        self, deliveries: list[Delivery[E]], session: AsyncClientSession
    ) -> tuple[list[Event], Batch[E]]:
        batch = await self._split(deliveries, session)
        outputs = await self._handler(batch, session)
        await batch.writes.flush(self._client(), session)
        self._metrics.consumed.labels(*self._labels, "applied").inc(len(batch.fresh))
        self._metrics.consumed.labels(*self._labels, "duplicate").inc(len(batch.replayed))
        now = datetime.now(UTC)
        for delivery in batch.fresh:
            occurred = getattr(delivery.event, "occurred_at", None)
            if isinstance(occurred, datetime):
                age = max(0.0, (now - occurred).total_seconds())
                self._metrics.event_age.labels(*self._labels).observe(age)
        return list(outputs or []), batch

    async def _split(self, deliveries: list[Delivery[E]], session: AsyncClientSession) -> Batch[E]:
        db = self._client()[self._database]
        batch: Batch[E] = Batch(writes=Writes(self._database))
        if self._dedup == "handler":
            batch.fresh.extend(deliveries)
            return batch
        if self._dedup == "sequence":
            await self._split_by_sequence(deliveries, batch, session)
            return batch
        keys: dict[str, Delivery[E]] = {}
        for delivery in deliveries:
            marker = self._marker(delivery)
            if marker in keys:  # the same event twice in one batch (published twice)
                batch.replayed.append(delivery)
            else:
                keys[marker] = delivery
        seen = {
            doc["_id"]
            async for doc in db[PROCESSED].find(
                {"_id": {"$in": list(keys)}}, {"_id": 1}, session=session
            )
        }
        now = datetime.now(UTC)
        fresh_markers: list[Document] = []
        for marker, delivery in keys.items():
            if marker in seen:
                batch.replayed.append(delivery)
            else:
                batch.fresh.append(delivery)
                fresh_markers.append({"_id": marker, "at": now})
        if fresh_markers:  # insert_many: on SecantusDB cheaper than inserts in a bulkWrite
            await db[PROCESSED].insert_many(fresh_markers, ordered=False, session=session)
        return batch

    async def _split_by_sequence(
        self, deliveries: list[Delivery[E]], batch: Batch[E], session: AsyncClientSession
    ) -> None:
        """Split by the exact set of applied sequences (see sipas_runtime.sequences).

        The set this process last committed (or read) is kept in memory, so a batch costs
        no round trip of its own: a conditional write, sent with the handler's writes,
        names the stored ``seq``, ``ranges`` and version ``v`` it expects. The set only
        ever grows, so a kept copy is a subset of the truth: it can take a replay for fresh
        (then the condition fails because the stored set has grown, the whole transaction
        is aborted, handler's effects included, and retried with a fresh read), never a
        fresh delivery for a replay. After a failed condition
        (another instance consumes the same durable) the copy is not used for a while,
        and a set read afresh is written back at once, before the handler runs.
        """
        collection = self._client()[self._database][WATERMARKS]
        kept = self._mark if time.monotonic() >= self._mark_paused_until else None
        if kept is None or not kept[1]:  # nothing kept, or nothing written yet
            stored = await collection.find_one({"_id": self.spec.durable}, session=session)
            applied = AppliedSequences.from_document(stored)
            version = int((stored or {}).get("v", 0))
            condition: Document = {"_id": self.spec.durable}
        else:
            applied = AppliedSequences(kept[0].floor, list(kept[0].ranges))
            version = kept[1]
            condition = {"_id": self.spec.durable, **kept[0].condition(), "v": version}
        taken: set[int] = set()  # a message delivered twice within one batch counts once
        for delivery in deliveries:
            again = delivery.seq in applied or delivery.seq in taken
            (batch.replayed if again else batch.fresh).append(delivery)
            taken.add(delivery.seq)
        if batch.fresh:
            applied.add(d.seq for d in batch.fresh)
            version += 1
            update = {"$set": {**applied.document(), "v": version}}
            if "v" in condition:  # the kept copy: checked when the batch's writes are sent
                batch.writes.update(WATERMARKS, condition, update, guard=self._stale)
            else:
                # Read just now: most likely another instance shares the durable, so write
                # at once; of two instances on the same set, the second stops here (write
                # conflict) rather than after doing the handler's work.
                await collection.update_one(condition, update, upsert=True, session=session)
            batch.version = version
        remembered = (applied, version)
        batch.on_commit(lambda: setattr(self, "_mark", remembered))

    def _stale(self) -> BaseException:
        """The kept applied set was stale (its conditional write matched nothing)."""
        self._metrics.stale_applied.labels(*self._labels).inc()
        self._mark = None
        self._mark_paused_until = time.monotonic() + _MARK_PAUSE_SECONDS
        return StaleWatermarkError(self.spec.durable)

    def _marker(self, delivery: Delivery[E]) -> str:
        return f"{self.spec.durable}:{self._key(delivery)}"
