"""Scoring's Mongo adapter for the counts: one document per slice.

A slice document holds the tally of (campaign, month, unit, applicant kind, collection
mode, instrument) as nested counters, readable as is in a Mongo shell::

    {_id: "c2026|2026-11|ht-nx-co-dam|individual|online|sipas-2640-2017",
     campaign_id, bucket, unit, applicant_kind, collection_mode, instrument_id,
     responses: 41, counts: {"C01": {"4": 20, "5": 12, "na": 1}, ...},
     coverage: {"E1": 40, "HL": 41, "*": 41}, first_at, last_at, seq: 1234, commit: 87}

``seq`` is the stream sequence of the latest response counted; ``commit`` the number of
the batch that last changed the slice (a counter in ``publisher_state``, incremented in
the same transaction), which the index loop scans for changes.

Each batch is one *read-modify-write* per touched slice inside the consumer's
transaction (read the touched documents, add the batch's tallies, replace them), with
the stream watermark committed in the same transaction. That is as exactly-once as a
``$inc`` and, measured on the SecantusDB dev server, 5-20x faster: its ``$inc`` cost
grows with the number of fields touched (132 fields: 14 ms per document) while a
replace costs ~0.7 ms. Item ids contain dots (``HL.DV.E1.1``), which Mongo paths use as
separators, so they are stored with ``~``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pymongo import ASCENDING, ReplaceOne, ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from sipas_runtime.consumer import WATERMARKS
from sipas_runtime.sequences import AppliedSequences
from sipas_scoring.domain.tally import SliceKey, Tally

AGGREGATES = "aggregates"
PUBLISHER_STATE = "publisher_state"
Document = dict[str, Any]


def _field(name: str) -> str:
    return name.replace(".", "~")


def _name(field: str) -> str:
    return field.replace("~", ".")


def _int(value: object) -> int:
    if not isinstance(value, int):
        msg = f"stored counts must be integers, got {value!r}"
        raise TypeError(msg)
    return value


def to_document(key: SliceKey, tally: Tally, commit: int = 0) -> Document:
    """The stored form of a slice's tally (integer counts only)."""
    return {
        "commit": commit,
        "_id": key.doc_id,
        "campaign_id": key.campaign_id,
        "bucket": key.bucket,
        "unit": key.unit,
        "applicant_kind": key.applicant_kind,
        "collection_mode": key.collection_mode,
        "instrument_id": key.instrument_id,
        "responses": _int(tally.responses),
        "counts": {
            _field(item): {level: _int(n) for level, n in levels.items()}
            for item, levels in tally.counts.items()
        },
        "coverage": {_field(g): _int(n) for g, n in tally.coverage.items()},
        "first_at": tally.first_at,
        "last_at": tally.last_at,
        "seq": tally.last_seq,
    }


def from_document(doc: Document) -> tuple[SliceKey, Tally]:
    """A slice key and tally from its stored form."""
    key = SliceKey(
        campaign_id=doc["campaign_id"],
        bucket=doc["bucket"],
        unit=doc["unit"],
        applicant_kind=doc["applicant_kind"],
        collection_mode=doc["collection_mode"],
        instrument_id=doc["instrument_id"],
    )
    tally = Tally(
        responses=doc.get("responses", 0),
        counts={_name(item): dict(levels) for item, levels in doc.get("counts", {}).items()},
        coverage={_name(g): n for g, n in doc.get("coverage", {}).items()},
        first_at=doc.get("first_at"),
        last_at=doc.get("last_at"),
        last_seq=doc.get("seq", 0),
    )
    return key, tally


class AggregateStore:
    """The slice documents of one collection (live, or a rebuild's fresh copy)."""

    def __init__(self, db: AsyncDatabase[Document], collection: str = AGGREGATES) -> None:
        self._db = db
        self._slices = db[collection]

    async def create_indexes(self) -> None:
        """Indexes for the publisher's change scan and per-campaign reads."""
        await self._slices.create_index([("commit", ASCENDING)])
        await self._slices.create_index([("campaign_id", ASCENDING), ("bucket", ASCENDING)])

    async def next_commit(self, session: AsyncClientSession | None = None) -> int:
        """The next number of the change counter (in the batch's transaction)."""
        doc = await self._db[PUBLISHER_STATE].find_one_and_update(
            {"_id": "commits"},
            {"$inc": {"n": 1}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
            session=session,
        )
        return int(doc["n"]) if doc else 1

    async def last_commit(self) -> int:
        """The change counter's value: every slice change up to it is committed."""
        doc = await self._db[PUBLISHER_STATE].find_one({"_id": "commits"})
        return int(doc["n"]) if doc else 0

    async def apply(
        self,
        increments: Mapping[SliceKey, Tally],
        session: AsyncClientSession | None = None,
        commit: int = 0,
    ) -> None:
        """Add tallies to the stored slices: one read and one bulk replace per batch.

        ``commit`` (the change counter of this batch) is stamped on every touched slice so
        the index loop finds what changed, whatever the stream order of the responses.
        """
        if not increments:
            return
        by_id = {key.doc_id: (key, tally) for key, tally in increments.items()}
        stored = {
            doc["_id"]: from_document(doc)[1]
            async for doc in self._slices.find({"_id": {"$in": list(by_id)}}, session=session)
        }
        operations = [
            ReplaceOne(
                {"_id": doc_id},
                to_document(key, stored.get(doc_id, Tally()).add(tally), commit),
                upsert=True,
            )
            for doc_id, (key, tally) in by_id.items()
        ]
        await self._slices.bulk_write(operations, ordered=False, session=session)

    async def tallies(
        self, campaign_id: str | None = None, session: AsyncClientSession | None = None
    ) -> dict[SliceKey, Tally]:
        """Every slice (of one campaign)."""
        query = {} if campaign_id is None else {"campaign_id": campaign_id}
        return dict([from_document(doc) async for doc in self._slices.find(query, session=session)])

    async def changed(self, after: int, upto: int) -> dict[SliceKey, Tally]:
        """Slices last changed by a batch with change number in (after, upto]."""
        query = {"commit": {"$gt": after, "$lte": upto}}
        return dict([from_document(doc) async for doc in self._slices.find(query)])

    async def campaigns(self) -> list[Document]:
        """Per campaign: responses, units, months and instruments in the counts."""
        summary: dict[str, Document] = {}
        projection = {"campaign_id": 1, "unit": 1, "bucket": 1, "instrument_id": 1, "responses": 1}
        async for doc in self._slices.find({}, projection):
            entry = summary.setdefault(
                doc["campaign_id"],
                {"responses": 0, "units": set(), "months": set(), "instruments": set()},
            )
            entry["responses"] += doc.get("responses", 0)
            entry["units"].add(doc["unit"])
            entry["months"].add(doc["bucket"])
            entry["instruments"].add(doc["instrument_id"])
        return [
            {
                "campaign_id": campaign,
                "responses": entry["responses"],
                "units": len(entry["units"]),
                "months": sorted(entry["months"]),
                "instruments": sorted(entry["instruments"]),
            }
            for campaign, entry in sorted(summary.items())
        ]

    async def replace_all(self, tallies: Mapping[SliceKey, Tally]) -> None:
        """Make the collection hold exactly ``tallies`` (used for a rebuild's fresh copy)."""
        await self._slices.delete_many({})
        documents = [to_document(key, tally) for key, tally in sorted(tallies.items())]
        for start in range(0, len(documents), 1000):
            await self._slices.insert_many(documents[start : start + 1000], ordered=False)

    async def applied(
        self, durable: str, session: AsyncClientSession | None = None
    ) -> AppliedSequences:
        """The exact stream sequences consumer ``durable`` has applied."""
        mark = await self._db[WATERMARKS].find_one({"_id": durable}, session=session)
        return AppliedSequences.from_document(mark)

    async def publisher_mark(self) -> int:
        """The change number through which index updates are published (0 at first)."""
        mark = await self._db[PUBLISHER_STATE].find_one({"_id": "index-updated"})
        return int(mark["through"]) if mark else 0

    async def save_publisher_mark(self, through: int) -> None:
        """Remember that index updates are published through change ``through``."""
        await self._db[PUBLISHER_STATE].update_one(
            {"_id": "index-updated"}, {"$max": {"through": through}}, upsert=True
        )
