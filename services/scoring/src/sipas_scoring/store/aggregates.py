"""Scoring's Mongo adapter for the counts: one natural document per slice.

A *slice* is one (campaign, month, unit, applicant kind, collection mode, instrument)::

    {_id: "c2026|2026-11|ht-nx-co-dam|individual|online|sipas-2640-2017",
     campaign_id: "c2026", bucket: "2026-11", unit: "ht-nx-co-dam",
     applicant_kind: "individual", collection_mode: "online",
     instrument_id: "sipas-2640-2017",
     responses: 41, first_at: ISODate(...), last_at: ISODate(...), seq: 1234,
     counts: [{item: "C01", levels: {"4": 20, "5": 12, "na": 1}}, ...],
     coverage: [{group: "E1", n: 40}, {group: "*", n: 41}, ...]}

``seq`` is the stream sequence of the latest response counted. Items and groups are
array entries (their ids contain dots, which field names should not), so MongoDB's own
tools read the counts with the aggregation pipeline, e.g. satisfied answers per unit and
item::

    [{$unwind: "$counts"},
     {$group: {_id: {unit: "$unit", item: "$counts.item"},
               satisfied: {$sum: {$add: [{$ifNull: ["$counts.levels.4", 0]},
                                         {$ifNull: ["$counts.levels.5", 0]}]}}}}]

The documents are written by the checkpoints of the in-memory counts
(``sipas_scoring.counts``), each replaced whole, together with the consumer's position.
Earlier versions stored a month's slices as JSON text inside one document per unit and
month, with ``rev`` stamps and change numbers (a quirk of the dev server's cost per field);
``sipas scoring migrate`` converts those (:func:`migrate`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

import msgspec
from pymongo import ASCENDING, DeleteOne, ReplaceOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from typing_extensions import override

from sipas_runtime.mongo import Database, Document, MongoStore, Session, delete_many
from sipas_runtime.positions import WATERMARKS
from sipas_runtime.sequences import AppliedSequences
from sipas_scoring.domain.tally import SliceKey, Tally

AGGREGATES = "aggregates"
DAY_AGGREGATES = "day_aggregates"
"""The latest days' slices, in the same form with a ``YYYY-MM-DD`` bucket."""
LEGACY_PUBLISHER_STATE = "publisher_state"
_LEGACY = {"slices": {"$exists": True}}


def _int(value: object) -> int:
    if not isinstance(value, int):
        msg = f"stored counts must be integers, got {value!r}"
        raise TypeError(msg)
    return value


def to_document(key: SliceKey, tally: Tally) -> Document:
    """The stored form of one slice."""
    return {
        "_id": key.slice_id,
        "campaign_id": key.campaign_id,
        "bucket": key.bucket,
        "unit": key.unit,
        "applicant_kind": key.applicant_kind,
        "collection_mode": key.collection_mode,
        "instrument_id": key.instrument_id,
        "responses": _int(tally.responses),
        "first_at": tally.first_at,
        "last_at": tally.last_at,
        "seq": tally.last_seq,
        "counts": [
            {"item": item, "levels": {level: _int(n) for level, n in sorted(levels.items())}}
            for item, levels in sorted(tally.counts.items())
        ],
        "coverage": [{"group": g, "n": _int(n)} for g, n in sorted(tally.coverage.items())],
    }


def from_document(doc: Mapping[str, Any]) -> tuple[SliceKey, Tally]:
    """A stored slice."""
    key = SliceKey(
        doc["campaign_id"], doc["bucket"], doc["unit"], doc["applicant_kind"],
        doc["collection_mode"], doc["instrument_id"],
    )  # fmt: skip
    tally = Tally(
        responses=int(doc.get("responses", 0)),
        counts={c["item"]: {lv: int(n) for lv, n in c["levels"].items()} for c in doc["counts"]},
        coverage={c["group"]: int(c["n"]) for c in doc.get("coverage", [])},
        first_at=doc.get("first_at"),
        last_at=doc.get("last_at"),
        last_seq=int(doc.get("seq", 0)),
    )
    return key, tally


class AggregateStore(Protocol):
    """The slice counts of one collection (live, or a rebuild's fresh copy)."""

    @property
    def name(self) -> str:
        """The collection's name."""
        ...

    async def create_indexes(self) -> None:
        """Per-campaign reads (the API, exports) and per-unit aggregations."""
        ...

    def of_days(self) -> AggregateStore:
        """The store of the day slices beside this one's months."""
        ...

    async def tallies(
        self, campaign_id: str | None = None, session: Session = None, *, since: str | None = None
    ) -> dict[SliceKey, Tally]:
        """Every slice (of one campaign; from the bucket ``since`` on)."""
        ...

    async def campaigns(self) -> list[Document]:
        """Per campaign: responses, units, months and instruments in the counts."""
        ...

    async def replace_all(self, tallies: Mapping[SliceKey, Tally]) -> None:
        """Make the collection hold exactly ``tallies`` (used for a rebuild's fresh copy)."""
        ...

    async def applied(
        self, durable: str, session: AsyncClientSession | None = None
    ) -> AppliedSequences:
        """The exact stream sequences consumer ``durable`` has applied (and checkpointed)."""
        ...

    async def legacy_documents(self) -> int:
        """How many documents are still in the form of earlier versions (to migrate)."""
        ...


class MongoAggregateStore(MongoStore, AggregateStore):
    """The slice documents of one collection (live, or a rebuild's fresh copy)."""

    def __init__(self, db: Database, collection: str = AGGREGATES) -> None:
        super().__init__(db)
        self._collection = collection

    @property
    def _slices(self) -> AsyncCollection[Document]:
        return self.db[self._collection]

    @override
    @property
    def name(self) -> str:
        return self._slices.name

    @override
    async def create_indexes(self) -> None:
        await self._slices.create_index([("campaign_id", ASCENDING), ("bucket", ASCENDING)])
        await self._slices.create_index([("unit", ASCENDING)])

    @override
    def of_days(self) -> AggregateStore:
        return MongoAggregateStore(self.db, DAY_AGGREGATES)

    @override
    async def tallies(
        self, campaign_id: str | None = None, session: Session = None, *, since: str | None = None
    ) -> dict[SliceKey, Tally]:
        query: Document = {} if campaign_id is None else {"campaign_id": campaign_id}
        if since is not None:
            query["bucket"] = {"$gte": since}
        return dict([from_document(doc) async for doc in self._slices.find(query, session=session)])

    @override
    async def campaigns(self) -> list[Document]:
        pipeline: list[Document] = [
            {"$group": {
                "_id": "$campaign_id", "responses": {"$sum": "$responses"},
                "units": {"$addToSet": "$unit"}, "months": {"$addToSet": "$bucket"},
                "instruments": {"$addToSet": "$instrument_id"},
            }},
            {"$sort": {"_id": 1}},
        ]  # fmt: skip
        return [
            {
                "campaign_id": row["_id"],
                "responses": row["responses"],
                "units": len(row["units"]),
                "months": sorted(row["months"]),
                "instruments": sorted(row["instruments"]),
            }
            async for row in await self._slices.aggregate(pipeline)
        ]

    @override
    async def replace_all(self, tallies: Mapping[SliceKey, Tally]) -> None:
        await delete_many(self._slices, {})
        documents = [to_document(key, tally) for key, tally in sorted(tallies.items())]
        for start in range(0, len(documents), 1000):
            await self._slices.insert_many(documents[start : start + 1000], ordered=False)

    @override
    async def applied(
        self, durable: str, session: AsyncClientSession | None = None
    ) -> AppliedSequences:
        mark = await self.db[WATERMARKS].find_one({"_id": durable}, session=session)
        return AppliedSequences.from_document(mark)

    @override
    async def legacy_documents(self) -> int:
        return await self._slices.count_documents(_LEGACY)


def legacy_slices(doc: Mapping[str, Any]) -> dict[SliceKey, Tally]:
    """The slices of an earlier version's document (JSON text per kind and mode)."""
    out: dict[SliceKey, Tally] = {}
    for name, text in doc.get("slices", {}).items():
        kind, mode = name.split("|", 1)
        key = SliceKey(
            doc["campaign_id"], doc["bucket"], doc["unit"], kind, mode, doc["instrument_id"]
        )
        stored = msgspec.json.decode(text)
        out[key] = Tally(
            responses=stored.get("responses", 0),
            counts=stored.get("counts", {}),
            coverage=stored.get("coverage", {}),
            first_at=_instant(stored.get("first_at")),
            last_at=_instant(stored.get("last_at")),
            last_seq=stored.get("seq", 0),
        )
    return out


def _instant(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


async def migrate(db: AsyncDatabase[Document], *, chunk: int = 200) -> dict[str, int]:
    """Convert earlier versions' documents into slice documents (idempotent, resumable).

    Each chunk replaces the old documents by their slices in one ordered bulk write; a
    run interrupted half-way leaves only documents of either form, each complete, and the
    next run carries on. The leftover publisher marks of earlier versions are dropped.
    """
    collection = db[AGGREGATES]
    converted = slices = 0
    while True:
        old = await collection.find(_LEGACY).to_list(chunk)
        if not old:
            break
        ops: list[ReplaceOne[Document] | DeleteOne] = []
        for doc in old:
            found = legacy_slices(doc)
            slices += len(found)
            ops += [ReplaceOne({"_id": k.slice_id}, to_document(k, t), upsert=True)
                    for k, t in found.items()]  # fmt: skip
            ops.append(DeleteOne({"_id": doc["_id"]}))
        await collection.bulk_write(ops, ordered=True)
        converted += len(old)
    dropped = await delete_many(db[LEGACY_PUBLISHER_STATE], {})
    return {"documents_converted": converted, "slices_written": slices, "marks_dropped": dropped}
