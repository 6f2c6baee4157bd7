"""Response events stored with the effect that produced them, until JetStream has them.

A response is committed to the outbox in the same transaction as the token claim (or
the kiosk nonce, or the paper-form ledger), then published; a periodic job republishes
what a crash left behind. Event ids are fixed, so a republish is de-duplicated.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol
from uuid import UUID

from typing_extensions import override

from sipas_contracts.events import ResponseRecorded
from sipas_intake.store.collections import OUTBOX
from sipas_runtime.mongo import Collection, MongoStore, Session, update_many


class Outbox(Protocol):
    """Response events committed but not yet known to be in JetStream."""

    async def add(
        self, events: Sequence[ResponseRecorded], now: datetime, session: Session = None
    ) -> None:
        """Queue events (inside the caller's transaction when ``session`` is given)."""
        ...

    async def mark_published(self, event_ids: Sequence[UUID]) -> None:
        """JetStream stored these events: drop their payload (answers live in the stream)."""
        ...

    async def pending(self, created_before: datetime, limit: int = 500) -> list[ResponseRecorded]:
        """Events committed but not confirmed published (crash between commit and publish)."""
        ...

    async def count_pending(self) -> int:
        """How many events wait for JetStream (a gauge for operators)."""
        ...


class MongoOutbox(MongoStore, Outbox):
    """The ``outbox`` collection."""

    _outbox = Collection(OUTBOX)

    @override
    async def add(
        self, events: Sequence[ResponseRecorded], now: datetime, session: Session = None
    ) -> None:
        if events:
            await self._outbox.insert_many(
                [
                    {
                        "_id": e.event_id,
                        "event": e.model_dump_json(),
                        "created_at": now,
                        "published": False,
                    }
                    for e in events
                ],
                session=session,
            )

    @override
    async def mark_published(self, event_ids: Sequence[UUID]) -> None:
        if event_ids:
            await update_many(
                self._outbox,
                {"_id": {"$in": list(event_ids)}},
                {"$set": {"published": True}, "$unset": {"event": ""}},
            )

    @override
    async def pending(self, created_before: datetime, limit: int = 500) -> list[ResponseRecorded]:
        cursor = self._outbox.find(
            {"published": False, "created_at": {"$lt": created_before}}, {"event": 1}
        ).limit(limit)
        return [ResponseRecorded.model_validate_json(doc["event"]) async for doc in cursor]

    @override
    async def count_pending(self) -> int:
        return await self._outbox.count_documents({"published": False})
