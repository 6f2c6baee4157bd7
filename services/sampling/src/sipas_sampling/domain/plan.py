"""A campaign's plan before any dossier arrives: its total, quotas, and how it is announced.

The ``campaign-planned`` event tells the other services what the plan is (scoring takes
its report title, window, units and ranking threshold from it).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import datetime

from sipas_contracts.events import CampaignPlanned
from sipas_contracts.ids import uuid7_for
from sipas_sampling.domain.allocation import (
    AllocationError,
    precision_size,
    proportional,
    slovin,
)
from sipas_sampling.domain.campaign import Campaign, SampleSize, design_digest


def sample_total(size: SampleSize, population_size: int) -> int:
    """The total sample: given, Slovin or precision (N given or observed)."""
    if size.total is not None:
        return size.total
    if size.slovin is not None:
        return slovin(size.slovin.population or population_size, size.slovin.margin)
    if size.precision is not None:
        p = size.precision
        return precision_size(
            p.population or population_size,
            p.margin,
            confidence=p.confidence,
            proportion=p.proportion,
        )
    raise ValueError("sample_size.rate has no fixed total")


def continuous_quotas(
    campaign: Campaign, units: Sequence[str]
) -> tuple[dict[str, int | None], dict[str, float | None]]:
    """Quota (forms) and expected reachable dossiers per unit for a continuous campaign.

    Raises :class:`AllocationError` when the caps cannot hold the total (the only way a
    continuous total can go unplaced: it has no population bound).
    """
    alloc = campaign.allocation
    if alloc is None:
        return dict.fromkeys(units), dict.fromkeys(units)
    if alloc.fixed_per_unit is not None:
        fixed = alloc.fixed_per_unit
        return dict.fromkeys(units, fixed.individual + fixed.organisation), dict.fromkeys(units)
    rule = alloc.proportional
    assert rule is not None  # Campaign validation: continuous proportional has a basis
    assert rule.basis is not None
    assert campaign.sample_size is not None
    basis = {u: rule.basis.get(u, 0) for u in units}
    total = sample_total(campaign.sample_size, sum(basis.values()))
    shares = proportional(total, basis, floor=rule.floor, cap=rule.cap)
    if shares.shortfall:
        raise AllocationError(
            f"allocation.proportional.cap: {len(units)} units × cap {rule.cap} = "
            f"{shares.total} forms cannot hold the total of {total}"
        )
    return dict(shares.quotas), {u: float(n) for u, n in basis.items()}


def planned(campaign: Campaign, units: Sequence[str], stored_at: datetime) -> CampaignPlanned:
    """The plan as published; the same stored version always gives the same event id."""
    definition = json.dumps(campaign.model_dump(mode="json"), sort_keys=True)
    version = hashlib.sha256(definition.encode()).hexdigest()
    return CampaignPlanned(
        event_id=uuid7_for(f"campaign-planned:{campaign.id}:{version}", stored_at),
        occurred_at=stored_at,
        producer="sampling",
        campaign_id=campaign.id,
        name_vi=campaign.name_vi,
        name_en=campaign.name_en,
        instrument_id=campaign.instrument_id,
        mode=campaign.mode,
        window_start=campaign.window.start,
        window_end=campaign.window.end,
        units=list(units),
        planned_per_unit=campaign.planned_per_unit,
        n_min_unit=campaign.n_min_unit,
        design_digest=design_digest(campaign),
    )
