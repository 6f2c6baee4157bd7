"""What the index loop keeps between rounds: campaign profiles and previous-period figures."""

from __future__ import annotations

from collections.abc import Callable

from sipas_contracts.units import UnitHierarchy
from sipas_scoring.domain import ScoringError
from sipas_scoring.domain.indices import Figure
from sipas_scoring.domain.periods import CAMPAIGN, Period
from sipas_scoring.domain.profile import CampaignProfile
from sipas_scoring.domain.selection import by_unit_and_kind, instrument_of
from sipas_scoring.domain.tables import Baseline, baseline_figures
from sipas_scoring.domain.tally import SliceKey, Tally
from sipas_scoring.index_events import Scope
from sipas_scoring.store.profiles import ProfileSource

Slices = dict[SliceKey, Tally]


class ProfileCache:
    """Campaign profiles, re-read at most once per ``every`` seconds, by slow rounds only.

    A fast round (``slow=False``) reads the store only for a campaign it holds no profile
    of (its first round, or just dropped), so no store round trip delays a unit's figure;
    a profile changed without :meth:`drop` is in force within two ``every``.
    """

    def __init__(self, source: ProfileSource, every: float, timer: Callable[[], float]) -> None:
        self._source = source
        self._every = every
        self._timer = timer
        self._held: dict[str, tuple[float, CampaignProfile]] = {}

    async def get(self, campaign_id: str, *, slow: bool) -> CampaignProfile:
        """The campaign's profile (read again if ``slow`` and it is due)."""
        now = self._timer()
        held = self._held.get(campaign_id)
        if held is None or (slow and held[0] < now):
            profile = await self._source.get_or_default(campaign_id)
            held = self._held[campaign_id] = (now + self._every, profile)
        return held[1]

    def drop(self, campaign_id: str) -> None:
        """Read the campaign's profile again next time (it changed)."""
        self._held.pop(campaign_id, None)


class PreviousFigures:
    """Each unit's figure of the period before (or the previous campaign's), cached."""

    def __init__(
        self, hierarchy: UnitHierarchy, tallies_of: Callable[[str], Slices], profiles: ProfileCache
    ) -> None:
        self._hierarchy = hierarchy
        self._tallies_of = tallies_of
        self._profiles = profiles
        self._held: dict[tuple[str, str], tuple[frozenset[object], dict[str, Figure]]] = {}

    async def of(
        self, scope: Scope, tallies: Slices, *, slow: bool
    ) -> tuple[dict[str, Figure], str | None]:
        """The figures before ``scope``'s period, per unit, and that period's label."""
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
            source = self._tallies_of(earlier_id)
            earlier_profile = await self._profiles.get(earlier_id, slow=slow)
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
        held = self._held.get(key)
        if held is None or held[0] != signature:
            leaves = by_unit_and_kind(chosen, period, profile.modes, catalogue.id)
            figures = baseline_figures(
                Baseline(catalogue, leaves, rules), self._hierarchy, scope.on
            )[0]
            held = self._held[key] = (signature, figures)
        return held[1], label
