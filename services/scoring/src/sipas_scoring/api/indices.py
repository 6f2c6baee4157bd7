"""Scoring's staff API: live indices, unit detail, funnel, exports, campaign profiles.

Live figures are for staff and downstream readers (see :mod:`sipas_scoring.api.permissions`),
not public until published (see :mod:`sipas_scoring.api.publications`).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response

from sipas_contracts.events import ApplicantKind, CollectionMode
from sipas_runtime.identity import Caller
from sipas_runtime.params import CampaignPath, CampaignQuery, UnitPath, UnitQuery
from sipas_runtime.problems import ProblemError
from sipas_scoring.api import service_of
from sipas_scoring.api.models import CampaignOut, FunnelOut, TableOut, UnitDetailOut
from sipas_scoring.domain import ScoringError
from sipas_scoring.domain.periods import LIVE_PERIOD_PATTERN, PERIOD_PATTERN
from sipas_scoring.domain.profile import (
    CampaignProfile,
    ProfileSettings,
    check_plan,
    effective_profile,
)
from sipas_scoring.domain.selection import instrument_of
from sipas_scoring.exports import MEDIA_TYPES, TABLE_RESPONSES, Format, render
from sipas_scoring.rendering import Json, detail_json
from sipas_scoring.views import NotFoundError

router = APIRouter(prefix="/v1", tags=["indices"])
Tier = Literal["province", "district", "commune", "department", "unknown"]
PeriodQuery = Annotated[
    str,
    Query(
        description="'campaign' (default), YYYY, YYYY-Qn or YYYY-MM",
        max_length=16,
        json_schema_extra={"pattern": PERIOD_PATTERN},
    ),
]
LivePeriodQuery = Annotated[
    str,
    Query(
        description="'campaign' (default), YYYY, YYYY-Qn, YYYY-MM, or 'today': the "
        "province's current day (Asia/Ho_Chi_Minh), counted per day",
        max_length=16,
        json_schema_extra={"pattern": LIVE_PERIOD_PATTERN},
    ),
]
ModesQuery = Annotated[
    list[CollectionMode] | None,
    Query(description="Collection modes to count (default: the profile's, kiosk apart)"),
]


def problem_of(exc: Exception) -> ProblemError:
    """A domain error as a problem naming the field (``field: reason`` in the message)."""
    if isinstance(exc, NotFoundError):
        return ProblemError(404, str(exc), code="urn:sipas:problem:not-found")
    text = str(exc)
    field, _, reason = text.partition(": ")
    if not reason or " " in field:
        field, reason = "(query)", text
    return ProblemError(
        422,
        text,
        code="urn:sipas:problem:invalid-input",
        errors=[{"field": field, "reason": reason}],
    )


async def campaign_or_only(request: Request, campaign: str | None) -> str:
    """The requested campaign, or the only one there is."""
    if campaign is not None:
        return campaign
    known = [c["campaign_id"] for c in await service_of(request).reader.campaigns()]
    if len(known) == 1:
        return str(known[0])
    if not known:
        raise ProblemError(404, "no campaign has responses yet", code="urn:sipas:problem:not-found")
    reason = f"required when there are several campaigns ({', '.join(known)})"
    raise ProblemError(
        422,
        f"campaign: {reason}",
        code="urn:sipas:problem:invalid-input",
        errors=[{"field": "campaign", "reason": reason}],
    )


@router.get(
    "/campaigns",
    summary="Campaigns with counts, their title and profile revision",
    response_model=list[CampaignOut],
)
async def campaigns(request: Request) -> list[Json]:
    """Responses, units, months and instruments of each campaign in the counts.

    The title is the report title of the profile in force (the campaign's name from its
    plan unless an operator set another), so a reader of indices can name a campaign.
    """
    scoring = service_of(request)
    listed = await scoring.reader.campaigns()
    for entry in listed:
        profile = await scoring.views.profile(entry["campaign_id"])
        entry["profile_revision"] = profile.revision
        entry["title_vi"], entry["title_en"] = profile.title_vi, profile.title_en
    return listed


@router.get(
    "/indices",
    summary="League table of a campaign period, with n, CI and rank",
    response_model=TableOut,
)
async def indices(
    request: Request,
    *,
    campaign: CampaignQuery = None,
    period: LivePeriodQuery = "campaign",
    level: Tier | None = None,
    unit: UnitQuery = None,
    kind: ApplicantKind | None = None,
    modes: ModesQuery = None,
) -> Json:
    """Every unit with data and every roll-up, ranked within its tier on exact values.

    ``period=today`` counts the responses given today in the province's time zone
    (``period`` in the answer is that day, ``YYYY-MM-DD``); 404 when none was given yet.
    """
    chosen = await campaign_or_only(request, campaign)
    try:
        table = await service_of(request).views.table(
            chosen, period, modes=tuple(modes) if modes else None, kind=kind
        )
    except (ScoringError, NotFoundError) as exc:
        raise problem_of(exc) from exc
    table["rows"] = [
        r
        for r in table["rows"]
        if (level is None or r["tier"] == level) and unit in (None, r["unit"])
    ]
    return table


@router.get(
    "/indices/{campaign}/units/{unit}",
    summary="One unit: every item and its counts",
    response_model=UnitDetailOut,
)
async def unit_detail(
    request: Request,
    campaign: CampaignPath,
    unit: UnitPath,
    *,
    period: LivePeriodQuery = "campaign",
    kind: ApplicantKind | None = None,
    modes: ModesQuery = None,
) -> Json:
    """Item, element, aspect, perception and expectation figures of one unit."""
    try:
        computed = await service_of(request).views.compute(
            campaign, period, modes=tuple(modes) if modes else None, kind=kind
        )
    except (ScoringError, NotFoundError) as exc:
        raise problem_of(exc) from exc
    row = next((r for r in computed.rows if r.unit == unit), None)
    if row is None:
        raise ProblemError(404, f"unit {unit!r} has no responses in {campaign} {period}")
    counts = row.tally.canonical() if row.tally is not None else {}
    return {**computed.meta, "unit": detail_json(row), "counts": counts}


@router.get(
    "/funnel",
    summary="Eligible, invited, responded, response rate per unit and channel",
    response_model=FunnelOut,
)
async def funnel(request: Request, campaign: CampaignQuery = None) -> Json:
    """The survey funnel of a campaign.

    Eligible dossiers are counted over the profile's window, else over the days the
    invited dossiers were completed.
    """
    return await service_of(request).views.funnel(await campaign_or_only(request, campaign))


@router.get(
    "/exports/indices.{fmt}",
    summary="The league table as CSV, XLSX or JSON (live)",
    responses=TABLE_RESPONSES,
)
async def export(
    request: Request,
    fmt: Format,
    *,
    campaign: CampaignQuery = None,
    period: LivePeriodQuery = "campaign",
    kind: ApplicantKind | None = None,
    modes: ModesQuery = None,
) -> Response:
    """Live figures (not published) for operators."""
    table = await indices(request, campaign=campaign, period=period, kind=kind, modes=modes)
    name = f"sipas-{table['campaign_id']}-{table['period']}-live.{fmt}"
    return Response(
        render(table, fmt),
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/campaigns/{campaign}/profile", summary="A campaign's scoring profile")
async def get_profile(request: Request, campaign: CampaignPath) -> CampaignProfile:
    """The stored profile, or the defaults (revision 0)."""
    return await service_of(request).views.profile(campaign)


@router.put("/campaigns/{campaign}/profile", summary="Set a campaign's scoring profile")
async def put_profile(
    request: Request, campaign: CampaignPath, settings: ProfileSettings, caller: Caller
) -> CampaignProfile:
    """Replace the profile (revision +1); omitted fields follow the plan, else the defaults.

    Figures are recomputed and re-published with the new revision.
    """
    scoring = service_of(request)
    explicit = settings.model_dump(mode="json", exclude_unset=True)
    plan = await scoring.stores.profiles.plan(campaign)
    merged = effective_profile(campaign, scoring.settings.profile_defaults(), plan, explicit)
    tallies = await scoring.reader.tallies(campaign)
    try:
        check_plan(merged, plan)
        if tallies or merged.instrument_id is not None:
            instrument_of(tallies, merged)
    except ScoringError as exc:
        raise problem_of(exc) from exc
    profile = await scoring.stores.profiles.put(campaign, explicit, caller.subject)
    scoring.index_publisher.invalidate(campaign)
    return profile
