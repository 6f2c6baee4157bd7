"""The decision book as a ``MemoryState``: loaded, checkpointed, refreshed (#22).

Checkpoint documents are the ones the store-backed path writes, so the dispatcher, the
progress pages and the store path itself read them unchanged:

- ``applicants`` (the claims taken, ``{_id: key, dossier_id}``) and ``invitations`` (one per
  invitation, holding its first event): inserted as new (``Writes.insert_new``, one
  ``insert_many`` each), since the book knows which it has not stored. One may exist all
  the same (a dossier corrected into another partition's unit; a store that may have lost
  checkpoints is written whole): that transaction is retried at once with every such
  document an insert-if-absent, which keeps the stored one;
- ``decisions``: one log document per campaign and checkpoint (``items`` rows);
- ``population``, ``contacts``: a batch campaign's entries, invitation times;
- ``quotas``: ``reserved`` raised by the slots granted since the last checkpoint (an
  ``$inc``, as other stages lower it when a lapse frees a slot);
- ``quota_counts``: this durable's own rate counters (``{campaign}|{durable}``, one
  shard among those the store path's instances write), set to what the book counted.

The position's extra field ``unpublished`` lists the invitations whose events were
decided and not yet published: the next owner publishes them again (same ids).

Loading: the deciding campaigns' claims and quotas, every shard's rate counters, the
opt-outs and the recent contact history; a unit's slots ever granted are ``reserved +
released`` as read with the position. Between checkpoints :meth:`DecisionState.refresh`
reads what the other stages change (answers, lapses, released slots, quotas, opt-outs,
vault keys): a late value only makes the room smaller (``sipas_sampling.domain.quotas``).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from bson import ObjectId
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from sipas_contracts.events import DossierCompleted, InvitationSent
from sipas_runtime.batches import Delivery
from sipas_runtime.mongo import Document
from sipas_runtime.positions import WATERMARKS
from sipas_runtime.sequences import AppliedSequences
from sipas_runtime.writes import Writes
from sipas_sampling.deciding.book import HISTORY, DecisionBook, Pending
from sipas_sampling.deciding.loading import Counters, Key, load_history, load_units
from sipas_sampling.domain.continuous import RATE_COUNTERS
from sipas_sampling.metrics import SamplingMetrics
from sipas_sampling.registry import Registry
from sipas_sampling.screening import Keys
from sipas_sampling.store.campaigns import CampaignStore
from sipas_sampling.store.collections import (
    APPLICANTS,
    CONTACTS,
    DECISIONS,
    INVITATIONS,
    OPTOUTS,
    POPULATION,
    QUOTA_COUNTS,
    QUOTAS,
)
from sipas_sampling.store.decisions import quota_id

log = structlog.get_logger(__name__)


class ExistingDocumentsError(PyMongoError):
    """A checkpoint's new claim or invitation was stored already: write them if absent."""

    def __init__(self, durable: str) -> None:
        super().__init__(
            f"a claim or invitation of {durable}'s checkpoint exists: written if absent",
            error_labels=["TransientTransactionError"],  # the transaction runs again
        )


@dataclass
class _Capture:
    """What one :meth:`DecisionState.contents` wrote (forgotten by :meth:`saved`)."""

    book: DecisionBook
    quotas: list[dict[str, Any]]
    claims: list[dict[str, Any]]
    deltas: dict[Key, int]
    invitations: int
    log: dict[str, int]
    population: int
    contacts: dict[str, int]
    everything: bool
    careful: bool


class DecisionState:
    """Sampling's decisions kept in memory by the owner of the dossiers' durable."""

    def __init__(
        self,
        *,
        registry: Registry,
        campaigns: CampaignStore,
        keys: Keys,
        metrics: SamplingMetrics,
        durable: str,
    ) -> None:
        self._registry = registry
        self._campaigns = campaigns
        self._keys = keys
        self._metrics = metrics
        self._durable = durable
        self.book = DecisionBook(registry, keys, metrics)
        self._base: dict[Key, Counters] = {}  # what other shards (or the store path) counted
        self._written: dict[Key, int] = {}  # slots granted as ``reserved`` holds them
        self._everything = False
        self._careful = False  # the next checkpoint expects some of its new documents stored
        self._capture: _Capture | None = None

    # -- MemoryState -----------------------------------------------------------------------
    def fold(self, deliveries: Sequence[Delivery[DossierCompleted]], /) -> None:
        """Decide on the deliveries (``DecisionBook.fold``)."""
        self.book.fold(deliveries)

    def clear(self) -> None:
        """Forget everything (another instance owns the durable now)."""
        self.book = DecisionBook(self._registry, self._keys, self._metrics)
        self._base, self._written, self._capture = {}, {}, None
        self._everything = self._careful = False

    def restored(self, applied: AppliedSequences, extra: Document) -> None:
        """Nothing to do: :meth:`load` read the position's ``unpublished`` itself."""

    def touch_all(self) -> None:
        """Write every claim and counter again (``reserved`` moves only by what is new)."""
        self._everything = True

    async def load(self, db: AsyncDatabase[Document], session: AsyncClientSession) -> None:
        """Read the deciding campaigns' claims, quotas, counters, opt-outs and contacts."""
        book = self.book
        ids = [active.id for active in self._registry.deciding()]
        for campaign_id in ids:  # created if missing, outside the snapshot (idempotent)
            book.vault[campaign_id] = await self._campaigns.key(campaign_id)
        if ids:
            prefixes = [{"_id": {"$regex": f"^{re.escape(c)}\\|"}} for c in ids]
            claims = db[APPLICANTS].find({"$or": prefixes}, session=session)
            book.claims.load([doc async for doc in claims])
        loaded = await load_units(db, ids, self._durable, session)
        book.quotas.load(loaded.units.values())
        for key, unit in loaded.units.items():
            own = loaded.own.get(key, dict.fromkeys(RATE_COUNTERS, 0))
            self._base[key] = {name: unit[name] - own[name] for name in RATE_COUNTERS}
            self._written[key] = unit["invited"]
        optouts = db[OPTOUTS].find({}, session=session)
        book.optouts = {doc["_id"]: list(doc["channels"]) async for doc in optouts}
        book.history = await load_history(db, self._registry.deciding(), session)
        position = await db[WATERMARKS].find_one({"_id": self._durable}, session=session)
        unpublished = list((position or {}).get("unpublished", []))
        if unpublished:
            found = db[INVITATIONS].find({"_id": {"$in": unpublished}}, session=session)
            book.outbox = [InvitationSent.model_validate(doc["event"]) async for doc in found]

    def contents(self, writes: Writes) -> Document:
        """Add what was decided since the last checkpoint; the position's extra fields."""
        book, everything, careful = self.book, self._everything, self._careful
        quotas = book.quotas.all_documents() if everything else book.quotas.changed()
        claims = book.claims.all_documents() if everything else book.claims.changed()
        deltas = self._quota_writes(quotas, writes)
        pending = book.pending
        if everything or careful:  # inserted only if absent: a stored one stays as it is
            for claim in claims:
                _insert_once(writes, APPLICANTS, claim)
            for invitation in pending.invitations:
                _insert_once(writes, INVITATIONS, invitation)
        else:
            writes.insert_new(APPLICANTS, claims, guard=self._existed)
            writes.insert_new(INVITATIONS, pending.invitations, guard=self._existed)
        for campaign, rows in pending.log.items():
            if rows:
                at = pending.logged_at[campaign]
                log = {"_id": ObjectId(), "campaign": campaign, "at": at, "items": list(rows)}
                writes.insert(DECISIONS, log)
        for member in pending.population:
            writes.replace(POPULATION, {"_id": member["_id"]}, member, upsert=True)
        for pseudonym, times in pending.contacts.items():
            pushed = {"invited_at": {"$each": list(times), "$slice": -HISTORY}}
            writes.update(CONTACTS, {"_id": pseudonym}, {"$push": pushed}, upsert=True)
        self._capture = _Capture(
            book, quotas, claims, deltas, len(pending.invitations),
            {c: len(rows) for c, rows in pending.log.items()}, len(pending.population),
            {p: len(times) for p, times in pending.contacts.items()}, everything, careful,
        )  # fmt: skip
        return {"unpublished": [event.invitation_id for event in book.outbox]}

    def _quota_writes(self, quotas: list[dict[str, Any]], writes: Writes) -> dict[Key, int]:
        """Set the counters of this durable per campaign; add the new slots to ``reserved``."""
        counters: dict[str, Document] = {}
        deltas: dict[Key, int] = {}
        for doc in quotas:
            key = campaign, unit = doc["campaign"], doc["unit"]
            base = self._base.get(key, dict.fromkeys(RATE_COUNTERS, 0))
            fields = counters.setdefault(campaign, {})
            for name in RATE_COUNTERS:
                fields[f"units.{unit}.{name}"] = doc[name] - base[name]
            delta = doc["invited"] - self._written.get(key, 0)
            if doc["quota"] is not None and delta:
                deltas[key] = delta
                writes.update(
                    QUOTAS,
                    {"_id": quota_id(campaign, unit)},
                    {
                        "$inc": {"reserved": delta},
                        "$setOnInsert": {"campaign": campaign, "unit": unit},
                    },
                    upsert=True,
                )
        for campaign, fields in counters.items():
            writes.update(
                QUOTA_COUNTS,
                {"_id": f"{campaign}|{self._durable}"},
                {"$set": fields, "$setOnInsert": {"campaign": campaign}},
                upsert=True,
            )
        return deltas

    def saved(self) -> None:
        """The last :meth:`contents` committed: forget what it wrote."""
        capture, self._capture = self._capture, None
        if capture is None or capture.book is not self.book:
            return  # the state changed hands meanwhile
        book = self.book
        book.quotas.saved(capture.quotas)
        book.claims.saved(capture.claims)
        for key, delta in capture.deltas.items():
            self._written[key] = self._written.get(key, 0) + delta
        _forget(book.pending, capture)
        if capture.everything:
            self._everything = False
        if capture.careful:
            self._careful = False

    def _existed(self) -> BaseException:
        """A new document of this checkpoint was stored: the retry writes them if absent."""
        log.warning("checkpoint_documents_existed", consumer=self._durable)
        self._careful = True
        return ExistingDocumentsError(self._durable)

    # -- between checkpoints ---------------------------------------------------------------
    async def refresh(self, db: AsyncDatabase[Document]) -> None:
        """Read what other stages changed: settled slots, quotas, opt-outs, vault keys."""
        ids = [active.id for active in self._registry.deciding()]
        keys = {campaign_id: await self._campaigns.key(campaign_id) for campaign_id in ids}
        quotas = [doc async for doc in db[QUOTAS].find({"campaign": {"$in": ids}})]
        optouts = {doc["_id"]: list(doc["channels"]) async for doc in db[OPTOUTS].find({})}
        book = self.book  # read after the awaits: the book in place now
        book.vault.update(keys)
        book.optouts = optouts
        for doc in quotas:
            campaign, unit = doc["campaign"], doc["unit"]
            held = book.quotas.unit(campaign, unit)
            quota, expected = doc.get("quota"), doc.get("expected_total")
            if (held.quota, held.expected_total) != (quota, expected):
                book.quotas.set_quota(campaign, unit, quota, expected)
            book.quotas.settled(
                campaign, unit, answered=doc.get("answered", 0), lapsed=doc.get("lapsed", 0),
                released=doc.get("released", 0),
            )  # fmt: skip
        started = sorted(book.pending.started)
        if started:
            await self._campaigns.mark_started(started)

    async def publish(
        self, publish: Callable[[Sequence[InvitationSent]], Awaitable[object]]
    ) -> int:
        """Publish the events decided and not yet published; returns how many."""
        book = self.book
        events = list(book.outbox)
        if not events:
            return 0
        await publish(events)
        sent = {id(event) for event in events}
        book.outbox = [event for event in book.outbox if id(event) not in sent]
        return len(events)


def _insert_once(writes: Writes, collection: str, document: Document) -> None:
    fields = {k: v for k, v in document.items() if k != "_id"}
    writes.update(collection, {"_id": document["_id"]}, {"$setOnInsert": fields}, upsert=True)


def _forget(pending: Pending, capture: _Capture) -> None:
    del pending.invitations[: capture.invitations]
    del pending.population[: capture.population]
    for campaign, n in capture.log.items():
        del pending.log[campaign][:n]
    for pseudonym, n in capture.contacts.items():
        times = pending.contacts[pseudonym]
        del times[:n]
        if not times:
            del pending.contacts[pseudonym]
