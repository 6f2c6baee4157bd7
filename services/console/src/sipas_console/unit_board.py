"""What a one-stop centre's live board shows: its unit's index and today's ratings.

Pure: it reads scoring's campaigns (``GET /v1/campaigns``: ids, titles, months) and
league-table rows (``GET /v1/indices``) and returns the few figures a screen in a hall can
show from a distance, campaign by campaign under its name: the official SIPAS index so far
(the sampled modes, with its 95% interval and n) and the ratings given at the counter
today (kiosk, which scoring keeps apart from the index; ``period=today``, the province's
day). Only figures: never a comment, a person's name or a contact.
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
    """One campaign on the board: its name, the index so far and today's counter ratings."""

    campaign_id: str
    title: str
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


def title_of(campaign: Row, lang: str) -> str | None:
    """A campaign's name in the reader's language (Vietnamese when it has no other)."""
    english = campaign.get("title_en") if lang == "en" else None
    title = english or campaign.get("title_vi")
    return str(title) if title else None


def campaign_figures(
    campaign_id: str,
    overall: Row | None,
    counter: Row | None,
    lang: str,
    title: str | None = None,
) -> CampaignFigures | None:
    """One campaign's figures from the unit's rows (index so far, counter today)."""
    if overall is None and counter is None:
        return None
    return CampaignFigures(
        campaign_id=campaign_id,
        title=title or campaign_id,
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
