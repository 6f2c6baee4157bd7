"""Scoring's Mongo adapter: one aggregate document per (campaign, unit), updated with $inc."""

from __future__ import annotations

from typing import Any

from pymongo import UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from sipas_scoring.domain import AggregateKey, Increment

AGGREGATES = "aggregates"
COLLECTIONS = (AGGREGATES,)


def _field(item_id: str) -> str:
    # Item ids contain dots (HL.DV.E1.1); Mongo paths use dots as separators.
    return item_id.replace(".", "~")


def _item(field_name: str) -> str:
    return field_name.replace("~", ".")


def aggregate_id(key: AggregateKey) -> str:
    """Document id of an aggregate."""
    return f"{key[0]}|{key[1]}"


class AggregateStore:
    """Additive counters; one write per aggregate document per batch."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._aggregates = db[AGGREGATES]

    async def apply(
        self, increments: dict[AggregateKey, Increment], session: AsyncClientSession
    ) -> None:
        """Add the increments (version +1 on each touched aggregate)."""
        operations = []
        for key, inc in increments.items():
            counters: dict[str, int] = {"responses": inc.responses, "version": 1}
            for item, levels in inc.counts.items():
                for level, n in levels.items():
                    counters[f"counts.{_field(item)}.{level}"] = n
            operations.append(
                UpdateOne(
                    {"_id": aggregate_id(key)},
                    {
                        "$inc": counters,
                        "$max": {"updated_at": inc.last_at},
                        "$setOnInsert": {
                            "campaign_id": key[0],
                            "unit": key[1],
                            "instrument_id": inc.instrument_id,
                        },
                    },
                    upsert=True,
                )
            )
        if operations:
            await self._aggregates.bulk_write(operations, ordered=False, session=session)

    async def get_many(
        self, keys: list[AggregateKey], session: AsyncClientSession | None = None
    ) -> list[dict[str, Any]]:
        """Aggregates as plain dicts with item ids restored."""
        cursor = self._aggregates.find(
            {"_id": {"$in": [aggregate_id(k) for k in keys]}}, session=session
        )
        docs = []
        async for doc in cursor:
            doc["counts"] = {_item(k): v for k, v in doc.get("counts", {}).items()}
            docs.append(doc)
        return docs

    async def all(self) -> list[dict[str, Any]]:
        """Every aggregate (small: one per campaign and unit)."""
        docs = []
        async for doc in self._aggregates.find({}):
            doc["counts"] = {_item(k): v for k, v in doc.get("counts", {}).items()}
            docs.append(doc)
        return docs
