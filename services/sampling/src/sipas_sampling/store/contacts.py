"""Who was invited when, and who opted out: read by every decision, across campaigns."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Protocol

from pymongo import UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from typing_extensions import override

from sipas_runtime.mongo import MongoStore
from sipas_runtime.writes import Writes
from sipas_sampling.store.collections import CONTACTS, OPTOUTS


class ContactStore(Protocol):
    """Invitation times per applicant (for the contact cap) and opt-outs per contact hash."""

    async def contact_history(
        self, pseudonyms: Iterable[str], session: AsyncClientSession
    ) -> dict[str, list[datetime]]:
        """Past invitation times per applicant pseudonym, across campaigns."""
        ...

    def record_contacts(self, invited: Mapping[str, datetime], writes: Writes) -> None:
        """Remember invitation times (the last 20 per applicant, trimmed on write)."""
        ...

    async def opted_out(
        self, hashes: Iterable[str], session: AsyncClientSession | None = None
    ) -> dict[str, list[str]]:
        """Opt-out scopes (channels or ``all``) of the given contact hashes."""
        ...

    async def add_optouts(self, hashes: Iterable[str], channels: list[str], at: datetime) -> None:
        """Register opt-outs (idempotent; scopes accumulate)."""
        ...


class MongoContactStore(MongoStore, ContactStore):
    """The ``contacts`` and ``optouts`` collections."""

    @override
    async def contact_history(
        self, pseudonyms: Iterable[str], session: AsyncClientSession
    ) -> dict[str, list[datetime]]:
        wanted = list(set(pseudonyms))
        if not wanted:
            return {}
        cursor = self.db[CONTACTS].find({"_id": {"$in": wanted}}, session=session)
        return {doc["_id"]: list(doc.get("invited_at", [])) async for doc in cursor}

    @override
    @staticmethod
    def record_contacts(invited: Mapping[str, datetime], writes: Writes) -> None:
        for pseudonym, at in invited.items():
            writes.update(
                CONTACTS,
                {"_id": pseudonym},
                {"$push": {"invited_at": {"$each": [at], "$slice": -20}}},
                upsert=True,
            )

    @override
    async def opted_out(
        self, hashes: Iterable[str], session: AsyncClientSession | None = None
    ) -> dict[str, list[str]]:
        wanted = list(set(hashes))
        if not wanted:
            return {}
        cursor = self.db[OPTOUTS].find({"_id": {"$in": wanted}}, session=session)
        return {doc["_id"]: list(doc["channels"]) async for doc in cursor}

    @override
    async def add_optouts(self, hashes: Iterable[str], channels: list[str], at: datetime) -> None:
        ops = [
            UpdateOne(
                {"_id": h},
                {"$addToSet": {"channels": {"$each": channels}}, "$setOnInsert": {"at": at}},
                upsert=True,
            )
            for h in hashes
        ]
        if ops:
            await self.db[OPTOUTS].bulk_write(ops, ordered=False)
