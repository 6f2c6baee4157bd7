"""Scoring settings (``SIPAS_SCORING_*``).

The ``n_min``/``n_min_unit``/``method`` values are the defaults of campaigns that have
no stored profile; a profile set through the API overrides them per campaign.
"""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar, Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from sipas_runtime.settings import ServiceSettings
from sipas_scoring.domain.profile import ProfileSettings


class Settings(ServiceSettings):
    """Configuration of the scoring service."""

    service_name: ClassVar[str] = "scoring"
    model_config = SettingsConfigDict(
        env_prefix="SIPAS_SCORING_", extra="ignore", populate_by_name=True
    )

    http_port: int = Field(default=8083, ge=0, le=65535)
    n_min: int = Field(
        default=10, ge=1, description="Default minimum valid answers for an item index"
    )
    n_min_unit: int = Field(
        default=30, ge=1, description="Default minimum respondents for a unit to be ranked"
    )
    method: Literal["share_positive", "mean_score"] = Field(
        default="share_positive", description="Default item index formula"
    )
    utc_offset_minutes: int = Field(
        default=420,
        ge=-720,
        le=840,
        description="Local time of the province for month buckets (Vietnam: UTC+7, no DST); "
        "changing it needs a rebuild",
    )
    index_interval: float = Field(
        default=0.1,
        gt=0,
        le=60,
        description="Seconds between index publications: at most one index-updated per "
        "(campaign, unit, period) per interval, however many responses arrive",
    )
    rollup_interval: float = Field(
        default=1.0,
        gt=0,
        le=300,
        description="Seconds between publications of roll-ups (district, province) and of "
        "calendar-period figures; whole-campaign unit figures follow index_interval",
    )
    responses_pace: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="Seconds between batches of the responses consumer at most (0: a batch "
        "as soon as responses arrive): fewer, larger folds and acks at the cost of up to "
        "this much latency before the next index round",
    )
    funnel_interval: float = Field(
        default=0.5,
        ge=0,
        le=10,
        description="Seconds between batches of the funnel consumers (dossiers, "
        "invitations): few large batches leave the database to the index's path",
    )

    @property
    def utc_offset(self) -> timedelta:
        """The province's offset from UTC."""
        return timedelta(minutes=self.utc_offset_minutes)

    def profile_defaults(self) -> ProfileSettings:
        """Profile settings of a campaign nobody configured (and of omitted fields)."""
        return ProfileSettings(
            n_min_item=self.n_min, n_min_unit=self.n_min_unit, method=self.method
        )
