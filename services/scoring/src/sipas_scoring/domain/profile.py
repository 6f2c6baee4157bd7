"""A campaign's scoring profile: every choice the methodology leaves open, per campaign.

Defaults follow ARCHITECTURE.md "Decisions": share of levels 4-5, item n ≥ 10 to enter a
mean, a unit needs ≥ 30 respondents to be ranked, 95% intervals, kiosk answers kept
apart from the sampled index. Changing a profile changes derived figures only (counts
are untouched), and every figure records the profile revision it was computed with.

Three layers, each overriding the one before: the service defaults, the campaign's plan
(``campaign-planned``: title, instrument, window and the unit threshold, which follows
the plan when it samples fewer than the default per unit — seed 002 ranks on 25 forms),
and what an operator set explicitly.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, get_args

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from sipas_contracts.events import CampaignPlanned, CollectionMode
from sipas_contracts.ids import CampaignId
from sipas_contracts.instrument import Catalogue
from sipas_scoring.domain import ProfileError
from sipas_scoring.domain.indices import Method, Rules
from sipas_scoring.domain.periods import Reporting
from sipas_scoring.domain.stats import z_for

ALL_MODES: tuple[CollectionMode, ...] = get_args(CollectionMode)
SAMPLED_MODES: tuple[CollectionMode, ...] = tuple(m for m in ALL_MODES if m != "kiosk")


def _written_date(value: object) -> object:
    """A date is written YYYY-MM-DD (pydantic alone reads a number as a Unix time)."""
    if isinstance(value, int | float):
        msg = "expected a date written YYYY-MM-DD"
        raise ValueError(msg)  # noqa: TRY004 - pydantic reports a ValueError as the field's error
    return value


DateText = Annotated[date, BeforeValidator(_written_date)]


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
        default=SAMPLED_MODES,
        min_length=1,
        description="Collection modes in the index",
        json_schema_extra={"uniqueItems": True},
    )
    sipas_components: tuple[str, ...] | None = Field(
        default=None,
        description="Aspects (1001) or elements (2640) the campaign asks; None = all",
        json_schema_extra={"minItems": 1},  # an empty list is refused (below), null is all
    )
    granularity: Reporting = Field(default="month", description="Reporting period")
    previous_campaign: CampaignId | None = Field(
        default=None, description="Campaign compared with for year-on-year rank change"
    )
    window_start: DateText | None = Field(default=None, description="Funnel population window")
    window_end: DateText | None = Field(default=None, description="Inclusive")
    hierarchy_date: DateText | None = Field(
        default=None, description="Date of the unit hierarchy for roll-ups; None = period end"
    )
    issuer_parent: str | None = Field(
        default=None,
        max_length=120,
        description="Report heading: parent agency (cơ quan chủ quản); None = the province's "
        "People's Committee",
    )
    issuer: str | None = Field(
        default=None, max_length=120, description="Issuing agency; None = SỞ NỘI VỤ"
    )
    issuer_code: str | None = Field(
        default=None,
        max_length=20,
        pattern=r"^[A-ZĐ0-9&-]+$",
        description="Agency abbreviation in the number (…/BC-SNV); None = SNV",
    )
    place: str | None = Field(
        default=None, max_length=60, description="Place of issue; None = the province's name"
    )
    recipients: tuple[str, ...] | None = Field(
        default=None, max_length=30, description="Nơi nhận, one line each; None = the usual list"
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
    planned_per_unit: int | None = Field(
        default=None, description="Forms the campaign's plan gives each unit (from sampling)"
    )
    planned_units: tuple[str, ...] = Field(
        default=(), description="Units the campaign's plan rates (from sampling)"
    )


def plan_threshold(default: int, plan: CampaignPlanned) -> int:
    """Respondents a unit of this plan needs to be ranked.

    The plan's own number when it sets one; else the default, unless the plan samples
    fewer per unit, when a unit that answered every form of its plan must be rankable.
    """
    if plan.n_min_unit is not None:
        return plan.n_min_unit
    if plan.planned_per_unit is not None:
        return min(default, plan.planned_per_unit)
    return default


def effective_profile(
    campaign_id: str,
    defaults: ProfileSettings,
    plan: CampaignPlanned | None,
    explicit: dict[str, object],
    *,
    revision: int = 0,
    updated_by: str | None = None,
) -> CampaignProfile:
    """The profile in force: service defaults, then the plan, then what an operator set."""
    values: dict[str, object] = defaults.model_dump()
    if plan is not None:
        values |= {
            "title_vi": plan.name_vi,
            "title_en": plan.name_en,
            "instrument_id": plan.instrument_id,
            "window_start": plan.window_start,
            "window_end": plan.window_end,
            "n_min_unit": plan_threshold(defaults.n_min_unit, plan),
        }
    return CampaignProfile.model_validate(
        {
            **values,
            **explicit,
            "campaign_id": campaign_id,
            "revision": revision,
            "updated_by": updated_by,
            "planned_per_unit": plan.planned_per_unit if plan else None,
            "planned_units": tuple(plan.units) if plan else (),
        }
    )


def check_plan(settings: ProfileSettings, plan: CampaignPlanned | None) -> None:
    """Raise :class:`ProfileError` when no unit of the plan could ever reach ``n_min_unit``."""
    planned = plan.planned_per_unit if plan else None
    if planned is not None and settings.n_min_unit > planned:
        msg = (
            f"n_min_unit: {settings.n_min_unit} respondents are needed to rank a unit, but "
            f"the campaign's plan samples {planned} per unit; no unit could ever be ranked "
            f"(at most {planned})"
        )
        raise ProfileError(msg)


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
