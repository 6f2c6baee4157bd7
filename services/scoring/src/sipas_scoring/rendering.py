"""Domain figures as JSON-ready documents (API answers, exports, publication snapshots).

Every figure carries its full-precision value, the half-up rounded ``display`` text, the
exact rational value (``exact``, ``"p/q"``) an auditor can re-derive from the counts, the
interval, ``n`` and whether it is sufficient.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from sipas_scoring.domain.funnel import FunnelRow
from sipas_scoring.domain.indices import Figure
from sipas_scoring.domain.stats import round_half_up
from sipas_scoring.domain.tables import Row
from sipas_scoring.domain.tally import Count
from sipas_scoring.labels import label

Json = dict[str, Any]


def number(n: Count) -> int | float:
    """A count as JSON: integers stay integers; apportioned counts get 2 decimals."""
    if isinstance(n, int) or n.denominator == 1:
        return int(n)
    return float(round_half_up(n))


def figure_json(figure: Figure | None) -> Json | None:
    """A figure, or None."""
    if figure is None:
        return None
    value = figure.value
    return {
        "value": None if value is None else float(value),
        "display": figure.display,
        "exact": None if value is None else _exact(value),
        "ci_low": figure.low,
        "ci_high": figure.high,
        "ci_display": (
            None
            if figure.low is None or figure.high is None
            else f"{round_half_up(figure.low)}–{round_half_up(figure.high)}"
        ),
        "n": number(figure.n),
        "sufficient": figure.sufficient,
        "label": figure.display if figure.sufficient else label("insufficient"),
        "basis": list(figure.basis),
    }


def _exact(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else f"{value}"


def row_json(row: Row) -> Json:
    """One unit's line: SIPAS, segments, aspects, elements, previous, rank."""
    index = row.index
    return {
        "unit": row.unit,
        "name": row.name,
        "tier": row.tier,
        "rollup": row.rollup,
        "responses": number(index.responses),
        "responses_by_kind": {k: number(n) for k, n in row.responses_by_kind.items()},
        "sipas": figure_json(index.sipas),
        "complete": index.complete,
        "segments": {k: figure_json(f) for k, f in row.segments.items()},
        "aspects": {k: figure_json(f) for k, f in index.aspects.items()},
        "elements": {k: figure_json(f) for k, f in index.elements.items()},
        "previous": figure_json(row.previous),
        "estimated_previous": row.estimated_previous,
        "rank": row.rank,
        "previous_rank": row.previous_rank,
        "rank_change": row.rank_change,
    }


def detail_json(row: Row) -> Json:
    """A unit's line plus every item, perception and expectation figure."""
    index = row.index
    return {
        **row_json(row),
        "items": {k: figure_json(f) for k, f in index.items.items()},
        "perception": {k: figure_json(f) for k, f in index.perception.items() if f.n},
        "expectation": {k: figure_json(f) for k, f in index.expectation.items() if f.n},
    }


def funnel_json(row: FunnelRow) -> Json:
    """One unit's funnel."""
    return {
        "unit": row.unit,
        "name": row.name,
        "tier": row.tier,
        "rollup": row.rollup,
        "eligible": row.eligible_total,
        "eligible_by_channel": row.eligible,
        "invited": row.invited_total,
        "responded": row.responded_total,
        "response_rate": figure_json(row.rate),
        "channels": {
            ch: {"invited": c.invited, "responded": c.responded, "rate": figure_json(c.rate)}
            for ch, c in row.channels.items()
        },
        "responses_by_mode": row.responses,
        "responses": sum(row.responses.values()),
    }
