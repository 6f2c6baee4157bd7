"""Sampling's HTTP API: the development outbox (what would have been sent)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Query, Request

from sipas_runtime.problems import ProblemError

if TYPE_CHECKING:
    from sipas_sampling.app import SamplingService

router = APIRouter(tags=["sampling"])


def _sampling(request: Request) -> SamplingService:
    return request.app.state.sampling  # type: ignore[no-any-return]


@router.get("/dev/outbox", summary="Messages the dev outbox would have sent (development only)")
async def dev_outbox(
    request: Request,
    after: Annotated[datetime | None, Query(description="Only messages created after this")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[dict[str, Any]]:
    """Outbox messages in creation order; 404 unless ``SIPAS_SAMPLING_DEV_OUTBOX`` is on."""
    sampling = _sampling(request)
    if not sampling.settings.dev_outbox:
        raise ProblemError(404, "The development outbox is disabled.")
    docs = await sampling.store().outbox(after, limit)
    return [
        {
            "invitation_id": str(doc["_id"]),
            "channel": doc["channel"],
            "recipient": doc["recipient"],
            "text": doc["text"],
            "link": doc["link"],
            "unit": doc["unit"],
            "created_at": doc["created_at"].isoformat(),
        }
        for doc in docs
    ]
