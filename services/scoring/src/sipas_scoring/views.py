"""Read models for the API, exports, publication snapshots and reports.

A table is computed on request from the counts (in memory on the instance that owns
them, else the last checkpoint: ``sipas_scoring.counts.CountsReader``), read together
with the sequences they hold, so every table says exactly which responses it counts
(``through_seq``: every response up to that RESPONSES sequence, nothing after).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timezone

from sipas_contracts.instrument import Catalogue
from sipas_contracts.units import UnitHierarchy
from sipas_runtime.i18n import _
from sipas_scoring.counts import CountsReader
from sipas_scoring.domain.funnel import FunnelCounts, funnel_rows
from sipas_scoring.domain.periods import TODAY, Period, parse_period, period_of
from sipas_scoring.domain.profile import CampaignProfile
from sipas_scoring.domain.selection import by_unit_and_kind, instrument_of, reference_date
from sipas_scoring.domain.tables import Baseline, Row, build_table
from sipas_scoring.domain.tally import SliceKey, Tally
from sipas_scoring.labels import label, note, text
from sipas_scoring.rendering import Json, funnel_json, row_json
from sipas_scoring.settings import Settings
from sipas_scoring.store.funnel import FunnelStore
from sipas_scoring.store.profiles import ProfileStore


class NotFoundError(LookupError):
    """Raised when a campaign (or a unit in it) has no counts."""


@dataclass(frozen=True)
class Computed:
    """A computed table with everything needed to explain it."""

    meta: Json
    rows: list[Row]
    catalogue: Catalogue


def catalogue_json(catalogue: Catalogue) -> list[Json]:
    """Aspects and elements with their names, for headers and legends."""
    return [
        {
            "id": aspect.id,
            "vi": aspect.vi,
            "en": aspect.en,
            "elements": [
                {"id": e, "vi": catalogue.elements[e].vi, "en": catalogue.elements[e].en}
                for e in aspect.elements
            ],
        }
        for aspect in catalogue.aspects.values()
    ]


class Views:
    """Computes tables from the stores; one per service process."""

    def __init__(
        self,
        *,
        reader: CountsReader,
        funnel: FunnelStore,
        profiles: ProfileStore,
        hierarchy: UnitHierarchy,
        settings: Settings,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._reader = reader
        self._funnel = funnel
        self._profiles = profiles
        self.hierarchy = hierarchy
        self.settings = settings
        self._clock = clock

    def today(self) -> date:
        """Today in the province's local time."""
        return self._clock().astimezone(timezone(self.settings.utc_offset)).date()

    async def profile(self, campaign_id: str) -> CampaignProfile:
        """The campaign's stored profile, else the defaults from settings."""
        return await self._profiles.get_or_default(campaign_id)

    async def compute(
        self,
        campaign_id: str,
        period_label: str = "campaign",
        *,
        modes: tuple[str, ...] | None = None,
        kind: str | None = None,
    ) -> Computed:
        """The league table of a campaign period (all tiers), with its explanation.

        ``today``: the province's current day, from the day counts.
        """
        today = period_label == TODAY
        period = Period.of_day(self.today()) if today else parse_period(period_label)
        profile = await self.profile(campaign_id)
        applied, tallies = await self._reader.snapshot(campaign_id, days=today)
        if not tallies:
            when = " today" if today else ""
            msg = f"campaign {campaign_id!r} has no responses{when}"
            raise NotFoundError(msg)
        catalogue = instrument_of(tallies, profile)
        chosen = modes or profile.modes
        leaves = _only_kind(by_unit_and_kind(tallies, period, chosen, catalogue.id), kind)
        buckets = sorted({k.bucket for k in tallies if period.contains(k.bucket)})
        on = reference_date(profile, period, buckets, self.today())
        baseline, compared_with = await self._baseline(tallies, profile, period, chosen, kind)
        rows = build_table(
            catalogue, leaves, self.hierarchy, on, profile.rules(), previous=baseline
        )
        meta = {
            "campaign_id": campaign_id,
            "period": period.label,
            "periods": sorted(
                {period_of(k.bucket, profile.granularity).label for k in tallies} | {"campaign"}
            ),
            "months": buckets,
            **_method(catalogue, profile),
            "modes": list(chosen),
            "kind": kind or "all",
            "hierarchy_date": on.isoformat(),
            "compared_with": compared_with,
            "through_seq": applied.highest,
            "gaps": [list(gap) for gap in applied.missing(applied.highest)],
            "generated_at": self._clock().isoformat(),
        }
        meta["notes"] = _notes(rows, profile, chosen, catalogue)
        return Computed(meta, rows, catalogue)

    async def table(
        self,
        campaign_id: str,
        period_label: str = "campaign",
        *,
        modes: tuple[str, ...] | None = None,
        kind: str | None = None,
    ) -> Json:
        """The table as JSON: ``{meta..., rows: [...]}``."""
        computed = await self.compute(campaign_id, period_label, modes=modes, kind=kind)
        return {**computed.meta, "rows": [row_json(r) for r in computed.rows]}

    async def _baseline(
        self,
        tallies: dict[SliceKey, Tally],
        profile: CampaignProfile,
        period: Period,
        modes: tuple[str, ...],
        kind: str | None,
    ) -> tuple[Baseline | None, Json | None]:
        if period.granularity == "day":
            return None, None
        before = period.previous()
        if before is not None:
            if not any(before.contains(k.bucket) for k in tallies):
                return None, None
            catalogue = instrument_of(tallies, profile)
            leaves = _only_kind(by_unit_and_kind(tallies, before, modes, catalogue.id), kind)
            return Baseline(catalogue, leaves, profile.rules()), {"period": before.label}
        if profile.previous_campaign is None:
            return None, None
        earlier = await self._reader.tallies(profile.previous_campaign)
        if not earlier:
            return None, None
        earlier_profile = await self.profile(profile.previous_campaign)
        catalogue = instrument_of(earlier, earlier_profile)
        leaves = _only_kind(
            by_unit_and_kind(earlier, Period("campaign"), modes, catalogue.id), kind
        )
        compared = {"campaign_id": profile.previous_campaign, "period": "campaign"}
        return Baseline(catalogue, leaves, earlier_profile.rules()), compared

    async def funnel(self, campaign_id: str) -> Json:
        """Eligible, invited, responded and response rate per unit and channel."""
        profile = await self.profile(campaign_id)
        offset = timezone(self.settings.utc_offset)
        span = await self._funnel.window(campaign_id)
        start = profile.window_start or (span[0].astimezone(offset).date() if span else None)
        end = profile.window_end or (span[1].astimezone(offset).date() if span else None)
        counts: dict[str, FunnelCounts] = await self._funnel.invitation_counts(campaign_id)
        if start is not None and end is not None:
            for unit, eligible in (await self._funnel.eligible(start, end)).items():
                counts.setdefault(unit, FunnelCounts()).eligible.update(eligible)
        for key, tally in (await self._reader.tallies(campaign_id)).items():
            responses = counts.setdefault(key.unit, FunnelCounts()).responses
            responses[key.collection_mode] = responses.get(key.collection_mode, 0) + int(
                tally.responses
            )
        rows = funnel_rows(counts, self.hierarchy, end or self.today(), profile.rules().z)
        return {
            "campaign_id": campaign_id,
            "window_start": start.isoformat() if start else None,
            "window_end": end.isoformat() if end else None,
            "rows": [funnel_json(r) for r in rows],
        }


def _method(catalogue: Catalogue, profile: CampaignProfile) -> Json:
    """What a table says about how it was computed."""
    return {
        "instrument_id": catalogue.id,
        "instrument_title": catalogue.title_vi,
        "sipas_rule": catalogue.sipas_rule,
        "structure": catalogue_json(catalogue),
        "method": profile.method,
        "method_label": {
            "vi": label(f"method.{profile.method}"),
            "en": label(f"method.{profile.method}", "en"),
        },
        "profile": profile.model_dump(mode="json"),
    }


def _only_kind(
    leaves: dict[str, dict[str, Tally]], kind: str | None
) -> dict[str, dict[str, Tally]]:
    if kind is None:
        return leaves
    return {u: {kind: by[kind]} for u, by in leaves.items() if kind in by}


def _names(catalogue: Catalogue, components: list[str]) -> dict[str, str]:
    parts = {**catalogue.aspects, **catalogue.elements}
    return {
        lang: ", ".join(getattr(parts[c], lang) if c in parts else c for c in components)
        for lang in ("vi", "en")
    }


def _notes(
    rows: list[Row], profile: CampaignProfile, modes: tuple[str, ...], catalogue: Catalogue
) -> list[Json]:
    notes = []
    incomplete = sorted({b for r in rows if not r.index.complete for b in r.index.sipas.basis})
    if any(not r.index.complete and r.index.sipas.value is not None for r in rows):
        message = _("SIPAS averages only the components surveyed with enough data: %(parts)s")
        names = _names(catalogue, incomplete)
        notes.append({lang: text(lang, message, parts=names[lang]) for lang in ("vi", "en")})
    if "kiosk" not in modes:
        notes.append(note(_("Kiosk ratings are kept apart from the sampled index.")))
    notes.append(
        note(
            _(
                "Items with fewer than %(items)s valid answers and units with fewer than "
                "%(units)s respondents: insufficient data, left out of means and ranks. "
                "Ranks use unrounded values."
            ),
            items=profile.n_min_item,
            units=profile.n_min_unit,
        )
    )
    if any(r.estimated_previous for r in rows):
        notes.append(
            note(_("Previous figures of split units are estimated by their succession share."))
        )
    return notes
