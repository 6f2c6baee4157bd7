"""Debounced index-updated events: at most one per (campaign, unit, period) per interval.

The loop wakes when the responses consumer has folded a batch into the in-memory counts
(``sipas_scoring.counts``), at most once per ``index_interval``, takes what the batches
changed, and publishes from memory — no store read between a response and its index
update — in two speeds:

- *fast* (every round): the whole-campaign figure of each touched unit without children
  (commune, department) — the figure a dashboard or an alert rule watches, so a response
  is reflected within one round;
- *slow* (every ``rollup_interval``): the roll-ups (district, province, any unit with
  children) and the calendar-period figures (month/quarter/year of the profile) of
  everything touched meanwhile, each with its previous period.

Bounded: a burst of any size yields at most one event per subject per round. Only the
instance that owns the counts publishes. Crash-safe: once both speeds have published
everything counted up to the consumer's floor ``F`` at the start of a round, ``F``
becomes the counts' ``published`` mark, stored by the next checkpoint; the next owner
publishes again every slice counted after it, with the same deterministic event ids,
which JetStream de-duplicates. Previous-period figures are cached until their slices
change. A campaign's profile is cached too: a slow round re-reads it (at most once per
``rollup_interval``, after the round's fast figures are out), a fast round reads the store
only for a campaign it holds no profile of, so a changed profile that nobody announced
(``invalidate``) is in force within two ``rollup_interval``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timezone

import structlog

from sipas_contracts.events import IndexUpdated
from sipas_contracts.units import UnitHierarchy
from sipas_runtime.publishing import Publisher
from sipas_scoring.counts import Counts
from sipas_scoring.domain import ScoringError
from sipas_scoring.domain.indices import Figure
from sipas_scoring.domain.periods import CAMPAIGN, Period, period_of
from sipas_scoring.domain.profile import CampaignProfile
from sipas_scoring.domain.selection import by_unit_and_kind, instrument_of, reference_date
from sipas_scoring.domain.tables import Baseline, baseline_figures, evaluate
from sipas_scoring.domain.tables import rollup_by_kind as roll
from sipas_scoring.domain.tally import SliceKey, Tally
from sipas_scoring.index_events import Scope, index_event, period_kind
from sipas_scoring.metrics import ScoringMetrics
from sipas_scoring.settings import Settings
from sipas_scoring.store.profiles import ProfileSource

log = structlog.get_logger(__name__)
Touched = set[tuple[str, str]]  # (unit, month bucket)
Slices = dict[SliceKey, Tally]


class IndexPublisher:
    """Computes and publishes index-updated events for what changed since last time."""

    def __init__(
        self,
        *,
        counts: Counts,
        owner: Callable[[], bool],
        position: Callable[[], int],
        profiles: ProfileSource,
        publisher: Callable[[], Publisher],
        hierarchy: UnitHierarchy,
        settings: Settings,
        metrics: ScoringMetrics,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self._counts = counts
        self._owner = owner
        self._position = position
        self._profiles = profiles
        self._publisher = publisher
        self._hierarchy = hierarchy
        self._settings = settings
        self._metrics = metrics
        self._clock = clock
        self._timer = timer
        self._baselines: dict[tuple[str, str], tuple[frozenset[object], dict[str, Figure]]] = {}
        self._fast: dict[str, Touched] = {}
        self._slow: dict[str, Touched] = {}
        self._next_slow = 0.0
        self._profile_cache: dict[str, tuple[float, CampaignProfile]] = {}
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()

    def nudge(self) -> None:
        """The consumer has folded a batch: run a round soon."""
        self._wake.set()

    async def run(self) -> None:
        """Rounds until cancelled: on a nudge or every ``rollup_interval``, spaced apart."""
        interval = self._settings.index_interval
        last = 0.0
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._settings.rollup_interval):
                    await self._wake.wait()
            self._wake.clear()
            await asyncio.sleep(max(0.0, last + interval - time.monotonic()))
            last = time.monotonic()
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("index_round_failed")

    def invalidate(self, campaign_id: str) -> None:
        """Recompute and re-publish every figure of a campaign (its profile changed)."""
        self._counts.touch_campaign(campaign_id)
        self._profile_cache.pop(campaign_id, None)

    async def _profile(self, campaign_id: str, *, slow: bool) -> CampaignProfile:
        """A campaign's profile, re-read at most once per ``rollup_interval``.

        Only a slow round re-reads it (after the round's fast figures are out): a fast
        one reads the store only for a campaign it has no profile of (its first round, or
        just invalidated), so no store round trip delays a unit's figure.
        """
        now = self._timer()
        cached = self._profile_cache.get(campaign_id)
        if cached is None or (slow and cached[0] < now):
            profile = await self._profiles.get_or_default(campaign_id)
            cached = self._profile_cache[campaign_id] = (
                now + self._settings.rollup_interval,
                profile,
            )
        return cached[1]

    async def tick(self) -> int:
        """One round: publish what changed; returns the number of events published.

        The fast figures go out before the slow ones are computed, so a roll-up round
        never delays the figure a response is waiting for.
        """
        async with self._lock:
            if not self._owner():
                self._fast, self._slow = {}, {}
                return 0
            started = self._timer()
            floor = self._position()  # read with the changes: everything up to it is in them
            for campaign, touched in self._counts.take_touched().items():
                self._fast.setdefault(campaign, set()).update(touched)
                self._slow.setdefault(campaign, set()).update(touched)
            flush_slow = started >= self._next_slow
            fast, self._fast = self._fast, {}
            published = await self._publish(fast, slow=False)
            if flush_slow:
                slow, self._slow = self._slow, {}
                published += await self._publish(slow, slow=True)
                self._next_slow = started + self._settings.rollup_interval
                self._counts.published = max(self._counts.published, floor)
            if published:
                self._metrics.tick_duration.observe(self._timer() - started)
            return published

    async def _publish(self, touched: dict[str, Touched], *, slow: bool) -> int:
        """Compute and publish one speed's events; on failure, keep them for the next round."""
        try:
            events: list[IndexUpdated] = []
            for campaign, units in sorted(touched.items()):
                events.extend(await self._campaign_events(campaign, units, slow=slow))
            if events:
                await self._publisher().publish_many(events)
        except Exception:
            queue = self._slow if slow else self._fast
            for campaign, units in touched.items():  # nothing lost: retried next round
                queue.setdefault(campaign, set()).update(units)
            raise
        self._observe(events)
        return len(events)

    async def _campaign_events(
        self, campaign_id: str, touched: Touched, *, slow: bool
    ) -> list[IndexUpdated]:
        profile = await self._profile(campaign_id, slow=slow)
        tallies = self._counts.tallies(campaign_id)
        try:
            catalogue = instrument_of(tallies, profile)
        except ScoringError as exc:
            self._metrics.index_errors.labels("profile").inc()
            log.warning("index_not_computed", campaign=campaign_id, reason=str(exc))
            return []
        periods = {Period(CAMPAIGN)}
        if slow and profile.granularity != CAMPAIGN:
            periods |= {period_of(bucket, profile.granularity) for _, bucket in touched}
        events = []
        for period in sorted(periods):
            buckets = {k.bucket for k in tallies if period.contains(k.bucket)}
            on = reference_date(profile, period, buckets, self._today())
            scope = Scope(campaign_id, profile, catalogue, period, on)
            units = {unit for unit, bucket in touched if period.contains(bucket)}
            leaves = not slow or period.granularity != CAMPAIGN  # fast: leaves; slow: the rest
            events.extend(
                await self._period_events(scope, tallies, units, leaves=leaves, rollups=slow)
            )
        return events

    async def _period_events(
        self, scope: Scope, tallies: Slices, units: set[str], *, leaves: bool, rollups: bool
    ) -> list[IndexUpdated]:
        hierarchy, profile = self._hierarchy, scope.profile
        known = {u for u in units if u in hierarchy.units}
        ancestors = {a for u in known for a in hierarchy.ancestors(u, scope.on)}
        parents = {u for u in known if hierarchy.children(u, scope.on)}
        if rollups:  # every unit below an ancestor counts: roll the whole campaign up
            targets = (units if leaves else parents) | ancestors
            selected = by_unit_and_kind(tallies, scope.period, profile.modes, scope.catalogue.id)
            rolled = roll(selected, hierarchy, scope.on)
        else:  # units without children: their own slices are the whole figure
            targets = units - parents
            mine = {k: t for k, t in tallies.items() if k.unit in targets}
            rolled = by_unit_and_kind(mine, scope.period, profile.modes, scope.catalogue.id)
        previous, label = await self._previous(scope, tallies, slow=rollups)
        now = self._clock()
        return [
            index_event(
                scope,
                unit,
                evaluate(scope.catalogue, rolled[unit], profile.rules(), satisfaction_only=True),
                (previous.get(unit), label),
                hierarchy=self._hierarchy,
                now=now,
            )
            for unit in sorted(targets & set(rolled))
        ]

    async def _previous(
        self, scope: Scope, tallies: Slices, *, slow: bool
    ) -> tuple[dict[str, Figure], str | None]:
        profile, before = scope.profile, scope.period.previous()
        if before is not None:
            source, catalogue, rules, label = (
                tallies,
                scope.catalogue,
                profile.rules(),
                before.label,
            )
            period = before
        else:
            earlier_id = profile.previous_campaign
            if earlier_id is None or earlier_id == scope.campaign_id:
                return {}, None
            source = self._counts.tallies(earlier_id)
            earlier_profile = await self._profile(earlier_id, slow=slow)
            try:
                catalogue = instrument_of(source, earlier_profile)
            except ScoringError:
                return {}, None
            rules, label, period = earlier_profile.rules(), CAMPAIGN, Period(CAMPAIGN)
        chosen = {k: t for k, t in source.items() if period.contains(k.bucket)}
        if not chosen:
            return {}, None
        signature = frozenset((k.slice_id, t.last_seq, t.responses) for k, t in chosen.items())
        key = (scope.campaign_id, f"{scope.period.label}:{profile.revision}:{scope.on}")
        cached = self._baselines.get(key)
        if cached is None or cached[0] != signature:
            leaves = by_unit_and_kind(chosen, period, profile.modes, catalogue.id)
            figures = baseline_figures(
                Baseline(catalogue, leaves, rules), self._hierarchy, scope.on
            )[0]
            cached = self._baselines[key] = (signature, figures)
        return cached[1], label

    def _observe(self, events: Iterable[IndexUpdated]) -> None:
        now = self._clock()
        for event in events:
            self._metrics.index_updates.labels(period_kind(event.period)).inc()
            if event.period != CAMPAIGN:
                continue
            if not event.rollup:
                self._metrics.index_lag.observe(max(0.0, (now - event.occurred_at).total_seconds()))
            labels = (event.campaign_id, event.unit)
            self._metrics.responses.labels(*labels).set(event.responses)
            self._metrics.sufficient.labels(*labels).set(int(event.sipas.sufficient))
            if event.sipas.value is not None:
                self._metrics.sipas.labels(*labels).set(event.sipas.value)
                if event.sipas.ci_low is not None and event.sipas.ci_high is not None:
                    self._metrics.sipas_ci_low.labels(*labels).set(event.sipas.ci_low)
                    self._metrics.sipas_ci_high.labels(*labels).set(event.sipas.ci_high)

    def _today(self) -> date:
        return self._clock().astimezone(timezone(self._settings.utc_offset)).date()
