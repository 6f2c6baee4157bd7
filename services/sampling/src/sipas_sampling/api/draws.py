"""Batch draws, the observer's export, substitutions, XLSX lists and counter slips."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from sipas_runtime.problems import ProblemError
from sipas_sampling.api import CONTACT_ROLES, Fieldwork, Operator, Reader, role, service
from sipas_sampling.draws import DrawError
from sipas_sampling.exports import counter_slips, lists_workbook
from sipas_sampling.vault import VaultError, unlock

router = APIRouter(prefix="/v1/campaigns/{campaign_id}", tags=["draws"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _conflict(exc: DrawError) -> ProblemError:
    status = 404 if "unknown campaign" in str(exc) else 409
    return ProblemError(status, str(exc))


@router.post(
    "/draw", summary="Freeze the population and draw official + reserve lists", status_code=201
)
async def draw(request: Request, campaign_id: str, _: Operator) -> dict[str, Any]:
    """Once per batch campaign; afterwards only substitutions change who is surveyed."""
    try:
        return await service(request).draws.draw(campaign_id)
    except DrawError as exc:
        raise _conflict(exc) from exc


@router.get("/draw", summary="Everything an observer needs to re-run the draw (no personal data)")
async def export(request: Request, campaign_id: str, _: Reader) -> dict[str, Any]:
    """Campaign, population snapshot (dossier numbers), lists and the substitution log."""
    try:
        return await service(request).draws.export(campaign_id)
    except DrawError as exc:
        raise _conflict(exc) from exc


class SubstitutionRequest(BaseModel):
    """Who could not be surveyed, and why."""

    dossier_id: str = Field(min_length=1, max_length=64)
    reason: Literal["refused", "unreachable", "ineligible"]


@router.post(
    "/substitutions", summary="Replace an official-list member from the reserve", status_code=201
)
async def substitute(
    request: Request, campaign_id: str, body: SubstitutionRequest, _: Fieldwork
) -> dict[str, Any]:
    """The next unused reserve of the same stratum (then the other kind) takes the place."""
    try:
        return await service(request).draws.substitute(campaign_id, body.dossier_id, body.reason)
    except DrawError as exc:
        raise _conflict(exc) from exc


async def _rows(
    request: Request, campaign_id: str, unit: str | None, *, with_contacts: bool
) -> list[dict[str, Any]]:
    sampling = service(request)
    active = sampling.registry.get(campaign_id)
    if active is None:
        raise ProblemError(404, f"No campaign {campaign_id!r}.")
    filters = {"unit": unit} if unit else {}
    key = await sampling.campaigns.key(campaign_id) if with_contacts else None
    rows = []
    for doc in await sampling.invitations.by_campaign(campaign_id, **filters):
        contact: dict[str, str] = {}
        link = ""
        if with_contacts and doc.get("contact"):
            try:
                contact = unlock(key, doc["contact"])
                token = unlock(key, doc["token"])["token"]
                link = f"{sampling.settings.survey_base_url.rstrip('/')}/s/{token}"
            except VaultError:
                contact, link = {}, ""
        unit_doc = sampling.hierarchy.units.get(doc["unit"])
        rows.append(
            {
                "unit": doc["unit"],
                "unit_name": unit_doc.name_vi if unit_doc else doc["unit"],
                "kind": doc["kind"],
                "list": doc["list"],
                "dossier_id": doc["dossier_id"],
                "channel": doc["channels"][doc["channel_index"]],
                "state": doc["state"],
                "contact": contact,
                "link": link,
            }
        )
    return sorted(
        rows, key=lambda r: (r["unit"], r["kind"], r["list"] != "official", r["dossier_id"])
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
    who: Annotated[str, Depends(role("operator", "enumerator", "observer"))],
    unit: Annotated[str | None, Query(description="Only this unit")] = None,
) -> Response:
    """One row per invited person, in unit / kind / list order."""
    with_contacts = who in CONTACT_ROLES
    rows = await _rows(request, campaign_id, unit, with_contacts=with_contacts)
    name = service(request).registry.get(campaign_id).campaign.name_vi  # type: ignore[union-attr]
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


@router.get(
    "/counter-slips", summary="Printable QR slips for invitations handed out at the counter"
)
async def slips(
    request: Request, campaign_id: str, _: Fieldwork, unit: Annotated[str | None, Query()] = None
) -> Response:
    """Slips for invitations whose channel is ``counter``; printing marks them handed over."""
    sampling = service(request)
    rows = [
        r
        for r in await _rows(request, campaign_id, unit, with_contacts=True)
        if r["channel"] == "counter" and r["link"]
    ]
    name = sampling.registry.get(campaign_id).campaign.name_vi  # type: ignore[union-attr]
    page = counter_slips(rows, campaign_name=name)
    now = datetime.now(UTC)
    for doc in await sampling.invitations.by_campaign(
        campaign_id, state="listed", **({"unit": unit} if unit else {})
    ):
        if doc["channels"][doc["channel_index"]] == "counter":
            await sampling.invitations.update(
                doc["_id"], {"state": "sent", "sent_at": now, "updated_at": now}
            )
    return Response(
        page, media_type="text/html; charset=utf-8", headers={"Cache-Control": "no-store"}
    )
