"""Where each consumer stands: the stream sequences whose effects its own store holds.

The broker's ack floor says what the broker will not deliver again; it cannot say what
the store kept. A store that loses its last commits (a Mongo-wire server without sync,
a restore from backup, a failover with a lagging secondary) loses effects whose messages
were acked. So every consumer keeps its *applied position* — the set of stream sequences
it has applied (an ``AppliedSequences``: a floor plus ranges) — in its own store,
written by the same transaction as the effects, and resumes from it
(``sipas_runtime.resume``). What that costs, by dedup mode:

- ``sequence`` (scoring's responses, sampling's dossiers): the applied set already *is*
  the de-duplication, one document per durable (``{_id: durable, seq, ranges, v}``)
  rewritten by every batch. It serialises the instances of that consumer by design.
- ``event_id`` and ``handler`` (everything else): de-duplication is per event or in the
  handler's own state, so instances never write the same document. Their position must
  not add one: each committed batch *inserts* an entry ``{_id: "<durable>|<uuid7>",
  ranges}`` naming the sequences it handled into ``processed_events`` (with the event-id
  markers, in the same ``insert_many``: no round trip of its own; entries have no ``at``,
  so the markers' TTL never removes them). Inserts of different documents never
  conflict. The position is the union of the durable's base document (in
  ``consumer_watermarks``) and its entries; :func:`fold` merges entries into the base
  from time to time (a transaction that conflicts only with another fold).
- in-memory state with checkpoints (issue #22): the checkpoint holds its
  ``AppliedSequences`` next to the state it describes; resuming replays its gaps.

Dead-lettered sequences are not applied: they stay out of the position and are skipped by
the record each consumer keeps of them (``sipas_runtime.dlq.letters``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from sipas_contracts.ids import uuid7
from sipas_runtime.mongo import Document, in_transaction
from sipas_runtime.sequences import AppliedSequences

WATERMARKS = "consumer_watermarks"
PROCESSED = "processed_events"
FOLD_LIMIT = 5000
_ENTRY = "|"  # entries of durable d have ids "d|...", which sort between "d|" and "d}"


class PositionMovedError(PyMongoError):
    """A base document changed between reading and writing it: retry with a fresh read."""

    def __init__(self, durable: str) -> None:
        super().__init__(
            f"the position of {durable} changed while it was being updated",
            error_labels=["TransientTransactionError"],
        )


def ranges(seqs: Iterable[int]) -> list[list[int]]:
    """Sequences as sorted ``[first, last]`` ranges of consecutive numbers."""
    out: list[list[int]] = []
    for seq in sorted(set(seqs)):
        if out and seq == out[-1][1] + 1:
            out[-1][1] = seq
        else:
            out.append([seq, seq])
    return out


def entry(durable: str, seqs: Iterable[int]) -> Document:
    """A position entry: the sequences one committed batch applied."""
    return {"_id": f"{durable}{_ENTRY}{uuid7().hex}", "ranges": ranges(seqs)}


def _entries(durable: str) -> dict[str, Any]:
    return {"_id": {"$gt": f"{durable}{_ENTRY}", "$lt": f"{durable}}}"}}


async def load(
    database: AsyncDatabase[Document], durable: str, session: AsyncClientSession | None = None
) -> AppliedSequences:
    """The sequences ``durable`` has applied: its base document and every entry."""
    base = await database[WATERMARKS].find_one({"_id": durable}, session=session)
    applied = AppliedSequences.from_document(base)
    async for doc in database[PROCESSED].find(_entries(durable), session=session):
        for first, last in doc["ranges"]:
            applied.add_range(int(first), int(last))
    return applied


async def fold(client: AsyncMongoClient[Document], database: str, durable: str) -> int:
    """Merge up to ``FOLD_LIMIT`` entries into the base document; returns how many."""

    async def work(session: AsyncClientSession) -> int:
        collection = client[database][PROCESSED]
        docs = await collection.find(_entries(durable), session=session).to_list(FOLD_LIMIT)
        if not docs:
            return 0
        spans = [(int(a), int(b)) for doc in docs for a, b in doc["ranges"]]
        await _extend_base(client, database, durable, spans, session)
        await collection.delete_many({"_id": {"$in": [d["_id"] for d in docs]}}, session=session)
        return len(docs)

    return await in_transaction(client, work)


async def cover(
    client: AsyncMongoClient[Document], database: str, durable: str, spans: list[tuple[int, int]]
) -> None:
    """Record ``spans`` as applied in the base document (resume: sequences with no message)."""
    if spans:
        await in_transaction(
            client, lambda session: _extend_base(client, database, durable, spans, session)
        )


async def _extend_base(
    client: AsyncMongoClient[Document],
    database: str,
    durable: str,
    spans: list[tuple[int, int]],
    session: AsyncClientSession,
) -> None:
    """Add ``spans`` to the base document, bumping its version ``v`` (a guard of its own)."""
    collection = client[database][WATERMARKS]
    base = await collection.find_one({"_id": durable}, session=session)
    applied = AppliedSequences.from_document(base)
    for first, last in spans:
        applied.add_range(first, last)
    version = int((base or {}).get("v", 0))
    update = {"$set": {**applied.document(), "v": version + 1}}
    if base is None:
        await collection.update_one({"_id": durable}, update, upsert=True, session=session)
        return
    condition = {"_id": durable, **_version(base)}
    result = await collection.update_one(condition, update, session=session)
    if not result.matched_count:
        raise PositionMovedError(durable)


def _version(base: Document) -> Document:
    return {"v": base["v"]} if "v" in base else {"v": {"$exists": False}}
