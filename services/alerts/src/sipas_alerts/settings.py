"""Alerts settings (``SIPAS_ALERTS_*``)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from sipas_runtime.settings import ServiceSettings


class Settings(ServiceSettings):
    """Configuration of the alerts service."""

    service_name: ClassVar[str] = "alerts"
    model_config = SettingsConfigDict(
        env_prefix="SIPAS_ALERTS_", extra="ignore", populate_by_name=True
    )

    http_port: int = Field(default=8084, ge=0, le=65535)
    low_rating_max: int = Field(default=2, ge=1, le=4, description="Ratings at or below alert")
