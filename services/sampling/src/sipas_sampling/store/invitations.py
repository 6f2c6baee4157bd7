"""Invitations: creation, dispatch claims (leases), attempts, answers, lapses; dev outbox."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Protocol
from uuid import UUID

from pymongo.asynchronous.client_session import AsyncClientSession
from typing_extensions import override

from sipas_contracts.events import InvitationSent
from sipas_runtime.mongo import Document, MongoStore, update_many
from sipas_runtime.writes import Writes
from sipas_sampling.store.collections import INVITATIONS, POPULATION
from sipas_sampling.store.states import NO_LEASE, OPEN, SENDABLE, StateChange, state_updates


class InvitationStore(Protocol):
    """Invitations: their state, delivery attempts and leases."""

    async def add(
        self,
        documents: list[Document],
        session: AsyncClientSession | None = None,
        *,
        writes: Writes | None = None,
    ) -> None:
        """Insert new invitations (each holds its first invitation-sent event).

        ``writes``: add them to a consumer batch's writes instead of sending them now.
        """
        ...

    async def events_for(
        self, campaign_dossiers: Iterable[tuple[str, str]], session: AsyncClientSession
    ) -> list[InvitationSent]:
        """First invitation-sent events of the given (campaign, dossier) pairs (replays)."""
        ...

    async def claim_due(
        self, now: datetime, *, owner: str, limit: int, lease: timedelta
    ) -> list[Document]:
        """Lease up to ``limit`` invitations whose next send (or reminder) is due (3 queries)."""
        ...

    async def due(self, now: datetime, limit: int) -> list[UUID]:
        """Ids of invitations due at ``now`` and not leased, earliest first."""
        ...

    async def claim(
        self, ids: Sequence[UUID], now: datetime, *, owner: str, lease: timedelta
    ) -> list[Document]:
        """Lease those of ``ids`` that are still due (another sender may have been faster)."""
        ...

    async def renew(self, lease_id: str, until: datetime) -> None:
        """Extend a claim's leases that are still held (a round that is still sending)."""
        ...

    async def update(
        self,
        invitation_id: UUID,
        changes: Document,
        *,
        attempt: Document | None = None,
        expect: str | None = None,
        session: AsyncClientSession | None = None,
    ) -> bool:
        """Apply a state change (and append a delivery attempt), releasing the lease.

        A change of ``state`` leaves an invitation answered or lapsed meanwhile as it is (a
        round that was sending when the person answered must not make it open again), and
        with ``expect``, one no longer in that state; its attempt is recorded all the same.
        False when the change was not applied.
        """
        ...

    async def update_all(self, updates: Sequence[StateChange]) -> None:
        """Apply many state changes in one bulk write (one dispatch round), as ``update``."""
        ...

    async def get(
        self, invitation_id: UUID, session: AsyncClientSession | None = None
    ) -> Document | None:
        """One invitation."""
        ...

    async def answer(
        self, invitation_id: UUID, at: datetime, session: AsyncClientSession
    ) -> Document | None:
        """Mark answered (first time only); returns the invitation before the change."""
        ...

    async def expired(self, before: datetime, limit: int = 500) -> list[Document]:
        """Open invitations whose token expired before ``before``."""
        ...

    async def mark_lapsed(
        self, invitation_id: UUID, at: datetime, session: AsyncClientSession
    ) -> bool:
        """Lapse an open invitation; False if it changed meanwhile (answered, say)."""
        ...

    async def by_campaign(self, campaign_id: str, **filters: object) -> list[Document]:
        """Invitations of a campaign (optionally filtered), in creation order."""
        ...

    async def shred(self, campaign_id: str) -> int:
        """Remove vault fields of a closed campaign's invitations and population."""
        ...


class MongoInvitationStore(MongoStore, InvitationStore):
    """Invitation documents and what the dispatcher needs."""

    @override
    async def add(
        self,
        documents: list[Document],
        session: AsyncClientSession | None = None,
        *,
        writes: Writes | None = None,
    ) -> None:
        if writes is not None:
            for document in documents:
                writes.insert(INVITATIONS, document)
        elif documents:
            await self.db[INVITATIONS].insert_many(documents, ordered=False, session=session)

    @override
    async def events_for(
        self, campaign_dossiers: Iterable[tuple[str, str]], session: AsyncClientSession
    ) -> list[InvitationSent]:
        pairs = list(campaign_dossiers)
        if not pairs:
            return []
        query = {"$or": [{"campaign": c, "dossier_id": d} for c, d in pairs]}
        cursor = self.db[INVITATIONS].find(query, {"event": 1}, session=session)
        return [InvitationSent.model_validate(doc["event"]) async for doc in cursor]

    @override
    async def claim_due(
        self, now: datetime, *, owner: str, limit: int, lease: timedelta
    ) -> list[Document]:
        return await self.claim(await self.due(now, limit), now, owner=owner, lease=lease)

    @override
    async def due(self, now: datetime, limit: int) -> list[UUID]:
        cursor = (
            self.db[INVITATIONS].find(_due(now), {"_id": 1}).sort("next_attempt_at", 1).limit(limit)
        )
        return [doc["_id"] async for doc in cursor]

    @override
    async def claim(
        self, ids: Sequence[UUID], now: datetime, *, owner: str, lease: timedelta
    ) -> list[Document]:
        if not ids:
            return []
        lease_id = f"{owner}:{uuid.uuid4().hex}"  # unique per claim, even with a frozen clock
        await update_many(
            self.db[INVITATIONS],
            {"_id": {"$in": list(ids)}, **_due(now)},  # due again: not just "not leased"
            {"$set": {"lease_until": now + lease, "lease_owner": lease_id}},
        )
        return [
            doc
            async for doc in self.db[INVITATIONS].find(
                {"_id": {"$in": list(ids)}, "lease_owner": lease_id}
            )
        ]

    @override
    async def renew(self, lease_id: str, until: datetime) -> None:
        await update_many(
            self.db[INVITATIONS],
            {"lease_owner": lease_id, "lease_until": {"$gt": NO_LEASE}},
            {"$set": {"lease_until": until}},
        )

    @override
    async def update(
        self,
        invitation_id: UUID,
        changes: Document,
        *,
        attempt: Document | None = None,
        expect: str | None = None,
        session: AsyncClientSession | None = None,
    ) -> bool:
        operations = state_updates(StateChange(invitation_id, changes, attempt, expect))
        result = await self.db[INVITATIONS].bulk_write(operations, session=session)
        return bool(result.matched_count == len(operations))

    @override
    async def update_all(self, updates: Sequence[StateChange]) -> None:
        operations = [op for change in updates for op in state_updates(change)]
        if operations:
            await self.db[INVITATIONS].bulk_write(operations, ordered=False)

    @override
    async def get(
        self, invitation_id: UUID, session: AsyncClientSession | None = None
    ) -> Document | None:
        return await self.db[INVITATIONS].find_one({"_id": invitation_id}, session=session)

    @override
    async def answer(
        self, invitation_id: UUID, at: datetime, session: AsyncClientSession
    ) -> Document | None:
        return await self.db[INVITATIONS].find_one_and_update(
            {"_id": invitation_id, "state": {"$ne": "answered"}},
            {"$set": {"state": "answered", "answered_at": at, "reminders": []}},
            session=session,
        )

    @override
    async def expired(self, before: datetime, limit: int = 500) -> list[Document]:
        cursor = (
            self.db[INVITATIONS]
            .find({"state": {"$in": list(OPEN)}, "expires_at": {"$lt": before}})
            .limit(limit)
        )
        return [doc async for doc in cursor]

    @override
    async def mark_lapsed(
        self, invitation_id: UUID, at: datetime, session: AsyncClientSession
    ) -> bool:
        result = await self.db[INVITATIONS].update_one(
            {"_id": invitation_id, "state": {"$in": list(OPEN)}},
            {"$set": {"state": "lapsed", "lapsed_at": at, "reminders": []}},
            session=session,
        )
        return result.modified_count == 1

    @override
    async def by_campaign(self, campaign_id: str, **filters: object) -> list[Document]:
        cursor = (
            self.db[INVITATIONS].find({"campaign": campaign_id, **filters}).sort("created_at", 1)
        )
        return [doc async for doc in cursor]

    @override
    async def shred(self, campaign_id: str) -> int:
        shredded = await update_many(
            self.db[INVITATIONS],
            {"campaign": campaign_id},
            {"$unset": {"contact": "", "token": "", "name": ""}},
        )
        await update_many(
            self.db[POPULATION], {"campaign": campaign_id}, {"$unset": {"contact": ""}}
        )
        return shredded


def _due(now: datetime) -> Document:
    return {
        "$or": [
            {"state": {"$in": list(SENDABLE)}},
            {"state": "sent", "reminders": {"$ne": []}},
        ],
        "next_attempt_at": {"$lte": now},
        "lease_until": {"$lt": now},
    }
