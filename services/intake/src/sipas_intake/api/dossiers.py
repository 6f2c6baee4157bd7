"""Dossier webhook (single and batch) and dossier status, validated by the one code path.

A record is read by its format's adapter, validated (unit, dates, contact), its contact
sealed, and queued on the raw stream already prepared: no contact travels in clear from
here. Duplicates and corrections are decided by the raw consumer's ledger, so ``accepted``
means "valid and queued".
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import nats.errors
import structlog
from fastapi import APIRouter, Query, Request, status
from pydantic import BaseModel, Field

from sipas_intake.api import service_of
from sipas_intake.domain.dossiers import NotCompleted, Unsealed
from sipas_intake.domain.errors import IntakeError
from sipas_runtime.openapi import problem_responses
from sipas_runtime.problems import ProblemError

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/v1/dossiers", tags=["dossiers"])
FormatParam = Annotated[
    str,
    Query(
        alias="format",
        description="generic, hoso, a field map name, or auto (by content: MaHoSo → hoso)",
        pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$",
    ),
]
DryRun = Annotated[bool, Query(description="Validate only: nothing is queued")]
Source = Annotated[Literal["http", "import"], Query(description="Metrics label of the entry")]


class FieldProblem(BaseModel):
    """One field-level problem."""

    field: str
    reason: str


class RecordResult(BaseModel):
    """What happened to one record."""

    index: int = Field(description="Position in the request (0-based)")
    dossier_id: str | None = None
    status: Literal["accepted", "ignored", "rejected"]
    reason: str | None = Field(default=None, description="Why an ignored record is ignored")
    errors: list[FieldProblem] = Field(default_factory=list)
    warnings: list[FieldProblem] = Field(default_factory=list)


class BatchResult(BaseModel):
    """Counts and per-record results of a batch."""

    accepted: int
    ignored: int
    rejected: int
    results: list[RecordResult]


class DossierStatus(BaseModel):
    """What intake knows of one dossier (no personal data)."""

    dossier_id: str
    revision: int
    unit: str
    first_seen_at: datetime
    updated_at: datetime


def _json(body: bytes) -> object:
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:
        reason = f"body is not JSON: {exc}" if isinstance(exc, ValueError) else "nested too deeply"
        raise ProblemError(
            400,
            reason,
            code="urn:sipas:problem:malformed",
            errors=[{"field": "(body)", "reason": reason}],
        ) from None


def _read_one(
    request: Request, index: int, document: object, fmt: str, entry: str
) -> tuple[RecordResult, Unsealed | None]:
    intake = service_of(request)
    guess = (
        document.get("MaHoSo") or document.get("dossier_id") if isinstance(document, dict) else None
    )
    dossier_id = str(guess)[:64] if guess else None
    try:
        result = intake.reader.read(document, fmt=fmt, source=entry, now=datetime.now(UTC))
    except IntakeError as exc:
        intake.reader.rejected(entry, exc.code)
        errors = [FieldProblem(**e) for e in exc.public_errors()]
        return RecordResult(
            index=index, dossier_id=dossier_id, status="rejected", errors=errors
        ), None
    if isinstance(result, NotCompleted):
        intake.metrics.dossiers.labels(entry, "not_completed").inc()
        return RecordResult(
            index=index, dossier_id=result.dossier_id, status="ignored", reason=result.reason
        ), None
    prepared = result.prepared
    warnings = [FieldProblem(field=w["field"], reason=w["reason"]) for w in prepared.warnings]
    return RecordResult(
        index=index, dossier_id=prepared.candidate.dossier_id, status="accepted", warnings=warnings
    ), result


RECORD: dict[str, Any] = {
    "type": "object",
    "description": (
        "One record as the TTHC system sends it: generic JSON (the dossier-completed fields), "
        "DVCQG HoSo, iGate NoiHoSo, or an object mapped with the source's field mapping. "
        "Which fields are required depends on the format (?fmt=, or recognised with auto); "
        "a record without them is a 422 naming each missing field."
    ),
}

ITEM: dict[str, Any] = {
    "description": (
        "A record as POST /v1/dossiers reads it; anything else is reported rejected at its "
        "index, the other records going on"
    )
}


def body_of(schema: dict[str, Any]) -> dict[str, Any]:
    """``openapi_extra`` of a route that reads its JSON body itself (several formats)."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Submit one dossier record (generic JSON, HoSo, or a field-mapped object)",
    responses={
        422: {"description": "The record was rejected; errors name the fields"},
        **problem_responses(503),
    },
    openapi_extra=body_of(RECORD),
)
async def post_dossier(
    request: Request, fmt: FormatParam = "auto", dry_run: DryRun = False
) -> RecordResult:
    """Validate the record now (422 naming the fields) and queue it on the raw stream."""
    document = _json(await request.body())
    result, prepared = _read_one(request, 0, document, fmt, "http")
    if result.status == "rejected":
        detail = "; ".join(f"{e.field}: {e.reason}" for e in result.errors)
        raise ProblemError(
            422,
            detail,
            code="urn:sipas:problem:dossier-rejected",
            errors=[e.model_dump() for e in result.errors],
        )
    if prepared is not None and not dry_run:
        await _queue(request, [prepared], "http")
    return result


async def _queue(request: Request, records: list[Unsealed], source: str) -> None:
    """Seal and queue validated records; an unavailable broker is a 503 to retry, not a 500."""
    intake = service_of(request)
    try:
        await intake.publish_raw(intake.reader.seal(records), source)
    except (TimeoutError, nats.errors.Error, OSError) as exc:
        log.warning("raw_queue_unavailable", error=type(exc).__name__, count=len(records))
        raise ProblemError(
            503,
            "The dossier queue is unavailable; nothing was accepted. Retry later.",
            code="urn:sipas:problem:queue-unavailable",
            headers={"Retry-After": "30"},
        ) from exc


def _records(document: object, limit: int) -> list[Any]:
    records = document
    if isinstance(document, dict):
        records = document.get("data", document.get("records"))
    if not isinstance(records, list):
        reason = "expected a JSON array of records (or an object with 'data' or 'records')"
        raise ProblemError(
            422, reason, code="urn:sipas:problem:malformed",
            errors=[{"field": "(body)", "reason": reason}],
        )  # fmt: skip
    if len(records) > limit:
        reason = f"{len(records)} records; at most {limit} per request"
        raise ProblemError(
            413, reason, code="urn:sipas:problem:too-many-records",
            errors=[{"field": "(body)", "reason": reason}],
        )  # fmt: skip
    return records


@router.post(
    "/batch",
    summary="Submit many dossier records; each is accepted, ignored or rejected on its own",
    responses=problem_responses(503),
    openapi_extra=body_of(
        {
            "anyOf": [
                {"type": "array", "items": ITEM},
                {
                    "type": "object",
                    "properties": {"data": {"type": "array", "items": ITEM}},
                    "required": ["data"],
                },
                {
                    "type": "object",
                    "properties": {"records": {"type": "array", "items": ITEM}},
                    "required": ["records"],
                },
            ]
        }
    ),
)
async def post_batch(
    request: Request,
    fmt: FormatParam = "auto",
    dry_run: DryRun = False,
    source: Source = "http",
) -> BatchResult:
    """Validate each record (errors by index and field) and queue the valid ones."""
    intake = service_of(request)
    records = _records(_json(await request.body()), intake.settings.max_batch_records)
    results: list[RecordResult] = []
    ready: list[Unsealed] = []
    for index, document in enumerate(records):
        result, prepared = _read_one(request, index, document, fmt, source)
        results.append(result)
        if prepared is not None:
            ready.append(prepared)
    if ready and not dry_run:
        await _queue(request, ready, source)
    count = {s: sum(r.status == s for r in results) for s in ("accepted", "ignored", "rejected")}
    return BatchResult(**count, results=results)


@router.get("/{dossier_id}", summary="What intake knows of one dossier")
async def get_dossier(dossier_id: str, request: Request) -> DossierStatus:
    """Latest revision and unit of a dossier (404 when it never completed)."""
    doc = await service_of(request).stores.ledger.status(dossier_id)
    if doc is None:
        raise ProblemError(
            404, "No completed dossier with this id.", code="urn:sipas:problem:dossier-unknown"
        )
    return DossierStatus(
        dossier_id=doc["_id"],
        revision=doc["revision"],
        unit=doc["unit"],
        first_seen_at=doc["first_at"],
        updated_at=doc["updated_at"],
    )
