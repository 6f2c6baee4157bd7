"""Console settings (``SIPAS_CONSOLE_*``; infrastructure uses the global ``SIPAS_*`` names)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from sipas_runtime.settings import ServiceSettings

SERVICE_NAMES = ("intake", "sampling", "scoring", "alerts")


class Settings(ServiceSettings):
    """Configuration of the console."""

    service_name: ClassVar[str] = "console"
    model_config = SettingsConfigDict(
        env_prefix="SIPAS_CONSOLE_", extra="ignore", populate_by_name=True
    )

    http_port: int = Field(default=8080, ge=0, le=65535)
    public_url: str = Field(
        default="http://127.0.0.1:8080",
        description="The console's address as people reach it (links, sign-in redirects)",
    )
    intake_url: str = Field(default="http://127.0.0.1:8081", description="Intake's API")
    sampling_url: str = Field(default="http://127.0.0.1:8082", description="Sampling's API")
    scoring_url: str = Field(default="http://127.0.0.1:8083", description="Scoring's API")
    alerts_url: str = Field(default="http://127.0.0.1:8084", description="Alerts' API")
    service_timeout: float = Field(
        default=10.0, gt=0, le=120, description="Seconds to wait for a service's answer"
    )
    signin_rate: str = Field(
        default="10/minute", description="Sign-in attempts per client address (each instance)"
    )
    key_rotation_days: float = Field(
        default=30, gt=0, le=365, description="A new token signing key every this many days"
    )
    oidc_issuer: str = Field(
        default="", description="The province's OpenID provider (issuer URL); empty: no SSO"
    )
    oidc_client_id: str = Field(default="", description="This console's client id there")
    oidc_client_secret: SecretStr | None = Field(default=None, description="Its client secret")
    oidc_groups_claim: str = Field(
        default="groups", description="The ID-token claim listing the person's groups"
    )
    oidc_groups: dict[str, dict[str, list[str]]] = Field(
        default_factory=dict,
        description='Group -> roles and units, JSON: {"snv": {"roles": ["supervisor"], '
        '"units": ["ht"]}}',
    )
    dev_supervisor_password: SecretStr | None = Field(
        default=None,
        description="Development only: the password of the 'dev-supervisor' account",
    )

    @model_validator(mode="after")
    def _no_dev_account_in_production(self) -> Settings:
        if self.env == "production" and self.dev_supervisor_password is not None:
            msg = "SIPAS_CONSOLE_DEV_SUPERVISOR_PASSWORD is for development only"
            raise ValueError(msg)
        return self

    @property
    def single_sign_on(self) -> bool:
        """Whether people may sign in with the province's identity provider."""
        return bool(self.oidc_issuer and self.oidc_client_id)

    @property
    def https(self) -> bool:
        """Whether people reach the console over HTTPS (the language cookie is then Secure).

        The session cookie is always Secure (browsers keep such cookies on localhost too).
        """
        return self.public_url.startswith("https://")

    def service_urls(self) -> dict[str, str]:
        """Base URL of each service's API, by service name."""
        urls = {name: str(getattr(self, f"{name}_url")) for name in SERVICE_NAMES}
        return {name: url.rstrip("/") for name, url in urls.items()}
