"""The development outbox: what would have been sent (demo and tests read it)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from sipas_runtime.i18n import _
from sipas_runtime.problems import ProblemError
from sipas_sampling.api import service_of

router = APIRouter(tags=["development"])


@router.get("/dev/outbox", summary="Messages the dev outbox would have sent (development only)")
async def dev_outbox(
    request: Request,
    after: Annotated[datetime | None, Query(description="Only messages created after this")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[dict[str, Any]]:
    """Outbox messages in creation order; 404 unless ``SIPAS_SAMPLING_DEV_OUTBOX`` is on."""
    sampling = service_of(request)
    if not sampling.settings.dev_outbox:
        raise ProblemError(404, _("The development outbox is disabled."))
    fields = ("invitation_id", "channel", "recipient", "text", "link", "unit")
    return [
        {**{f: doc[f] for f in fields}, "created_at": doc["created_at"].isoformat()}
        for doc in await sampling.stores.dev_outbox.messages(after, limit)
    ]
