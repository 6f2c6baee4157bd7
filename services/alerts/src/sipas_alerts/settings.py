"""Alerts settings (``SIPAS_ALERTS_*``)."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import ClassVar

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from sipas_runtime.channels import SmtpFields
from sipas_runtime.settings import ServiceSettings, decode_key

_CURVE_KEY_BYTES = 32


def _instance() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class Settings(ServiceSettings, SmtpFields):
    """Configuration of the alerts service."""

    service_name: ClassVar[str] = "alerts"
    model_config = SettingsConfigDict(
        env_prefix="SIPAS_ALERTS_", extra="ignore", populate_by_name=True
    )

    http_port: int = Field(default=8084, ge=0, le=65535)
    policy_file: Path | None = Field(
        default=None, description="Alert policy YAML (rules, SLA, calendar, routing)"
    )
    secret_key: SecretStr | None = Field(
        default=None, description="NaCl secret key opening respondents' call-back contacts"
    )
    console_url: str = Field(
        default="http://127.0.0.1:8080",
        validation_alias=AliasChoices(
            "SIPAS_ALERTS_CONSOLE_URL", "SIPAS_CONSOLE_PUBLIC_URL", "console_url"
        ),
        description="The console's address: notifications link to the case page there",
    )
    comment_classifier: str = Field(default="lexicon", description="lexicon or a plug-in name")
    smtp_sender: str = "canhbao@example.gov.vn"
    smtp_sender_name: str = "SIPAS — Cảnh báo hài lòng"
    webhook_secret: SecretStr | None = Field(
        default=None, description="Base64 key (32+ bytes) signing notification webhooks"
    )
    sla_interval: float = Field(default=30.0, gt=0, description="Seconds between SLA sweeps")
    notify_interval: float = Field(default=1.0, gt=0)
    relay_interval: float = Field(default=15.0, gt=0)
    activity_interval: float = Field(default=3600.0, gt=0)
    housekeeping_interval: float = Field(default=3600.0, gt=0)
    lease_seconds: float = Field(default=120.0, ge=5)
    callback_retention_days: float = Field(default=30, ge=0)
    instance_id: str = Field(default_factory=_instance)

    @field_validator("secret_key")
    @classmethod
    def _curve_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            decode_key(
                value.get_secret_value(), what="SIPAS_ALERTS_SECRET_KEY", length=_CURVE_KEY_BYTES
            )
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _hmac_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            decode_key(value.get_secret_value(), what="SIPAS_ALERTS_WEBHOOK_SECRET")
        return value
