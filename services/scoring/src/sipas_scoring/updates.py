"""Debounced index-updated events: at most one per (campaign, unit, period) per interval.

The loop wakes when the responses consumer has folded a batch into the in-memory counts
(``sipas_scoring.counts``), starts a round at most once per ``index_interval``, and
publishes from memory (no store read between a response and its index update) in two
speeds:

- *fast* (every round): the whole-campaign figure of each touched unit without children
  (commune, department), the figure a dashboard or an alert rule watches. Unit by unit
  (``sipas_scoring.leaf_figures``): wait for the unit's cadence (``index_interval`` since
  its previous figure was read; one turn of the event loop at least, so responses
  delivered meanwhile are folded), read it from the counts as they stand and hand it to
  the publisher at once (acks awaited together at the end). A response waits at most one
  interval after it is folded plus its own unit's computation, not the whole round's;
- *slow* (every ``rollup_interval``): the roll-ups (district, province, any unit with
  children) and the calendar-period figures (month/quarter/year of the profile) of
  everything touched meanwhile, each with its previous period.

Bounded: a burst of any size yields at most one event per subject per interval. Only the
instance that owns the counts publishes. Crash-safe: once both speeds have published
everything counted up to the consumer's floor ``F`` at the start of a round, ``F``
becomes the counts' ``published`` mark, stored by the next checkpoint; the next owner
publishes again every slice counted after it, with the same deterministic event ids,
which JetStream de-duplicates. Caches (``sipas_scoring.index_cache``): previous-period
figures until their slices change; a campaign's profile, re-read by slow rounds only
(after the round's fast figures), so one changed without ``invalidate`` is in force
within two ``rollup_interval``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timezone

import structlog

from sipas_contracts.events import IndexUpdated
from sipas_contracts.instrument import Catalogue
from sipas_contracts.units import UnitHierarchy
from sipas_runtime.publishing import Publisher
from sipas_scoring.counts import Counts
from sipas_scoring.domain import ScoringError
from sipas_scoring.domain.periods import CAMPAIGN, Period, period_of
from sipas_scoring.domain.profile import CampaignProfile
from sipas_scoring.domain.selection import by_unit_and_kind, instrument_of, reference_date
from sipas_scoring.domain.tables import evaluate
from sipas_scoring.domain.tables import rollup_by_kind as roll
from sipas_scoring.index_cache import PreviousFigures, ProfileCache, Slices
from sipas_scoring.index_events import Scope, index_event
from sipas_scoring.leaf_figures import Cadence, LeafView
from sipas_scoring.metrics import ScoringMetrics
from sipas_scoring.settings import Settings
from sipas_scoring.store.profiles import ProfileSource

log = structlog.get_logger(__name__)
Touched = set[tuple[str, str]]  # (unit, month bucket)


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
        self._profiles = ProfileCache(profiles, settings.rollup_interval, timer)
        self._publisher = publisher
        self._hierarchy = hierarchy
        self._settings = settings
        self._metrics = metrics
        self._clock = clock
        self._timer = timer
        self._previous = PreviousFigures(hierarchy, counts.tallies, self._profiles)
        self._fast: dict[str, Touched] = {}
        self._slow: dict[str, Touched] = {}
        self._next_slow = 0.0
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._cadence = Cadence(settings.index_interval)

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
        self._profiles.drop(campaign_id)

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
            published = await self._publish_leaves(fast)
            if flush_slow:
                slow, self._slow = self._slow, {}
                published += await self._publish(slow)
                self._next_slow = started + self._settings.rollup_interval
                self._counts.published = max(self._counts.published, floor)
                self._cadence.forget_due(self._timer())
            if published:
                self._metrics.tick_duration.observe(self._timer() - started)
            return published

    async def _publish_leaves(self, touched: dict[str, Touched]) -> int:
        """The fast speed: each unit's figure sent as soon as it is read (module docstring).

        Its acks are awaited together at the end; on any failure, the whole speed is kept
        for the next round (what went out already is sent again: de-duplicated).
        """
        events: list[IndexUpdated] = []
        sends: list[asyncio.Future[object]] = []
        failure: Exception | None = None
        try:
            for campaign, units in sorted(touched.items()):
                async for event in self._leaf_events(campaign, units):
                    events.append(event)
                    sends.append(asyncio.ensure_future(self._publisher().publish_many([event])))
        except asyncio.CancelledError:
            for send in sends:
                send.cancel()
            raise
        except Exception as exc:  # noqa: BLE001 - raised below, once the sends are settled
            failure = exc
        outcomes = await asyncio.gather(*sends, return_exceptions=True)
        failure = failure or next((o for o in outcomes if isinstance(o, Exception)), None)
        if failure is not None:
            for campaign, units in touched.items():  # nothing lost: retried next round
                self._fast.setdefault(campaign, set()).update(units)
            raise failure
        self._metrics.observe_published(events, self._clock())
        return len(events)

    async def _leaf_events(self, campaign_id: str, touched: Touched) -> AsyncIterator[IndexUpdated]:
        """The whole-campaign figures of the touched units without children, one at a time.

        Before each unit: wait for its cadence (a turn of the loop at least, so that the
        responses delivered meanwhile are folded), then read it from the counts as they
        stand; what was folded of it since the round began goes to the slow speed only.
        """
        profile = await self._profiles.get(campaign_id, slow=False)
        view: LeafView | None = None
        for unit in sorted({unit for unit, _ in touched}):
            key = (campaign_id, unit)
            await asyncio.sleep(self._cadence.wait(key, self._timer()))
            if not self._owner():
                return
            tallies = self._counts.tallies(campaign_id)
            if view is None or not view.holds(tallies):
                view = await self._leaf_view(campaign_id, profile, tallies)
                if view is None:
                    return
            scope = view.scope
            if unit in self._hierarchy.units and self._hierarchy.children(unit, scope.on):
                continue  # a roll-up: the slow speed's
            self._cadence.read(key, self._timer())
            late = self._counts.take_touched_unit(campaign_id, unit)
            self._slow.setdefault(campaign_id, set()).update(late)
            catalogue, modes = scope.catalogue, profile.modes
            rolled = by_unit_and_kind(view.slices(unit), scope.period, modes, catalogue.id)
            if unit in rolled:
                rules = profile.rules()
                evaluated = evaluate(catalogue, rolled[unit], rules, satisfaction_only=True)
                before = (view.previous.get(unit), view.label)
                yield index_event(
                    scope, unit, evaluated, before, hierarchy=self._hierarchy, now=self._clock()
                )

    async def _leaf_view(
        self, campaign_id: str, profile: CampaignProfile, tallies: Slices
    ) -> LeafView | None:
        catalogue = self._catalogue(campaign_id, tallies, profile)
        if catalogue is None:
            return None
        period = Period(CAMPAIGN)
        buckets = {k.bucket for k in tallies if period.contains(k.bucket)}
        on = reference_date(profile, period, buckets, self._today())
        scope = Scope(campaign_id, profile, catalogue, period, on)
        previous, label = await self._previous.of(scope, tallies, slow=False)
        return LeafView(tallies, scope, previous, label)

    def _catalogue(
        self, campaign_id: str, tallies: Slices, profile: CampaignProfile
    ) -> Catalogue | None:
        try:
            return instrument_of(tallies, profile)
        except ScoringError as exc:
            self._metrics.index_errors.labels("profile").inc()
            log.warning("index_not_computed", campaign=campaign_id, reason=str(exc))
            return None

    async def _publish(self, touched: dict[str, Touched]) -> int:
        """Compute and publish the slow speed's events; on failure, keep them for next round."""
        try:
            events: list[IndexUpdated] = []
            for campaign, units in sorted(touched.items()):
                events.extend(await self._campaign_events(campaign, units))
            if events:
                await self._publisher().publish_many(events)
        except Exception:
            for campaign, units in touched.items():  # nothing lost: retried next round
                self._slow.setdefault(campaign, set()).update(units)
            raise
        self._metrics.observe_published(events, self._clock())
        return len(events)

    async def _campaign_events(self, campaign_id: str, touched: Touched) -> list[IndexUpdated]:
        """The slow speed's events of one campaign: roll-ups, and the calendar periods."""
        profile = await self._profiles.get(campaign_id, slow=True)
        tallies = self._counts.tallies(campaign_id)
        catalogue = self._catalogue(campaign_id, tallies, profile)
        if catalogue is None:
            return []
        periods = {Period(CAMPAIGN)}
        if profile.granularity != CAMPAIGN:
            periods |= {period_of(bucket, profile.granularity) for _, bucket in touched}
        events = []
        for period in sorted(periods):
            buckets = {k.bucket for k in tallies if period.contains(k.bucket)}
            on = reference_date(profile, period, buckets, self._today())
            scope = Scope(campaign_id, profile, catalogue, period, on)
            units = {unit for unit, bucket in touched if period.contains(bucket)}
            leaves = period.granularity != CAMPAIGN  # the campaign's leaves are the fast speed's
            events.extend(await self._period_events(scope, tallies, units, leaves=leaves))
        return events

    async def _period_events(
        self, scope: Scope, tallies: Slices, units: set[str], *, leaves: bool
    ) -> list[IndexUpdated]:
        """Roll-ups (and with ``leaves`` the units themselves) of one period, from all slices."""
        hierarchy, profile = self._hierarchy, scope.profile
        known = {u for u in units if u in hierarchy.units}
        ancestors = {a for u in known for a in hierarchy.ancestors(u, scope.on)}
        parents = {u for u in known if hierarchy.children(u, scope.on)}
        targets = (units if leaves else parents) | ancestors
        selected = by_unit_and_kind(tallies, scope.period, profile.modes, scope.catalogue.id)
        rolled = roll(selected, hierarchy, scope.on)
        previous, label = await self._previous.of(scope, tallies, slow=True)
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

    def _today(self) -> date:
        return self._clock().astimezone(timezone(self._settings.utc_offset)).date()
