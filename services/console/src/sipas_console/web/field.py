"""Fieldwork: the enumerator's lists, interviews and refusals, in the browser and offline.

An enumerator signs in and opens ``/field/<campaign>``: for each unit in their scope the
official list, then the reserves in order (sampling's ``/assignments``), with address,
phone (for roles that may see contacts) and the invitation id, and the unit's answers so
far (interviews, online, paper forms: intake's ``/v1/fieldwork``). ``/interview/<id>``
records an interview (intake's ``POST /v1/interviews``); "refused" and "not reachable"
record an outcome that brings in the next reserve (sampling's substitutions, logged in the
draw's hash chain that ``sipas sampling verify`` checks). Every action is a plain form.

Offline (``static/field.js`` and the service worker ``/field/sw.js``): the day's list and
its interview pages are kept on the device; interviews and outcomes are queued there and
sent to ``POST /field/sync`` when the network is back, each under an id made once on the
device, so it is recorded exactly once (see :mod:`sipas_console.web.field_sync`).
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from sipas_console.clients import ServiceCallError
from sipas_console.web import field_sync
from sipas_console.web.field_views import (
    STATE_LABELS,
    interview_body,
    item_ids,
    with_choices,
)
from sipas_console.web.field_views import unit_lists as group_units
from sipas_console.web.forms import posted
from sipas_console.web.menu import MenuItem
from sipas_console.web.page import caller_of, field_errors, language, render, service_of
from sipas_contracts.ids import uuid7
from sipas_runtime.i18n import _
from sipas_runtime.identity import PUBLIC, allow
from sipas_runtime.identity.roles import (
    CAMPAIGNS_READ,
    INTERVIEWS_RECORD,
    LISTS_READ,
    SUBSTITUTIONS_RECORD,
)
from sipas_runtime.pages import app_manifest, service_worker

router = APIRouter(include_in_schema=False)
CAMPAIGN = "/field/{campaign_id}"
PERMISSIONS = {
    ("GET", "/field"): allow(CAMPAIGNS_READ),
    ("GET", CAMPAIGN): allow(LISTS_READ),
    ("GET", f"{CAMPAIGN}/interview/{{invitation_id}}"): allow(INTERVIEWS_RECORD),
    ("POST", f"{CAMPAIGN}/interview/{{invitation_id}}"): allow(INTERVIEWS_RECORD),
    ("POST", f"{CAMPAIGN}/outcome/{{invitation_id}}"): allow(SUBSTITUTIONS_RECORD),
    ("POST", "/field/sync"): allow(INTERVIEWS_RECORD),
    ("GET", "/field/offline"): PUBLIC,
    ("GET", "/field/manifest.webmanifest"): PUBLIC,
    ("GET", "/field/sw.js"): PUBLIC,
}
MENU = [
    MenuItem(
        15,
        _("Fieldwork"),
        "/field",
        _("Your lists: interviews, refusals and reserves, also without a network."),
        permission=INTERVIEWS_RECORD,
    )
]
CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
UUID_SHAPE = re.compile(r"^[0-9a-fA-F-]{32,36}$")
PROFILE = "tthc_user"
OUTCOMES = ("refused", "unreachable")


def _checked(campaign_id: str, invitation_id: str | None = None) -> None:
    if not CODE.match(campaign_id) or (invitation_id and not UUID_SHAPE.match(invitation_id)):
        raise HTTPException(404)


# The app's own files first: /field/{campaign_id} would take their paths.
@router.get("/field/offline", response_class=HTMLResponse)
async def offline(request: Request) -> HTMLResponse:
    """Shown by the service worker for a page the device did not keep."""
    return render(request, "field/offline.html")


@router.get("/field/manifest.webmanifest")
async def manifest() -> Response:
    """The installable enumerator app: ``/field`` in its own window."""
    return app_manifest(
        name="SIPAS — Khảo sát tại hộ gia đình",
        short_name="Điều tra viên",
        scope="/field",
        display="standalone",
        icons="/static/field-icon",
    )


@router.get("/field/sw.js")
async def sw() -> Response:
    """The service worker, allowed to control ``/field`` (its folder would be /field/)."""
    return service_worker("sipas_console", "field-sw.js", "/field")


@router.get("/field", response_class=HTMLResponse, response_model=None)
async def campaigns(request: Request) -> Response:
    """The batch campaigns with lists; straight to the list when there is one."""
    listed = await service_of(request).clients.sampling.get_json(
        "/v1/campaigns", as_=caller_of(request)
    )
    drawn = [c for c in listed if c.get("mode") == "batch" and c.get("status") == "active"]
    if len(drawn) == 1:
        return RedirectResponse(f"/field/{drawn[0]['id']}", status_code=303)
    return render(request, "field/campaigns.html", campaigns=drawn)


async def _day(request: Request, campaign_id: str, *, counts: bool = True) -> dict[str, Any]:
    """The campaign, the viewer's rows (sampling) and, if asked, the answers so far (intake)."""
    clients, caller = service_of(request).clients, caller_of(request)
    calls = [
        clients.sampling.get_json(f"/v1/campaigns/{campaign_id}", as_=caller),
        clients.sampling.get_json(f"/v1/campaigns/{campaign_id}/assignments", as_=caller),
    ]
    if counts:
        calls.append(clients.intake.get_json(f"/v1/fieldwork/{campaign_id}", as_=caller))
    answers = await asyncio.gather(*calls)
    return {
        "campaign": answers[0],
        "rows": answers[1]["rows"],
        "fieldwork": answers[2] if counts else {},
    }


@router.get(CAMPAIGN, response_class=HTMLResponse)
async def day_list(request: Request, campaign_id: str) -> HTMLResponse:
    """The lists of the viewer's units, official then reserves, and the answers so far."""
    _checked(campaign_id)
    day = await _day(request, campaign_id)
    return render(
        request,
        "field/list.html",
        campaign=day["campaign"],
        units=group_units(day["rows"], day["fieldwork"]),
        states=STATE_LABELS,
        notice=request.query_params.get("notice", ""),
    )


async def _interview_page(
    request: Request,
    campaign_id: str,
    invitation_id: str,
    *,
    status: int = 200,
    values: dict[str, str] | None = None,
    errors: list[tuple[str, str]] | None = None,
) -> HTMLResponse:
    day = await _day(request, campaign_id, counts=False)
    row = next((r for r in day["rows"] if r["invitation_id"] == invitation_id), None)
    if row is None:
        raise HTTPException(404)
    instrument = day["campaign"]["campaign"]["instrument_id"]
    form = await service_of(request).clients.intake.get_json(
        f"/v1/forms/{instrument}", params={"profile": PROFILE, "lang": language(request)}
    )
    return render(
        request,
        "field/interview.html",
        status=status,
        campaign_id=campaign_id,
        row=row,
        form=with_choices(form),
        values=values or {"mode": "face_to_face"},
        errors=errors or [],
        submission_id=str(uuid7()),
    )


@router.get(f"{CAMPAIGN}/interview/{{invitation_id}}", response_class=HTMLResponse)
async def interview(request: Request, campaign_id: str, invitation_id: str) -> HTMLResponse:
    """The questionnaire for one person of the list."""
    _checked(campaign_id, invitation_id)
    return await _interview_page(request, campaign_id, invitation_id)


@router.post(
    f"{CAMPAIGN}/interview/{{invitation_id}}", response_class=HTMLResponse, response_model=None
)
async def record_interview(
    request: Request, campaign_id: str, invitation_id: str
) -> HTMLResponse | RedirectResponse:
    """Send the interview to intake; back to the list, or the form again with the problem."""
    _checked(campaign_id, invitation_id)
    fields = await posted(request)
    campaign = await service_of(request).clients.sampling.get_json(
        f"/v1/campaigns/{campaign_id}", as_=caller_of(request)
    )
    instrument = campaign["campaign"]["instrument_id"]
    form = await service_of(request).clients.intake.get_json(
        f"/v1/forms/{instrument}", params={"profile": PROFILE}
    )
    body = interview_body(fields, invitation_id, item_ids(form))
    clients, caller = service_of(request).clients, caller_of(request)
    if invitation_id in await field_sync.replaced(clients, caller, campaign_id):
        errors = field_errors(request, [("main", field_sync.REPLACED)])
        return await _interview_page(
            request, campaign_id, invitation_id, status=409, values=fields, errors=errors
        )
    try:
        await clients.intake.post_json("/v1/interviews", body, as_=caller)
    except ServiceCallError as exc:
        if exc.status not in {404, 409, 422}:
            raise
        errors = field_sync.problems(exc)
        return await _interview_page(
            request, campaign_id, invitation_id, status=exc.status, values=fields, errors=errors
        )
    return RedirectResponse(f"/field/{campaign_id}?notice=recorded", status_code=303)


@router.post(f"{CAMPAIGN}/outcome/{{invitation_id}}", response_model=None)
async def record_outcome(
    request: Request, campaign_id: str, invitation_id: str
) -> HTMLResponse | RedirectResponse:
    """Refused or not reachable: the next reserve takes the place (logged by sampling)."""
    _checked(campaign_id, invitation_id)
    reason = (await posted(request)).get("reason", "")
    if reason not in OUTCOMES:
        raise HTTPException(422)
    try:
        await service_of(request).clients.sampling.post_json(
            f"/v1/campaigns/{campaign_id}/substitutions",
            {"invitation_id": invitation_id, "reason": reason},
            as_=caller_of(request),
        )
    except ServiceCallError as exc:
        if exc.status not in {404, 409}:
            raise
        return RedirectResponse(f"/field/{campaign_id}?notice=refused", status_code=303)
    return RedirectResponse(f"/field/{campaign_id}?notice=substituted", status_code=303)


@router.post("/field/sync")
async def sync(request: Request) -> JSONResponse:
    """Send what a device queued (interviews, outcomes), each recorded exactly once."""
    fields = await posted(request)
    try:
        items = json.loads(fields.get("items", "[]"))
    except ValueError:
        items = []
    clients, caller = service_of(request).clients, caller_of(request)
    results = await field_sync.send(clients, caller, items if isinstance(items, list) else [])
    lang, catalogue = language(request), service_of(request).catalogue
    said = [  # gettext("") would be the catalogue's header
        {**r, "message": catalogue.gettext(lang, r["message"]) if r["message"] else ""}
        for r in results
    ]
    return JSONResponse({"results": said}, headers={"Cache-Control": "no-store"})
