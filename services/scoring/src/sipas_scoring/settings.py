"""Scoring settings (``SIPAS_SCORING_*``)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from sipas_runtime.settings import ServiceSettings


class Settings(ServiceSettings):
    """Configuration of the scoring service."""

    service_name: ClassVar[str] = "scoring"
    model_config = SettingsConfigDict(
        env_prefix="SIPAS_SCORING_", extra="ignore", populate_by_name=True
    )

    http_port: int = Field(default=8083, ge=0, le=65535)
    n_min: int = Field(default=10, ge=1, description="Minimum valid answers for an item index")
