"""Kiosk registration by operators: a tablet bound to one counter, unit, campaign and form."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from sipas_contracts.ids import CODE_PATTERN
from sipas_contracts.instrument import CatalogueError, load_catalogue
from sipas_contracts.units import UnitHierarchyError
from sipas_intake.api import service_of
from sipas_intake.store.kiosks import KioskExistsError
from sipas_runtime.privacy import keyed_hash
from sipas_runtime.problems import ProblemError

router = APIRouter(prefix="/v1/kiosks", tags=["kiosks"])


class KioskRequest(BaseModel):
    """A counter tablet to register."""

    model_config = ConfigDict(extra="forbid")

    device_id: str = Field(pattern=CODE_PATTERN, description="Your name for the tablet")
    unit: str = Field(min_length=1, max_length=200, description="Unit code or name")
    counter: str | None = Field(
        default=None,
        min_length=1,
        max_length=80,
        description="The counter the tablet stands at, shown on it (e.g. 'Quầy 1 — Hộ tịch')",
    )
    campaign_id: str = Field(
        default="kiosk", pattern=CODE_PATTERN, description="Kept apart from sampled campaigns"
    )
    instrument_id: str = "sipas-1001-2023"
    profile: str = Field(
        default="counter", description="Form profile: 'counter' (one screen) or 'kiosk'"
    )


class KioskDevice(BaseModel):
    """A registered tablet (its key is never shown again)."""

    device_id: str
    unit: str
    counter: str | None = None
    campaign_id: str
    instrument_id: str
    profile: str
    created_at: datetime
    revoked_at: datetime | None = None


class KioskRegistered(KioskDevice):
    """The registration, with the one-time pairing URL to open on the tablet."""

    pairing_url: str = Field(description="Open once on the tablet; shown only now")


def _checked(request: Request, body: KioskRequest, now: datetime) -> dict[str, str]:
    intake = service_of(request)
    try:
        unit = intake.hierarchy.resolve(body.unit, now.date())
        catalogue = load_catalogue(body.instrument_id)
        catalogue.form(body.profile)
    except (UnitHierarchyError, CatalogueError) as exc:
        field = "unit" if isinstance(exc, UnitHierarchyError) else "instrument_id"
        raise ProblemError(422, str(exc), errors=[{"field": field, "reason": str(exc)}]) from exc
    except KeyError as exc:
        reason = str(exc.args[0])
        raise ProblemError(422, reason, errors=[{"field": "profile", "reason": reason}]) from exc
    return {**body.model_dump(), "unit": unit}


@router.post("", status_code=status.HTTP_201_CREATED, summary="Register a counter tablet")
async def register(body: KioskRequest, request: Request) -> KioskRegistered:
    """Register a device and return its pairing URL (the key is stored only as a hash)."""
    intake = service_of(request)
    now = datetime.now(UTC)
    device = _checked(request, body, now)
    key = secrets.token_urlsafe(32)
    try:
        await intake.stores.kiosks.register(keyed_hash(intake.kiosk_key, key), device, now)
    except KioskExistsError as exc:
        raise ProblemError(
            409, str(exc), errors=[{"field": "device_id", "reason": "already registered"}]
        ) from exc
    base = intake.settings.survey_base_url.rstrip("/")
    return KioskRegistered(**device, created_at=now, pairing_url=f"{base}/k/{key}")


@router.get("", summary="Registered tablets")
async def devices(request: Request) -> list[KioskDevice]:
    """Every device, newest first (no keys)."""
    return [KioskDevice(**d) for d in await service_of(request).stores.kiosks.devices()]


@router.delete("/{device_id}", status_code=204, summary="Revoke a tablet")
async def revoke(
    device_id: Annotated[str, Path(pattern=CODE_PATTERN)], request: Request
) -> Response:
    """The device's key stops working at once."""
    if not await service_of(request).stores.kiosks.revoke(device_id, datetime.now(UTC)):
        raise ProblemError(404, f"no active device {device_id!r}")
    return Response(status_code=204)
