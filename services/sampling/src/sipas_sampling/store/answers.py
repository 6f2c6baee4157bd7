"""Answers that came before their invitation was stored (issue #22).

Decided from memory (``sipas_sampling.deciding``), an invitation's event is published
before the checkpoint that stores its document, about a second later (and, when the
deciding owner dies first, only once the next owner has decided the dossier again): a
response can arrive in between. It is kept here, by invitation id, until the invitation
is stored, then counted like any other (``sipas_sampling.answering``); one whose
invitation never comes (not one of this deployment's) is dropped after :data:`KEPT`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol
from uuid import UUID

from pymongo.asynchronous.client_session import AsyncClientSession
from typing_extensions import override

from sipas_runtime.mongo import Document, MongoStore
from sipas_sampling.store.collections import ANSWERS_WAITING

KEPT = timedelta(days=7)


class WaitingAnswers(Protocol):
    """Answers waiting for their invitation, by invitation id."""

    async def keep(
        self, invitation_id: UUID, at: datetime, session: AsyncClientSession | None
    ) -> None:
        """Keep an answer given ``at`` (the first one kept stays)."""
        ...

    async def oldest(self, limit: int = 500) -> list[Document]:
        """The answers waiting (``_id``: the invitation, ``at``), oldest first."""
        ...

    async def drop(self, invitation_id: UUID, session: AsyncClientSession | None) -> None:
        """The answer was counted (or its invitation was answered already)."""
        ...


class MongoWaitingAnswers(MongoStore, WaitingAnswers):
    """One ``{_id: invitation, at, expires_at}`` document per answer waiting."""

    @override
    async def keep(
        self, invitation_id: UUID, at: datetime, session: AsyncClientSession | None
    ) -> None:
        await self.db[ANSWERS_WAITING].update_one(
            {"_id": invitation_id},
            {"$setOnInsert": {"at": at, "expires_at": at + KEPT}},
            upsert=True,
            session=session,
        )

    @override
    async def oldest(self, limit: int = 500) -> list[Document]:
        cursor = self.db[ANSWERS_WAITING].find({}).sort("at", 1).limit(limit)
        return [doc async for doc in cursor]

    @override
    async def drop(self, invitation_id: UUID, session: AsyncClientSession | None) -> None:
        await self.db[ANSWERS_WAITING].delete_one({"_id": invitation_id}, session=session)
