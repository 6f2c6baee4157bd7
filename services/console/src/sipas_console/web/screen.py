"""The live board of a one-stop centre: a screen in the hall showing its unit's index.

``GET /live/board/{unit}`` shows, for each campaign with the unit's data, under its name,
the SIPAS index with its 95% interval and n and today's ratings at the counter
(``unit_board``; scoring's ``period=today``), large enough to read across a hall.
``static/live.js`` refreshes it as soon as scoring publishes a new index for the unit
(``index-updated``, server-sent events). Without JavaScript a reload shows the current
figures, and a screen's page (not a person's) reloads itself every minute with a
``Refresh`` header: nobody reads a hall screen at the keyboard, whereas a page that reloads
under a person breaks WCAG 2.2.1, which is why it is not a ``<meta>`` refresh for everybody.

Who may open it: anybody whose roles read indices for that unit — a signed-in person, or
a screen holding a machine key of the unit (``people.screens``), set up once at
``/live/screen``; a screen in a hall never holds a person's session.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from sipas_console import unit_board
from sipas_console.clients import ServiceCallError
from sipas_console.people.screens import keep_screen_key, screen_key
from sipas_console.web.forms import posted
from sipas_console.web.page import caller_of, language, render, service_of
from sipas_contracts.ids import CODE_PATTERN
from sipas_runtime.i18n import _
from sipas_runtime.identity import PUBLIC, allow
from sipas_runtime.identity.principal import PROVINCE_OFFSET, province_day
from sipas_runtime.identity.roles import INDICES_READ

router = APIRouter(include_in_schema=False)
PERMISSIONS = {
    ("GET", "/live/screen"): PUBLIC,
    ("POST", "/live/screen"): PUBLIC,
    ("GET", "/live/board/{unit}"): allow(INDICES_READ, unit="unit"),
}
RELOAD_SECONDS = 60
NOT_FOUND = 404
KIOSK = "kiosk"  # the counter tablets' ratings, which scoring keeps apart from the index
TODAY = "today"  # scoring's period of the province's current day
MAX_KEY = 200
NOT_A_SCREEN_KEY = _(
    "This is not a valid screen key: make one on the keys screen with the role "
    "Downstream reader and the unit."
)
Unit = Annotated[str, Path(pattern=CODE_PATTERN)]


@router.get("/live/screen", response_class=HTMLResponse)
async def screen_form(request: Request) -> Response:
    """Set up a screen: paste the unit's screen key once."""
    return render(request, "live/screen.html", error=None)


@router.post("/live/screen", response_class=HTMLResponse)
async def set_up_screen(request: Request) -> Response:
    """Keep a valid key in this browser and show its unit's board."""
    key = (await posted(request)).get("key", "").strip()[:MAX_KEY]
    console = service_of(request)
    principal = screen_key(console.runtime.directory, key, now=datetime.now(UTC))
    if principal is None:
        return render(request, "live/screen.html", status=422, error=NOT_A_SCREEN_KEY)
    unit = min(principal.units)
    response = RedirectResponse(f"/live/board/{unit}", status_code=303)
    keep_screen_key(response, key, secure=console.settings.https)
    return response


@router.get("/live/board/{unit}", response_class=HTMLResponse)
async def board(request: Request, unit: Unit) -> Response:
    """The unit's figures; reloads itself, and live.js refreshes it on each new index."""
    known = service_of(request).hierarchy.units.get(unit)
    if known is None:
        raise HTTPException(NOT_FOUND)
    lang = language(request)
    campaigns = await _figures(request, unit, lang)
    now = datetime.now(UTC)
    principal = getattr(request.state, "principal", None)
    unattended = principal is not None and principal.kind == "machine"
    return render(
        request,
        "live/board.html",
        headers={"Refresh": str(RELOAD_SECONDS)} if unattended else None,
        unit=unit,
        name=known.name_vi,
        campaigns=campaigns,
        updated=(now + PROVINCE_OFFSET).strftime("%H:%M"),
    )


async def _figures(request: Request, unit: str, lang: str) -> list[unit_board.CampaignFigures]:
    scoring, caller = service_of(request).clients.scoring, caller_of(request)
    month = unit_board.month_of(province_day())
    listed = await scoring.get_json("/v1/campaigns", as_=caller)

    async def table(campaign: str, period: str, modes: str | None) -> dict[str, Any]:
        params = {"campaign": campaign, "period": period, "unit": unit}
        if modes:
            params["modes"] = modes
        try:
            found: dict[str, Any] = await scoring.get_json("/v1/indices", as_=caller, params=params)
        except ServiceCallError as exc:
            if exc.status not in (NOT_FOUND, 422):
                raise
            return {}
        return found

    chosen = unit_board.busiest(listed, month, unit_board.CANDIDATES)
    tables = await asyncio.gather(
        *(table(c, p, m) for c in chosen for p, m in (("campaign", None), (TODAY, KIOSK)))
    )
    titles = {str(c["campaign_id"]): unit_board.title_of(c, lang) for c in listed}
    shown = []
    for index, campaign in enumerate(chosen):
        overall = unit_board.row_of(tables[2 * index], unit)
        counter = unit_board.row_of(tables[2 * index + 1], unit)
        figures = unit_board.campaign_figures(campaign, overall, counter, lang, titles[campaign])
        if figures:
            shown.append(figures)
    return shown[: unit_board.MOST_CAMPAIGNS]
