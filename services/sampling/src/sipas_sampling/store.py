"""Sampling's Mongo adapter: invitations (with the event they produced) and the dev outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from sipas_contracts.events import InvitationSent

INVITATIONS = "invitations"
OUTBOX = "outbox"
DECISIONS = "decisions"
COLLECTIONS = (INVITATIONS, OUTBOX, DECISIONS)


class InvitationStore:
    """Invitations, the decisions behind them and the messages to deliver."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._db = db

    async def add(
        self,
        event: InvitationSent,
        *,
        message: dict[str, Any],
        session: AsyncClientSession,
    ) -> None:
        """Store the invitation, its event and the message to send, atomically."""
        await self._db[INVITATIONS].insert_one(
            {"_id": event.invitation_id, "event": event.model_dump(mode="json")}, session=session
        )
        await self._db[OUTBOX].insert_one(
            {"_id": event.invitation_id, **message, "created_at": event.occurred_at},
            session=session,
        )

    async def record_decisions(
        self, decisions: list[dict[str, Any]], session: AsyncClientSession
    ) -> None:
        """Keep the audit trail of every decision (drawn or not, and why)."""
        if decisions:
            await self._db[DECISIONS].insert_many(decisions, session=session)

    async def events(
        self, invitation_ids: list[UUID], session: AsyncClientSession
    ) -> list[InvitationSent]:
        """Invitation events already produced (re-emitted when a batch is replayed)."""
        cursor = self._db[INVITATIONS].find({"_id": {"$in": invitation_ids}}, session=session)
        return [InvitationSent.model_validate(doc["event"]) async for doc in cursor]

    async def outbox(self, after: datetime | None, limit: int) -> list[dict[str, Any]]:
        """Messages in creation order (development outbox)."""
        query = {"created_at": {"$gt": after}} if after else {}
        cursor = self._db[OUTBOX].find(query).sort("created_at", 1).limit(limit)
        return [doc async for doc in cursor]
