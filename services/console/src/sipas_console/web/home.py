"""The home page: what the console offers the viewer, its open cases, the services' state."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from sipas_console.clients import ServiceCallError
from sipas_console.web.menu import MenuItem
from sipas_console.web.page import caller_of, render, service_of, viewer_permissions
from sipas_runtime.i18n import _
from sipas_runtime.identity import PUBLIC
from sipas_runtime.identity.roles import CASES_READ

router = APIRouter(include_in_schema=False)
MENU = [MenuItem(0, _("Home"), "/", _("What you can do here."))]
PERMISSIONS = {("GET", "/"): PUBLIC}
SERVICE_LABELS = {
    "intake": _("Intake (dossiers and survey forms)"),
    "sampling": _("Sampling (campaigns and invitations)"),
    "scoring": _("Scoring (satisfaction indices)"),
    "alerts": _("Alerts (cases for units)"),
}


@router.get("/", response_class=HTMLResponse)
async def home(request: Request) -> HTMLResponse:
    """The areas the viewer may open, and the state of the four services."""
    console = service_of(request)
    clients = [console.clients[name] for name in console.clients.names]
    answers = await asyncio.gather(*(client.ready() for client in clients))
    areas = [item for item in console.menu.visible(viewer_permissions(request)) if item.path != "/"]
    status = [
        (SERVICE_LABELS.get(c.name, c.name), up) for c, up in zip(clients, answers, strict=True)
    ]
    cases = await open_cases(request) if CASES_READ in viewer_permissions(request) else None
    return render(request, "home/index.html", areas=areas, services=status, open_cases=cases)


async def open_cases(request: Request) -> int | None:
    """Cases not yet resolved in the viewer's units, as alerts answers the viewer's token."""
    query = {"state": ["open", "acknowledged", "in_progress"], "limit": 200}
    try:
        page = await service_of(request).clients.alerts.get_json(
            "/v1/cases", as_=caller_of(request), params=query
        )
    except ServiceCallError:
        return None
    return len(page["items"])
