"""Console settings (``SIPAS_CONSOLE_*``; infrastructure uses the global ``SIPAS_*`` names)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field
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
        description="The console's address as people reach it; https makes every cookie Secure",
    )
    intake_url: str = Field(default="http://127.0.0.1:8081", description="Intake's API")
    sampling_url: str = Field(default="http://127.0.0.1:8082", description="Sampling's API")
    scoring_url: str = Field(default="http://127.0.0.1:8083", description="Scoring's API")
    alerts_url: str = Field(default="http://127.0.0.1:8084", description="Alerts' API")
    service_timeout: float = Field(
        default=10.0, gt=0, le=120, description="Seconds to wait for a service's answer"
    )

    @property
    def secure_cookies(self) -> bool:
        """Whether people reach the console over HTTPS (cookies are then Secure)."""
        return self.public_url.startswith("https://")

    def service_urls(self) -> dict[str, str]:
        """Base URL of each service's API, by service name."""
        urls = {name: str(getattr(self, f"{name}_url")) for name in SERVICE_NAMES}
        return {name: url.rstrip("/") for name, url in urls.items()}
