"""How a consumer tells a fresh delivery from a replay, and records its position.

Each mode splits a batch's deliveries into ``fresh`` and ``replayed`` inside the batch's
transaction and records what the batch applied (``sipas_runtime.positions``):

- :class:`ByEventId`: a processed marker per event id (or per the consumer's key); the
  batch's position entry rides in the same ``insert_many`` as the markers.
- :class:`BySequence`: the exact set of stream sequences applied
  (``sipas_runtime.sequences``), which is also the position; and, with a
  ``RepublishedGuard``, no event id applied twice (``sipas_runtime.republished``).
- :class:`ByHandler`: every delivery is fresh; the handler's own state (e.g. a ledger
  keyed by a natural id) makes a replay harmless; the position entry is one more write of
  the batch.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Generic, Literal, TypeVar

from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import PyMongoError

from sipas_runtime import positions
from sipas_runtime.batches import Batch, Delivery
from sipas_runtime.metrics import RuntimeMetrics
from sipas_runtime.mongo import Document
from sipas_runtime.positions import PROCESSED, WATERMARKS
from sipas_runtime.republished import RepublishedGuard
from sipas_runtime.sequences import AppliedSequences

E = TypeVar("E")
DedupMode = Literal["event_id", "sequence", "handler"]
"""How replays are recognised: per event id, by stream-sequence watermark, or by the handler
itself (``handler``: every delivery is passed as fresh; the handler's own state — e.g. a
ledger keyed by a natural id — makes a replay harmless, and no shared document serialises
concurrent instances)."""
_MARK_PAUSE_SECONDS = 30.0


class StaleWatermarkError(PyMongoError):
    """The applied set changed since this process kept it: retry with a fresh read."""

    def __init__(self, durable: str) -> None:
        super().__init__(
            f"the applied sequences of {durable} changed since this process read them",
            error_labels=["TransientTransactionError"],
        )


def event_key(delivery: Delivery[Any]) -> str:
    """The de-duplication key of a delivery: its event id (its sequence if it has none)."""
    event_id = getattr(delivery.event, "event_id", None)
    return str(event_id) if event_id is not None else f"seq:{delivery.seq}"


class Dedup(Generic[E]):
    """A consumer's way of recognising replays, and its applied position."""

    def __init__(
        self, durable: str, client: Callable[[], AsyncMongoClient[Document]], database: str
    ) -> None:
        self.durable = durable
        self._client = client
        self._database = database

    async def split(
        self, deliveries: Sequence[Delivery[E]], batch: Batch[E], session: AsyncClientSession
    ) -> None:
        """Put each delivery in ``batch.fresh`` or ``batch.replayed``; record the position."""
        raise NotImplementedError

    def forget(self) -> None:
        """A transaction's outcome is unknown: drop anything kept in memory."""

    async def position(self) -> AppliedSequences:
        """The sequences this consumer's store says it has applied."""
        return await positions.load(self._client()[self._database], self.durable)

    async def cover(self, spans: list[tuple[int, int]]) -> None:
        """Record sequences that hold no message for this consumer (resume)."""
        await positions.cover(self._client(), self._database, self.durable, spans)

    async def fold(self) -> int:
        """Merge position entries into the base document; how many were merged."""
        return await positions.fold(self._client(), self._database, self.durable)


class ByHandler(Dedup[E]):
    """Every delivery is fresh: the handler recognises replays itself."""

    async def split(
        self,
        deliveries: Sequence[Delivery[E]],
        batch: Batch[E],
        session: AsyncClientSession,  # noqa: ARG002 - nothing to read: the handler decides
    ) -> None:
        """All fresh; the position entry joins the batch's writes."""
        batch.fresh.extend(deliveries)
        batch.writes.insert(PROCESSED, positions.entry(self.durable, (d.seq for d in deliveries)))


class ByEventId(Dedup[E]):
    """A processed marker per key (the event id unless the consumer gives another)."""

    def __init__(
        self,
        durable: str,
        client: Callable[[], AsyncMongoClient[Document]],
        database: str,
        key: Callable[[Delivery[E]], str],
    ) -> None:
        super().__init__(durable, client, database)
        self._key = key

    async def split(
        self, deliveries: Sequence[Delivery[E]], batch: Batch[E], session: AsyncClientSession
    ) -> None:
        """Markers read and written in the transaction, with the position entry."""
        collection = self._client()[self._database][PROCESSED]
        keys: dict[str, Delivery[E]] = {}
        for delivery in deliveries:
            marker = f"{self.durable}:{self._key(delivery)}"
            if marker in keys:  # the same event twice in one batch (published twice)
                batch.replayed.append(delivery)
            else:
                keys[marker] = delivery
        query = {"_id": {"$in": list(keys)}}
        seen = {doc["_id"] async for doc in collection.find(query, {"_id": 1}, session=session)}
        now = datetime.now(UTC)
        inserts: list[Document] = [positions.entry(self.durable, (d.seq for d in deliveries))]
        for marker, delivery in keys.items():
            if marker in seen:
                batch.replayed.append(delivery)
            else:
                batch.fresh.append(delivery)
                inserts.append({"_id": marker, "at": now})
        # One insert_many: on SecantusDB cheaper than as many inserts in a bulkWrite.
        await collection.insert_many(inserts, ordered=False, session=session)


class BySequence(Dedup[E]):
    """The exact set of stream sequences applied (see ``sipas_runtime.sequences``)."""

    def __init__(
        self,
        durable: str,
        client: Callable[[], AsyncMongoClient[Document]],
        database: str,
        metrics: RuntimeMetrics,
        republished: RepublishedGuard | None = None,
    ) -> None:
        super().__init__(durable, client, database)
        self._republished = republished
        self._stale_counter = metrics.stale_applied.labels(metrics.service, durable)
        # The applied set and version as last committed (or read) here.
        self._mark: tuple[AppliedSequences, int] | None = None
        self._mark_paused_until = 0.0

    def forget(self) -> None:
        """The outcome is unknown: read the applied set again next time."""
        self._mark = None

    async def split(
        self, deliveries: Sequence[Delivery[E]], batch: Batch[E], session: AsyncClientSession
    ) -> None:
        """Split by the applied set; the batch's new set is written with its effects.

        The set this process last committed (or read) is kept in memory, so a batch costs
        no round trip of its own: a conditional write, sent with the handler's writes,
        names the stored ``seq``, ``ranges`` and version ``v`` it expects. The set only
        ever grows, so a kept copy is a subset of the truth: it can take a replay for fresh
        (then the condition fails because the stored set has grown, the whole transaction
        is aborted, handler's effects included, and retried with a fresh read), never a
        fresh delivery for a replay — unless the store lost commits since: then the stored
        set differs and the condition fails as well, but only when something is written,
        so a batch the kept copy finds all replayed is split again with a fresh read.
        After a failed condition (another instance consumes the same durable, or a resume
        covered sequences) the copy is not used for a while, and a set read afresh is
        written back at once, before the handler runs.
        """
        collection = self._client()[self._database][WATERMARKS]
        kept = self._mark if time.monotonic() >= self._mark_paused_until else None
        if kept is not None and kept[1]:
            applied = AppliedSequences(kept[0].floor, list(kept[0].ranges))
            version = kept[1]
            condition: Document = {"_id": self.durable, **kept[0].condition(), "v": version}
            _divide(deliveries, applied, batch)
            if not batch.fresh:
                # Nothing would be written, so nothing would check the kept copy: a store
                # that lost commits since would have its loss taken for replays. Read.
                batch.replayed.clear()
                kept = None
        if kept is None or not kept[1]:  # nothing kept, or nothing written yet
            stored = await collection.find_one({"_id": self.durable}, session=session)
            applied = AppliedSequences.from_document(stored)
            version = int((stored or {}).get("v", 0))
            condition = {"_id": self.durable}
            _divide(deliveries, applied, batch)
        handled = [d.seq for d in batch.fresh]
        if handled and self._republished is not None:
            await self._republished.check(batch, session)  # a fresh copy of an applied event
        if handled:
            applied.add(handled)
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
        self._stale_counter.inc()
        self._mark = None
        self._mark_paused_until = time.monotonic() + _MARK_PAUSE_SECONDS
        return StaleWatermarkError(self.durable)

    async def fold(self) -> int:
        """Nothing to fold: the applied set is written whole by every batch."""
        return 0


def _divide(deliveries: Sequence[Delivery[E]], applied: AppliedSequences, batch: Batch[E]) -> None:
    """Fresh or replayed by ``applied``; a message twice in one batch counts once."""
    taken: set[int] = set()
    for delivery in deliveries:
        again = delivery.seq in applied or delivery.seq in taken
        (batch.replayed if again else batch.fresh).append(delivery)
        taken.add(delivery.seq)


def for_mode(
    mode: DedupMode,
    durable: str,
    client: Callable[[], AsyncMongoClient[Document]],
    database: str,
    metrics: RuntimeMetrics,
    *,
    key: Callable[[Delivery[Any]], str],
    republished: RepublishedGuard | None,
) -> Dedup[Any]:
    """The de-duplication of ``mode`` for one durable consumer."""
    if mode == "sequence":
        return BySequence(durable, client, database, metrics, republished)
    if mode == "handler":
        return ByHandler(durable, client, database)
    return ByEventId(durable, client, database, key)
