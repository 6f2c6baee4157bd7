"""Batch mode: official and reserve lists per stratum (unit × applicant kind), reproducibly.

The population snapshot holds dossier numbers only (no personal data), per unit and kind.
Each stratum is ordered by ``draw(seed, dossier_id)`` (ties by dossier id); the first
``quota`` are the official list, the next ``ceil(quota × reserve ratio)`` the reserve list.
:func:`lists_bytes` is the canonical serialisation an observer re-creates byte for byte
with ``sipas sampling verify`` from the seed and the snapshot.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sipas_contracts.events import ApplicantKind
from sipas_sampling.domain.allocation import fixed_with_transfer, proportional, split_by_kind
from sipas_sampling.domain.campaign import KINDS, Allocation, Reserve, SampleSize
from sipas_sampling.domain.continuous import draw
from sipas_sampling.domain.plan import sample_total

FORMAT = "sipas-draw/1"
Population = dict[str, dict[ApplicantKind, list[str]]]


def canonical(value: object) -> bytes:
    """Deterministic JSON bytes (sorted keys, no spaces, UTF-8)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def digest(value: object) -> str:
    """SHA-256 hex of the canonical bytes."""
    return hashlib.sha256(canonical(value)).hexdigest()


def normalise(population: Mapping[str, Mapping[str, list[str]]]) -> Population:
    """Every unit with both kinds, ids sorted and unique."""
    return {
        unit: {kind: sorted(set(strata.get(kind, []))) for kind in KINDS}
        for unit, strata in sorted(population.items())
    }


Quotas = dict[str, dict[ApplicantKind, int]]


def quotas(
    population: Population, allocation: Allocation | None, size: SampleSize | None
) -> tuple[Quotas, Quotas, int]:
    """Official quotas per stratum, what moved between kinds (fixed), and the shortfall.

    The shortfall is the part of a proportional total that the population cannot supply
    (every stratum is then taken whole); a fixed allocation takes what each unit has.
    """
    if allocation is None:
        raise ValueError("allocation: a batch draw needs fixed_per_unit or proportional")
    sizes = {u: {k: len(ids) for k, ids in s.items()} for u, s in population.items()}
    result: Quotas = {}
    moved: Quotas = {}
    if allocation.fixed_per_unit is not None:
        fixed = allocation.fixed_per_unit
        wanted: dict[ApplicantKind, int] = {
            "individual": fixed.individual,
            "organisation": fixed.organisation,
        }
        for unit, pops in sizes.items():
            share = fixed_with_transfer(wanted, pops, transfer=fixed.transfer)
            result[unit], moved[unit] = share.quotas, share.transferred
        return result, moved, 0
    rule = allocation.proportional
    assert rule is not None  # guaranteed by Campaign validation
    assert size is not None
    unit_sizes = {u: sum(p.values()) for u, p in sizes.items()}
    weights = {u: (rule.basis or unit_sizes).get(u, 0) for u in unit_sizes}
    total = sample_total(size, sum(unit_sizes.values()))
    shares = proportional(total, weights, floor=rule.floor, cap=rule.cap, populations=unit_sizes)
    for unit, quota in shares.quotas.items():
        result[unit] = split_by_kind(quota, sizes[unit]).quotas
    return result, moved, shares.shortfall


def order(seed: str, dossier_ids: list[str]) -> list[str]:
    """A stratum in draw order."""
    return sorted(dossier_ids, key=lambda d: (draw(seed, d), d))


@dataclass(frozen=True)
class DrawResult:
    """Official and reserve lists per stratum, with quotas, transfers and the shortfall."""

    quotas: Quotas
    transfers: Quotas
    lists: dict[str, dict[ApplicantKind, dict[str, list[str]]]] = field(default_factory=dict)
    shortfall: int = 0

    def official_count(self) -> int:
        """Size of the official list across strata."""
        return sum(len(s["official"]) for u in self.lists.values() for s in u.values())


def run_draw(
    seed: str,
    population: Population,
    allocation: Allocation | None,
    size: SampleSize | None,
    reserve: Reserve,
) -> DrawResult:
    """Draw the official and reserve lists of every stratum."""
    quota, moved, shortfall = quotas(population, allocation, size)
    lists: dict[str, dict[ApplicantKind, dict[str, list[str]]]] = {}
    for unit, strata in population.items():
        lists[unit] = {}
        for kind in KINDS:
            ranked = order(seed, strata[kind])
            n = quota[unit][kind]
            spare = math.ceil(n * reserve.ratio - 1e-9)
            lists[unit][kind] = {"official": ranked[:n], "reserve": ranked[n : n + spare]}
    return DrawResult(quota, moved, lists, shortfall)


def lists_document(
    campaign_id: str, seed: str, population: Population, result: DrawResult
) -> dict[str, Any]:
    """The part of a draw an observer must reproduce exactly."""
    return {
        "format": FORMAT,
        "campaign_id": campaign_id,
        "seed": seed,
        "population_digest": digest(population),
        "quotas": result.quotas,
        "transfers": result.transfers,
        "lists": result.lists,
    }


def lists_bytes(document: Mapping[str, Any]) -> bytes:
    """Canonical bytes of a lists document (what verify compares)."""
    return canonical(document)
