"""Debounced index-updated events: at most one per (campaign, unit, period) per interval.

Every ``index_interval`` seconds the loop reads the change counter ``C`` (incremented by
each committed batch of responses); if it moved past what was published (``W``), it
reads the slices changed by batches (W, C], recomputes the figures of the touched units, of their
ancestors (roll-ups) and of the touched periods (whole campaign plus the calendar period
of the profile's granularity), publishes them, then records ``W = C``.

- Bounded: a burst of any size yields one event per touched subject per interval.
- Crash-safe: ``W`` is stored after publishing; a restart recomputes from the stored
  ``W`` and re-publishes the same events with the same deterministic ids
  (``uuid7_for(campaign, period, unit, version, responses, profile revision)``), which
  JetStream de-duplicates. ``version`` is the stream sequence of the latest response
  counted (non-decreasing per subject; a late redelivery can add an earlier response,
  which changes ``responses`` but not ``version``).
- Slices of a campaign are cached in memory after the first read and refreshed from
  every change scan, so a round costs one watermark read and one indexed query.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timezone

import structlog

from sipas_contracts.events import IndexUpdated
from sipas_contracts.ids import uuid7_for
from sipas_contracts.instrument import Catalogue
from sipas_contracts.units import UnitHierarchy
from sipas_runtime.publishing import EventPublisher
from sipas_scoring.domain import ScoringError
from sipas_scoring.domain.indices import Figure
from sipas_scoring.domain.periods import CAMPAIGN, Period, period_of
from sipas_scoring.domain.profile import CampaignProfile
from sipas_scoring.domain.rollups import tier_of
from sipas_scoring.domain.selection import by_unit_and_kind, instrument_of, reference_date
from sipas_scoring.domain.tables import Baseline, Evaluated, baseline_figures, evaluate
from sipas_scoring.domain.tables import rollup_by_kind as roll
from sipas_scoring.domain.tally import SliceKey, Tally
from sipas_scoring.metrics import ScoringMetrics
from sipas_scoring.profiles import ProfileStore
from sipas_scoring.settings import Settings
from sipas_scoring.store import AggregateStore

PRODUCER = "scoring"
log = structlog.get_logger(__name__)
Touched = set[tuple[str, str]]  # (unit, month bucket)


@dataclass(frozen=True)
class Scope:
    """One campaign period being published."""

    campaign_id: str
    profile: CampaignProfile
    catalogue: Catalogue
    period: Period
    on: date


class IndexPublisher:
    """Computes and publishes index-updated events for what changed since last time."""

    def __init__(
        self,
        *,
        aggregates: Callable[[], AggregateStore],
        profiles: Callable[[], ProfileStore],
        publisher: Callable[[], EventPublisher],
        hierarchy: UnitHierarchy,
        settings: Settings,
        metrics: ScoringMetrics,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._aggregates = aggregates
        self._profiles = profiles
        self._publisher = publisher
        self._hierarchy = hierarchy
        self._settings = settings
        self._metrics = metrics
        self._clock = clock
        self._through: int | None = None
        self._cache: dict[str, dict[str, tuple[SliceKey, Tally]]] = {}
        self._stale: set[str] = set()
        self._lock = asyncio.Lock()

    def invalidate(self, campaign_id: str) -> None:
        """Recompute and re-publish every figure of a campaign (its profile changed)."""
        self._stale.add(campaign_id)

    async def tick(self) -> int:
        """One round: publish what changed; returns the number of events published."""
        async with self._lock:
            started = time.monotonic()
            if self._through is None:
                self._through = await self._aggregates().publisher_mark()
            committed = await self._aggregates().last_commit()
            dirty: dict[str, Touched] = {}
            if committed > self._through:
                for key, tally in (
                    await self._aggregates().changed(self._through, committed)
                ).items():
                    await self._load(key.campaign_id)
                    self._cache[key.campaign_id][key.doc_id] = (key, tally)
                    dirty.setdefault(key.campaign_id, set()).add((key.unit, key.bucket))
            for campaign in sorted(self._stale):
                self._cache.pop(campaign, None)
                await self._load(campaign)
                dirty[campaign] = {(k.unit, k.bucket) for k, _ in self._cache[campaign].values()}
            self._stale.clear()
            events: list[IndexUpdated] = []
            for campaign, touched in sorted(dirty.items()):
                events.extend(await self._campaign_events(campaign, touched))
            if events:
                await self._publisher().publish_many(events)
                self._observe(events)
            if committed > self._through:
                await self._aggregates().save_publisher_mark(committed)
                self._through = committed
            if dirty:
                self._metrics.tick_duration.observe(time.monotonic() - started)
            return len(events)

    async def _load(self, campaign_id: str) -> None:
        if campaign_id not in self._cache:
            tallies = await self._aggregates().tallies(campaign_id)
            self._cache[campaign_id] = {k.doc_id: (k, t) for k, t in tallies.items()}

    def _tallies(self, campaign_id: str) -> dict[SliceKey, Tally]:
        return dict(self._cache.get(campaign_id, {}).values())

    async def _campaign_events(self, campaign_id: str, touched: Touched) -> list[IndexUpdated]:
        profile = await self._profiles().get_or_default(campaign_id)
        tallies = self._tallies(campaign_id)
        try:
            catalogue = instrument_of(tallies, profile)
        except ScoringError as exc:
            self._metrics.index_errors.labels("profile").inc()
            log.warning("index_not_computed", campaign=campaign_id, reason=str(exc))
            return []
        periods = {Period(CAMPAIGN)}
        if profile.granularity != CAMPAIGN:
            periods |= {period_of(bucket, profile.granularity) for _, bucket in touched}
        events = []
        for period in sorted(periods):
            buckets = {k.bucket for k in tallies if period.contains(k.bucket)}
            scope = Scope(
                campaign_id, profile, catalogue, period,
                reference_date(profile, period, buckets, self._today()),
            )  # fmt: skip
            units = {unit for unit, bucket in touched if period.contains(bucket)}
            events.extend(await self._period_events(scope, tallies, units))
        return events

    async def _period_events(
        self, scope: Scope, tallies: dict[SliceKey, Tally], units: set[str]
    ) -> list[IndexUpdated]:
        leaves = by_unit_and_kind(tallies, scope.period, scope.profile.modes, scope.catalogue.id)
        rolled = roll(leaves, self._hierarchy, scope.on)
        known = {u for u in units if u in self._hierarchy.units}
        targets = units | {a for u in known for a in self._hierarchy.ancestors(u, scope.on)}
        previous, previous_label = await self._previous(scope, tallies)
        return [
            self._event(
                scope,
                unit,
                evaluate(scope.catalogue, rolled[unit], scope.profile.rules()),
                (previous.get(unit), previous_label),
            )
            for unit in sorted(targets & set(rolled))
        ]

    async def _previous(
        self, scope: Scope, tallies: dict[SliceKey, Tally]
    ) -> tuple[dict[str, Figure], str | None]:
        profile, before = scope.profile, scope.period.previous()
        if before is not None:
            leaves = by_unit_and_kind(tallies, before, profile.modes, scope.catalogue.id)
            if not leaves:
                return {}, None
            baseline = Baseline(scope.catalogue, leaves, profile.rules())
            return baseline_figures(baseline, self._hierarchy, scope.on)[0], before.label
        earlier_id = profile.previous_campaign
        if earlier_id is None or earlier_id == scope.campaign_id:
            return {}, None
        await self._load(earlier_id)
        earlier = self._tallies(earlier_id)
        earlier_profile = await self._profiles().get_or_default(earlier_id)
        try:
            catalogue = instrument_of(earlier, earlier_profile)
        except ScoringError:
            return {}, None
        leaves = by_unit_and_kind(earlier, Period(CAMPAIGN), profile.modes, catalogue.id)
        baseline = Baseline(catalogue, leaves, earlier_profile.rules())
        return baseline_figures(baseline, self._hierarchy, scope.on)[0], CAMPAIGN

    def _event(
        self,
        scope: Scope,
        unit: str,
        evaluated: Evaluated,
        previous: tuple[Figure | None, str | None],
    ) -> IndexUpdated:
        profile, period = scope.profile, scope.period
        combined, index = evaluated.combined, evaluated.index
        version = max(1, combined.last_seq)
        at = combined.last_at or self._clock()
        key = (
            f"index:{scope.campaign_id}:{period.label}:{unit}:{version}:"
            f"{index.responses}:{profile.revision}"
        )
        figure, label = previous
        known = unit in self._hierarchy.units
        return IndexUpdated(
            event_id=uuid7_for(key, at),
            occurred_at=at,
            producer=PRODUCER,
            campaign_id=scope.campaign_id,
            unit=unit,
            period=period.label,
            instrument_id=scope.catalogue.id,
            method=profile.method,
            version=version,
            responses=int(index.responses),
            sipas=index.sipas.contract(),
            aspects={k: f.contract() for k, f in index.aspects.items()},
            elements={k: f.contract() for k, f in index.elements.items()},
            counts={i: {lv: int(n) for lv, n in ls.items()} for i, ls in combined.counts.items()},
            previous=None if figure is None else figure.contract(),
            previous_period=label if figure is not None else None,
            previous_campaign=(
                profile.previous_campaign
                if figure is not None and period.granularity == CAMPAIGN
                else None
            ),
            segments={k: f.contract() for k, f in evaluated.segments.items()},
            level=tier_of(self._hierarchy, unit),
            rollup=known and bool(self._hierarchy.children(unit, scope.on)),
            modes=list(profile.modes),
            basis=list(index.sipas.basis),
            profile_revision=profile.revision,
        )

    def _observe(self, events: Iterable[IndexUpdated]) -> None:
        now = self._clock()
        for event in events:
            kind = "campaign" if event.period == CAMPAIGN else _kind(event.period)
            self._metrics.index_updates.labels(kind).inc()
            if event.period != CAMPAIGN:
                continue
            if not event.rollup:
                self._metrics.index_lag.observe(max(0.0, (now - event.occurred_at).total_seconds()))
            self._metrics.responses.labels(event.campaign_id, event.unit).set(event.responses)
            if event.sipas.sufficient and event.sipas.value is not None:
                self._metrics.sipas.labels(event.campaign_id, event.unit).set(event.sipas.value)

    def _today(self) -> date:
        return self._clock().astimezone(timezone(self._settings.utc_offset)).date()


def _kind(label: str) -> str:
    if "-Q" in label:
        return "quarter"
    return "month" if "-" in label else "year"
