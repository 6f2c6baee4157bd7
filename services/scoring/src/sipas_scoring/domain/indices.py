"""Indices as pure functions of a tally (methodology §3.2; ARCHITECTURE "Decisions").

- **Item** (satisfaction): share of valid answers at a positive level (Hài lòng, Rất hài
  lòng); blank and ``na`` never count. Switch ``mean_score``: ``100·(mean−min)/(max−min)``
  (``100·(mean−1)/4`` on the 5-level scale) from the same counts. 95% interval: Wilson
  (for the mean score, Wilson on the rescaled mean, conservative for a bounded variable).
- **Element** = mean of its item indices with ``n ≥ n_min_item``; **aspect** = mean of its
  elements with data; **SIPAS** = mean of aspects (1001) or of elements (2640), over the
  components the campaign asks. A component without data is left out of the mean and the
  figure names the components it used (``basis``).
- **Interval of a mean** = [mean of the components' lower bounds, mean of their upper
  bounds]. Its half-width is the mean of the components' half-widths, which bounds the
  standard error of a mean of correlated shares whatever their correlation (Minkowski:
  ``sd(ΣX) ≤ Σ sd(X)``), so it is conservative and needs nothing but counts.
- **Perception** index = share of the favourable option(s); **expectation** index = share
  of the two highest levels; both with Wilson intervals.
- ``n``: valid answers for an item; respondents with at least one valid answer in the
  element / aspect / satisfaction part for the means. SIPAS is *sufficient* (rankable)
  when it has a value and ``n ≥ n_min_unit``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal, NamedTuple

from sipas_contracts.events import IndexFigure
from sipas_contracts.instrument import Catalogue, Item, Scale
from sipas_scoring.domain.stats import Z_95, round_half_up, wilson
from sipas_scoring.domain.tally import ALL, NA, Count, Tally

Method = Literal["share_positive", "mean_score"]


@dataclass(frozen=True)
class Rules:
    """How figures are computed for one campaign (from its profile)."""

    method: Method = "share_positive"
    n_min_item: int = 10
    n_min_unit: int = 30
    z: float = Z_95
    components: tuple[str, ...] | None = None
    """SIPAS components the campaign asks (aspect or element ids); None = all of them."""


class Figure(NamedTuple):
    """One figure: exact value (percent), interval, n, sufficiency and what it averages.

    A named tuple: thousands are built per index round, and tuples are the cheapest
    immutable records Python has.
    """

    value: Fraction | None
    low: float | None
    high: float | None
    n: Count
    sufficient: bool
    basis: tuple[str, ...] = ()

    @property
    def display(self) -> str | None:
        """The value rounded half-up to 2 decimals (None without a value)."""
        return None if self.value is None else round_half_up(self.value)

    def contract(self) -> IndexFigure:
        """The figure as published in events (floats; n rounded for apportioned counts)."""
        return IndexFigure(
            value=None if self.value is None else float(self.value),
            ci_low=self.low,
            ci_high=self.high,
            n=self.n if isinstance(self.n, int) else int(round_half_up(self.n, 0)),
            sufficient=self.sufficient,
        )


EMPTY = Figure(value=None, low=None, high=None, n=0, sufficient=False)


@dataclass(frozen=True)
class UnitIndex:
    """Every figure of one tally."""

    responses: Count
    sipas: Figure
    aspects: dict[str, Figure]
    elements: dict[str, Figure]
    items: dict[str, Figure]
    perception: dict[str, Figure]
    expectation: dict[str, Figure]
    complete: bool
    method: Method


def _valid_levels(scale: Scale, counts: Mapping[str, Count]) -> dict[int, Count]:
    return {int(lv): n for lv, n in counts.items() if lv != NA and int(lv) in scale.values}


@functools.lru_cache(maxsize=1024)
def _level_texts(values: tuple[int, ...], positive: tuple[int, ...]) -> tuple[tuple[str, ...], ...]:
    """The count keys of a scale's valid levels and of its favourable ones."""
    return tuple(str(v) for v in values), tuple(str(v) for v in values if v in positive)


class _Planned(NamedTuple):
    """One item as an index round reads it: its section, scale and count keys."""

    item: Item
    scale: Scale
    valid_keys: tuple[str, ...]
    positive_keys: tuple[str, ...]


_PLANS: dict[int, tuple[Catalogue, tuple[_Planned, ...]]] = {}


def _plan(catalogue: Catalogue) -> tuple[_Planned, ...]:
    """The items of ``catalogue`` with their count keys, worked out once per catalogue.

    Keyed by identity (catalogues are frozen and loaded once); the entry holds the
    catalogue, so its id cannot be reused while the entry lives.
    """
    entry = _PLANS.get(id(catalogue))
    if entry is None or entry[0] is not catalogue:
        if len(_PLANS) >= 64:  # noqa: PLR2004 - a handful of catalogues in practice
            _PLANS.clear()
        planned = []
        for item in catalogue.items.values():
            scale = catalogue.scales[item.scale]
            valid, positive = _level_texts(tuple(scale.values), item.positive)
            planned.append(_Planned(item, scale, valid, positive))
        entry = _PLANS[id(catalogue)] = (catalogue, tuple(planned))
    return entry[1]


def share_figure(item: Item, scale: Scale, counts: Mapping[str, Count], rules: Rules) -> Figure:
    """Share of favourable answers among valid ones, with a Wilson interval.

    Counts are keyed by the level's code as text (``"4"``; ``"na"`` and codes off the
    scale are never valid), as :class:`Tally` stores them.
    """
    valid_keys, positive_keys = _level_texts(tuple(scale.values), item.positive)
    return _share(valid_keys, positive_keys, counts, rules)


def _share(
    valid_keys: tuple[str, ...],
    positive_keys: tuple[str, ...],
    counts: Mapping[str, Count],
    rules: Rules,
) -> Figure:
    get = counts.get
    valid: Count = 0
    for key in valid_keys:
        valid += get(key, 0)
    if not valid:
        return EMPTY
    positive: Count = 0
    for key in positive_keys:
        positive += get(key, 0)
    low, high = wilson(positive, valid, rules.z)
    return Figure(_percent(positive, valid), low, high, valid, valid >= rules.n_min_item)


def _percent(part: Count, whole: Count) -> Fraction:
    if isinstance(part, int) and isinstance(whole, int):
        return Fraction(100 * part, whole)  # one normalisation instead of three
    return Fraction(100) * Fraction(part) / Fraction(whole)


def exact_mean(values: list[Fraction]) -> Fraction:
    """The exact mean of fractions, with integer arithmetic (one normalisation)."""
    if len(values) == 1:
        return values[0]
    pairs = [v.as_integer_ratio() for v in values]
    common = math.lcm(*(d for _, d in pairs))
    numerator = sum(n * (common // d) for n, d in pairs)
    return Fraction(numerator, common * len(values))


def mean_score_figure(scale: Scale, counts: Mapping[str, Count], rules: Rules) -> Figure:
    """``100·(mean − min)/(max − min)`` on the item's scale, with a conservative interval."""
    levels = _valid_levels(scale, counts)
    valid = sum(levels.values())
    if not valid:
        return EMPTY
    lowest, highest = min(scale.values), max(scale.values)
    mean = Fraction(sum(code * n for code, n in levels.items())) / Fraction(valid)
    p = (mean - lowest) / (highest - lowest)
    low, high = wilson(p * valid, valid, rules.z)
    return Figure(100 * p, low, high, valid, valid >= rules.n_min_item)


def mean_of(parts: Mapping[str, Figure], n: Count, *, n_min: int = 0) -> Figure:
    """Mean of the parts that have data, with the mean of their bounds as the interval."""
    return _mean_of(parts.items(), n, n_min)


def _mean_of(parts: Iterable[tuple[str, Figure]], n: Count, n_min: int = 0) -> Figure:
    used: list[str] = []
    values: list[Fraction] = []
    lows: list[float] = []
    highs: list[float] = []
    for key, figure in parts:
        value = figure.value
        if value is None or not figure.sufficient:
            continue
        used.append(key)
        values.append(value)
        if figure.low is not None:
            lows.append(figure.low)
        if figure.high is not None:
            highs.append(figure.high)
    if not used:
        return Figure(None, None, None, n, sufficient=False)
    low, high = sum(lows) / len(lows), sum(highs) / len(highs)
    return Figure(exact_mean(values), low, high, n, n >= n_min, tuple(used))


def item_figures(
    catalogue: Catalogue, tally: Tally, rules: Rules, sections: tuple[str, ...]
) -> dict[str, dict[str, Figure]]:
    """Figures of every item of ``sections``, by section then item id."""
    out: dict[str, dict[str, Figure]] = {section: {} for section in sections}
    mean_score = rules.method == "mean_score"
    counted = tally.counts
    for item, scale, valid_keys, positive_keys in _plan(catalogue):
        section = out.get(item.section)
        if section is None:
            continue
        counts = counted.get(item.id, _NONE)
        if mean_score and item.section == "satisfaction":
            figure = mean_score_figure(scale, counts, rules)
        else:  # satisfaction share, perception (favourable), expectation (two highest)
            figure = _share(valid_keys, positive_keys, counts, rules)
        section[item.id] = figure
    return out


_NONE: Mapping[str, Count] = {}


def compute_index(
    catalogue: Catalogue, tally: Tally, rules: Rules, *, satisfaction_only: bool = False
) -> UnitIndex:
    """Item, element, aspect, SIPAS, perception and expectation figures of a tally.

    ``satisfaction_only`` skips the perception and expectation items (not part of SIPAS).
    """
    sections = (
        ("satisfaction",) if satisfaction_only else ("satisfaction", "perception", "expectation")
    )
    figures = item_figures(catalogue, tally, rules, sections)
    items, perception, expectation = (
        figures.get(s, {}) for s in ("satisfaction", "perception", "expectation")
    )
    coverage = tally.coverage
    elements = {
        e.id: _mean_of(((i, items[i]) for i in e.items), coverage.get(e.id, 0))
        for e in catalogue.elements.values()
    }
    aspects = {
        a.id: _mean_of(((e, elements[e]) for e in a.elements), coverage.get(a.id, 0))
        for a in catalogue.aspects.values()
    }
    parts = aspects if catalogue.sipas_rule == "mean_of_aspects" else elements
    asked = {k: f for k, f in parts.items() if rules.components is None or k in rules.components}
    sipas = mean_of(asked, tally.coverage.get(ALL, 0), n_min=rules.n_min_unit)
    return UnitIndex(
        responses=tally.responses,
        sipas=sipas,
        aspects=aspects,
        elements=elements,
        items=items,
        perception=perception,
        expectation=expectation,
        complete=sipas.basis == tuple(parts),
        method=rules.method,
    )
