"""The transactional outbox: every event the service emits, written with its effect.

Events a JetStream handler returns are published by the consumer right after the commit;
they are recorded here with their *source* (the id of the event that caused them) so a
redelivered source re-publishes exactly the same events. Events born in an HTTP request or
a timer (transitions, escalations) are recorded ``pending``: they are published after the
commit and marked sent; :meth:`Outbox.pending` lets a relay publish whatever a crash left
behind. JetStream's ``Nats-Msg-Id`` de-duplication absorbs a second publish.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from pymongo.asynchronous.client_session import AsyncClientSession
from typing_extensions import override

from sipas_contracts.events import Event, any_event_adapter
from sipas_runtime.mongo import Collection, MongoStore, delete_many, update_many

OUTBOX = "outbox"
RETENTION = timedelta(days=35)
"""Kept as long as the runtime keeps processed-event markers (redelivery horizon)."""
Doc = dict[str, Any]

Emitted = Sequence[tuple[Event, str]]
"""Events, each with the source (event or job) that caused it."""


class Outbox(Protocol):
    """Emitted events, with their source and whether they still await publishing."""

    async def record(
        self, events: Emitted, session: AsyncClientSession, *, now: datetime, pending: bool
    ) -> None:
        """Store (event, source) pairs in the current transaction."""
        ...

    async def of_sources(self, sources: Iterable[str], session: AsyncClientSession) -> list[Event]:
        """The events emitted because of ``sources`` (for re-publishing on redelivery)."""
        ...

    async def pending(self, older_than: datetime, limit: int = 500) -> list[Event]:
        """Events recorded before ``older_than`` and not yet marked published."""
        ...

    async def mark_published(self, events: Sequence[Event]) -> None:
        """Mark events as published (after JetStream acknowledged them)."""
        ...

    async def purge(self, before: datetime) -> int:
        """Forget published events older than ``before`` (redelivery never goes back that far)."""
        ...


class MongoOutbox(MongoStore, Outbox):
    """Emitted events, by id, with their source and whether they still await publishing."""

    _events = Collection(OUTBOX)

    @override
    async def record(
        self, events: Emitted, session: AsyncClientSession, *, now: datetime, pending: bool
    ) -> None:
        docs = [
            {
                "_id": str(event.event_id),
                "source": source,
                "data": event.model_dump_json(),
                "created_at": now,
                "pending": pending,
            }
            for event, source in events
        ]
        if docs:
            await self._events.insert_many(docs, ordered=False, session=session)

    @override
    async def of_sources(self, sources: Iterable[str], session: AsyncClientSession) -> list[Event]:
        cursor = self._events.find({"source": {"$in": list(sources)}}, session=session).sort(
            "_id", 1
        )
        return [_event(doc) async for doc in cursor]

    @override
    async def pending(self, older_than: datetime, limit: int = 500) -> list[Event]:
        cursor = (
            self._events.find({"pending": True, "created_at": {"$lt": older_than}})
            .sort("_id", 1)
            .limit(limit)
        )
        return [_event(doc) async for doc in cursor]

    @override
    async def mark_published(self, events: Sequence[Event]) -> None:
        if events:
            await update_many(
                self._events,
                {"_id": {"$in": [str(e.event_id) for e in events]}},
                {"$set": {"pending": False}},
            )

    @override
    async def purge(self, before: datetime) -> int:
        return await delete_many(self._events, {"pending": False, "created_at": {"$lt": before}})


def _event(doc: Doc) -> Event:
    event: Event = any_event_adapter.validate_json(doc["data"])
    return event
