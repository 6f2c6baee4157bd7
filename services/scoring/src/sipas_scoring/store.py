"""Scoring's Mongo adapter for the counts: one document per (campaign, month, unit).

A document holds the tallies of one unit's month (and instrument), one *slice* per
applicant kind and collection mode; each slice is compact JSON text::

    {_id: "c2026|2026-11|ht-nx-co-dam|sipas-2640-2017",
     campaign_id, bucket, unit, instrument_id, responses: 58, seq: 1234, commit: 87,
     slices: {"individual|online": '{"counts":{"C01":{"4":20,"5":12,"na":1},...},
                                     "coverage":{"*":41,"E1":40,...},"first_at":"...",
                                     "last_at":"...","responses":41,"seq":1234}',
              "organisation|paper": '{...}'}}

``seq`` is the stream sequence of the latest response counted; ``commit`` the number of
the batch that last changed the document (the version of the responses consumer's
applied sequences, incremented in the same transaction), which the index loop scans for
changes.

Each batch is one *read-modify-write* per touched document inside the consumer's
transaction (read the touched documents, add the batch's tallies, replace them), with
the consumer's applied sequences committed in the same transaction: as exactly-once as
``$inc``. Each write stamps the document with a fresh random ``rev``. A process keeps what
it last wrote in a :class:`SliceCache` and skips the read of documents it knows: it
replaces them on condition that ``rev`` is still the one it wrote, and only re-encodes the
slices the batch touched. A condition that fails (another instance wrote the document,
or the transaction that wrote the cached copy was rolled back, so its ``rev`` never
existed) empties the cache and retries the transaction with a fresh read, so the cache
can never make a count wrong; it only saves a round trip and the JSON decoding.

Why not ``$inc`` on nested counters, and why JSON text: on the SecantusDB dev
server (a Python MongoDB-wire server, the default here) the cost of an update grows
with the number of fields in the document, measured per document: ``$inc`` of 132
fields 14 ms; replace of a nested document with 4 slices 1.8 ms; the same as JSON text
0.6 ms. The JSON is written and read with msgspec (5-8x faster than the standard
library here). Real MongoDB is fast either way; the API, the exports and the rebuild show
the counts in full.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
from pymongo import ASCENDING
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from sipas_contracts.streams import SCORING_RESPONSES
from sipas_runtime.positions import WATERMARKS
from sipas_runtime.sequences import AppliedSequences
from sipas_runtime.writes import Writes
from sipas_scoring.domain.tally import SliceKey, Tally

AGGREGATES = "aggregates"
PUBLISHER_STATE = "publisher_state"
Document = dict[str, Any]


def _int(value: object) -> int:
    if not isinstance(value, int):
        msg = f"stored counts must be integers, got {value!r}"
        raise TypeError(msg)
    return value


def document_id(key: SliceKey) -> str:
    """The document a slice is stored in."""
    return f"{key.campaign_id}|{key.bucket}|{key.unit}|{key.instrument_id}"


def _slice_name(key: SliceKey) -> str:
    return f"{key.applicant_kind}|{key.collection_mode}"


def _slice(tally: Tally) -> str:
    return msgspec.json.encode(
        {
            "responses": _int(tally.responses),
            "counts": {
                item: {level: _int(n) for level, n in levels.items()}
                for item, levels in tally.counts.items()
            },
            "coverage": {g: _int(n) for g, n in tally.coverage.items()},
            "first_at": tally.first_at.isoformat() if tally.first_at else None,
            "last_at": tally.last_at.isoformat() if tally.last_at else None,
            "seq": tally.last_seq,
        }
    ).decode()


def _instant(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def to_document(
    slices: Mapping[SliceKey, Tally],
    commit: int = 0,
    *,
    texts: Mapping[SliceKey, str] | None = None,
    rev: str | None = None,
) -> Document:
    """The stored form of one document's slices (all with the same document id).

    ``texts``: slices already encoded (unchanged since read), reused as they are.
    """
    keys = list(slices)
    first = keys[0]
    known = texts or {}
    doc: Document = {
        "_id": document_id(first),
        "campaign_id": first.campaign_id,
        "bucket": first.bucket,
        "unit": first.unit,
        "instrument_id": first.instrument_id,
        "responses": sum(_int(t.responses) for t in slices.values()),
        "seq": max(t.last_seq for t in slices.values()),
        "commit": commit,
        "slices": {_slice_name(k): known.get(k) or _slice(slices[k]) for k in sorted(keys)},
    }
    if rev is not None:
        doc["rev"] = rev
    return doc


def _slice_texts(doc: Document) -> dict[SliceKey, str]:
    out: dict[SliceKey, str] = {}
    for name, text in doc.get("slices", {}).items():
        kind, mode = name.split("|", 1)
        key = SliceKey(
            doc["campaign_id"], doc["bucket"], doc["unit"], kind, mode, doc["instrument_id"]
        )
        out[key] = text
    return out


def from_document(doc: Document) -> dict[SliceKey, Tally]:
    """The slices of a stored document."""
    return {key: _tally(text) for key, text in _slice_texts(doc).items()}


def _tally(text: str) -> Tally:
    stored = msgspec.json.decode(text)
    return Tally(
        responses=stored.get("responses", 0),
        counts=stored.get("counts", {}),
        coverage=stored.get("coverage", {}),
        first_at=_instant(stored.get("first_at")),
        last_at=_instant(stored.get("last_at")),
        last_seq=stored.get("seq", 0),
    )


def by_document(slices: Mapping[SliceKey, Tally]) -> dict[str, dict[SliceKey, Tally]]:
    """Group slices by the document that stores them."""
    out: dict[str, dict[SliceKey, Tally]] = {}
    for key, tally in slices.items():
        out.setdefault(document_id(key), {})[key] = tally
    return out


def _flatten(docs: Iterable[Document]) -> dict[SliceKey, Tally]:
    out: dict[SliceKey, Tally] = {}
    for doc in docs:
        out.update(from_document(doc))
    return out


class StaleSlicesError(PyMongoError):
    """A cached document changed underneath: retry the transaction with a fresh read."""

    def __init__(self) -> None:
        super().__init__(
            "a slice document changed since this process wrote it",
            error_labels=["TransientTransactionError"],
        )


@dataclass(frozen=True, slots=True)
class CachedDocument:
    """A document as this process last wrote (or read) it."""

    rev: str | None
    slices: dict[SliceKey, Tally]
    texts: dict[SliceKey, str]


class SliceCache:
    """The slice documents this process last wrote, by document id (bounded).

    Entries are only ever *used* behind a check that the stored ``rev`` is still theirs,
    so a stale or never-committed entry costs a retry, never a wrong count. Tallies in
    it are never mutated (writes build new ones), so readers may share them.
    """

    def __init__(self, limit: int = 20_000) -> None:
        self._limit = limit
        self._docs: dict[str, CachedDocument] = {}

    def get(self, doc_id: str) -> CachedDocument | None:
        """The cached copy of a document, if any."""
        return self._docs.get(doc_id)

    def put(self, doc_id: str, entry: CachedDocument) -> None:
        """Remember a document (evicting the oldest entry beyond the limit)."""
        self._docs.pop(doc_id, None)
        self._docs[doc_id] = entry
        if len(self._docs) > self._limit:
            del self._docs[next(iter(self._docs))]

    def clear(self) -> None:
        """Forget everything (after a failed condition)."""
        self._docs.clear()

    def __len__(self) -> int:
        return len(self._docs)


def _cached(doc: Document) -> CachedDocument:
    texts = _slice_texts(doc)
    return CachedDocument(doc.get("rev"), {k: _tally(t) for k, t in texts.items()}, texts)


class AggregateStore:
    """The slice documents of one collection (live, or a rebuild's fresh copy).

    ``cache``: this process's :class:`SliceCache` (the live service passes one; readers
    and tools without one always read from Mongo).
    """

    def __init__(
        self,
        db: AsyncDatabase[Document],
        collection: str = AGGREGATES,
        *,
        cache: SliceCache | None = None,
    ) -> None:
        self._db = db
        self._slices = db[collection]
        self._cache = cache

    async def create_indexes(self) -> None:
        """Indexes for the publisher's change scan and per-campaign reads."""
        await self._slices.create_index([("commit", ASCENDING)])
        await self._slices.create_index([("campaign_id", ASCENDING), ("bucket", ASCENDING)])

    async def last_commit(self) -> int:
        """The change counter's value: every slice change up to it is committed.

        The counter is the version ``v`` of the responses consumer's applied sequences,
        which each batch increments in the transaction that changes the slices.
        """
        mark = await self._db[WATERMARKS].find_one({"_id": SCORING_RESPONSES.durable}, {"v": 1})
        return int(mark.get("v", 0)) if mark else 0

    async def adopt_legacy_counter(self) -> None:
        """Carry a counter kept by earlier versions (``publisher_state.commits``) over.

        Run before consuming: the version must not restart below change numbers already
        stamped on slices, or the index loop would take later changes for old ones.
        """
        legacy = await self._db[PUBLISHER_STATE].find_one({"_id": "commits"})
        if legacy is None:
            return
        await self._db[WATERMARKS].update_one(
            {"_id": SCORING_RESPONSES.durable}, {"$max": {"v": int(legacy["n"])}}, upsert=True
        )
        await self._db[PUBLISHER_STATE].delete_one({"_id": "commits"})

    async def apply(
        self,
        increments: Mapping[SliceKey, Tally],
        session: AsyncClientSession | None,
        commit: int,
        writes: Writes,
    ) -> dict[SliceKey, Tally]:
        """Add tallies to the stored slices: at most one read, replacements into ``writes``.

        ``writes`` are the consumer batch's writes, sent in one command after the handler.
        ``commit`` (the change counter of this batch) is stamped on every touched slice so
        the index loop finds what changed, whatever the stream order of the responses.
        Documents in the cache are not read (see the module docstring); a cached one is
        replaced only if its ``rev`` is still ours (a guarded write). Returns every slice
        of the documents written, as they now stand (what ``changed`` would read).
        """
        if not increments:
            return {}
        grouped = by_document(increments)
        cache = self._cache
        known = {d: cache.get(d) for d in grouped} if cache is not None else {}
        unknown = [d for d in grouped if known.get(d) is None]
        read: dict[str, CachedDocument] = {}
        if unknown:
            query = {"_id": {"$in": unknown}}
            found = self._slices.find(query, session=session)
            read = {doc["_id"]: _cached(doc) async for doc in found}
        written: dict[str, CachedDocument] = {}
        for doc_id, slices in grouped.items():
            cached = known.get(doc_id)
            before = cached or read.get(doc_id)
            merged = dict(before.slices) if before else {}
            texts = dict(before.texts) if before else {}
            for key, tally in slices.items():  # new tallies: cached ones are shared, never mutated
                old = merged.get(key)
                merged[key] = (Tally().add(old) if old else Tally()).add(tally)
                texts[key] = _slice(merged[key])
            rev = secrets.token_hex(12)
            doc = to_document(merged, commit, texts=texts, rev=rev)
            if cached is None:  # read in this transaction (or new)
                writes.replace(self._slices.name, {"_id": doc_id}, doc, upsert=True)
            else:  # not read: only if nobody wrote it since
                selector = {"_id": doc_id, "rev": cached.rev}
                writes.replace(self._slices.name, selector, doc, guard=self._stale)
            written[doc_id] = CachedDocument(rev, merged, texts)
        if cache is not None:  # a copy never committed costs a retry (module docstring)
            for doc_id, entry in written.items():
                cache.put(doc_id, entry)
        return {key: tally for entry in written.values() for key, tally in entry.slices.items()}

    def _stale(self) -> StaleSlicesError:
        """A conditional replacement matched nothing: the cached copies are not to be trusted."""
        if self._cache is not None:
            self._cache.clear()
        return StaleSlicesError()

    async def tallies(
        self, campaign_id: str | None = None, session: AsyncClientSession | None = None
    ) -> dict[SliceKey, Tally]:
        """Every slice (of one campaign)."""
        query = {} if campaign_id is None else {"campaign_id": campaign_id}
        return _flatten([doc async for doc in self._slices.find(query, session=session)])

    async def changed(self, after: int, upto: int) -> dict[SliceKey, Tally]:
        """Slices of documents last changed by a batch with number in (after, upto].

        With a cache, only the ``rev`` of those documents is read first: the ones this
        process wrote (same ``rev``) come from the cache, the others are read in full.
        """
        query = {"commit": {"$gt": after, "$lte": upto}}
        if self._cache is None:
            return _flatten([doc async for doc in self._slices.find(query)])
        out: dict[SliceKey, Tally] = {}
        missing = []
        async for head in self._slices.find(query, {"rev": 1}):
            entry = self._cache.get(head["_id"])
            if entry is not None and entry.rev is not None and entry.rev == head.get("rev"):
                out.update(entry.slices)
            else:
                missing.append(head["_id"])
        if missing:  # a newer version than ``upto`` may come back: committed, so harmless
            async for doc in self._slices.find({"_id": {"$in": missing}}):
                entry = _cached(doc)
                self._cache.put(doc["_id"], entry)
                out.update(entry.slices)
        return out

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
        documents = [to_document(slices) for _, slices in sorted(by_document(tallies).items())]
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
