"""A campaign's plan before any dossier arrives: its total and the continuous quotas."""

from __future__ import annotations

from collections.abc import Sequence

from sipas_sampling.domain.allocation import (
    AllocationError,
    precision_size,
    proportional,
    slovin,
)
from sipas_sampling.domain.campaign import Campaign, SampleSize


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
