"""The public endpoints: published figures only, never live counts, no sign-in.

Each answer comes from the snapshot a publication froze (``X-Sipas-Digest`` names it): the
table, open data (CSV, XLSX, JSON), the report and the official workbook.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from sipas_contracts.ids import CODE_PATTERN
from sipas_runtime.i18n import Lang
from sipas_runtime.params import CampaignPath
from sipas_runtime.problems import ProblemError
from sipas_scoring.api import service_of
from sipas_scoring.api.indices import PeriodQuery
from sipas_scoring.api.publications import (
    PublishedTableOut,
    ReportFormat,
    report_response,
    workbook_response,
)
from sipas_scoring.exports import LICENCE, MEDIA_TYPES, TABLE_RESPONSES, Format, dictionary, render
from sipas_scoring.rendering import Json
from sipas_scoring.report import render_html
from sipas_scoring.store.publications import PublicationRecord

public_router = APIRouter(prefix="/v1/public", tags=["public"])


async def _published(
    request: Request, campaign: str, period: str
) -> tuple[PublicationRecord, Json]:
    store = service_of(request).stores.publications
    record = await store.latest_published(campaign, period)
    if record is None:
        raise ProblemError(404, f"nothing is published for {campaign} {period}")
    return record, await store.snapshot(record.id) or {}


@public_router.get("/publications", summary="What is published")
async def public_publications(request: Request) -> list[PublicationRecord]:
    """Currently published publications (campaign, period, digest, approvals)."""
    return await service_of(request).stores.publications.published()


@public_router.get(
    "/indices",
    summary="Published league table of a campaign period",
    response_model=PublishedTableOut,
)
async def public_indices(
    request: Request,
    campaign: Annotated[str, Query(pattern=CODE_PATTERN)],
    period: PeriodQuery = "campaign",
) -> Json:
    """The published snapshot's table, its digest and when it was published."""
    record, snapshot = await _published(request, campaign, period)
    return {"publication": record.model_dump(mode="json"), **snapshot["table"]}


@public_router.get("/open-data/dictionary", summary="What each open-data column means")
async def open_data_dictionary() -> Json:
    """Columns of the CSV/XLSX (aspects and elements follow the instrument) and the licence."""
    return {"licence": LICENCE, "columns": dictionary()}


@public_router.get(
    "/open-data/{campaign}.{fmt}",
    summary="Open data: published figures",
    responses=TABLE_RESPONSES,
)
async def open_data(
    request: Request, campaign: CampaignPath, fmt: Format, period: PeriodQuery = "campaign"
) -> Response:
    """CSV, XLSX or JSON of the published table (the digest identifies the snapshot)."""
    record, snapshot = await _published(request, campaign, period)
    name = f"sipas-{campaign}-{record.period}.{fmt}"
    return Response(
        render(snapshot["table"], fmt, digest=record.digest),
        media_type=MEDIA_TYPES[fmt],
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "X-Sipas-Digest": record.digest,
        },
    )


@public_router.get("/reports/{campaign}.{fmt}", summary="The published report")
async def public_report(
    request: Request,
    campaign: CampaignPath,
    fmt: ReportFormat,
    period: PeriodQuery = "campaign",
    lang: Lang = "vi",
) -> Response:
    """The report of the published snapshot."""
    record, snapshot = await _published(request, campaign, period)
    html = render_html(snapshot, state=record.state, record=record, lang=lang)
    return report_response(html, fmt, f"sipas-{campaign}-{record.period}")


@public_router.get(
    "/workbooks/{campaign}.xlsx",
    summary="The official workbook of the published figures",
    response_class=Response,
    responses={200: {"content": {MEDIA_TYPES["xlsx"]: {}}}},
)
async def public_workbook(
    request: Request, campaign: CampaignPath, period: PeriodQuery = "campaign", lang: Lang = "vi"
) -> Response:
    """One sheet per tier with n and intervals, and the method sheet."""
    record, snapshot = await _published(request, campaign, period)
    return workbook_response(snapshot, record, lang)
