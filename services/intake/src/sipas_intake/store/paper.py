"""Imported paper forms: one entry per (campaign, unit, form number), never overwritten."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from pymongo.asynchronous.client_session import AsyncClientSession
from typing_extensions import override

from sipas_contracts.events import ResponseRecorded
from sipas_intake.store.collections import PAPER_FORMS
from sipas_intake.store.outbox import Outbox
from sipas_runtime.mongo import Collection, MongoStore, in_transaction

PaperForms = Sequence[tuple[str, str, ResponseRecorded]]
"""Imported forms: (key, content hash, the event each becomes)."""


class PaperLedger(Protocol):
    """Imported paper forms (each once)."""

    async def known(self, keys: Sequence[str]) -> dict[str, str]:
        """Content hash of the forms already imported among ``keys``."""
        ...

    async def add(self, forms: PaperForms, outbox: Outbox, now: datetime) -> None:
        """Record forms (key, content hash, event) and queue their events, atomically."""
        ...


class MongoPaperLedger(MongoStore, PaperLedger):
    """The ``paper_forms`` collection."""

    _forms = Collection(PAPER_FORMS)

    @override
    async def known(self, keys: Sequence[str]) -> dict[str, str]:
        cursor = self._forms.find({"_id": {"$in": list(keys)}}, {"content": 1})
        return {doc["_id"]: doc["content"] async for doc in cursor}

    @override
    async def add(self, forms: PaperForms, outbox: Outbox, now: datetime) -> None:
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
            await in_transaction(self.db.client, work)
