"""A batch campaign's population: every dossier it saw, eligible or not, with the reason."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from pymongo.asynchronous.client_session import AsyncClientSession
from typing_extensions import override

from sipas_runtime.mongo import Document, MongoStore
from sipas_runtime.writes import Writes
from sipas_sampling.store.collections import POPULATION


class PopulationStore(Protocol):
    """The dossiers a batch campaign saw, for its draw and its field lists."""

    def add(self, documents: list[Document], writes: Writes) -> None:
        """Record dossiers seen by a batch campaign (in a consumer batch's writes)."""
        ...

    async def eligible(self, campaign_id: str) -> list[Document]:
        """Eligible dossiers of a batch campaign."""
        ...

    async def member(
        self, campaign_id: str, dossier_id: str, session: AsyncClientSession | None = None
    ) -> Document | None:
        """One dossier of a batch campaign's population."""
        ...

    async def members(self, campaign_id: str, dossier_ids: Sequence[str]) -> list[Document]:
        """Several dossiers of a batch campaign's population (in no particular order)."""
        ...

    async def counts(self, campaign_id: str) -> dict[str, int]:
        """Dossiers seen by reason (``eligible`` for the population)."""
        ...


class MongoPopulationStore(MongoStore, PopulationStore):
    """The ``population`` collection."""

    @override
    @staticmethod
    def add(documents: list[Document], writes: Writes) -> None:
        for document in documents:
            writes.insert(POPULATION, document)

    @override
    async def eligible(self, campaign_id: str) -> list[Document]:
        cursor = self.db[POPULATION].find({"campaign": campaign_id, "eligible": True})
        return [doc async for doc in cursor]

    @override
    async def member(
        self, campaign_id: str, dossier_id: str, session: AsyncClientSession | None = None
    ) -> Document | None:
        return await self.db[POPULATION].find_one(
            {"_id": f"{campaign_id}|{dossier_id}"}, session=session
        )

    @override
    async def members(self, campaign_id: str, dossier_ids: Sequence[str]) -> list[Document]:
        if not dossier_ids:
            return []
        ids = [f"{campaign_id}|{d}" for d in dossier_ids]
        return [doc async for doc in self.db[POPULATION].find({"_id": {"$in": ids}})]

    @override
    async def counts(self, campaign_id: str) -> dict[str, int]:
        pipeline: list[Document] = [
            {"$match": {"campaign": campaign_id}},
            {"$group": {"_id": "$reason", "n": {"$sum": 1}}},
        ]
        return {
            str(d["_id"] or "eligible"): d["n"]
            async for d in await self.db[POPULATION].aggregate(pipeline)
        }
