"""Imported paper forms: one entry per (campaign, unit, form number), never overwritten."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection

from sipas_contracts.events import ResponseRecorded
from sipas_intake.store.collections import PAPER_FORMS
from sipas_intake.store.outbox import Outbox
from sipas_runtime.mongo import Database, Document, in_transaction


class PaperLedger(Protocol):
    """Imported paper forms (each once)."""

    async def known(self, keys: Sequence[str]) -> dict[str, str]:
        """Content hash of the forms already imported among ``keys``."""
        ...

    async def add(
        self,
        forms: Sequence[tuple[str, str, ResponseRecorded]],
        outbox: Outbox,
        now: datetime,
    ) -> None:
        """Record forms (key, content hash, event) and queue their events, atomically."""
        ...


class MongoPaperLedger:
    """The ``paper_forms`` collection."""

    def __init__(self, db: Database) -> None:
        self._db = db

    @property
    def _forms(self) -> AsyncCollection[Document]:
        return self._db[PAPER_FORMS]

    async def known(self, keys: Sequence[str]) -> dict[str, str]:
        """Content hash of the forms already imported among ``keys``."""
        cursor = self._forms.find({"_id": {"$in": list(keys)}}, {"content": 1})
        return {doc["_id"]: doc["content"] async for doc in cursor}

    async def add(
        self,
        forms: Sequence[tuple[str, str, ResponseRecorded]],
        outbox: Outbox,
        now: datetime,
    ) -> None:
        """Record forms (key, content hash, event) and queue their events, atomically."""

        async def work(session: AsyncClientSession) -> None:
            await self._forms.insert_many(
                [
                    {
                        "_id": key,
                        "content": content,
                        "response_id": e.response_id,
                        "at": now,
                        "campaign": e.campaign_id,
                        "unit": e.unit,
                        "mode": e.collection_mode,
                    }
                    for key, content, e in forms
                ],
                session=session,
            )
            await outbox.add([e for _, _, e in forms], now, session)

        if forms:
            await in_transaction(self._db.client, work)
