"""What a one-stop centre's live board shows: its unit's index and its counter's ratings.

Pure: it reads scoring's league-table rows (``GET /v1/indices``) and returns the few
figures a screen in a hall can show from a distance, campaign by campaign: the official
SIPAS index so far (the sampled modes, with its 95% interval and n) and the ratings given
at the counter this month (kiosk, which scoring keeps apart from the index). Only figures:
never a comment, a name or a contact. Scoring counts by calendar month, so "this month" is
the finest period a board can show (no service counts responses by day).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

MOST_CAMPAIGNS = 3
CANDIDATES = 6  # campaigns asked about; the unit may have data in only some
Row = Mapping[str, Any]


@dataclass(frozen=True)
class Figure:
    """An index as the board shows it: value, interval and sample size, or not enough data."""

    value: str | None
    interval: str | None
    n: int
    sufficient: bool


@dataclass(frozen=True)
class CampaignFigures:
    """One campaign on the board: the index so far and this month's counter ratings."""

    campaign_id: str
    overall: Figure | None
    responses: int
    counter: Figure | None
    counter_responses: int


def month_of(day: date) -> str:
    """The scoring period (``YYYY-MM``) that contains ``day``."""
    return f"{day.year:04d}-{day.month:02d}"


def decimal(text: str | None, lang: str) -> str | None:
    """``84.45`` written the way the reader writes numbers (``84,45`` in Vietnamese)."""
    if text is None:
        return None
    return text.replace(".", ",") if lang == "vi" else text


def figure_of(sipas: Row | None, lang: str) -> Figure | None:
    """A board figure from a scoring figure (None when scoring has none)."""
    if not sipas:
        return None
    sufficient = bool(sipas.get("sufficient")) and sipas.get("display") is not None
    return Figure(
        value=decimal(sipas.get("display"), lang) if sufficient else None,
        interval=decimal(sipas.get("ci_display"), lang) if sufficient else None,
        n=int(sipas.get("n") or 0),
        sufficient=sufficient,
    )


def campaign_figures(
    campaign_id: str, overall: Row | None, counter: Row | None, lang: str
) -> CampaignFigures | None:
    """One campaign's figures from the unit's rows (index so far, counter this month)."""
    if overall is None and counter is None:
        return None
    return CampaignFigures(
        campaign_id=campaign_id,
        overall=figure_of(overall.get("sipas"), lang) if overall else None,
        responses=int(overall.get("responses") or 0) if overall else 0,
        counter=figure_of(counter.get("sipas"), lang) if counter else None,
        counter_responses=int(counter.get("responses") or 0) if counter else 0,
    )


def busiest(campaigns: list[Row], month: str, most: int = MOST_CAMPAIGNS) -> list[str]:
    """The campaigns worth a place on the board: with data this month first, then the largest."""
    ranked = sorted(
        campaigns, key=lambda c: (month not in c.get("months", ()), -int(c.get("responses") or 0))
    )
    return [str(c["campaign_id"]) for c in ranked[:most]]


def row_of(table: Row, unit: str) -> Row | None:
    """The unit's own row of a league table (not a roll-up above it)."""
    return next((r for r in table.get("rows", ()) if r.get("unit") == unit), None)
