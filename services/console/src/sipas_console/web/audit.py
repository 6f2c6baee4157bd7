"""The audit logs of every service: who decided what, and whether each chain still holds.

Each service keeps its own hash-chained log (``sipas_runtime.audit``) and shows it through
``GET /v1/audit`` to holders of ``audit.read``; the console reads them with the viewer's
token like any other API (never their databases), and offers each as JSON lines, the
format ``sipas audit verify --file`` checks offline.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from sipas_console.web.menu import MenuItem
from sipas_console.web.page import caller_of, render, service_of
from sipas_runtime.i18n import _
from sipas_runtime.identity import allow
from sipas_runtime.identity.roles import AUDIT_READ

router = APIRouter(include_in_schema=False)
LOGS = ("console", "alerts", "scoring", "sampling", "intake")
PERMISSIONS = {
    ("GET", "/audit"): allow(AUDIT_READ, people_only=True),
    ("GET", "/audit/{service}.jsonl"): allow(AUDIT_READ),
}
MENU = [
    MenuItem(
        90, _("Audit log"), "/audit",
        _("Sign-ins, roles, keys, contact reveals and publications, chained."),
        permission=AUDIT_READ,
    )
]  # fmt: skip
SHOWN = 200
PAGE = 1000


async def _read(request: Request, service: str, **query: int) -> dict[str, Any]:
    """One service's audit answer (the console's own from its runtime, the others' by API)."""
    console = service_of(request)
    if service == "console":
        answer: dict[str, Any] = await console.runtime.audit_page(**query)
        return answer
    page: dict[str, Any] = await console.clients[service].get_json(
        "/v1/audit", as_=caller_of(request), params=query
    )
    return page


@router.get("/audit", response_class=HTMLResponse)
async def audit(
    request: Request, service: Annotated[str, Query(max_length=20)] = "console"
) -> Response:
    """The newest entries of one service's log and whether its whole chain holds."""
    if service not in LOGS:
        raise HTTPException(404)
    page = await _read(request, service, last=SHOWN)
    entries = list(reversed(page["entries"]))
    return render(request, "audit/log.html", service=service, logs=LOGS, page=page,
                  entries=entries)  # fmt: skip


@router.get("/audit/{service}.jsonl")
async def export(request: Request, service: str) -> Response:
    """The whole log as JSON lines, oldest first (``sipas audit verify --file`` reads it)."""
    if service not in LOGS:
        raise HTTPException(404)

    async def lines() -> AsyncIterator[str]:
        after = 0
        while True:
            page = await _read(request, service, after=after, limit=PAGE)
            for entry in page["entries"]:
                yield json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n"
                after = entry["seq"]
            if len(page["entries"]) < PAGE:
                return

    headers = {"Content-Disposition": f'attachment; filename="audit-{service}.jsonl"'}
    return StreamingResponse(lines(), media_type="application/x-ndjson", headers=headers)
