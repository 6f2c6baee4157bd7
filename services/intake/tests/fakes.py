"""Hand-written in-memory stand-ins for intake's stores (each passes its store's contract).

Imported as ``services.intake.tests.fakes``; the contract suites in
``integration/test_store_contracts.py`` run the same behaviour against these and the real
Mongo-wire server.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from pymongo.asynchronous.client_session import AsyncClientSession

from sipas_contracts.events import ResponseRecorded
from sipas_intake.store.drafts import StoredDraft


class InMemoryDraftStore:
    """Drafts in a dict, versioned like the Mongo store (expiry is the server's TTL: none)."""

    def __init__(self) -> None:
        self.drafts: dict[str, StoredDraft] = {}

    async def get(self, token_hash: str) -> StoredDraft:
        return self.drafts.get(token_hash, StoredDraft(None, 0))

    async def put(
        self, token_hash: str, sealed: bytes, *, read_at: int, expires_at: datetime, now: datetime
    ) -> bool:
        if (await self.get(token_hash)).version != read_at:
            return False
        self.drafts[token_hash] = StoredDraft(sealed, read_at + 1)
        return True

    async def delete(self, token_hash: str) -> None:
        self.drafts.pop(token_hash, None)


class InMemoryOutbox:
    """Queued response events in a dict, in the order they were added."""

    def __init__(self) -> None:
        self.queued: dict[UUID, tuple[ResponseRecorded, datetime, bool]] = {}

    async def add(
        self,
        events: Sequence[ResponseRecorded],
        now: datetime,
        session: AsyncClientSession | None = None,
    ) -> None:
        for event in events:
            self.queued[event.event_id] = (event, now, False)

    async def mark_published(self, event_ids: Sequence[UUID]) -> None:
        for event_id in event_ids:
            if event_id in self.queued:
                event, at, _ = self.queued[event_id]
                self.queued[event_id] = (event, at, True)

    async def pending(self, created_before: datetime, limit: int = 500) -> list[ResponseRecorded]:
        waiting = [e for e, at, published in self.queued.values() if not published]
        return [e for e in waiting if self.queued[e.event_id][1] < created_before][:limit]

    async def count_pending(self) -> int:
        return sum(not published for _, _, published in self.queued.values())
