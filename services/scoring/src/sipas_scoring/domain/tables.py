"""The league table of one campaign period: figures per unit, roll-ups, ranks, rank change.

Input is leaf tallies per unit and applicant kind, already restricted to the period's
months and the profile's collection modes; everything else is derived here:

- combined (individuals + organisations) and per-kind figures for every unit and every
  ancestor on the hierarchy date;
- competition ranks within each tier on exact, unrounded SIPAS values, for units whose
  SIPAS is sufficient (value and ``n ≥ n_min_unit``);
- the previous period's (or campaign's) figure and rank, carried onto today's units
  through the succession map, and the rank change (positive = moved up).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from fractions import Fraction

from sipas_contracts.instrument import Catalogue
from sipas_contracts.units import UnitHierarchy
from sipas_scoring.domain.indices import Figure, Rules, UnitIndex, compute_index
from sipas_scoring.domain.rollups import UNKNOWN_TIER, carry_forward, rollup, tier_of
from sipas_scoring.domain.stats import competition_ranks
from sipas_scoring.domain.tally import Count, Tally, total

ByKind = Mapping[str, Tally]
"""Tallies of one unit by applicant kind (``individual`` / ``organisation``)."""


@dataclass(frozen=True)
class Row:
    """One unit's line in the table."""

    unit: str
    name: str
    tier: str
    rollup: bool
    index: UnitIndex
    segments: dict[str, Figure]
    responses_by_kind: dict[str, Count]
    previous: Figure | None = None
    rank: int | None = None
    previous_rank: int | None = None
    rank_change: int | None = None
    estimated_previous: bool = False
    tally: Tally | None = None
    """The counts the figures come from (own plus descendants')."""


@dataclass(frozen=True)
class Evaluated:
    """Figures of one unit, before ranking, and the counts they come from."""

    index: UnitIndex
    segments: dict[str, Figure]
    responses_by_kind: dict[str, Count]
    combined: Tally


def evaluate(
    catalogue: Catalogue, by_kind: ByKind, rules: Rules, *, satisfaction_only: bool = False
) -> Evaluated:
    """Combined figures plus each applicant kind's SIPAS."""
    combined = total(by_kind.values())
    segments = {
        kind: compute_index(catalogue, tally, rules, satisfaction_only=True).sipas
        for kind, tally in sorted(by_kind.items())
    }
    return Evaluated(
        compute_index(catalogue, combined, rules, satisfaction_only=satisfaction_only),
        segments,
        {kind: t.responses for kind, t in sorted(by_kind.items())},
        combined,
    )


def rollup_by_kind(
    leaves: Mapping[str, ByKind], hierarchy: UnitHierarchy, on: date
) -> dict[str, dict[str, Tally]]:
    """Roll each applicant kind up the hierarchy separately."""
    kinds = sorted({kind for by_kind in leaves.values() for kind in by_kind})
    out: dict[str, dict[str, Tally]] = {}
    for kind in kinds:
        per_unit = {u: by_kind[kind] for u, by_kind in leaves.items() if kind in by_kind}
        for unit, tally in rollup(per_unit, hierarchy, on).items():
            out.setdefault(unit, {})[kind] = tally
    return out


def _ancestors_with_data(
    leaves: Mapping[str, ByKind], hierarchy: UnitHierarchy, on: date
) -> set[str]:
    return {
        ancestor
        for code in leaves
        if code in hierarchy.units
        for ancestor in hierarchy.ancestors(code, on)
    }


def _ranks(figures: Mapping[str, Figure], tiers: Mapping[str, str]) -> dict[str, int]:
    ranks: dict[str, int] = {}
    for tier in sorted(set(tiers.values()) - {UNKNOWN_TIER}):
        values: dict[str, Fraction] = {
            unit: figure.value
            for unit, figure in figures.items()
            if tiers[unit] == tier and figure.sufficient and figure.value is not None
        }
        ranks.update(competition_ranks(values))
    return ranks


@dataclass(frozen=True)
class Baseline:
    """What the table is compared with: an earlier period or campaign, with its own rules."""

    catalogue: Catalogue
    leaves: Mapping[str, ByKind]
    rules: Rules


def baseline_figures(
    baseline: Baseline, hierarchy: UnitHierarchy, on: date
) -> tuple[dict[str, Figure], dict[str, int], set[str]]:
    """SIPAS figures, ranks and estimated units of a baseline, on today's units."""
    combined = {u: total(by_kind.values()) for u, by_kind in baseline.leaves.items()}
    carried = carry_forward(combined, hierarchy, on)
    rolled = rollup(carried.tallies, hierarchy, on)
    figures = {
        u: compute_index(baseline.catalogue, t, baseline.rules).sipas for u, t in rolled.items()
    }
    # An ancestor of a unit with an apportioned history is itself an estimate.
    estimated = set(carried.estimated)
    for code in carried.estimated:
        if code in hierarchy.units:
            estimated.update(hierarchy.ancestors(code, on))
    tiers = {u: tier_of(hierarchy, u) for u in figures}
    return figures, _ranks(figures, tiers), estimated


def build_table(
    catalogue: Catalogue,
    leaves: Mapping[str, ByKind],
    hierarchy: UnitHierarchy,
    on: date,
    rules: Rules,
    *,
    previous: Baseline | None = None,
) -> list[Row]:
    """Rows for every unit with data and every ancestor, ranked within tiers."""
    rolled = rollup_by_kind(leaves, hierarchy, on)
    parents = _ancestors_with_data(leaves, hierarchy, on)
    evaluated = {unit: evaluate(catalogue, by_kind, rules) for unit, by_kind in rolled.items()}
    tiers = {unit: tier_of(hierarchy, unit) for unit in evaluated}
    ranks = _ranks({u: e.index.sipas for u, e in evaluated.items()}, tiers)
    before: tuple[dict[str, Figure], dict[str, int], set[str]] = ({}, {}, set())
    if previous is not None:
        before = baseline_figures(previous, hierarchy, on)
    rows = []
    for unit in sorted(evaluated, key=lambda u: (tiers[u], u)):
        e = evaluated[unit]
        rank, previous_rank = ranks.get(unit), before[1].get(unit)
        known = hierarchy.units.get(unit)
        rows.append(
            Row(
                unit=unit,
                name=known.name_vi if known else unit,
                tier=tiers[unit],
                rollup=unit in parents,
                index=e.index,
                segments=e.segments,
                responses_by_kind=e.responses_by_kind,
                previous=before[0].get(unit),
                rank=rank,
                previous_rank=previous_rank,
                rank_change=None if rank is None or previous_rank is None else previous_rank - rank,
                estimated_previous=unit in before[2],
                tally=e.combined,
            )
        )
    return rows
