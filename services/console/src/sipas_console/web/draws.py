"""Draws of batch campaigns: run, lists, substitutions, XLSX, the observer's verification.

Run the draw, the official and reserve lists, the substitution log, the enumerators' XLSX,
and the observer's verification in the browser.

The draw is sampling's (``POST /v1/campaigns/{id}/draw``); the page shows sampling's export
of it (dossier numbers only, no personal data). "Verify the draw" re-runs it from the
published seed and population snapshot with the very function ``sipas sampling verify``
uses, and says whether the lists and every substitution match.
"""

from __future__ import annotations

import re

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from sipas_console import draw_views
from sipas_console.clients import ServiceCallError
from sipas_console.web.page import caller_of, language, render, service_of, viewer_permissions
from sipas_runtime.identity import allow
from sipas_runtime.identity.roles import CAMPAIGNS_MANAGE, DRAWS_VERIFY, LISTS_READ

router = APIRouter(include_in_schema=False)
DRAW = "/campaigns/{campaign_id}/draw"
PERMISSIONS = {
    ("GET", DRAW): allow(DRAWS_VERIFY, CAMPAIGNS_MANAGE),
    ("POST", DRAW): allow(CAMPAIGNS_MANAGE),
    ("GET", f"{DRAW}/verification"): allow(DRAWS_VERIFY),
    ("GET", f"{DRAW}/lists.xlsx"): allow(LISTS_READ, DRAWS_VERIFY),
}
CAMPAIGN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
NOT_DRAWN = 409
NOT_FOUND = 404
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _campaign_id(value: str) -> str:
    if not CAMPAIGN_ID.match(value):
        raise HTTPException(NOT_FOUND)
    return value


async def draw_page(request: Request, campaign_id: str, *, verify: bool = False) -> HTMLResponse:
    """The draw of a campaign (or the button to run it), optionally verified."""
    console, caller = service_of(request), caller_of(request)
    sampling = console.clients.sampling
    campaign = await sampling.get_json(f"/v1/campaigns/{campaign_id}", as_=caller)
    try:
        export = await sampling.get_json(f"/v1/campaigns/{campaign_id}/draw", as_=caller)
    except ServiceCallError as exc:
        if exc.status != NOT_DRAWN:
            raise
        export = None
    hierarchy = console.hierarchy
    lang = language(request)

    def say(message: str) -> str:
        return console.catalogue.gettext(lang, message)

    def name_of(unit: str) -> str:
        known = hierarchy.units.get(unit)
        return known.name_vi if known else unit

    return render(
        request,
        "draws/draw.html",
        campaign=campaign,
        campaign_id=campaign_id,
        export=export,
        strata=draw_views.strata(export, name_of) if export else [],
        population=draw_views.population_size(export) if export else 0,
        verification=draw_views.verify(export) if export and verify else None,
        may_draw=CAMPAIGNS_MANAGE in viewer_permissions(request),
        may_verify=DRAWS_VERIFY in viewer_permissions(request),
        log_rows=draw_views.log_rows(export, name_of, say) if export else [],
        views=draw_views,
    )


@router.get(DRAW, response_class=HTMLResponse)
async def show_draw(request: Request, campaign_id: str) -> HTMLResponse:
    """The campaign's draw."""
    return await draw_page(request, _campaign_id(campaign_id))


@router.post(DRAW, response_class=HTMLResponse, response_model=None)
async def run_draw(request: Request, campaign_id: str) -> RedirectResponse:
    """Freeze the population and draw the lists (once per campaign)."""
    campaign_id = _campaign_id(campaign_id)
    sampling = service_of(request).clients.sampling
    await sampling.send("POST", f"/v1/campaigns/{campaign_id}/draw", as_=caller_of(request))
    return RedirectResponse(f"/campaigns/{campaign_id}/draw", status_code=303)


@router.get(f"{DRAW}/verification", response_class=HTMLResponse)
async def verify_draw(request: Request, campaign_id: str) -> HTMLResponse:
    """The draw re-run from its seed and population, compared with its lists and log."""
    return await draw_page(request, _campaign_id(campaign_id), verify=True)


@router.get(f"{DRAW}/lists.xlsx")
async def lists_xlsx(request: Request, campaign_id: str) -> Response:
    """The enumerators' lists as sampling makes them (contacts masked for observers)."""
    campaign_id = _campaign_id(campaign_id)
    answer = await service_of(request).clients.sampling.send(
        "GET", f"/v1/campaigns/{campaign_id}/lists.xlsx", as_=caller_of(request), timeout=60.0
    )
    name = f"danh-sach-{campaign_id}.xlsx"
    return Response(
        answer.content,
        media_type=XLSX,
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "private, no-store",
        },
    )
