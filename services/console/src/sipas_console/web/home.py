"""The home page: what the console offers the viewer, and whether the services answer."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from sipas_console.web.menu import MenuItem
from sipas_console.web.page import console_of, render, viewer_permissions
from sipas_runtime.i18n import _

router = APIRouter(include_in_schema=False)
MENU = [MenuItem(0, _("Home"), "/", _("What you can do here."))]
SERVICE_LABELS = {
    "intake": _("Intake (dossiers and survey forms)"),
    "sampling": _("Sampling (campaigns and invitations)"),
    "scoring": _("Scoring (satisfaction indices)"),
    "alerts": _("Alerts (cases for units)"),
}


@router.get("/", response_class=HTMLResponse)
async def home(request: Request) -> HTMLResponse:
    """The areas the viewer may open, and the state of the four services."""
    console = console_of(request)
    clients = [console.clients[name] for name in console.clients.names]
    answers = await asyncio.gather(*(client.ready() for client in clients))
    areas = [item for item in console.menu.visible(viewer_permissions(request)) if item.path != "/"]
    status = [
        (SERVICE_LABELS.get(c.name, c.name), up) for c, up in zip(clients, answers, strict=True)
    ]
    return render(request, "home/index.html", areas=areas, services=status)
