"""Campaigns: the list, a new campaign from a shipped plan, a campaign's progress per unit.

Sampling holds campaigns, their allocation, invitations and delivery; scoring the index
per unit. The campaign page joins the two per unit and refreshes itself as invitations
go out and responses come in (index-updated events, and every few seconds while open,
since dossiers and invitations have no event the console hears). The form validates
nothing itself: sampling does, and its errors are shown next to the fields they name.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from sipas_console.clients import ServiceCallError
from sipas_console.web.menu import MenuItem
from sipas_console.web.page import caller_of, render, service_of, viewer_permissions
from sipas_runtime.i18n import _
from sipas_runtime.identity import allow
from sipas_runtime.identity.roles import CAMPAIGNS_MANAGE, CAMPAIGNS_READ, INDICES_READ

router = APIRouter(include_in_schema=False)
PERMISSIONS = {
    ("GET", "/campaigns"): allow(CAMPAIGNS_READ),
    ("GET", "/campaigns/new"): allow(CAMPAIGNS_MANAGE),
    ("POST", "/campaigns"): allow(CAMPAIGNS_MANAGE),
    ("GET", "/campaigns/{campaign_id}"): allow(CAMPAIGNS_READ),
}
MENU = [
    MenuItem(
        30,
        _("Campaigns"),
        "/campaigns",
        _("Survey campaigns: create one from a plan, follow its progress per unit."),
        permission="campaigns.read",
    )
]
CHANNELS = {
    "sms": _("SMS"),
    "zalo": _("Zalo"),
    "email": _("E-mail"),
    "counter": _("At the counter"),
    "enumerator": _("Enumerators"),
}
DELIVERY_STATES = {
    "listed": _("listed for an interview"),
    "queued": _("waiting to be sent"),
    "retry": _("to be sent again"),
    "await_report": _("awaiting the delivery report"),
    "sent": _("sent"),
    "answered": _("answered"),
    "substituted": _("replaced"),
    "lapsed": _("lapsed"),
    "undeliverable": _("unreachable"),
    "shredded": _("contact destroyed"),
    "closed": _("closed"),
    "standby": _("reserve, not used"),
}
"""Sampling's invitation channels and states as the campaign page names them."""
CAMPAIGN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
FORM_FIELDS = {"as_of": "as_of", "name_vi": "name_vi", "id": "plan"}
FORM_ERRORS = (409, 422)
NOT_FOUND = 404


@router.get("/campaigns", response_class=HTMLResponse)
async def campaigns(request: Request) -> HTMLResponse:
    """Every campaign the viewer may see."""
    sampling = service_of(request).clients.sampling
    listed = await sampling.get_json("/v1/campaigns", as_=caller_of(request))
    return render(request, "campaigns/list.html", campaigns=listed)


async def _form(
    request: Request,
    *,
    status: int = 200,
    values: dict[str, str] | None = None,
    errors: list[tuple[str, str]] | None = None,
) -> HTMLResponse:
    sampling = service_of(request).clients.sampling
    plans = await sampling.get_json("/v1/plans", as_=caller_of(request))
    today = datetime.now(UTC).date().isoformat()
    return render(
        request,
        "campaigns/new.html",
        status=status,
        plans=plans,
        values={"plan": plans[0]["name"] if plans else "", "as_of": today, **(values or {})},
        errors=errors or [],
    )


@router.get("/campaigns/new", response_class=HTMLResponse)
async def new_campaign(request: Request) -> HTMLResponse:
    """The form: which plan, for which day, under which name."""
    return await _form(request)


@router.post("/campaigns", response_class=HTMLResponse, response_model=None)
async def create_campaign(
    request: Request,
    plan: Annotated[str, Form(max_length=64)] = "",
    as_of: Annotated[str, Form(max_length=32)] = "",
    name_vi: Annotated[str, Form(max_length=300)] = "",
) -> HTMLResponse | RedirectResponse:
    """Create the campaign of ``plan`` for the day ``as_of``; to its page."""
    values = {"plan": plan, "as_of": as_of, "name_vi": name_vi}
    sampling, caller = service_of(request).clients.sampling, caller_of(request)
    plans = {p["name"]: p["template"] for p in await sampling.get_json("/v1/plans", as_=caller)}
    if plan not in plans:
        errors = [("plan", _("Choose a plan."))]
        return await _form(request, status=422, values=values, errors=errors)
    document = {**plans[plan], **({"name_vi": name_vi.strip()} if name_vi.strip() else {})}
    try:
        created = (
            await sampling.send(
                "POST", "/v1/campaigns", as_=caller, params={"as_of": as_of}, json=document
            )
        ).json()
    except ServiceCallError as exc:
        if exc.status not in FORM_ERRORS:
            raise
        return await _form(request, status=exc.status, values=values, errors=errors_of(exc))
    return RedirectResponse(f"/campaigns/{created['id']}", status_code=303)


def errors_of(exc: ServiceCallError) -> list[tuple[str, str]]:
    """Sampling's errors as (form field, message); a field the form lacks goes to the plan."""
    found = []
    for error in exc.problem.get("errors") or [{"field": "id", "reason": exc.detail}]:
        field = str(error.get("field", ""))
        name = next((f for key, f in FORM_FIELDS.items() if field.startswith(key)), "plan")
        reason = str(error.get("reason"))
        found.append((name, f"{field}: {reason}" if name == "plan" else reason))
    return found


@router.get("/campaigns/{campaign_id}", response_class=HTMLResponse)
async def campaign_page(request: Request, campaign_id: str) -> HTMLResponse:
    """Allocation and progress per unit, the index where there are answers, delivery."""
    if not CAMPAIGN_ID.match(campaign_id):
        raise HTTPException(NOT_FOUND)
    clients, caller = service_of(request).clients, caller_of(request)
    campaign, table = await asyncio.gather(
        clients.sampling.get_json(f"/v1/campaigns/{campaign_id}", as_=caller),
        _indices(request, campaign_id),
    )
    return render(
        request,
        "campaigns/campaign.html",
        campaign=campaign,
        rows=progress_rows(campaign["units"], table, _names(request, campaign["units"])),
        definition=campaign["campaign"],
        channels=CHANNELS,
        delivery_states=DELIVERY_STATES,
    )


async def _indices(request: Request, campaign_id: str) -> dict[str, Any]:
    """Scoring's table of the campaign (empty before the first response).

    Empty too for a viewer whose roles do not include live indices (an enumerator).
    """
    if INDICES_READ not in viewer_permissions(request):
        return {}
    scoring = service_of(request).clients.scoring
    try:
        table: dict[str, Any] = await scoring.get_json(
            "/v1/indices", as_=caller_of(request), params={"campaign": campaign_id}
        )
    except ServiceCallError as exc:
        if exc.status not in (NOT_FOUND, 422):
            raise
        return {}
    return table


def _names(request: Request, units: list[dict[str, Any]]) -> dict[str, str]:
    known = service_of(request).hierarchy.units
    return {u["unit"]: known[u["unit"]].name_vi for u in units if u["unit"] in known}


def progress_rows(
    units: list[dict[str, Any]], table: dict[str, Any], names: dict[str, str]
) -> list[dict[str, Any]]:
    """A row per unit: sampling's counts, response rate, quota fill and scoring's index."""
    indices = {row["unit"]: row for row in table.get("rows", [])}
    rows = []
    for unit in units:
        index = indices.get(unit["unit"], {})
        invited, answered = unit.get("invited") or 0, unit.get("answered") or 0
        quota = unit.get("quota")
        rows.append(
            {
                **unit,
                "name": names.get(unit["unit"]) or index.get("name") or unit["unit"],
                "rate": f"{100 * answered / invited:.1f}".replace(".", ",") if invited else "—",
                "fill": f"{100 * answered / quota:.0f}" if quota else "—",
                "sipas": (index.get("sipas") or {}),
            }
        )
    return rows
