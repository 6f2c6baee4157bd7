"""Building one index-updated event from a unit's evaluated figures (no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sipas_contracts.events import IndexUpdated
from sipas_contracts.ids import uuid7_for
from sipas_contracts.instrument import Catalogue
from sipas_contracts.units import UnitHierarchy
from sipas_scoring.domain.indices import Figure
from sipas_scoring.domain.periods import CAMPAIGN, Period
from sipas_scoring.domain.profile import CampaignProfile
from sipas_scoring.domain.rollups import tier_of
from sipas_scoring.domain.tables import Evaluated

PRODUCER = "scoring"


@dataclass(frozen=True)
class Scope:
    """One campaign period being published."""

    campaign_id: str
    profile: CampaignProfile
    catalogue: Catalogue
    period: Period
    on: date


def index_event(
    scope: Scope,
    unit: str,
    evaluated: Evaluated,
    previous: tuple[Figure | None, str | None],
    *,
    hierarchy: UnitHierarchy,
    now: datetime,
) -> IndexUpdated:
    """The event; its id is fixed by (campaign, period, unit, version, responses, profile)."""
    profile, period = scope.profile, scope.period
    combined, index = evaluated.combined, evaluated.index
    version = max(1, combined.last_seq)
    at = combined.last_at or now
    key = (
        f"index:{scope.campaign_id}:{period.label}:{unit}:{version}:"
        f"{index.responses}:{profile.revision}"
    )
    figure, label = previous
    known = unit in hierarchy.units
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
        level=tier_of(hierarchy, unit),
        rollup=known and bool(hierarchy.children(unit, scope.on)),
        modes=list(profile.modes),
        basis=list(index.sipas.basis),
        profile_revision=profile.revision,
    )


def period_kind(label: str) -> str:
    """``campaign``, ``year``, ``quarter`` or ``month`` (for metric labels)."""
    if label == CAMPAIGN:
        return CAMPAIGN
    if "-Q" in label:
        return "quarter"
    return "month" if "-" in label else "year"
