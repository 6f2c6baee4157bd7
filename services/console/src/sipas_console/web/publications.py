"""Publication: an operator drafts, a different person approves, then it is published.

Everything goes through scoring's publication API with the viewer's token: scoring freezes
the figures (a snapshot with its SHA-256), refuses an approval by the person who drafted it
(four eyes) and keeps each step's person and time. The publication page compares the frozen
figures with the previous published ones and links the draft report (PDF, watermarked with
its state). Every step is a plain form; the page offers only the steps the viewer may take.
"""

from __future__ import annotations

import asyncio
import re
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from sipas_console import publication_views as views
from sipas_console.clients import ServiceCallError
from sipas_console.web.case_views import local
from sipas_console.web.menu import MenuItem
from sipas_console.web.page import (
    caller_of,
    field_errors,
    language,
    person_of,
    render,
    service_of,
    viewer_permissions,
)
from sipas_runtime.i18n import _
from sipas_runtime.identity import allow
from sipas_runtime.identity.roles import (
    INDICES_READ,
    PUBLICATIONS_APPROVE,
    PUBLICATIONS_DRAFT,
    PUBLICATIONS_READ,
)

router = APIRouter(include_in_schema=False)
PERMISSIONS = {
    ("GET", "/publications"): allow(PUBLICATIONS_READ),
    ("POST", "/publications"): allow(PUBLICATIONS_DRAFT),
    ("GET", "/publications/{publication_id}"): allow(PUBLICATIONS_READ),
    ("GET", "/publications/{publication_id}/report.pdf"): allow(PUBLICATIONS_READ),
    ("POST", "/publications/{publication_id}/steps"): allow(
        PUBLICATIONS_APPROVE, PUBLICATIONS_DRAFT
    ),
}
MENU = [
    MenuItem(
        50,
        _("Publication"),
        "/publications",
        _("Freeze the figures, approve them (a second person) and publish."),
        permission=PUBLICATIONS_READ,
    )
]
PUBLICATION_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
PERIOD = re.compile(r"^(campaign|\d{4}(-Q[1-4]|-\d{2})?)$")
FORM_ERRORS = (409, 422)
NOT_FOUND = 404
TEXT_MAX = 500
REPORT_TIMEOUT = 60.0
"""Seconds to wait for scoring's PDF (WeasyPrint takes seconds on a busy server)."""
PERIOD_HELP = _("Write 'campaign', a year (2026), a quarter (2026-Q3) or a month (2026-09).")


def _publication_id(value: str) -> str:
    if not PUBLICATION_ID.match(value):
        raise HTTPException(NOT_FOUND)
    return value


async def _campaigns(request: Request) -> list[str]:
    """Campaigns scoring has figures for (for the draft form)."""
    if INDICES_READ not in viewer_permissions(request):
        return []
    scoring = service_of(request).clients.scoring
    listed = await scoring.get_json("/v1/campaigns", as_=caller_of(request))
    return [str(entry["campaign_id"]) for entry in listed]


async def listing_page(
    request: Request,
    *,
    status: int = 200,
    values: dict[str, str] | None = None,
    errors: list[tuple[str, str]] | None = None,
) -> HTMLResponse:
    """Every publication, newest first, and the draft form for those who draft."""
    scoring, caller = service_of(request).clients.scoring, caller_of(request)
    records, campaigns = await asyncio.gather(
        scoring.get_json("/v1/publications", as_=caller), _campaigns(request)
    )
    return render(
        request,
        "publications/list.html",
        status=status,
        records=records,
        campaigns=campaigns,
        campaign_options=[(campaign, campaign) for campaign in campaigns],
        may_draft=PUBLICATIONS_DRAFT in viewer_permissions(request),
        local=local,
        values={"period": "campaign", **(values or {})},
        errors=errors or [],
        views=views,
    )


@router.get("/publications", response_class=HTMLResponse)
async def publications(request: Request) -> HTMLResponse:
    """The publications list."""
    return await listing_page(request)


@router.post("/publications", response_class=HTMLResponse, response_model=None)
async def draft(
    request: Request,
    campaign_id: Annotated[str, Form(max_length=64)] = "",
    period: Annotated[str, Form(max_length=16)] = "campaign",
    note: Annotated[str, Form(max_length=TEXT_MAX)] = "",
) -> HTMLResponse | RedirectResponse:
    """Freeze the current figures of a campaign period as a draft; to its page."""
    values = {"campaign_id": campaign_id, "period": period.strip(), "note": note}
    errors = []
    if campaign_id not in await _campaigns(request):
        errors.append(("campaign_id", _("Choose a campaign.")))
    if not PERIOD.match(values["period"]):
        errors.append(("period", PERIOD_HELP))
    if errors:
        return await listing_page(
            request, status=422, values=values, errors=field_errors(request, errors)
        )
    body = {"campaign_id": campaign_id, "period": values["period"], "note": note.strip() or None}
    scoring = service_of(request).clients.scoring
    try:
        record = await scoring.post_json("/v1/publications", body, as_=caller_of(request))
    except ServiceCallError as exc:
        if exc.status not in FORM_ERRORS:
            raise
        return await listing_page(
            request, status=exc.status, values=values, errors=[("period", exc.detail)]
        )
    return RedirectResponse(f"/publications/{record['id']}", status_code=303)


async def publication_page(
    request: Request,
    publication_id: str,
    *,
    status: int = 200,
    values: dict[str, str] | None = None,
    errors: list[tuple[str, str]] | None = None,
) -> HTMLResponse:
    """A publication: its figures beside the previous published ones, history, steps."""
    scoring, caller = service_of(request).clients.scoring, caller_of(request)
    record: dict[str, Any] = await scoring.get_json(
        f"/v1/publications/{publication_id}", as_=caller
    )
    listing = await scoring.get_json(
        "/v1/publications", as_=caller, params={"campaign": record["campaign_id"]}
    )
    previous = views.previous_of(record, listing)
    before = None
    if previous is not None:
        before = await scoring.get_json(f"/v1/publications/{previous['id']}", as_=caller)
    lang = language(request)
    snapshot = record.get("snapshot") or {}
    missing = service_of(request).catalogue.gettext(lang, _("not enough data"))
    rows = views.compared(snapshot, (before or {}).get("snapshot"), lang, missing)
    return render(
        request,
        "publications/publication.html",
        status=status,
        record=record,
        previous=previous,
        rows_table=[row.cells() for row in rows],
        local=local,
        steps=views.steps_for(record, person_of(request).id, viewer_permissions(request)),
        drafted_by_viewer=record["drafted_by"] == person_of(request).id,
        values=values or {},
        errors=errors or [],
        views=views,
    )


@router.get("/publications/{publication_id}", response_class=HTMLResponse)
async def show_publication(request: Request, publication_id: str) -> HTMLResponse:
    """One publication."""
    return await publication_page(request, _publication_id(publication_id))


STEP_ROUTE = "/publications/{publication_id}/steps"


@router.post(STEP_ROUTE, response_class=HTMLResponse, response_model=None)
async def step(
    request: Request,
    publication_id: str,
    *,
    action: Annotated[str, Form(max_length=16)],
    note: Annotated[str, Form(max_length=TEXT_MAX)] = "",
    title: Annotated[str, Form(max_length=120)] = "",
    authority: Annotated[str, Form(max_length=120)] = "",
    number: Annotated[str, Form(max_length=40)] = "",
) -> HTMLResponse | RedirectResponse:
    """Approve, publish or withdraw; back to the publication (scoring's refusal shown)."""
    publication_id = _publication_id(publication_id)
    if action not in views.STEPS:
        raise HTTPException(NOT_FOUND)
    fields = {"note": note, "title": title, "authority": authority, "number": number}
    body = {name: value.strip() for name, value in fields.items() if value.strip()}
    scoring = service_of(request).clients.scoring
    try:
        await scoring.post_json(
            f"/v1/publications/{publication_id}/{action}", body, as_=caller_of(request)
        )
    except ServiceCallError as exc:
        if exc.status not in FORM_ERRORS:
            raise
        problems = exc.problem.get("errors") or []
        errors = [(f"{action}-{e.get('field')}", str(e.get("reason"))) for e in problems]
        return await publication_page(
            request,
            publication_id,
            status=exc.status,
            values={"action": action, **fields},
            errors=errors or [(f"{action}-note", exc.detail)],
        )
    return RedirectResponse(f"/publications/{publication_id}", status_code=303)


@router.get("/publications/{publication_id}/report.pdf")
async def report(request: Request, publication_id: str) -> Response:
    """The publication's report as scoring renders it (drafts carry their state)."""
    publication_id = _publication_id(publication_id)
    scoring = service_of(request).clients.scoring
    answer = await scoring.send(
        "GET",
        f"/v1/publications/{publication_id}/report.pdf",
        as_=caller_of(request),
        params={"lang": language(request)},
        timeout=REPORT_TIMEOUT,
    )
    disposition = answer.headers.get("content-disposition", "inline")
    return Response(
        answer.content,
        media_type="application/pdf",
        headers={"Content-Disposition": disposition, "Cache-Control": "private, no-store"},
    )
