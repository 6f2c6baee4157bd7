"""Mongo adapter for publications: frozen snapshots and their audit trail.

A publication document is written once (the snapshot and its digest never change);
only ``state`` moves, with a conditional update on the expected state (so two operators
clicking at once cannot both succeed) and an entry pushed to ``history``. Publishing
supersedes the previously published snapshot of the same campaign and period in the
same transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field
from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.client_session import AsyncClientSession
from typing_extensions import override

from sipas_runtime.mongo import Collection, Document, MongoStore, in_transaction
from sipas_scoring.domain.publication import State

PUBLICATIONS = "publications"


class HistoryEntry(BaseModel):
    """One step of a publication's life."""

    model_config = ConfigDict(frozen=True)

    state: State
    actor: str
    at: datetime
    note: str | None = None
    name: str | None = Field(default=None, description="The actor's name, as printed")
    title: str | None = Field(default=None, description="The actor's title (chức vụ)")
    authority: str | None = Field(
        default=None, description="Signing authority on approval, e.g. 'KT. GIÁM ĐỐC'"
    )
    number: str | None = Field(
        default=None, description="Document number on publication, e.g. '45/BC-SNV'"
    )


class PublicationRecord(BaseModel):
    """A publication without its snapshot (what lists show)."""

    model_config = ConfigDict(frozen=True)

    id: str
    campaign_id: str
    period: str
    state: State
    digest: str = Field(description="SHA-256 of the snapshot's canonical JSON")
    through_seq: int = Field(description="Every response up to this stream sequence")
    profile_revision: int
    drafted_by: str
    drafted_at: datetime
    history: list[HistoryEntry]


class ConflictError(RuntimeError):
    """Raised when a publication changed state between reading and writing it."""


def _record(doc: Document) -> PublicationRecord:
    return PublicationRecord(id=doc["_id"], **{k: v for k, v in doc.items() if k != "_id"})


_LIST = {"snapshot": 0}


class PublicationStore(Protocol):
    """The publications of every campaign."""

    async def create_indexes(self) -> None:
        """Lookup by campaign, period and state."""
        ...

    async def add(self, record: PublicationRecord, snapshot: Document) -> None:
        """Store a new draft with its snapshot."""
        ...

    async def get(self, publication_id: str) -> PublicationRecord | None:
        """A publication's record (without the snapshot)."""
        ...

    async def snapshot(self, publication_id: str) -> Document | None:
        """The frozen snapshot of a publication."""
        ...

    async def listing(self, campaign_id: str | None = None) -> list[PublicationRecord]:
        """Publications, newest first."""
        ...

    async def latest_published(
        self, campaign_id: str, period: str = "campaign"
    ) -> PublicationRecord | None:
        """The publication currently published for a campaign period."""
        ...

    async def published(self) -> list[PublicationRecord]:
        """Every currently published publication."""
        ...

    async def move(self, record: PublicationRecord, entry: HistoryEntry) -> PublicationRecord:
        """Change state from ``record.state`` to ``entry.state`` (superseding on publish)."""
        ...


class MongoPublicationStore(MongoStore, PublicationStore):
    """Publications of every campaign."""

    _publications = Collection(PUBLICATIONS)

    @override
    async def create_indexes(self) -> None:
        await self._publications.create_index(
            [("campaign_id", ASCENDING), ("period", ASCENDING), ("state", ASCENDING)]
        )

    @override
    async def add(self, record: PublicationRecord, snapshot: Document) -> None:
        doc = record.model_dump(exclude={"id"})
        await self._publications.insert_one({"_id": record.id, **doc, "snapshot": snapshot})

    @override
    async def get(self, publication_id: str) -> PublicationRecord | None:
        doc = await self._publications.find_one({"_id": publication_id}, _LIST)
        return None if doc is None else _record(doc)

    @override
    async def snapshot(self, publication_id: str) -> Document | None:
        doc = await self._publications.find_one({"_id": publication_id}, {"snapshot": 1})
        return None if doc is None else dict(doc["snapshot"])

    @override
    async def listing(self, campaign_id: str | None = None) -> list[PublicationRecord]:
        query = {} if campaign_id is None else {"campaign_id": campaign_id}
        cursor = self._publications.find(query, _LIST).sort("drafted_at", DESCENDING)
        return [_record(doc) async for doc in cursor]

    @override
    async def latest_published(
        self, campaign_id: str, period: str = "campaign"
    ) -> PublicationRecord | None:
        doc = await self._publications.find_one(
            {"campaign_id": campaign_id, "period": period, "state": "published"}, _LIST
        )
        return None if doc is None else _record(doc)

    @override
    async def published(self) -> list[PublicationRecord]:
        cursor = self._publications.find({"state": "published"}, _LIST).sort("campaign_id", 1)
        return [_record(doc) async for doc in cursor]

    @override
    async def move(self, record: PublicationRecord, entry: HistoryEntry) -> PublicationRecord:
        async def work(session: AsyncClientSession) -> None:
            if entry.state == "published":
                superseded = HistoryEntry(state="superseded", actor=entry.actor, at=entry.at)
                await self._publications.update_many(
                    {
                        "campaign_id": record.campaign_id,
                        "period": record.period,
                        "state": "published",
                    },
                    {"$set": {"state": "superseded"},
                     "$push": {"history": superseded.model_dump()}},
                    session=session,
                )  # fmt: skip
            result = await self._publications.update_one(
                {"_id": record.id, "state": record.state},
                {"$set": {"state": entry.state}, "$push": {"history": entry.model_dump()}},
                session=session,
            )
            if result.matched_count != 1:
                msg = f"publication {record.id} is no longer {record.state}"
                raise ConflictError(msg)

        await in_transaction(self.db.client, work)
        moved = await self.get(record.id)
        if moved is None:  # pragma: no cover - it was just updated
            raise ConflictError(record.id)
        return moved
