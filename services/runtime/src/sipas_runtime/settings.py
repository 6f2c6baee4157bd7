"""Settings shared by every service (pydantic-settings).

Infrastructure and secrets use global names (``SIPAS_NATS_URL``, ``SIPAS_MONGO_URL``,
``SIPAS_TOKEN_KEY`` ...) so one environment file serves the whole stack; what differs
per service (HTTP port, database, batch size) uses the service prefix, e.g.
``SIPAS_INTAKE_HTTP_PORT``. Construct settings in ``main``/fixtures, never at import.
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from sipas_contracts.units import UnitHierarchy, load_hierarchy_file, load_sample_hierarchy

_MIN_KEY_BYTES = 32


def _global(name: str) -> AliasChoices:
    return AliasChoices(f"SIPAS_{name.upper()}", name)


def decode_key(value: str, *, what: str, length: int | None = None) -> bytes:
    """Decode a base64 key from settings, with an error that names the setting."""
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        msg = f"{what} must be base64"
        raise ValueError(msg) from exc
    if length is not None and len(raw) != length:
        msg = f"{what} must decode to {length} bytes, got {len(raw)}"
        raise ValueError(msg)
    if length is None and len(raw) < _MIN_KEY_BYTES:
        msg = f"{what} must decode to at least {_MIN_KEY_BYTES} bytes, got {len(raw)}"
        raise ValueError(msg)
    return raw


class ServiceSettings(BaseSettings):
    """Base class of every service's settings; subclasses set ``service_name`` and the prefix."""

    service_name: ClassVar[str] = "service"
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    env: Literal["development", "test", "production"] = Field(
        default="development", validation_alias=_global("env")
    )
    nats_url: str = Field(default="nats://127.0.0.1:4222", validation_alias=_global("nats_url"))
    mongo_url: str = Field(
        default="mongodb://127.0.0.1:27017/?directConnection=true",
        validation_alias=_global("mongo_url"),
    )
    nats_user: str | None = Field(
        default=None, description="NATS user of this service (per-service permissions)"
    )
    nats_password: str | None = Field(default=None, repr=False)
    stream_replicas: int = Field(default=1, ge=1, le=5, validation_alias=_global("stream_replicas"))
    partitions: int = Field(
        default=0,
        ge=0,
        le=1024,
        validation_alias=_global("partitions"),
        description="Partitions of the partitioned streams (dossiers, by unit); 0: unpartitioned",
    )
    log_level: str = Field(default="INFO", validation_alias=_global("log_level"))
    log_format: Literal["json", "console"] = Field(
        default="json", validation_alias=_global("log_format")
    )
    http_host: str = Field(default="127.0.0.1", validation_alias=_global("http_host"))
    trusted_proxies: str = Field(
        default="",
        validation_alias=_global("trusted_proxies"),
        description="Comma-separated addresses (or CIDRs) of the reverse proxies whose "
        "X-Forwarded-For/-Proto is believed; empty: none, the peer's address is the client's",
    )
    http_port: int = Field(default=8000, ge=0, le=65535)
    database: str = Field(default="", description="Mongo database; default sipas_<service>")
    batch_size: int = Field(default=500, ge=1, le=10_000)
    batch_timeout: float = Field(default=0.02, gt=0, le=5)
    max_deliveries: int = Field(
        default=10, ge=2, le=100, description="Redeliveries before a message goes to the DLQ"
    )
    checkpoint_interval: float = Field(
        default=1.0,
        gt=0,
        le=300,
        description="State kept in memory (sipas_runtime.memory): seconds between checkpoints "
        "at most (what a crash makes the next owner replay)",
    )
    checkpoint_events: int = Field(
        default=5000,
        ge=1,
        le=1_000_000,
        description="State kept in memory: a checkpoint as soon as this many messages were "
        "folded since the last one",
    )
    owner_timeout: float = Field(
        default=10.0,
        ge=1,
        le=600,
        description="State kept in memory: seconds without a pull after which another "
        "instance takes a dead owner's durable (its pinned-client timeout)",
    )
    hierarchy_file: Path | None = Field(
        default=None,
        validation_alias=_global("hierarchy_file"),
        description="Province unit hierarchy YAML; default: the shipped Hà Tĩnh sample",
    )

    @field_validator("log_level")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()

    def load_hierarchy(self) -> UnitHierarchy:
        """The province's unit hierarchy (file from settings, else the shipped sample)."""
        if self.hierarchy_file is not None:
            return load_hierarchy_file(self.hierarchy_file)
        return load_sample_hierarchy()

    @property
    def database_name(self) -> str:
        """The service's own Mongo database."""
        return self.database or f"sipas_{self.service_name}"
