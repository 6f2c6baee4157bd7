"""Scoring's state in memory: the tallies of every slice, folded from the responses.

The responses consumer (``sipas_runtime.memory``) folds each batch of responses into
these tallies as it arrives; the index loop (``sipas_scoring.updates``) publishes from
them; checkpoints write the slices that changed (``sipas_scoring.store.aggregates``) with the
consumer's position, and ``published``: the position through which every change has
been published as index updates. An instance that takes the counts over re-publishes
the slices counted after that mark (same deterministic event ids, so JetStream drops
what was published already) and everything it replays.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta

from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from sipas_contracts.events import ResponseRecorded
from sipas_contracts.streams import SCORING_RESPONSES
from sipas_runtime.batches import Delivery
from sipas_runtime.mongo import Document, in_transaction
from sipas_runtime.sequences import AppliedSequences
from sipas_runtime.writes import Writes
from sipas_scoring.domain.tally import SliceKey, Tally, fold
from sipas_scoring.store.aggregates import AGGREGATES, AggregateStore, to_document

Touched = dict[str, set[tuple[str, str]]]
"""Per campaign: the (unit, month) pairs whose counts changed."""


class Counts:
    """Every slice's tally, what changed since the last checkpoint, and what to publish."""

    def __init__(self, offset: timedelta) -> None:
        self._offset = offset
        self._campaigns: dict[str, dict[SliceKey, Tally]] = {}
        self._dirty: dict[SliceKey, int] = {}  # slice -> change number, until checkpointed
        self._writing: dict[SliceKey, int] = {}
        self._change = 0
        self._touched: Touched = {}
        self.published = 0
        """Every response up to this stream sequence is reflected in published index updates."""

    # -- the consumer's side (sipas_runtime.checkpoints.MemoryState) ---------------------------
    def fold(self, deliveries: Sequence[Delivery[ResponseRecorded]], /) -> None:
        """Count the responses (all of them, or none if one cannot be counted)."""
        increments = fold(((d.seq, d.event) for d in deliveries), self._offset)
        self._change += 1
        for key, tally in increments.items():
            held = self._campaigns.setdefault(key.campaign_id, {})
            if key in held:
                held[key].add(tally)
            else:
                held[key] = tally
            self._dirty[key] = self._change
            self._touched.setdefault(key.campaign_id, set()).add((key.unit, key.bucket))

    async def load(self, db: AsyncDatabase[Document], session: AsyncClientSession) -> None:
        """Replace the tallies in memory by the stored slices."""
        self.clear()
        for key, tally in (await AggregateStore(db).tallies(session=session)).items():
            self._campaigns.setdefault(key.campaign_id, {})[key] = tally

    def restored(self, applied: AppliedSequences, extra: Document) -> None:  # noqa: ARG002 - the protocol's
        """Slices counted after the published mark are published again."""
        self.published = int(extra.get("published", 0))
        for campaign, tallies in self._campaigns.items():
            for key, tally in tallies.items():
                if tally.last_seq > self.published:
                    self._touched.setdefault(campaign, set()).add((key.unit, key.bucket))

    def clear(self) -> None:
        """Forget everything."""
        self._campaigns, self._dirty, self._writing, self._touched = {}, {}, {}, {}
        self.published = 0

    def contents(self, writes: Writes) -> Document:
        """Replace the slices changed since the last checkpoint; the published mark."""
        self._writing = dict(self._dirty)
        for key in self._writing:
            writes.replace(
                AGGREGATES,
                {"_id": key.slice_id},
                to_document(key, self._campaigns[key.campaign_id][key]),
                upsert=True,
            )
        return {"published": self.published}

    def saved(self) -> None:
        """The slices last written are stored (unless they changed again meanwhile)."""
        for key, change in self._writing.items():
            if self._dirty.get(key) == change:
                del self._dirty[key]
        self._writing = {}

    def touch_all(self) -> None:
        """Every slice is written again at the next checkpoint."""
        self._change += 1
        for tallies in self._campaigns.values():
            self._dirty.update(dict.fromkeys(tallies, self._change))

    # -- the index loop's side -----------------------------------------------------------------
    def tallies(self, campaign_id: str) -> dict[SliceKey, Tally]:
        """The slices of one campaign (live objects: read them, never change them)."""
        return self._campaigns.get(campaign_id, {})

    def take_touched(self) -> Touched:
        """What changed since the last call (the index loop publishes it)."""
        touched, self._touched = self._touched, {}
        return touched

    def touch_campaign(self, campaign_id: str) -> None:
        """Publish every figure of a campaign again (its profile changed)."""
        pairs = {(k.unit, k.bucket) for k in self.tallies(campaign_id)}
        self._touched.setdefault(campaign_id, set()).update(pairs)

    def summary(self) -> list[Document]:
        """Per campaign: responses, units, months and instruments in the counts."""
        out = []
        for campaign, tallies in sorted(self._campaigns.items()):
            out.append({
                "campaign_id": campaign,
                "responses": sum(int(t.responses) for t in tallies.values()),
                "units": len({k.unit for k in tallies}),
                "months": sorted({k.bucket for k in tallies}),
                "instruments": sorted({k.instrument_id for k in tallies}),
            })  # fmt: skip
        return out


class CountsReader:
    """Where the API reads the counts: memory on the owner, else the last checkpoint.

    Either way a table names exactly what it counts (``through_seq``); the owner's is as
    fresh as the index updates it publishes.
    """

    def __init__(
        self,
        counts: Counts,
        owned: Callable[[], AppliedSequences | None],
        store: Callable[[], AggregateStore],
        client: Callable[[], AsyncMongoClient[Document]],
    ) -> None:
        self._counts = counts
        self._owned = owned
        self._store = store
        self._client = client

    async def snapshot(self, campaign_id: str) -> tuple[AppliedSequences, dict[SliceKey, Tally]]:
        """The sequences counted and a copy of the campaign's slices, read together."""
        applied = self._owned()
        if applied is not None:
            copy = {k: Tally().add(t) for k, t in self._counts.tallies(campaign_id).items()}
            return AppliedSequences(applied.floor, list(applied.ranges)), copy

        async def read(
            session: AsyncClientSession,
        ) -> tuple[AppliedSequences, dict[SliceKey, Tally]]:
            store = self._store()
            applied = await store.applied(SCORING_RESPONSES.durable, session)
            return applied, await store.tallies(campaign_id, session)

        return await in_transaction(self._client(), read)

    async def tallies(self, campaign_id: str) -> dict[SliceKey, Tally]:
        """A copy of the campaign's slices."""
        return (await self.snapshot(campaign_id))[1]

    async def campaigns(self) -> list[Document]:
        """Per campaign: responses, units, months and instruments in the counts."""
        if self._owned() is not None:
            return self._counts.summary()
        return await self._store().campaigns()
