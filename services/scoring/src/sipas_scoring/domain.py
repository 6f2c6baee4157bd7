"""Scoring's pure rules: fold responses into additive counts; compute indices from counts.

Indices (methodology §3.2): item index = share of valid answers at a positive level
(blank and 'na' never count), with a 95% Wilson interval; element = mean of the item
indices whose n reaches ``n_min``; aspect = mean of its elements; SIPAS = mean of aspects
(1001) or of elements (2640). Everything is a pure function of counts, so replaying the
log reproduces it exactly.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from statistics import fmean

from sipas_contracts.events import IndexFigure, ResponseRecorded
from sipas_contracts.instrument import Catalogue

Z_95 = 1.959963984540054
NA = "na"


@dataclass
class Increment:
    """Additive change to one (campaign, unit) aggregate."""

    instrument_id: str
    responses: int = 0
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    last_at: datetime | None = None


AggregateKey = tuple[str, str]


def fold(responses: Iterable[ResponseRecorded]) -> dict[AggregateKey, Increment]:
    """Sum responses into increments per (campaign, unit); order does not matter."""
    out: dict[AggregateKey, Increment] = {}
    for response in responses:
        inc = out.setdefault(
            (response.campaign_id, response.unit), Increment(response.instrument_id)
        )
        inc.responses += 1
        for item, answer in response.answers.items():
            level = str(answer)
            per_item = inc.counts.setdefault(item, {})
            per_item[level] = per_item.get(level, 0) + 1
        if inc.last_at is None or response.occurred_at > inc.last_at:
            inc.last_at = response.occurred_at
    return out


def wilson(successes: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval of a proportion, in percent."""
    if n == 0:
        return (0.0, 100.0)
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    # Floating point can put a bound a hair on the wrong side of p at 0% or 100%.
    return (100 * max(0.0, min(p, centre - half)), 100 * min(1.0, max(p, centre + half)))


def item_figure(
    catalogue: Catalogue, item_id: str, counts: Mapping[str, int], n_min: int
) -> IndexFigure:
    """Share of positive answers among valid ones, with n and a Wilson 95% interval."""
    item = catalogue.items[item_id]
    scale = catalogue.scales[item.scale]
    valid = sum(n for level, n in counts.items() if level != NA and int(level) in scale.values)
    positive = sum(n for level, n in counts.items() if level != NA and int(level) in item.positive)
    if valid == 0:
        return IndexFigure(value=None, n=0, sufficient=False)
    low, high = wilson(positive, valid)
    return IndexFigure(
        value=100 * positive / valid, ci_low=low, ci_high=high, n=valid, sufficient=valid >= n_min
    )


def _mean(figures: list[IndexFigure], n: int) -> IndexFigure:
    usable = [f.value for f in figures if f.sufficient and f.value is not None]
    if not usable:
        return IndexFigure(value=None, n=n, sufficient=False)
    return IndexFigure(value=fmean(usable), n=n, sufficient=True)


@dataclass(frozen=True)
class UnitIndex:
    """All figures for one aggregate."""

    sipas: IndexFigure
    aspects: dict[str, IndexFigure]
    elements: dict[str, IndexFigure]


def compute_index(
    catalogue: Catalogue, counts: Mapping[str, Mapping[str, int]], responses: int, n_min: int
) -> UnitIndex:
    """Element, aspect and SIPAS figures for one unit from its answer counts."""
    elements: dict[str, IndexFigure] = {}
    for element in catalogue.elements.values():
        items = [item_figure(catalogue, i, counts.get(i, {}), n_min) for i in element.items]
        elements[element.id] = _mean(items, sum(f.n for f in items))
    aspects = {
        aspect.id: _mean([elements[e] for e in aspect.elements], responses)
        for aspect in catalogue.aspects.values()
    }
    parts = aspects if catalogue.sipas_rule == "mean_of_aspects" else elements
    return UnitIndex(
        sipas=_mean(list(parts.values()), responses), aspects=aspects, elements=elements
    )
