"""Intake's HTTP API: dossier webhook and response submission (problem+json errors)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import structlog
from fastapi import APIRouter, Depends, Header, Request, status
from pydantic import BaseModel

from sipas_contracts import subjects
from sipas_contracts.ids import uuid7
from sipas_contracts.instrument import load_catalogue
from sipas_intake.domain import (
    DossierRecord,
    DossierRejectedError,
    ResponseRejectedError,
    ResponseSubmission,
    to_dossier_completed,
    to_response_recorded,
)
from sipas_intake.store import TokenProblem
from sipas_runtime.privacy import keyed_hash
from sipas_runtime.problems import ProblemError

if TYPE_CHECKING:
    from sipas_intake.app import IntakeService

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/v1", tags=["intake"])

_TOKEN_PROBLEMS = {
    TokenProblem.UNKNOWN: (
        404,
        "urn:sipas:problem:token-unknown",
        "This survey link is not valid.",
    ),
    TokenProblem.USED: (
        409,
        "urn:sipas:problem:token-used",
        "This survey link has already been used.",
    ),
    TokenProblem.EXPIRED: (410, "urn:sipas:problem:token-expired", "This survey link has expired."),
}


class Accepted(BaseModel):
    """Answer to an accepted dossier record."""

    dossier_id: str
    event_id: str
    status: str = "accepted"


class Recorded(BaseModel):
    """Answer to an accepted response."""

    response_id: str
    status: str = "recorded"


def _intake(request: Request) -> IntakeService:
    intake: IntakeService = request.app.state.intake
    return intake


def require_api_key(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> None:
    """Dossier webhooks must present ``Authorization: Bearer <key>``."""
    keys = _intake(request).settings.api_key_set
    scheme, _, key = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or key not in keys:
        raise ProblemError(
            401, "A valid bearer API key is required.", headers={"WWW-Authenticate": "Bearer"}
        )


@router.post(
    "/dossiers",
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[Depends(require_api_key)],
    summary="Submit one dossier record whose result was delivered",
)
async def post_dossier(record: DossierRecord, request: Request) -> Accepted:
    """Validate the record now (4xx naming the field) and queue it on the raw stream."""
    intake = _intake(request)
    try:
        event = to_dossier_completed(
            record,
            hierarchy=intake.hierarchy,
            seal=intake.seal_contact,
            pseudonymise=intake.pseudonymise,
            now=datetime.now(UTC),
        )
    except DossierRejectedError as exc:
        raise ProblemError(
            422, str(exc), code="urn:sipas:problem:dossier-rejected", errors=exc.errors
        ) from exc
    body = record.model_dump_json().encode()
    digest = hashlib.sha256(body).hexdigest()[:32]
    await intake.runtime.js.publish(
        subjects.raw_dossier("http"),
        body,
        headers={"Nats-Msg-Id": f"raw:{record.dossier_id}:{digest}"},
    )
    return Accepted(dossier_id=record.dossier_id, event_id=str(event.event_id))


@router.post(
    "/responses",
    status_code=status.HTTP_201_CREATED,
    summary="Submit the answers of one invited respondent (single-use token)",
)
async def post_response(submission: ResponseSubmission, request: Request) -> Recorded:
    """Check the token and answers, consume the token atomically, publish the response."""
    intake = _intake(request)
    now = datetime.now(UTC)
    token_hash = keyed_hash(intake.token_key, submission.token)
    grant = await intake.tokens().grant(token_hash, now)
    if isinstance(grant, TokenProblem):
        raise _token_problem(grant)
    response_id = uuid7()
    try:
        event = to_response_recorded(
            submission,
            grant,
            catalogue=load_catalogue(grant.instrument_id),
            response_id=response_id,
            now=now,
        )
    except ResponseRejectedError as exc:
        raise ProblemError(
            422, str(exc), code="urn:sipas:problem:answers-rejected", errors=exc.errors
        ) from exc
    problem = await intake.tokens().consume(token_hash, now, event.model_dump_json())
    if problem is not None:
        raise _token_problem(problem)
    await intake.publish_response(token_hash, event)
    log.info("response_recorded", unit=grant.unit, campaign=grant.campaign_id)
    return Recorded(response_id=str(response_id))


def _token_problem(problem: TokenProblem) -> ProblemError:
    code, urn, detail = _TOKEN_PROBLEMS[problem]
    return ProblemError(code, detail, code=urn)


async def republish_pending(intake: IntakeService) -> None:
    """Publish responses whose publish was interrupted (idempotent: same event id)."""
    cutoff = datetime.now(UTC) - timedelta(seconds=intake.settings.republish_after_seconds)
    for pending in await intake.tokens().unpublished(cutoff):
        await intake.publish_json(pending.token_hash, json.loads(pending.event_json))
