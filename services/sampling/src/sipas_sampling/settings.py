"""Sampling settings (``SIPAS_SAMPLING_*``; keys use global ``SIPAS_*`` names)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from sipas_runtime.settings import ServiceSettings


class Settings(ServiceSettings):
    """Configuration of the sampling service."""

    service_name: ClassVar[str] = "sampling"
    model_config = SettingsConfigDict(
        env_prefix="SIPAS_SAMPLING_", extra="ignore", populate_by_name=True
    )

    http_port: int = Field(default=8082, ge=0, le=65535)
    token_key: str = Field(validation_alias=AliasChoices("SIPAS_TOKEN_KEY", "token_key"))
    secret_key: str = Field(
        validation_alias=AliasChoices("SIPAS_SAMPLING_SECRET_KEY", "secret_key"),
        description="Curve25519 secret key that opens contacts sealed by intake",
    )
    campaign_id: str = "demo"
    instrument_id: str = "sipas-1001-2023"
    sampling_rate: float = Field(default=0.5, ge=0, le=1)
    seed: str = Field(default="sipas-demo", min_length=1)
    token_ttl_days: int = Field(default=14, ge=1, le=120)
    survey_base_url: str = Field(
        default="http://127.0.0.1:8081",
        validation_alias=AliasChoices("SIPAS_SURVEY_BASE_URL", "survey_base_url"),
    )
    channel_order: str = "zalo,sms,email"
    dev_outbox: bool = Field(
        default=False, description="Keep sent messages readable at /dev/outbox (development only)"
    )
