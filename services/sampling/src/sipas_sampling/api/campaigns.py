"""Campaign administration: create/update (JSON or YAML), read with progress, close, opt-outs."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

import yaml
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator

from sipas_runtime.openapi import problem_responses
from sipas_runtime.problems import ProblemError
from sipas_sampling.api import service_of
from sipas_sampling.campaigns import SHIPPED, CampaignFileError, parse_campaign, shipped_path
from sipas_sampling.domain.campaign import design_digest
from sipas_sampling.domain.progress import batch_units, delivery, total_quota
from sipas_sampling.registry import ActiveCampaign
from sipas_sampling.store.campaigns import DesignFrozenError
from sipas_sampling.vault import contact_hashes

router = APIRouter(prefix="/v1", tags=["campaigns"])


def _active(request: Request, campaign_id: str) -> ActiveCampaign:
    active = service_of(request).registry.get(campaign_id)
    if active is None:
        raise ProblemError(
            404,
            f"No campaign {campaign_id!r}.",
            errors=[{"field": "campaign_id", "reason": "unknown"}],
        )
    return active


CAMPAIGN_BODY = {
    "type": "object",
    "description": (
        "A campaign file (docs/campaigns.md), as JSON or YAML: checked against the unit "
        "hierarchy, its dates and its plan, each problem naming its field"
    ),
}


@router.post(
    "/campaigns",
    summary="Create or update a campaign (JSON or YAML body)",
    status_code=200,
    responses=problem_responses(409),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": CAMPAIGN_BODY},
                "application/yaml": {"schema": CAMPAIGN_BODY},
            },
        }
    },
)
async def put_campaign(
    request: Request,
    as_of: Annotated[
        date | None,
        Query(
            description="Day a template (a campaign with as_of) is instantiated for; default today"
        ),
    ] = None,
) -> dict[str, Any]:
    """Validate and store a campaign; its design is frozen once it has decided."""
    sampling = service_of(request)
    day = as_of or sampling.settings.templates_day()
    raw = await request.body()
    try:
        if "yaml" in request.headers.get("content-type", ""):
            document = yaml.safe_load(raw)
        else:
            document = json.loads(raw or b"null")
        campaign = parse_campaign(document, origin="body", hierarchy=sampling.hierarchy, as_of=day)
        created = await sampling.registry.save(campaign)
    except (ValueError, yaml.YAMLError) as exc:
        if isinstance(exc, DesignFrozenError):
            raise ProblemError(409, str(exc)) from exc
        errors = (
            exc.errors
            if isinstance(exc, CampaignFileError)
            else [{"field": "(body)", "reason": str(exc)[:300]}]
        )
        raise ProblemError(422, "The campaign is invalid.", errors=errors) from exc
    return {"id": campaign.id, "created": created, "design_digest": design_digest(campaign)}


@router.get("/plans", summary="The shipped plans (campaign templates) to create campaigns from")
async def plans() -> list[dict[str, Any]]:
    """Each shipped plan as written: post it to ``/v1/campaigns?as_of=DAY`` to create it."""
    return [
        {"name": name, "template": yaml.safe_load(shipped_path(name).read_text(encoding="utf-8"))}
        for name in SHIPPED
    ]


@router.get("/campaigns", summary="Campaigns and their status")
async def list_campaigns(request: Request) -> list[dict[str, Any]]:
    """Every campaign known to the service."""
    return [
        {
            "id": a.id,
            "name_vi": a.campaign.name_vi,
            "mode": a.campaign.mode,
            "status": a.status,
            "units": len(a.units),
            "design_digest": design_digest(a.campaign),
        }
        for a in service_of(request).registry.all()
    ]


@router.get(
    "/campaigns/{campaign_id}", summary="A campaign with its allocation and progress per unit"
)
async def get_campaign(request: Request, campaign_id: str) -> dict[str, Any]:
    """Definition, status, per unit quota and progress, and delivery per channel.

    A continuous campaign's units come from its quota documents; a batch campaign's from
    its population and, once drawn, the draw (quota, reserve list) and its invitations.
    """
    active = _active(request, campaign_id)
    sampling = service_of(request)
    counts = await sampling.stores.progress.invitations(campaign_id)
    drawn = None
    if active.campaign.mode == "batch":
        drawn = await sampling.stores.campaigns.draw(campaign_id)
        eligible = await sampling.stores.progress.eligible(campaign_id)
        units = batch_units(eligible=eligible, draw=drawn, invitations=counts)
    else:
        table = await sampling.stores.decisions.quota_table(campaign_id)
        units = [{"unit": d["unit"], **{f: d.get(f) for f in CONTINUOUS_FIELDS}} for d in table]
    return {
        "campaign": active.campaign.model_dump(mode="json"),
        "status": active.status,
        "design_digest": design_digest(active.campaign),
        "units_in_scope": sorted(active.units),
        "total_quota": total_quota(units),
        "units": units,
        "delivery": delivery(counts),
        "draw": _draw_summary(drawn),
        "population": await sampling.stores.population.counts(campaign_id)
        if active.campaign.mode == "batch"
        else None,
    }


CONTINUOUS_FIELDS = ("quota", "reserved", "invited", "answered", "lapsed", "eligible", "reachable")
DRAW_FIELDS = ("official", "shortfall", "opted_out", "population_digest", "lists_digest")


def _draw_summary(drawn: dict[str, Any] | None) -> dict[str, Any] | None:
    if drawn is None:
        return None
    return {
        "at": drawn["at"].isoformat(),
        **{f: drawn.get(f) for f in DRAW_FIELDS},
    }


@router.get("/campaigns/{campaign_id}/decisions", summary="The decision log (for observers)")
async def decisions(request: Request, campaign_id: str) -> dict[str, Any]:
    """Every decision ``[dossier, unit, draw, rate, outcome]`` with the campaign seed."""
    active = _active(request, campaign_id)
    rows = await service_of(request).stores.decisions.decisions(campaign_id)
    return {"campaign_id": campaign_id, "seed": active.campaign.seed, "decisions": rows}


@router.post("/campaigns/{campaign_id}/close", summary="Close fieldwork now and destroy contacts")
async def close(request: Request, campaign_id: str) -> dict[str, Any]:
    """Crypto-shred the campaign's contacts and tokens; decisions and lists remain."""
    _active(request, campaign_id)
    erased = await service_of(request).maintenance.close(campaign_id)
    return {"id": campaign_id, "status": "closed", "invitations_shredded": erased}


OptOutScope = Literal["all", "sms", "zalo", "email"]


def _everything() -> list[OptOutScope]:
    return ["all"]


class OptOut(BaseModel):
    """A person who asked not to be surveyed (by any of their contacts)."""

    phone: str | None = Field(default=None, max_length=32)
    email: str | None = Field(default=None, max_length=254)
    zalo_id: str | None = Field(default=None, max_length=64)
    channels: list[OptOutScope] = Field(default_factory=_everything, min_length=1)

    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"required": [name], "properties": {name: {"type": "string", "minLength": 1}}}
                for name in ("phone", "email", "zalo_id")
            ]
        }
    )

    @model_validator(mode="after")
    def _some_contact(self) -> OptOut:
        if not (self.phone or self.email or self.zalo_id):
            raise ValueError("give phone, email or zalo_id")
        return self


@router.post("/optouts", summary="Register an opt-out (kept as keyed hashes only)", status_code=201)
async def opt_out(request: Request, body: OptOut) -> dict[str, Any]:
    """Nobody reachable by these contacts is invited again through the given channels."""
    sampling = service_of(request)
    contact = {k: v for k, v in body.model_dump(include={"phone", "email", "zalo_id"}).items() if v}
    hashes = contact_hashes(sampling.optout_key, contact)
    if not hashes:
        raise ProblemError(
            422,
            "No usable contact.",
            errors=[{"field": "phone", "reason": "not a Vietnamese mobile number"}],
        )
    await sampling.stores.contacts.add_optouts(hashes, list(body.channels), datetime.now(UTC))
    return {"registered": len(hashes), "channels": body.channels}
