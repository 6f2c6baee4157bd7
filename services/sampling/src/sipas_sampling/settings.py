"""Sampling settings (``SIPAS_SAMPLING_*``; keys use global ``SIPAS_*`` names).

Campaigns come from YAML files (``SIPAS_SAMPLING_CAMPAIGN_FILES``, comma-separated) or the
API. With no campaign file and outside production, a simple continuous campaign is made
from ``CAMPAIGN_ID``/``SEED``/``SAMPLING_RATE``/``CHANNEL_ORDER`` (the demo and the walking
skeleton drive it). Channels are real gateways when configured; with ``DEV_OUTBOX`` every
message goes to the development outbox instead (``GET /dev/outbox``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import ClassVar, Literal, Self
from zoneinfo import ZoneInfo

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import SettingsConfigDict

from sipas_runtime.channels import SmtpFields
from sipas_runtime.settings import ServiceSettings

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")


class Settings(ServiceSettings, SmtpFields):
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
    campaign_files: str = Field(
        default="",
        description="Comma-separated campaign YAML files, or names of the shipped examples "
        "(ha-tinh-nghi-xuan-2020, dong-nai-2025)",
    )
    dev_campaign: bool | None = Field(
        default=None,
        description="Also run the development campaign (CAMPAIGN_ID, SEED, SAMPLING_RATE); "
        "default: only when no campaign file is given (never in production)",
    )
    campaign_as_of: date | None = Field(
        default=None,
        description="Day campaign templates (files with as_of) are instantiated for; "
        "default today in Vietnam. A template already stored keeps its first instance",
    )
    campaign_id: str = "demo"
    campaign_start: date = Field(
        default=date(2015, 1, 1),
        description="First day of the development campaign's window (dossiers completed "
        "before it are not its population)",
    )
    instrument_id: str = "sipas-1001-2023"
    sampling_rate: float = Field(default=0.5, ge=0, le=1)
    seed: str = Field(default="sipas-demo", min_length=4)
    token_ttl_days: int = Field(default=14, ge=1, le=120)
    survey_base_url: str = Field(
        default="http://127.0.0.1:8081",
        validation_alias=AliasChoices("SIPAS_SURVEY_BASE_URL", "survey_base_url"),
    )
    channel_order: str = "zalo,sms,email"
    dev_outbox: bool = Field(
        default=False, description="Keep messages at /dev/outbox instead of sending them"
    )
    dispatch_interval: float = Field(default=0.2, gt=0, le=60)
    role: Literal["all", "decide", "dispatch"] = Field(
        default="all",
        description="all: decide on dossiers and send invitations in one process; decide: "
        "the consumers (dossiers, responses) without sending; dispatch: sending without "
        "the consumers — run both as separate instances so sending never delays a "
        "decision (upkeep and the API run in every role)",
    )
    decisions: Literal["store", "memory"] = Field(
        default="memory",
        description="memory: one instance owns the dossiers' durable (pinned; one per "
        "partition with SIPAS_PARTITIONS) and decides from memory, with checkpoints "
        "(issue #22, sipas_sampling.deciding); store: each batch of dossiers is decided in a "
        "Mongo transaction, by every instance. Switching to store needs the durable deleted "
        "(it stays pinned)",
    )
    refresh_interval: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="memory decisions: how often the owner reads answers, lapses, quotas, "
        "opt-outs and vault keys from the store",
    )
    maintenance_interval: float = Field(default=60, gt=0, le=3600)
    send_concurrency: int = Field(default=16, ge=1, le=256)
    lapse_grace_hours: float = Field(default=1.0, ge=0, le=240)
    # e-mail over SMTP: the SMTP_* settings of SmtpFields
    # SMS brandname through eSMS
    esms_url: str = "https://rest.esms.vn"
    esms_api_key: str = ""
    esms_secret_key: str = ""
    esms_brandname: str = ""
    esms_callback_url: str = ""
    # Zalo notification service (ZNS)
    zalo_url: str = "https://business.openapi.zalo.me"
    zalo_oauth_url: str = "https://oauth.zaloapp.com"
    zalo_app_id: str = ""
    zalo_app_secret: str = ""
    zalo_oa_secret: str = Field(default="", description="OA secret that signs Zalo webhooks")
    zalo_access_token: str = Field(default="", description="First token pair (bootstrap only)")
    zalo_refresh_token: str = ""

    @model_validator(mode="after")
    def _safe_in_production(self) -> Self:
        if self.env != "production":
            return self
        if self.dev_outbox:
            msg = (
                "dev_outbox: the development outbox serves recipients and live survey links "
                "without authentication; it cannot be on in production"
            )
            raise ValueError(msg)
        if self.zalo_app_id and not self.zalo_oa_secret:
            msg = "zalo_oa_secret: Zalo is configured but its webhooks could not be verified"
            raise ValueError(msg)
        return self

    def campaign_entries(self) -> list[str]:
        """Campaign files (paths or shipped names) to load at start-up."""
        return [p.strip() for p in self.campaign_files.split(",") if p.strip()]

    def runs_dev_campaign(self) -> bool:
        """Whether the development campaign runs (never in production)."""
        wanted = not self.campaign_entries() if self.dev_campaign is None else self.dev_campaign
        return wanted and self.env != "production"

    def templates_day(self) -> date:
        """The day campaign templates are instantiated for (today in Vietnam by default)."""
        return self.campaign_as_of or datetime.now(UTC).astimezone(VIETNAM).date()
