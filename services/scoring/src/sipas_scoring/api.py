"""Scoring's query API (first cut): the current index of every (campaign, unit)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request

from sipas_scoring.handlers import index_event

if TYPE_CHECKING:
    from sipas_scoring.app import ScoringService

router = APIRouter(prefix="/v1", tags=["scoring"])


def _scoring(request: Request) -> ScoringService:
    return request.app.state.scoring  # type: ignore[no-any-return]


@router.get("/indices", summary="Current index of every (campaign, unit)")
async def indices(request: Request) -> list[dict[str, Any]]:
    """Figures with n and confidence intervals, computed from the stored counts."""
    scoring = _scoring(request)
    docs = await scoring.store().all()
    return [
        index_event(doc, n_min=scoring.settings.n_min).model_dump(
            mode="json", exclude={"counts", "event_id", "producer", "schema_version", "event_type"}
        )
        for doc in docs
    ]
