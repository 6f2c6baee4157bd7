"""Server-sent events: the live updates of the viewer's units, for any page that shows them.

``GET /live/events?kinds=case-updated,alert-raised&campaign=...`` answers
``text/event-stream``: one event per update (``event:`` its kind, ``data:`` a small JSON
object: unit, campaign, identifiers, states, figures; never text or personal data) and a
comment every ``HEARTBEAT`` seconds so proxies keep the connection open. Any
``EventSource`` reads it; the console's own pages use ``static/live.js``, which refreshes
the page's live regions from the server when an update arrives.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import StreamingResponse

from sipas_console.live import KINDS, Update, Wants
from sipas_console.web.page import service_of
from sipas_console.web.scope import covers, viewer_units
from sipas_runtime.identity import allow
from sipas_runtime.identity.roles import CAMPAIGNS_READ, CASES_READ, INDICES_READ

router = APIRouter(include_in_schema=False)
# Any signed-in person: the stream carries only updates of the viewer's own units.
PERMISSIONS = {("GET", "/live/events"): allow(CASES_READ, CAMPAIGNS_READ, INDICES_READ)}
HEARTBEAT = 15.0
RETRY_MS = 3000
UNAUTHORISED = 401


def wants_of(
    request: Request, kinds: frozenset[str], campaign: str | None, unit: str | None
) -> Wants:
    """The filter of one page: its kinds, campaign and unit, within the viewer's units."""
    roots = viewer_units(request)
    if roots is None:
        raise HTTPException(UNAUTHORISED)
    hierarchy = service_of(request).hierarchy

    def wants(update: Update) -> bool:
        if update.kind not in kinds or (campaign and update.campaign != campaign):
            return False
        if unit and update.unit != unit:
            return False
        return covers(hierarchy, roots, update.unit, datetime.now(UTC).date())

    return wants


@router.get("/live/events")
async def events(
    request: Request,
    kinds: Annotated[str, Query(max_length=200)] = ",".join(KINDS),
    campaign: Annotated[str | None, Query(max_length=64)] = None,
    unit: Annotated[str | None, Query(max_length=64)] = None,
) -> StreamingResponse:
    """The viewer's live updates as server-sent events."""
    chosen = frozenset(k for k in kinds.split(",") if k in KINDS) or frozenset(KINDS)
    wants = wants_of(request, chosen, campaign, unit)
    feed = service_of(request).live

    async def stream() -> AsyncIterator[str]:
        async with feed.listen(wants) as queue:
            yield f"retry: {RETRY_MS}\n\n"
            while True:
                try:
                    async with asyncio.timeout(HEARTBEAT):
                        update = await queue.get()
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                yield update.as_sse()

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
