"""Paper forms: the XLSX template intake exports, and the import of filled templates.

Import is row by row: valid rows become responses (mode ``paper``, or the enumerator's
mode), invalid rows are reported back with their row number, column and reason, and a
row already imported with the same content is a duplicate (re-importing a corrected file
is safe). A form number re-used with different answers is refused, never overwritten.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field
from pymongo.errors import DuplicateKeyError

from sipas_contracts.events import ResponseRecorded
from sipas_contracts.ids import uuid7
from sipas_contracts.instrument import Catalogue, CatalogueError, load_catalogue
from sipas_intake import paper_workbook
from sipas_intake.api import service_of
from sipas_intake.domain.errors import IntakeError
from sipas_intake.domain.paper import PaperForm, is_blank, parse_row
from sipas_intake.domain.responses import build_response
from sipas_intake.spreadsheets import XLSX_MEDIA_TYPE, SpreadsheetError
from sipas_runtime.openapi import problem_responses
from sipas_runtime.params import PRINTABLE, CampaignQuery
from sipas_runtime.problems import ProblemError

router = APIRouter(prefix="/v1/paper", tags=["paper"])
MAX_ROWS = 5000


class RowProblem(BaseModel):
    """One problem in one row."""

    row: int = Field(description="Row number as Excel shows it")
    field: str = Field(description="Column")
    reason: str


class PaperImport(BaseModel):
    """What an import did, row by row."""

    rows: int
    recorded: int
    duplicates: int
    rejected: int
    errors: list[RowProblem]


def _catalogue(instrument: str, profile: str) -> Catalogue:
    try:
        catalogue = load_catalogue(instrument)
        catalogue.form(profile)
    except CatalogueError as exc:
        raise ProblemError(
            404, str(exc), errors=[{"field": "instrument", "reason": str(exc)}]
        ) from exc
    except KeyError as exc:
        reason = str(exc.args[0])
        raise ProblemError(404, reason, errors=[{"field": "profile", "reason": reason}]) from exc
    return catalogue


@router.get(
    "/template",
    summary="The XLSX template for coding paper forms",
    response_class=Response,
    responses={200: {"content": {XLSX_MEDIA_TYPE: {}}}},
)
async def template(
    instrument: Annotated[str, Query(max_length=64)] = "sipas-1001-2023",
    profile: Annotated[str, Query(max_length=64)] = "tthc_user",
    campaign_id: CampaignQuery = None,
    unit: Annotated[str, Query(max_length=200, pattern=PRINTABLE)] = "",
) -> Response:
    """One row per paper form; codes per item; instrument and profile remembered inside."""
    catalogue = _catalogue(instrument, profile)
    data = paper_workbook.template(catalogue, profile, campaign_id=campaign_id or "", unit=unit)
    filename = f"phieu-giay-{instrument}-{profile}.xlsx"
    return Response(
        data,
        media_type=XLSX_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _parse_rows(
    request: Request, data: bytes, catalogue: Catalogue, items: tuple[str, ...]
) -> tuple[list[tuple[int, PaperForm]], list[RowProblem], int]:
    hierarchy = service_of(request).hierarchy
    today = datetime.now(UTC).date()
    forms: list[tuple[int, PaperForm]] = []
    problems: list[RowProblem] = []
    count = 0
    for row in paper_workbook.read_forms(data):
        if is_blank(row.cells):
            continue
        count += 1
        if count > MAX_ROWS:
            reason = f"more than {MAX_ROWS} rows; split the file"
            raise ProblemError(413, reason, errors=[{"field": "(file)", "reason": reason}])
        try:
            form = parse_row(
                row.cells, catalogue=catalogue, items=items, hierarchy=hierarchy, on=today
            )
        except IntakeError as exc:
            problems += [RowProblem(row=row.number, **e) for e in exc.public_errors()]
            continue
        forms.append((row.number, form))
    return forms, problems, count


@router.post(
    "/import",
    summary="Import a filled paper-form template (XLSX body); row-level report",
    responses=problem_responses(409),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {XLSX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def import_forms(request: Request) -> PaperImport:
    """Record valid rows, report invalid ones (row, column, reason), skip duplicates."""
    data = await request.body()
    try:
        meta = paper_workbook.read_meta(data)
        catalogue = _catalogue(
            meta.get("instrument_id", "sipas-1001-2023"), meta.get("profile", "tthc_user")
        )
        items = catalogue.form(meta.get("profile", "tthc_user")).items
        forms, problems, count = _parse_rows(request, data, catalogue, items)
    except SpreadsheetError as exc:
        raise ProblemError(
            422, str(exc), code="urn:sipas:problem:unreadable-file",
            errors=[{"field": "(file)", "reason": str(exc)}],
        ) from exc  # fmt: skip
    recorded, duplicates, conflicts = await _record(request, catalogue, items, forms)
    problems += conflicts
    problems.sort(key=lambda p: p.row)
    return PaperImport(
        rows=count,
        recorded=recorded,
        duplicates=duplicates,
        rejected=len({p.row for p in problems}),
        errors=problems,
    )


def _content_hash(form: PaperForm) -> str:
    return hashlib.sha256(form.content().encode()).hexdigest()


async def _record(
    request: Request,
    catalogue: Catalogue,
    items: tuple[str, ...],
    forms: list[tuple[int, PaperForm]],
) -> tuple[int, int, list[RowProblem]]:
    intake = service_of(request)
    now = datetime.now(UTC)
    known = await intake.stores.paper.known([f.key for _, f in forms])
    fresh: dict[str, tuple[str, ResponseRecorded]] = {}
    duplicates = 0
    conflicts: list[RowProblem] = []
    for number, form in forms:
        content = _content_hash(form)
        previous = known.get(form.key) or (fresh[form.key][0] if form.key in fresh else None)
        if previous == content:
            duplicates += 1
            continue
        if previous is not None:
            reason = "this form number was already imported with different answers"
            conflicts.append(RowProblem(row=number, field="so_phieu", reason=reason))
            continue
        event = build_response(
            form.context, form.answers, catalogue=catalogue, allowed=items, comment=form.comment,
            seal_comment=intake.seal_comment, sealed_callback=None, response_id=uuid7(), now=now,
        )  # fmt: skip
        fresh[form.key] = (content, event)
    try:
        await intake.stores.paper.add(
            [(k, c, e) for k, (c, e) in fresh.items()], intake.stores.outbox, now
        )
    except DuplicateKeyError as exc:  # another import of the same forms committed first
        raise ProblemError(409, "these forms are being imported right now; retry") from exc
    events = [e for _, e in fresh.values()]
    if events:
        await intake.publish_responses(events)
        for event in events:
            intake.metrics.responses.labels(event.collection_mode, "recorded").inc()
    return len(events), duplicates, conflicts
