"""Response models of the scoring API, so the OpenAPI document describes every field.

The routes build plain documents (see :mod:`sipas_scoring.rendering`); these models
validate and document them. Extra fields are allowed so a snapshot frozen by an older
version still serves.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class FigureOut(_Open):
    """One figure: exact value, official display, 95% interval, n, sufficiency."""

    value: float | None = Field(description="Percent, full precision (None: no data)")
    display: str | None = Field(description="Rounded half-up to 2 decimals, e.g. '84.45'")
    exact: str | None = Field(description="Exact rational value 'p/q' computed from the counts")
    ci_low: float | None
    ci_high: float | None
    ci_display: str | None = Field(description="e.g. '80.12–88.34'")
    n: float = Field(description="Valid answers (items) or respondents (means)")
    sufficient: bool = Field(description="Reaches the campaign's minimum n (else not ranked)")
    label: str | None = Field(description="The display value, or 'không đủ dữ liệu'")
    basis: list[str] = Field(description="Components averaged (items, elements or aspects)")


class RowOut(_Open):
    """One unit (or roll-up) of a league table."""

    unit: str
    name: str
    tier: str = Field(description="province, district, commune, department or unknown")
    rollup: bool = Field(description="Sums the counts of the units below it")
    responses: float
    responses_by_kind: dict[str, float]
    sipas: FigureOut
    complete: bool = Field(description="SIPAS covers every component of its rule")
    segments: dict[str, FigureOut | None] = Field(description="SIPAS per applicant kind")
    aspects: dict[str, FigureOut | None]
    elements: dict[str, FigureOut | None]
    previous: FigureOut | None = Field(description="Previous period or campaign, same unit")
    estimated_previous: bool = Field(description="Previous apportioned from a split unit")
    rank: int | None = Field(description="Competition rank within the tier (unrounded values)")
    previous_rank: int | None
    rank_change: int | None = Field(description="Positive = moved up")


class Note(_Open):
    """A note shown under the table."""

    vi: str
    en: str


class TableOut(_Open):
    """A campaign period's league table and everything needed to explain it."""

    campaign_id: str
    period: str = Field(description="campaign, YYYY, YYYY-Qn or YYYY-MM")
    periods: list[str] = Field(description="Periods with data (profile granularity)")
    months: list[str]
    instrument_id: str
    sipas_rule: str
    method: str
    modes: list[str] = Field(description="Collection modes counted")
    kind: str = Field(description="individual, organisation or all")
    hierarchy_date: str = Field(description="Date of the unit hierarchy used for roll-ups")
    compared_with: dict[str, str] | None
    through_seq: int = Field(description="Highest RESPONSES sequence counted")
    gaps: list[list[int]] = Field(description="Sequences below it not counted (dead-lettered)")
    generated_at: str
    notes: list[Note]
    rows: list[RowOut]


class UnitDetailOut(TableOut):
    """A table's explanation plus one unit's every item and its raw counts."""

    rows: list[RowOut] = Field(default_factory=list)
    unit: RowOut
    counts: dict[str, object] = Field(description="Canonical counts (per item and level)")


class ChannelOut(_Open):
    """Invitations of one channel."""

    invited: int
    responded: int
    rate: FigureOut


class FunnelRowOut(_Open):
    """One unit's survey funnel."""

    unit: str
    name: str
    tier: str
    rollup: bool
    eligible: int = Field(description="Completed dossiers in the window")
    eligible_by_channel: dict[str, int]
    invited: int
    responded: int
    response_rate: FigureOut
    channels: dict[str, ChannelOut]
    responses_by_mode: dict[str, int]
    responses: int


class FunnelOut(_Open):
    """The funnel of a campaign."""

    campaign_id: str
    window_start: str | None
    window_end: str | None
    rows: list[FunnelRowOut]


class CampaignOut(_Open):
    """A campaign present in the counts."""

    campaign_id: str
    responses: int
    units: int
    months: list[str]
    instruments: list[str]
    profile_revision: int
    title_vi: str | None = Field(description="Report title (the campaign's name) in Vietnamese")
    title_en: str | None = Field(description="Report title in English, if any")
