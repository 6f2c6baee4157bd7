"""Intake settings (``SIPAS_INTAKE_*``; keys and infrastructure use global ``SIPAS_*`` names)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from sipas_runtime.settings import ServiceSettings


def _pairs(text: str, what: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for entry in (e.strip() for e in text.split(",")):
        if not entry:
            continue
        name, sep, value = entry.partition("=")
        if not sep or not name.strip() or not value.strip():
            msg = f"{what}: {entry.split('=')[0]!r} must be written name=value"
            raise ValueError(msg)
        pairs[name.strip()] = value.strip()
    return pairs


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
    survey_base_url: str = Field(
        default="http://127.0.0.1:8081",
        validation_alias=AliasChoices("SIPAS_SURVEY_BASE_URL", "survey_base_url"),
        description="Public base URL of the survey form; https makes cookies Secure",
    )
    field_maps_dir: Path | None = Field(
        default=None, description="Folder of *.yaml field maps (besides the shipped ones)"
    )
    source_formats: str = Field(
        default="", description="Raw NATS sources and their format, e.g. motcua=hoso"
    )
    form_profiles: str = Field(
        default="", description="Form profile per campaign, e.g. ht-2026=tthc_user"
    )
    default_form_profile: str = Field(default="tthc_user")
    max_batch_records: int = Field(default=1000, ge=1, le=10_000)
    max_upload_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    form_max_bytes: int = Field(default=64 * 1024, ge=1024)
    form_rate: str = Field(default="120/minute", description="Form pages per client address")
    submit_rate: str = Field(default="30/minute", description="Form posts per client address")
    kiosk_interval_seconds: float = Field(
        default=10.0, ge=0, description="Minimum time between two answers on one kiosk"
    )
    kiosk_idle_seconds: int = Field(default=90, ge=3, description="Idle kiosk form resets")
    kiosk_thanks_seconds: int = Field(
        default=5, ge=1, le=60, description="How long the kiosk thanks before a blank form"
    )
    session_max_age_seconds: int = Field(default=24 * 3600, ge=60)
    republish_after_seconds: float = Field(default=5.0, gt=0)

    @property
    def source_format_map(self) -> dict[str, str]:
        """Raw source token → format name."""
        return _pairs(self.source_formats, "source_formats")

    def form_profile(self, campaign_id: str) -> str:
        """The form profile a campaign's respondents answer (default ``tthc_user``)."""
        return _pairs(self.form_profiles, "form_profiles").get(
            campaign_id, self.default_form_profile
        )

    @property
    def secure_cookies(self) -> bool:
        """Cookies are marked Secure when the form is served over https."""
        return self.survey_base_url.startswith("https://")
