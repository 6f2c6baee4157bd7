"""A campaign's scoring profile: every choice the methodology leaves open, per campaign.

Defaults follow ARCHITECTURE.md "Decisions": share of levels 4-5, item n ≥ 10 to enter a
mean, a unit needs ≥ 30 respondents to be ranked, 95% intervals, kiosk answers kept
apart from the sampled index. Changing a profile changes derived figures only (counts
are untouched), and every figure records the profile revision it was computed with.
"""

from __future__ import annotations

from datetime import date
from typing import get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sipas_contracts.events import CollectionMode
from sipas_contracts.ids import CampaignId
from sipas_contracts.instrument import Catalogue
from sipas_scoring.domain import ProfileError
from sipas_scoring.domain.indices import Method, Rules
from sipas_scoring.domain.periods import Granularity
from sipas_scoring.domain.stats import z_for

ALL_MODES: tuple[CollectionMode, ...] = get_args(CollectionMode)
SAMPLED_MODES: tuple[CollectionMode, ...] = tuple(m for m in ALL_MODES if m != "kiosk")


class ProfileSettings(BaseModel):
    """The editable part of a profile (what an operator sends)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    title_vi: str | None = Field(default=None, max_length=300, description="Report title")
    title_en: str | None = Field(default=None, max_length=300)
    instrument_id: str | None = Field(
        default=None, description="Instrument of the campaign; None = the one in the data"
    )
    method: Method = Field(default="share_positive", description="Item index formula")
    n_min_item: int = Field(default=10, ge=1, le=10_000, description="Item n to enter a mean")
    n_min_unit: int = Field(default=30, ge=1, le=100_000, description="Respondents to rank")
    confidence: float = Field(default=0.95, gt=0.5, lt=1, description="Interval level")
    modes: tuple[CollectionMode, ...] = Field(
        default=SAMPLED_MODES, min_length=1, description="Collection modes in the index"
    )
    sipas_components: tuple[str, ...] | None = Field(
        default=None,
        description="Aspects (1001) or elements (2640) the campaign asks; None = all",
    )
    granularity: Granularity = Field(default="month", description="Reporting period")
    previous_campaign: CampaignId | None = Field(
        default=None, description="Campaign compared with for year-on-year rank change"
    )
    window_start: date | None = Field(default=None, description="Funnel population window")
    window_end: date | None = Field(default=None, description="Inclusive")
    hierarchy_date: date | None = Field(
        default=None, description="Date of the unit hierarchy for roll-ups; None = period end"
    )

    @model_validator(mode="after")
    def _consistent(self) -> ProfileSettings:
        if len(set(self.modes)) != len(self.modes):
            msg = "modes: each collection mode may appear once"
            raise ValueError(msg)
        if self.window_start and self.window_end and self.window_end < self.window_start:
            msg = "window_end: must not be before window_start"
            raise ValueError(msg)
        if self.sipas_components is not None and not self.sipas_components:
            msg = "sipas_components: give at least one component, or null for all"
            raise ValueError(msg)
        return self

    def rules(self) -> Rules:
        """The computation rules these settings imply."""
        return Rules(
            method=self.method,
            n_min_item=self.n_min_item,
            n_min_unit=self.n_min_unit,
            z=z_for(self.confidence),
            components=self.sipas_components,
        )


class CampaignProfile(ProfileSettings):
    """A stored profile: the settings plus who changed them and when (revision)."""

    campaign_id: CampaignId
    revision: int = Field(default=0, ge=0, description="0 = defaults, +1 per change")
    updated_by: str | None = None


def check_against(profile: ProfileSettings, catalogue: Catalogue) -> None:
    """Raise :class:`ProfileError` when the profile names components the instrument lacks."""
    if profile.sipas_components is None:
        return
    pool = catalogue.aspects if catalogue.sipas_rule == "mean_of_aspects" else catalogue.elements
    unknown = [c for c in profile.sipas_components if c not in pool]
    if unknown:
        kind = "aspects" if catalogue.sipas_rule == "mean_of_aspects" else "elements"
        msg = (
            f"sipas_components: {', '.join(unknown)} are not {kind} of {catalogue.id} "
            f"(known: {', '.join(pool)})"
        )
        raise ProfileError(msg)
