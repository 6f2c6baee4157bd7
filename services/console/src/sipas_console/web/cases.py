"""Cases: the unit handler's inbox and the case page where a case is worked.

Everything comes from the alerts API with the viewer's token, so alerts decides which
cases the viewer sees (their units) and which actions they may take (their role). The
inbox and the case page refresh themselves when a case of the viewer's units changes
(``static/live.js`` over ``/live/events``). Every action is a plain form: acknowledge,
start, resolve (with what was done), dismiss (with the reason); a supervisor also closes
and reopens. Call-back contacts are revealed by an explicit request, which alerts audits,
and shown once on the answer to that request, never kept by the console.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from sipas_console.clients import ServiceCallError
from sipas_console.web import case_views
from sipas_console.web.menu import MenuItem
from sipas_console.web.page import caller_of, render, service_of, viewer_permissions
from sipas_runtime.i18n import _
from sipas_runtime.identity import allow
from sipas_runtime.identity.roles import CASES_READ, CASES_WORK, CONTACTS_REVEAL

router = APIRouter(include_in_schema=False)
PERMISSIONS = {
    ("GET", "/cases"): allow(CASES_READ),
    ("GET", "/cases/{case_id}"): allow(CASES_READ),
    ("POST", "/cases/{case_id}/actions"): allow(CASES_WORK),
    ("POST", "/cases/{case_id}/callbacks"): allow(CONTACTS_REVEAL),
}
MENU = [
    MenuItem(
        20,
        _("Cases"),
        "/cases",
        _("Cases about your units: new, in progress, overdue."),
        permission="cases.read",
    )
]
CASE_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
NOT_FOUND = 404
FORM_ERRORS = (409, 422)
NOTE_MAX = 2000


def _case_id(value: str) -> str:
    if not CASE_ID.match(value):
        raise HTTPException(NOT_FOUND)
    return value


@router.get("/cases", response_class=HTMLResponse)
async def inbox(
    request: Request,
    show: Literal["active", "all"] = "active",
    unit: Annotated[str | None, Query(max_length=64)] = None,
) -> HTMLResponse:
    """The viewer's cases, soonest deadline first."""
    params: dict[str, Any] = {"limit": 200}
    if show == "active":
        params["state"] = list(case_views.ACTIVE)
    if unit:
        params["unit"] = unit
    alerts = service_of(request).clients.alerts
    page = await alerts.get_json("/v1/cases", as_=caller_of(request), params=params)
    now = datetime.now(UTC)
    return render(
        request,
        "cases/inbox.html",
        cases=case_views.by_deadline(page["items"], now),
        now=now,
        show=show,
        unit=unit or "",
        views=case_views,
        supervisor="cases.supervise" in viewer_permissions(request),
    )


async def case_page(
    request: Request,
    case_id: str,
    *,
    status: int = 200,
    errors: list[tuple[str, str]] | None = None,
    values: dict[str, str] | None = None,
    callbacks: list[dict[str, Any]] | None = None,
) -> HTMLResponse:
    """The case page, optionally with a form's errors or the revealed call-back contacts."""
    alerts, caller = service_of(request).clients.alerts, caller_of(request)
    case, raised = await asyncio.gather(
        alerts.get_json(f"/v1/cases/{case_id}", as_=caller),
        alerts.get_json(f"/v1/cases/{case_id}/alerts", as_=caller),
    )
    now = datetime.now(UTC)
    return render(
        request,
        "cases/case.html",
        status=status,
        case=case,
        alerts=raised,
        now=now,
        views=case_views,
        errors=errors or [],
        values=values or {},
        callbacks=callbacks,
        may_reveal="contacts.reveal" in viewer_permissions(request),
        supervisor="cases.supervise" in viewer_permissions(request),
    )


@router.get("/cases/{case_id}", response_class=HTMLResponse)
async def show_case(request: Request, case_id: str) -> HTMLResponse:
    """One case: what happened, the alerts behind it, its history and what to do next."""
    return await case_page(request, _case_id(case_id))


@router.post("/cases/{case_id}/actions", response_class=HTMLResponse, response_model=None)
async def act(
    request: Request,
    case_id: str,
    action: Annotated[str, Form(max_length=20)],
    note: Annotated[str, Form(max_length=NOTE_MAX)] = "",
    version: Annotated[int | None, Form()] = None,
) -> HTMLResponse | RedirectResponse:
    """Take ``action`` on the case; back to the case page (errors shown next to the note)."""
    case_id = _case_id(case_id)
    body = {"action": action, "note": note.strip() or None, "version": version}
    alerts = service_of(request).clients.alerts
    try:
        await alerts.post_json(f"/v1/cases/{case_id}/transitions", body, as_=caller_of(request))
    except ServiceCallError as exc:
        if exc.status not in FORM_ERRORS:
            raise
        return await case_page(
            request,
            case_id,
            status=exc.status,
            errors=_errors_of(exc, action),
            values={"action": action, "note": note},
        )
    return RedirectResponse(f"/cases/{case_id}", status_code=303)


def _errors_of(exc: ServiceCallError, action: str) -> list[tuple[str, str]]:
    """The service's errors as (field id on the page, message)."""
    fields = [e for e in exc.problem.get("errors") or [] if isinstance(e, dict)]
    if fields:
        return [
            (f"note-{action}" if e.get("field") == "note" else "actions", str(e.get("reason")))
            for e in fields
        ]
    return [("actions", exc.detail)]


@router.post("/cases/{case_id}/callbacks", response_class=HTMLResponse)
async def reveal_callbacks(request: Request, case_id: str) -> HTMLResponse:
    """Show the call-back contacts respondents consented to (alerts records the viewing)."""
    case_id = _case_id(case_id)
    alerts = service_of(request).clients.alerts
    answer = await alerts.get_json(f"/v1/cases/{case_id}/callbacks", as_=caller_of(request))
    return await case_page(request, case_id, callbacks=answer.get("callbacks", []))
