"""The dossier ledger: per dossier, the latest revision, its fingerprint and history.

Read and written inside the raw consumer's transaction, one query and one bulk write
per batch. It holds no personal data: the fingerprint is a keyed hash.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from pymongo import InsertOne, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from typing_extensions import override

from sipas_intake.domain.revisions import Applied, LedgerEntry
from sipas_intake.store.collections import DOSSIERS
from sipas_runtime.mongo import Collection, Document, MongoStore


def _entry(doc: Document) -> LedgerEntry:
    history = tuple(Applied(h["revision"], h["fingerprint"], h["seq"]) for h in doc["history"])
    return LedgerEntry(doc["_id"], doc["revision"], doc["fingerprint"], doc["last_seq"], history)


def _fields(entry: LedgerEntry, unit: str, now: datetime) -> dict[str, Any]:
    return {
        "revision": entry.revision,
        "fingerprint": entry.fingerprint,
        "last_seq": entry.last_seq,
        "history": [
            {"revision": a.revision, "fingerprint": a.fingerprint, "seq": a.seq}
            for a in entry.history
        ],
        "unit": unit,
        "updated_at": now,
    }


UnitEntries = Sequence[tuple[LedgerEntry, str]]
"""Ledger entries, each with the unit its dossier belongs to."""


class DossierLedger(Protocol):
    """The dossier ledger: the revisions of each dossier and where they came from."""

    async def entries(
        self, dossier_ids: Sequence[str], session: AsyncClientSession
    ) -> dict[str, LedgerEntry]:
        """The known entries among ``dossier_ids``."""
        ...

    async def save(
        self, created: UnitEntries, changed: UnitEntries, now: datetime, session: AsyncClientSession
    ) -> None:
        """Insert new entries and replace changed ones (with their unit), in one bulk write."""
        ...

    async def status(self, dossier_id: str) -> Document | None:
        """What intake knows of one dossier (revision, unit, dates; no personal data)."""
        ...


class MongoDossierLedger(MongoStore, DossierLedger):
    """The ``dossiers`` collection."""

    _dossiers = Collection(DOSSIERS)

    @override
    async def entries(
        self, dossier_ids: Sequence[str], session: AsyncClientSession
    ) -> dict[str, LedgerEntry]:
        cursor = self._dossiers.find({"_id": {"$in": list(set(dossier_ids))}}, session=session)
        return {doc["_id"]: _entry(doc) async for doc in cursor}

    @override
    async def save(
        self, created: UnitEntries, changed: UnitEntries, now: datetime, session: AsyncClientSession
    ) -> None:
        operations: list[InsertOne[Document] | UpdateOne] = [
            InsertOne({"_id": e.dossier_id, "first_at": now, **_fields(e, unit, now)})
            for e, unit in created
        ]
        operations += [
            UpdateOne({"_id": e.dossier_id}, {"$set": _fields(e, unit, now)}) for e, unit in changed
        ]
        if operations:
            await self._dossiers.bulk_write(operations, ordered=True, session=session)

    @override
    async def status(self, dossier_id: str) -> Document | None:
        return await self._dossiers.find_one(
            {"_id": dossier_id},
            {"revision": 1, "unit": 1, "first_at": 1, "updated_at": 1, "_id": 1},
        )
