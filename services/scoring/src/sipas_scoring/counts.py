"""Scoring's state in memory: the tallies of every slice, folded from the responses.

The responses consumer (``sipas_runtime.memory``) folds each batch of responses into
these tallies as it arrives; the index loop (``sipas_scoring.updates``) publishes from
them; checkpoints write the slices that changed (``sipas_scoring.store.aggregates``) with the
consumer's position, and ``published``: the position through which every change has
been published as index updates. An instance that takes the counts over re-publishes
the slices counted after that mark (same deterministic event ids, so JetStream drops
what was published already) and everything it replays.

The funnel's "responded" marks ride along: each response that answers an invitation
leaves the upsert that marks it (``sipas_scoring.store.funnel.responded``) pending until
the next checkpoint writes it, in the same transaction as the counts and the position, so
scoring reads each response once (before, a second durable read every response again to
mark the invitations in a transaction of its own). A mark is idempotent, so a replay
writing it again changes nothing.

Beside the months, the responses of the latest local days (today and yesterday, by the
clock) are also counted per **day** (``YYYY-MM-DD`` buckets), for live screens' "today"
(``period=today``); their slices are checkpointed in ``day_aggregates`` with the same
position, and older days are dropped from memory (their documents stay as a record).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta

from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from sipas_contracts.events import ResponseRecorded
from sipas_contracts.streams import SCORING_RESPONSES
from sipas_runtime.batches import Delivery
from sipas_runtime.mongo import Document, in_transaction
from sipas_runtime.sequences import AppliedSequences
from sipas_runtime.writes import Writes
from sipas_scoring.domain.counting import Counting, countings
from sipas_scoring.domain.periods import day_bucket, local_date
from sipas_scoring.domain.tally import SliceKey, Tally
from sipas_scoring.store.aggregates import (
    AGGREGATES,
    DAY_AGGREGATES,
    AggregateStore,
    MongoAggregateStore,
    to_document,
)
from sipas_scoring.store.funnel import INVITATIONS, responded

Touched = dict[str, set[tuple[str, str]]]
"""Per campaign: the (unit, month) pairs whose counts changed."""
Slices = dict[str, dict[SliceKey, Tally]]
"""Per campaign: its slices."""
DAYS_KEPT = 2
"""Days counted per day: today and yesterday (a response may arrive a little late)."""


class Counts:
    """Every slice's tally, what changed since the last checkpoint, and what to publish."""

    def __init__(
        self, offset: timedelta, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self._offset = offset
        self._clock = clock
        self._campaigns: Slices = {}
        self._days: Slices = {}
        self._dirty: dict[SliceKey, int] = {}  # slice -> change number, until checkpointed
        self._writing: dict[SliceKey, int] = {}
        self._change = 0
        self._touched: Touched = {}
        self._marks: dict[str, tuple[Document, Document]] = {}  # invitation -> its mark
        self._marking: dict[str, tuple[Document, Document]] = {}
        self._days_since: str | None = None  # days before it are forgotten already
        self.published = 0
        """Every response up to this stream sequence is reflected in published index updates."""

    # -- the consumer's side (sipas_runtime.checkpoints.MemoryState) ---------------------------
    def fold(self, deliveries: Sequence[Delivery[ResponseRecorded]], /) -> None:
        """Count the responses (all of them, or none if one cannot be counted)."""
        sequenced = [(d.seq, d.event) for d in deliveries]
        months = countings(sequenced, self._offset)
        first = self.first_day()
        recent = [(seq, event) for seq, event in sequenced if self._day_of(event) >= first]
        days = countings(recent, self._offset, day_bucket)
        for d in deliveries:
            if d.event.invitation_id is not None:
                self._marks[str(d.event.invitation_id)] = responded(d.event)
        self._change += 1
        for key in self._record(self._campaigns, months):
            self._touched.setdefault(key.campaign_id, set()).add((key.unit, key.bucket))
        if days:
            self._record(self._days, days)
            since = first.isoformat()
            if since != self._days_since:  # a day went by: forget the one before yesterday
                self._forget_days_before(since)
                self._days_since = since

    def _record(self, into: Slices, counted: list[Counting]) -> set[SliceKey]:
        keys = set()
        for key, event, groups, seq in counted:
            held = into.setdefault(key.campaign_id, {})
            tally = held.get(key)
            if tally is None:
                tally = held[key] = Tally()
            tally.record(event.answers, groups, event.occurred_at, seq)
            self._dirty[key] = self._change
            keys.add(key)
        return keys

    def _day_of(self, event: ResponseRecorded) -> date:
        return local_date(event.occurred_at, self._offset)

    def first_day(self) -> date:
        """The earliest local day counted per day."""
        return local_date(self._clock(), self._offset) - timedelta(days=DAYS_KEPT - 1)

    def _forget_days_before(self, first: str) -> None:
        for tallies in self._days.values():
            for key in [k for k in tallies if k.bucket < first]:
                del tallies[key]
                self._dirty.pop(key, None)

    async def load(self, db: AsyncDatabase[Document], session: AsyncClientSession) -> None:
        """Replace the tallies in memory by the stored slices."""
        self.clear()
        for key, tally in (await MongoAggregateStore(db).tallies(session=session)).items():
            self._campaigns.setdefault(key.campaign_id, {})[key] = tally
        days = MongoAggregateStore(db, DAY_AGGREGATES)
        since = self.first_day().isoformat()
        for key, tally in (await days.tallies(session=session, since=since)).items():
            self._days.setdefault(key.campaign_id, {})[key] = tally

    def restored(self, applied: AppliedSequences, extra: Document) -> None:  # noqa: ARG002 - the protocol's
        """Slices counted after the published mark are published again."""
        self.published = int(extra.get("published", 0))
        for campaign, tallies in self._campaigns.items():
            for key, tally in tallies.items():
                if tally.last_seq > self.published:
                    self._touched.setdefault(campaign, set()).add((key.unit, key.bucket))

    def clear(self) -> None:
        """Forget everything."""
        self._campaigns, self._days, self._dirty, self._writing = {}, {}, {}, {}
        self._touched = {}
        self._marks, self._marking = {}, {}
        self._days_since = None
        self.published = 0

    def contents(self, writes: Writes) -> Document:
        """The slices changed and the marks folded since the last checkpoint; ``published``."""
        self._writing, self._marking = dict(self._dirty), dict(self._marks)
        for selector, update in self._marking.values():
            writes.update(INVITATIONS, selector, update, upsert=True)
        for key in self._writing:
            month = self._campaigns.get(key.campaign_id, {}).get(key)
            held = month or self._days[key.campaign_id][key]
            collection = AGGREGATES if month is not None else DAY_AGGREGATES
            writes.replace(collection, {"_id": key.slice_id}, to_document(key, held), upsert=True)
        return {"published": self.published}

    def saved(self) -> None:
        """The slices and marks last written are stored (unless they changed again meanwhile)."""
        for key, change in self._writing.items():
            if self._dirty.get(key) == change:
                del self._dirty[key]
        for invitation, mark in self._marking.items():
            if self._marks.get(invitation) is mark:
                del self._marks[invitation]
        self._writing, self._marking = {}, {}

    def touch_all(self) -> None:
        """Every slice is written again at the next checkpoint.

        Not the marks already written: memory keeps none (docs/scoring.md, "Marks and the
        store", says how to write them again).
        """
        self._change += 1
        for tallies in [*self._campaigns.values(), *self._days.values()]:
            self._dirty.update(dict.fromkeys(tallies, self._change))

    # -- the index loop's side -----------------------------------------------------------------
    def tallies(self, campaign_id: str) -> dict[SliceKey, Tally]:
        """The slices of one campaign (live objects: read them, never change them)."""
        return self._campaigns.get(campaign_id, {})

    def day_tallies(self, campaign_id: str) -> dict[SliceKey, Tally]:
        """The day slices of one campaign (live objects: read them, never change them)."""
        return self._days.get(campaign_id, {})

    def take_touched(self) -> Touched:
        """What changed since the last call (the index loop publishes it)."""
        touched, self._touched = self._touched, {}
        return touched

    def take_touched_unit(self, campaign_id: str, unit: str) -> set[tuple[str, str]]:
        """What changed of one unit since the last :meth:`take_touched` (it is being read)."""
        touched = self._touched.get(campaign_id)
        if not touched:
            return set()
        mine = {pair for pair in touched if pair[0] == unit}
        touched -= mine
        return mine

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
        store: AggregateStore,
        client: Callable[[], AsyncMongoClient[Document]],
    ) -> None:
        self._counts = counts
        self._owned = owned
        self._store = store
        self._client = client

    async def snapshot(
        self, campaign_id: str, *, days: bool = False
    ) -> tuple[AppliedSequences, dict[SliceKey, Tally]]:
        """The sequences counted and a copy of the campaign's slices, read together.

        ``days``: the slices of the latest days (day buckets) instead of the months.
        """
        applied = self._owned()
        if applied is not None:
            held = (self._counts.day_tallies if days else self._counts.tallies)(campaign_id)
            copy = {k: Tally().add(t) for k, t in held.items()}
            return AppliedSequences(applied.floor, list(applied.ranges)), copy
        since = self._counts.first_day().isoformat() if days else None

        async def read(
            session: AsyncClientSession,
        ) -> tuple[AppliedSequences, dict[SliceKey, Tally]]:
            store = self._store
            applied = await store.applied(SCORING_RESPONSES.durable, session)
            slices = store.of_days() if days else store
            return applied, await slices.tallies(campaign_id, session, since=since)

        return await in_transaction(self._client(), read)

    async def tallies(self, campaign_id: str) -> dict[SliceKey, Tally]:
        """A copy of the campaign's slices."""
        return (await self.snapshot(campaign_id))[1]

    async def campaigns(self) -> list[Document]:
        """Per campaign: responses, units, months and instruments in the counts."""
        if self._owned() is not None:
            return self._counts.summary()
        return await self._store.campaigns()
