"""Sample size and allocation: Slovin, a precision target, proportional and fixed quotas.

Proportional allocation shares the total in proportion to the weights, each unit within
[floor, min(cap, population)]. What the weighted units cannot take (they reached their
population or cap, or have weight 0) goes to the spare room of every unit (its bound minus
what it already has) in proportion to that room, so a unit left out of the weights still
takes what the others cannot. Only a total above the sum of the bounds is left unplaced,
and it is reported as ``shortfall``; never dropped silently.

Invariants (property-tested): the quotas sum to min(total, Σ bounds); no unit gets more
than its population or cap, nor less than its floor (or its population, if smaller).
Arithmetic is exact (fractions); the seats left after rounding down go by largest
remainder, equal remainders to the larger weight, then to the smaller unit code, so
results are reproducible.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from statistics import NormalDist

from sipas_contracts.events import ApplicantKind


class AllocationError(ValueError):
    """Raised when sizes or bounds are impossible (the message names the field)."""


def slovin(population: int, margin: float) -> int:
    """Slovin's n = N / (1 + N·e²), rounded up (never more than N)."""
    if population < 0 or not 0 < margin < 1:
        raise AllocationError("slovin: population must be >= 0 and margin in (0, 1)")
    if population == 0:
        return 0
    return min(population, math.ceil(population / (1 + population * margin * margin) - 1e-9))


def precision_size(
    population: int, margin: float, *, confidence: float = 0.95, proportion: float = 0.5
) -> int:
    """Cochran's n0 = z²·p(1-p)/e² with finite-population correction, rounded up."""
    if population < 0 or not 0 < margin < 1:
        raise AllocationError("precision: population must be >= 0 and margin in (0, 1)")
    if population == 0:
        return 0
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    n0 = z * z * proportion * (1 - proportion) / (margin * margin)
    return min(population, math.ceil(n0 / (1 + (n0 - 1) / population) - 1e-9))


@dataclass(frozen=True)
class Apportionment:
    """Integer quotas per key, and how far the total could not be met."""

    quotas: dict[str, int]
    shortfall: int = 0

    @property
    def total(self) -> int:
        """Sum of the quotas."""
        return sum(self.quotas.values())


def _bounds(
    weights: Mapping[str, int],
    floor: int,
    cap: int | None,
    populations: Mapping[str, int] | None,
) -> tuple[dict[str, int], dict[str, int]]:
    lows: dict[str, int] = {}
    highs: dict[str, int] = {}
    for key in weights:
        high = cap if cap is not None else 10**12
        if populations is not None:
            high = min(high, populations.get(key, 0))
        highs[key] = high
        lows[key] = min(floor, high)
    return lows, highs


def _water_level(
    weights: Mapping[str, int], lows: dict[str, int], highs: dict[str, int], total: int
) -> dict[str, Fraction]:
    """Exact shares q = clamp(λ·w, low, high) with Σq = total (λ found on the breakpoints)."""

    def shares(level: Fraction) -> dict[str, Fraction]:
        return {
            k: min(Fraction(highs[k]), max(Fraction(lows[k]), level * w))
            for k, w in weights.items()
        }

    points = sorted(
        {Fraction(0)}
        | {Fraction(b, w) for k, w in weights.items() if w > 0 for b in (lows[k], highs[k])}
    )
    lo, hi = 0, len(points) - 1  # smallest breakpoint whose sum reaches the total
    if sum(shares(points[hi]).values()) < total:
        return shares(points[hi])
    while lo < hi:
        mid = (lo + hi) // 2
        if sum(shares(points[mid]).values()) >= total:
            hi = mid
        else:
            lo = mid + 1
    point = points[lo]
    previous = points[lo - 1] if lo else point
    lo_sum, hi_sum = sum(shares(previous).values()), sum(shares(point).values())
    if hi_sum == lo_sum:
        return shares(point)
    return shares(previous + (point - previous) * (total - lo_sum) / (hi_sum - lo_sum))


def proportional(
    total: int,
    weights: Mapping[str, int],
    *,
    floor: int = 0,
    cap: int | None = None,
    populations: Mapping[str, int] | None = None,
) -> Apportionment:
    """Share ``total`` in proportion to ``weights`` within [floor, min(cap, population)]."""
    if total < 0:
        raise AllocationError("total must be >= 0")
    if not weights:
        return Apportionment({}, shortfall=total)
    if not any(weights.values()):
        weights = dict.fromkeys(weights, 1)  # nothing to be proportional to: share equally
    lows, highs = _bounds(weights, floor, cap, populations)
    if sum(lows.values()) > total:
        raise AllocationError(
            f"allocation.proportional.floor: {len(weights)} units × floor {floor} "
            f"exceeds the total {total}"
        )
    target = min(total, sum(highs.values()))
    weighted = {k: (h if weights[k] > 0 else lows[k]) for k, h in highs.items()}
    exact = _water_level(weights, lows, weighted, target)
    left = target - sum(exact.values())
    if left > 0:  # the weighted units are full: the rest goes to the spare room
        room = {k: int(highs[k] - q) for k, q in exact.items()}
        spill = _water_level(room, dict.fromkeys(room, 0), room, int(left))
        exact = {k: q + spill[k] for k, q in exact.items()}
    return Apportionment(_largest_remainder(exact, weights, target), shortfall=total - target)


def _largest_remainder(
    exact: Mapping[str, Fraction], weights: Mapping[str, int], target: int
) -> dict[str, int]:
    """Round down, then one more to the largest remainders (larger weight, then unit code)."""
    quotas = {k: math.floor(q) for k, q in exact.items()}
    left = target - sum(quotas.values())
    order = sorted(exact, key=lambda k: (-(exact[k] - quotas[k]), -weights[k], k))
    for key in order[:left]:
        quotas[key] += 1
    return quotas


TRANSFERS: tuple[tuple[ApplicantKind, ApplicantKind], ...] = (
    ("organisation", "individual"),
    ("individual", "organisation"),
)


@dataclass(frozen=True)
class StratumQuota:
    """Quotas of one unit per applicant kind, with what moved between kinds."""

    quotas: dict[ApplicantKind, int]
    transferred: dict[ApplicantKind, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """Official list size of the unit."""
        return sum(self.quotas.values())


def fixed_with_transfer(
    wanted: Mapping[ApplicantKind, int],
    populations: Mapping[ApplicantKind, int],
    *,
    transfer: bool = True,
) -> StratumQuota:
    """Per-kind quotas capped by population; a kind's shortfall moves to the other kind."""
    quotas: dict[ApplicantKind, int] = {k: min(n, populations.get(k, 0)) for k, n in wanted.items()}
    moved: dict[ApplicantKind, int] = {}
    if transfer:
        for kind, other in TRANSFERS:
            short = wanted.get(kind, 0) - quotas.get(kind, 0)
            room = populations.get(other, 0) - quotas.get(other, 0)
            extra = max(0, min(short, room))
            if extra:
                quotas[other] = quotas.get(other, 0) + extra
                moved[other] = moved.get(other, 0) + extra
    return StratumQuota(quotas, moved)


def split_by_kind(quota: int, populations: Mapping[ApplicantKind, int]) -> StratumQuota:
    """Share a unit quota between kinds in proportion to their populations."""
    sizes = {str(k): populations.get(k, 0) for k in ("individual", "organisation")}
    result = proportional(quota, sizes, populations=sizes)
    return StratumQuota(
        {"individual": result.quotas["individual"], "organisation": result.quotas["organisation"]}
    )
