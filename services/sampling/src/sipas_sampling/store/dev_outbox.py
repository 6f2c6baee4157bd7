"""The development outbox: what a campaign without live channels "sent", kept for a day."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Protocol

from pymongo import UpdateOne
from typing_extensions import override

from sipas_runtime.mongo import Database, Document, MongoStore
from sipas_sampling.store.collections import OUTBOX

OUTBOX_KEEP = timedelta(days=1)


class DevOutbox(Protocol):
    """Messages the development outbox "sent", in the order they were sent."""

    async def add(self, documents: Sequence[Document], now: datetime) -> None:
        """Keep messages for a day (timestamps increase per process)."""
        ...

    async def messages(self, after: datetime | None, limit: int) -> list[Document]:
        """Messages in creation order (those created after ``after``)."""
        ...


class MongoDevOutbox(MongoStore, DevOutbox):
    """The ``outbox`` collection (its TTL index forgets a message after a day)."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self._last: datetime | None = None

    @override
    async def add(self, documents: Sequence[Document], now: datetime) -> None:
        expires = datetime.now(UTC) + OUTBOX_KEEP  # wall time: the TTL index reads it
        operations = []
        for document in documents:
            if self._last is not None and now <= self._last:
                now = self._last + timedelta(milliseconds=1)
            self._last = now
            operations.append(
                UpdateOne(
                    {"_id": document["_id"]},
                    {"$setOnInsert": {**document, "created_at": now, "expires_at": expires}},
                    upsert=True,
                )
            )
        if operations:
            await self.db[OUTBOX].bulk_write(operations, ordered=True)

    @override
    async def messages(self, after: datetime | None, limit: int) -> list[Document]:
        query = {"created_at": {"$gt": after}} if after else {}
        cursor = self.db[OUTBOX].find(query).sort("created_at", 1).limit(limit)
        return [doc async for doc in cursor]
