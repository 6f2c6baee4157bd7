"""Publication (operators, approvers): draft, approve, publish, withdraw; reports, workbook.

An operator drafts a publication (a frozen snapshot of the table and the funnel, with its
SHA-256), an approver who did not draft it approves it, then it is published. The public routes
(:mod:`sipas_scoring.api.public`) serve only the published snapshot, never live counts.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from sipas_contracts.ids import CODE_PATTERN, CampaignId
from sipas_runtime.i18n import Lang
from sipas_runtime.identity import Caller, Principal
from sipas_runtime.openapi import problem_responses
from sipas_runtime.params import CampaignQuery
from sipas_runtime.problems import ProblemError
from sipas_scoring.api import service_of
from sipas_scoring.api.indices import PeriodQuery, problem_of
from sipas_scoring.api.models import TableOut
from sipas_scoring.domain import PublicationError, ScoringError
from sipas_scoring.domain.periods import PERIOD_PATTERN
from sipas_scoring.domain.publication import Action, digest, transition
from sipas_scoring.exports import MEDIA_TYPES
from sipas_scoring.rendering import Json
from sipas_scoring.report import render_html, render_pdf
from sipas_scoring.store.publications import ConflictError, HistoryEntry, PublicationRecord
from sipas_scoring.views import NotFoundError

router = APIRouter(prefix="/v1/publications", tags=["publication"])
reports_router = APIRouter(prefix="/v1/reports", tags=["publication"])
ReportFormat = Literal["html", "pdf"]


class PublishedTableOut(TableOut):
    """A published table and the publication it belongs to."""

    publication: PublicationRecord


class DraftRequest(BaseModel):
    """What to freeze, and who drafts it as the report prints it."""

    campaign_id: CampaignId
    period: str = Field(
        default="campaign", max_length=16, json_schema_extra={"pattern": PERIOD_PATTERN}
    )
    note: str | None = Field(default=None, max_length=500)
    name: str | None = Field(default=None, max_length=120, description="Full name, as printed")
    title: str | None = Field(default=None, max_length=120, description="Title (chức vụ)")


class StepRequest(BaseModel):
    """An optional comment, and who took the step as the report prints it."""

    note: str | None = Field(default=None, max_length=500)
    name: str | None = Field(
        default=None, max_length=120, description="Full name, as printed (default: the actor)"
    )
    title: str | None = Field(
        default=None, max_length=120, description="Title, e.g. 'Phó Giám đốc Sở Nội vụ'"
    )
    authority: str | None = Field(
        default=None,
        max_length=120,
        description="Approval: signing authority printed above the title, e.g. 'KT. GIÁM ĐỐC'",
    )
    number: str | None = Field(
        default=None,
        max_length=40,
        pattern=r"^[0-9A-Za-zĐđ./-]+$",
        description="Publication: the document number, e.g. '45' or '45/BC-SNV'",
    )


async def build_snapshot(request: Request, campaign_id: str, period: str) -> Json:
    """The frozen document: the full table (every tier) and the funnel."""
    views = service_of(request).views
    try:
        table = await views.table(campaign_id, period)
    except (ScoringError, NotFoundError) as exc:
        raise problem_of(exc) from exc
    return {"table": table, "funnel": await views.funnel(campaign_id)}


@router.post("", status_code=201, summary="Draft a publication: freeze the current figures")
async def draft(request: Request, body: DraftRequest, caller: Caller) -> PublicationRecord:
    """Snapshot the table of a campaign period; state ``draft``."""
    scoring = service_of(request)
    snapshot = await build_snapshot(request, body.campaign_id, body.period)
    now = datetime.now(UTC)
    record = PublicationRecord(
        id=str(uuid.uuid4()),
        campaign_id=body.campaign_id,
        period=snapshot["table"]["period"],
        state="draft",
        digest=digest(snapshot),
        through_seq=snapshot["table"]["through_seq"],
        profile_revision=snapshot["table"]["profile"]["revision"],
        drafted_by=caller.subject,
        drafted_at=now,
        history=[
            HistoryEntry(
                state="draft",
                actor=caller.subject,
                at=now,
                note=body.note,
                name=body.name or caller.name,
                title=body.title,
            )
        ],
    )
    await scoring.stores.publications.add(record, snapshot)
    scoring.metrics.publications.labels("draft").inc()
    await scoring.runtime.audit.record(
        "publication_drafted",
        actor=caller.subject,
        target=record.id,
        campaign=record.campaign_id,
        period=record.period,
        digest=record.digest,
    )
    return record


async def _record(request: Request, publication_id: str) -> PublicationRecord:
    record = await service_of(request).stores.publications.get(publication_id)
    if record is None:
        raise ProblemError(404, f"no publication {publication_id!r}")
    return record


@router.get("", summary="Publications, newest first")
async def list_publications(
    request: Request, campaign: CampaignQuery = None
) -> list[PublicationRecord]:
    """Every publication (without snapshots)."""
    return await service_of(request).stores.publications.listing(campaign)


@router.get("/{publication_id}", summary="A publication with its frozen snapshot")
async def get_publication(request: Request, publication_id: str) -> Json:
    """The record and the snapshot it froze."""
    record = await _record(request, publication_id)
    snapshot = await service_of(request).stores.publications.snapshot(publication_id)
    return {**record.model_dump(mode="json"), "snapshot": snapshot}


async def _step(
    request: Request, publication_id: str, action: Action, caller: Principal, body: StepRequest
) -> PublicationRecord:
    scoring = service_of(request)
    record = await _record(request, publication_id)
    printed = {"name": caller.name, **body.model_dump(exclude_none=True)}
    try:
        state = transition(record.state, action, actor=caller.subject, drafted_by=record.drafted_by)
        entry = HistoryEntry(state=state, actor=caller.subject, at=datetime.now(UTC), **printed)
        moved = await scoring.stores.publications.move(record, entry)
    except PublicationError as exc:
        raise ProblemError(409, str(exc), code="urn:sipas:problem:publication-state") from exc
    except ConflictError as exc:
        raise ProblemError(409, str(exc), code="urn:sipas:problem:conflict") from exc
    scoring.metrics.publications.labels(action).inc()
    await scoring.runtime.audit.record(
        f"publication_{moved.state}",
        actor=caller.subject,
        target=moved.id,
        campaign=moved.campaign_id,
        digest=moved.digest,
        note=body.note,
    )
    return moved


@router.post(
    "/{publication_id}/approve",
    summary="Approve a draft (not by its drafter)",
    responses=problem_responses(409),
)
async def approve(
    request: Request, publication_id: str, body: StepRequest, caller: Caller
) -> PublicationRecord:
    """Move draft → approved; name, title and authority sign the report."""
    return await _step(request, publication_id, "approve", caller, body)


@router.post(
    "/{publication_id}/publish",
    summary="Publish an approved publication",
    responses=problem_responses(409),
)
async def publish(
    request: Request, publication_id: str, body: StepRequest, caller: Caller
) -> PublicationRecord:
    """Move approved → published with its number; the previous publication is superseded."""
    return await _step(request, publication_id, "publish", caller, body)


@router.post(
    "/{publication_id}/withdraw",
    summary="Withdraw a draft or approved publication",
    responses=problem_responses(409),
)
async def withdraw(
    request: Request, publication_id: str, body: StepRequest, caller: Caller
) -> PublicationRecord:
    """Move draft or approved → withdrawn."""
    return await _step(request, publication_id, "withdraw", caller, body)


def report_response(html: str, fmt: ReportFormat, name: str) -> Response:
    """The report as HTML or PDF."""
    if fmt == "html":
        return Response(html, media_type="text/html; charset=utf-8")
    return Response(
        render_pdf(html),
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{name}.pdf"'},
    )


@router.get("/{publication_id}/report.{fmt}", summary="The report of a publication (any state)")
async def publication_report(
    request: Request, publication_id: str, fmt: ReportFormat, lang: Lang = "vi"
) -> Response:
    """Drafts and approved publications are watermarked with their state."""
    record = await _record(request, publication_id)
    snapshot = await service_of(request).stores.publications.snapshot(publication_id) or {}
    html = render_html(snapshot, state=record.state, record=record, lang=lang)
    return report_response(html, fmt, f"sipas-{record.campaign_id}-{record.period}")


@reports_router.get("/preview.{fmt}", summary="The report of the live figures (a preview)")
async def preview_report(
    request: Request,
    fmt: ReportFormat,
    campaign: Annotated[str, Query(pattern=CODE_PATTERN)],
    period: PeriodQuery = "campaign",
    lang: Lang = "vi",
) -> Response:
    """Live figures laid out as the report, marked 'preview — not published' on every page."""
    snapshot = await build_snapshot(request, campaign, period)
    html = render_html(snapshot, state="preview", lang=lang)
    return report_response(html, fmt, f"sipas-{campaign}-{snapshot['table']['period']}-preview")


@router.get(
    "/{publication_id}/workbook.xlsx",
    summary="The official workbook of a published publication",
    response_class=Response,
    responses={200: {"content": {MEDIA_TYPES["xlsx"]: {}}}, **problem_responses(409)},
)
async def publication_workbook(
    request: Request, publication_id: str, lang: Lang = "vi"
) -> Response:
    """One sheet per tier with n and intervals, and the method; 409 unless published."""
    record = await _record(request, publication_id)
    if record.state != "published":
        raise ProblemError(
            409,
            f"the official workbook comes from a published snapshot; this one is {record.state}",
            code="urn:sipas:problem:publication-state",
        )
    snapshot = await service_of(request).stores.publications.snapshot(publication_id) or {}
    return workbook_response(snapshot, record, lang)


def workbook_response(snapshot: Json, record: PublicationRecord, lang: Lang) -> Response:
    """The workbook as a download named after the campaign and period."""
    # openpyxl (and numpy, which it imports) is about a second of start-up: load on first use
    from sipas_scoring.workbook import official_workbook  # noqa: PLC0415

    name = f"sipas-{record.campaign_id}-{record.period}-bieu-tong-hop.xlsx"
    return Response(
        official_workbook(snapshot, record, lang),
        media_type=MEDIA_TYPES["xlsx"],
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "X-Sipas-Digest": record.digest,
        },
    )
