"""Batch draws, the observer's export, substitutions, lists (XLSX, JSON) and counter slips."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from sipas_runtime.i18n import _
from sipas_runtime.identity import Caller, Principal
from sipas_runtime.identity.gate import out_of_scope
from sipas_runtime.identity.roles import LISTS_READ
from sipas_runtime.openapi import problem_responses
from sipas_runtime.problems import ProblemError
from sipas_sampling.api import service_of
from sipas_sampling.draws import DrawError
from sipas_sampling.exports import counter_slips, lists_workbook
from sipas_sampling.fieldlists import FieldListSource, counter_slip_rows, field_rows

router = APIRouter(prefix="/v1/campaigns/{campaign_id}", tags=["draws"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _conflict(exc: DrawError) -> ProblemError:
    status = 404 if "unknown campaign" in str(exc) else 409
    return ProblemError(status, str(exc))


@router.post(
    "/draw",
    summary="Freeze the population and draw official + reserve lists",
    status_code=201,
    responses=problem_responses(409),
)
async def draw(request: Request, campaign_id: str) -> dict[str, Any]:
    """Once per batch campaign; afterwards only substitutions change who is surveyed."""
    try:
        return await service_of(request).draws.draw(campaign_id)
    except DrawError as exc:
        raise _conflict(exc) from exc


@router.get(
    "/draw",
    summary="Everything an observer needs to re-run the draw (no personal data)",
    responses=problem_responses(409),
)
async def export(request: Request, campaign_id: str) -> dict[str, Any]:
    """Campaign, population snapshot (dossier numbers), lists and the substitution log."""
    try:
        return await service_of(request).draws.export(campaign_id)
    except DrawError as exc:
        raise _conflict(exc) from exc


class SubstitutionRequest(BaseModel):
    """Who could not be surveyed, and why: the dossier number or the invitation id on the list."""

    dossier_id: str | None = Field(default=None, min_length=1, max_length=64)
    invitation_id: UUID | None = Field(default=None, description="As printed on the lists")
    reason: Literal["refused", "unreachable", "ineligible"]

    model_config = ConfigDict(
        json_schema_extra={
            "oneOf": [
                {"required": [name], "properties": {name: {"type": "string"}}}
                for name in ("dossier_id", "invitation_id")
            ]
        }
    )

    @model_validator(mode="after")
    def _one_person(self) -> SubstitutionRequest:
        if (self.dossier_id is None) == (self.invitation_id is None):
            msg = "give either dossier_id or invitation_id"
            raise ValueError(msg)
        return self


@router.post(
    "/substitutions",
    summary="Replace a listed member from the reserve (repeating it is harmless)",
    status_code=201,
    responses={200: {"description": "Already recorded: the same entry again"}},
)
async def substitute(
    request: Request, campaign_id: str, body: SubstitutionRequest, caller: Caller
) -> JSONResponse:
    """The next unused reserve of the same stratum (then the other kind) takes the place."""
    sampling = service_of(request)
    dossier_id = body.dossier_id
    if body.invitation_id is not None:
        invitation = await sampling.stores.invitations.get(body.invitation_id)
        if invitation is None or invitation["campaign"] != campaign_id:
            raise ProblemError(
                404,
                f"No invitation {body.invitation_id} in campaign {campaign_id!r} "
                "(a reserve must be brought in by a substitution first).",
                errors=[{"field": "invitation_id", "reason": "unknown in this campaign"}],
            )
        dossier_id = invitation["dossier_id"]
    listed = await sampling.stores.invitations.by_campaign(campaign_id, dossier_id=str(dossier_id))
    scope = caller.scope(sampling.hierarchy)
    if any(not scope.covers(doc["unit"]) for doc in listed):
        raise out_of_scope(request)
    try:
        entry = await sampling.draws.substitute(campaign_id, str(dossier_id), body.reason)
    except DrawError as exc:
        raise _conflict(exc) from exc
    return JSONResponse(entry, status_code=200 if entry["repeated"] else 201)


async def _rows(
    request: Request,
    campaign_id: str,
    unit: str | None,
    *,
    caller: Principal,
    with_contacts: bool,
) -> list[dict[str, Any]]:
    sampling = service_of(request)
    source = _source(request, campaign_id)
    rows = await field_rows(source, campaign_id, unit=unit, with_contacts=with_contacts)
    scope = caller.scope(sampling.hierarchy)
    return [row for row in rows if scope.covers(row["unit"])]  # an enumerator's own units


def _source(request: Request, campaign_id: str) -> FieldListSource:
    """Where a campaign's lists are read from; 404 for an unknown campaign."""
    sampling = service_of(request)
    if sampling.registry.get(campaign_id) is None:
        raise ProblemError(404, _("No campaign %(campaign)s."), params={"campaign": campaign_id})
    return FieldListSource(
        sampling.stores.campaigns,
        sampling.stores.invitations,
        sampling.stores.population,
        sampling.hierarchy,
        sampling.settings.survey_base_url,
    )


@router.get(
    "/lists.xlsx",
    summary="Official and reserve lists as XLSX (contacts for field roles only)",
    response_class=Response,
    responses={200: {"content": {XLSX: {}}}},
)
async def lists_xlsx(
    request: Request,
    campaign_id: str,
    caller: Caller,
    unit: Annotated[str | None, Query(description="Only this unit")] = None,
) -> Response:
    """Per unit and kind: the official list, then the reserves in order, with invitation ids."""
    with_contacts = caller.may(LISTS_READ)
    rows = await _rows(request, campaign_id, unit, caller=caller, with_contacts=with_contacts)
    name = service_of(request).registry.get(campaign_id).campaign.name_vi  # type: ignore[union-attr]
    content = lists_workbook(rows, title=name, with_contacts=with_contacts)
    filename = f"danh-sach-{campaign_id}{'-' + unit if unit else ''}.xlsx"
    return Response(
        content,
        media_type=XLSX,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/assignments", summary="The caller's lists as JSON: official, then reserves in order")
async def assignments(
    request: Request,
    campaign_id: str,
    caller: Caller,
    unit: Annotated[str | None, Query(description="Only this unit")] = None,
) -> dict[str, Any]:
    """The rows of ``lists.xlsx`` for the caller's units (the enumerator app's day list).

    Contacts (name, address, phone, e-mail) only for callers who may read lists with
    contacts; never the survey link (its token is the respondent's, not the enumerator's).
    """
    rows = await _rows(request, campaign_id, unit, caller=caller, with_contacts=True)
    return {
        "campaign_id": campaign_id,
        "rows": [{k: v for k, v in row.items() if k != "link"} for row in rows],
    }


@router.get(
    "/counter-slips", summary="Printable QR slips for invitations handed out at the counter"
)
async def slips(
    request: Request,
    campaign_id: str,
    caller: Caller,
    unit: Annotated[str | None, Query()] = None,
) -> Response:
    """Slips for the ``counter`` invitations still listed, which printing hands over."""
    sampling = service_of(request)
    rows = await counter_slip_rows(
        _source(request, campaign_id),
        campaign_id,
        at=datetime.now(UTC),
        unit=unit,
        covers=caller.scope(sampling.hierarchy).covers,
    )
    name = sampling.registry.get(campaign_id).campaign.name_vi  # type: ignore[union-attr]
    page = counter_slips(rows, campaign_name=name)
    return Response(
        page, media_type="text/html; charset=utf-8", headers={"Cache-Control": "no-store"}
    )
