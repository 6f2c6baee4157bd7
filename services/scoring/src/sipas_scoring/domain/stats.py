"""Statistics: Wilson intervals, exact half-up rounding, competition ranking.

Index values are exact fractions (Python ``Fraction``), so equal values are *exactly*
equal, ranks never depend on floating-point noise, and a display value such as 84.45 is
the true value rounded half-up, not the rounding of an approximation.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from fractions import Fraction
from statistics import NormalDist

from sipas_scoring.domain.tally import Count

Z_95 = 1.959963984540054


def z_for(confidence: float) -> float:
    """The two-sided normal quantile for a confidence level, e.g. 0.95 -> 1.96."""
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def wilson(successes: Count, n: Count, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval of a proportion, in percent ((0, 100) when n is 0).

    Also used for means of a variable bounded in [0, 1] (the rescaled mean score), where
    it is conservative: such a variable's variance is at most ``p(1 - p)``.
    """
    if n <= 0:
        return (0.0, 100.0)
    p = float(successes) / float(n)
    nf = float(n)
    denominator = 1 + z * z / nf
    centre = (p + z * z / (2 * nf)) / denominator
    half = z * math.sqrt(max(0.0, p * (1 - p) / nf + z * z / (4 * nf * nf))) / denominator
    # Floating point can put a bound a hair on the wrong side of p at 0% or 100%.
    return (100 * max(0.0, min(p, centre - half)), 100 * min(1.0, max(p, centre + half)))


def round_half_up(value: Fraction | float, places: int = 2) -> str:
    """``value`` rounded half-up (away from zero) to ``places`` decimals, as text."""
    exact = Fraction(value)
    scale = 10**places
    scaled = abs(exact) * scale
    units = math.floor(scaled + Fraction(1, 2))
    sign = "-" if exact < 0 and units else ""
    whole, fraction = divmod(units, scale)
    return f"{sign}{whole}.{fraction:0{places}d}" if places else f"{sign}{whole}"


def competition_ranks(values: Mapping[str, Fraction]) -> dict[str, int]:
    """Standard competition ranking ("1224"), highest value first, on exact values."""
    ordered = sorted(values.items(), key=lambda kv: (-kv[1], kv[0]))
    ranks: dict[str, int] = {}
    previous: Fraction | None = None
    rank = 0
    for position, (key, value) in enumerate(ordered, start=1):
        if value != previous:
            rank = position
            previous = value
        ranks[key] = rank
    return ranks
