"""Alerts' HTTP API (first cut): list raised alerts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Query, Request

if TYPE_CHECKING:
    from sipas_alerts.app import AlertsService

router = APIRouter(prefix="/v1", tags=["alerts"])


def _alerts(request: Request) -> AlertsService:
    return request.app.state.alerts  # type: ignore[no-any-return]


@router.get("/alerts", summary="Most recent alerts")
async def list_alerts(
    request: Request,
    unit: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[dict[str, Any]]:
    """Alerts, newest first, optionally for one unit."""
    docs = await _alerts(request).store().list(unit, limit)
    return [{"alert_id": str(doc.pop("_id")), **doc} for doc in docs]
