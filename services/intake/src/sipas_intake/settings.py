"""Intake settings (``SIPAS_INTAKE_*``; keys and infrastructure use global ``SIPAS_*`` names)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from sipas_runtime.settings import ServiceSettings


class Settings(ServiceSettings):
    """Configuration of the intake service."""

    service_name: ClassVar[str] = "intake"
    model_config = SettingsConfigDict(
        env_prefix="SIPAS_INTAKE_", extra="ignore", populate_by_name=True
    )

    http_port: int = Field(default=8081, ge=0, le=65535)
    token_key: str = Field(validation_alias=AliasChoices("SIPAS_TOKEN_KEY", "token_key"))
    pseudonym_key: str = Field(
        validation_alias=AliasChoices("SIPAS_PSEUDONYM_KEY", "pseudonym_key")
    )
    sampling_public_key: str = Field(
        validation_alias=AliasChoices("SIPAS_SAMPLING_PUBLIC_KEY", "sampling_public_key")
    )
    alerts_public_key: str = Field(
        validation_alias=AliasChoices("SIPAS_ALERTS_PUBLIC_KEY", "alerts_public_key")
    )
    api_keys: str = Field(
        default="", description="Comma-separated bearer keys allowed to post dossiers"
    )
    republish_after_seconds: float = Field(default=5.0, gt=0)

    @property
    def api_key_set(self) -> frozenset[str]:
        """The accepted bearer keys."""
        return frozenset(k.strip() for k in self.api_keys.split(",") if k.strip())
