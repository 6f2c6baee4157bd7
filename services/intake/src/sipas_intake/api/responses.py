"""Responses by API: an invited respondent's app (token) and enumerators (official list).

Both consume the invitation once (atomically, see ``store.tokens``) and answer with the
new response id only; an enumerator's id comes from the enumerator's key.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal
from uuid import UUID

import structlog
from fastapi import APIRouter, Depends, Request, Response, status
from pydantic import BaseModel

from sipas_contracts.events import Answer, ResponseRecorded
from sipas_contracts.ids import uuid7
from sipas_intake.api import service_of
from sipas_intake.domain.errors import ResponseRejectedError
from sipas_intake.domain.responses import (
    InterviewSubmission,
    ResponseContext,
    ResponseSubmission,
    TokenGrant,
    build_response,
    callback_contact,
)
from sipas_intake.store.tokens import TokenProblem
from sipas_runtime.guards import client_address
from sipas_runtime.i18n import _
from sipas_runtime.identity import Caller
from sipas_runtime.identity.gate import out_of_scope
from sipas_runtime.openapi import problem_responses
from sipas_runtime.problems import ProblemError

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/v1", tags=["responses"])

TOKEN_PROBLEMS = {
    TokenProblem.UNKNOWN: (
        404,
        "urn:sipas:problem:token-unknown",
        _("This survey link is not valid."),
    ),
    TokenProblem.USED: (
        409,
        "urn:sipas:problem:token-used",
        _("A response has already been recorded for this invitation."),
    ),
    TokenProblem.EXPIRED: (
        410,
        "urn:sipas:problem:token-expired",
        _("This survey link has expired."),
    ),
    TokenProblem.CLOSED: (
        409,
        "urn:sipas:problem:invitation-replaced",
        _(
            "This invitation was replaced from the reserve list (refused or not reachable); "
            "it takes no answers any more."
        ),
    ),
}
CLOSED_REASON = _("replaced from the reserve list; it takes no answers")


class Recorded(BaseModel):
    """Answer to an accepted response (``already_recorded``: the same submission again)."""

    response_id: str
    status: Literal["recorded", "already_recorded"] = "recorded"


async def _sent_before(
    request: Request, invitation_id: UUID | None, submission: UUID | None
) -> Recorded | None:
    """The response this very submission recorded earlier (a device sending twice), if so."""
    if submission is None or invitation_id is None:
        return None
    claim = await service_of(request).stores.tokens.claim(invitation_id)
    if claim is None or claim.get("submission") != submission:
        return None
    return Recorded(response_id=str(claim["response_id"]), status="already_recorded")


def token_problem(problem: TokenProblem, field: str = "token") -> ProblemError:
    """The problem document of a token that cannot take a response (``field``: what named it)."""
    code, urn, detail = TOKEN_PROBLEMS[problem]
    errors = [{"field": field, "reason": CLOSED_REASON}] if problem is TokenProblem.CLOSED else []
    return ProblemError(code, detail, code=urn, errors=errors)


def rejected(exc: ResponseRejectedError) -> ProblemError:
    """The problem document of answers that do not fit."""
    return ProblemError(
        422, str(exc), code="urn:sipas:problem:answers-rejected", errors=exc.public_errors()
    )


async def limited(request: Request) -> None:
    """Refuse a client over the submit rate (before the body is even read)."""
    intake = service_of(request)
    if await intake.limits.allow("api", client_address(request)):
        return
    intake.metrics.rate_limited.labels("api").inc()
    retry = str(intake.limits.retry_after("api"))
    detail = _("Too many submissions from this address; wait and try again.")
    raise ProblemError(429, detail, headers={"Retry-After": retry})


def _sealed_callback(request: Request, phone: str | None, email: str | None) -> str | None:
    if not phone and not email:
        return None
    return service_of(request).seal_callback(callback_contact(phone, email))


def _build(
    request: Request,
    context: ResponseContext,
    *,
    answers: dict[str, Answer],
    comment: str | None,
    sealed: str | None,
    now: datetime,
) -> ResponseRecorded:
    intake = service_of(request)
    catalogue = intake.catalogue(context.instrument_id)
    return build_response(
        context,
        answers,
        catalogue=catalogue,
        allowed=intake.form_items(catalogue, context.campaign_id),
        comment=comment,
        seal_comment=intake.seal_comment,
        sealed_callback=sealed,
        response_id=uuid7(),
        now=now,
    )


async def record_invited(
    request: Request,
    token_hash: str,
    grant: TokenGrant,
    event: ResponseRecorded,
    *,
    submission: UUID | None = None,
    field: str = "token",
) -> Recorded:
    """Consume the invitation and publish; raises the token problem when it was used."""
    intake = service_of(request)
    problem = await intake.stores.tokens.consume(
        token_hash, event, intake.stores.outbox, event.occurred_at, submission=submission
    )
    mode = event.collection_mode
    if problem is not None:
        if (again := await _sent_before(request, event.invitation_id, submission)) is not None:
            return again
        intake.metrics.responses.labels(mode, f"token_{problem.value}").inc()
        raise token_problem(problem, field)
    await intake.publish_responses([event])
    intake.metrics.responses.labels(mode, "recorded").inc()
    log.info("response_recorded", unit=grant.unit, campaign=grant.campaign_id, mode=mode)
    return Recorded(response_id=str(event.response_id))


@router.post(
    "/responses",
    status_code=status.HTTP_201_CREATED,
    summary="Submit the answers of one invited respondent (single-use token)",
    dependencies=[Depends(limited)],
    responses=problem_responses(409, 429),
)
async def post_response(submission: ResponseSubmission, request: Request) -> Recorded:
    """Check the token and answers, consume the token atomically, publish the response."""
    intake = service_of(request)
    now = datetime.now(UTC)
    token_hash = intake.token_hash(submission.token)
    grant = await intake.stores.tokens.grant(token_hash, now)
    if isinstance(grant, TokenProblem):
        intake.metrics.responses.labels("online", f"token_{grant.value}").inc()
        raise token_problem(grant)
    try:
        sealed = _sealed_callback(request, submission.callback_phone, submission.callback_email)
        event = _build(
            request,
            ResponseContext.invited(grant),
            answers=dict(submission.answers),
            comment=submission.comment,
            sealed=sealed,
            now=now,
        )
    except ResponseRejectedError as exc:
        intake.metrics.responses.labels("online", "invalid").inc()
        raise rejected(exc) from exc
    return await record_invited(request, token_hash, grant, event)


@router.post(
    "/interviews",
    status_code=status.HTTP_201_CREATED,
    summary="Enter the answers an enumerator took face to face or by phone",
    responses=problem_responses(409),
)
async def post_interview(
    submission: InterviewSubmission, request: Request, response: Response, caller: Caller
) -> Recorded:
    """Answers for one invitation of the official or reserve list, marked with mode and id.

    With a ``submission_id``, sending the same interview again answers 200 with the response
    recorded the first time; an invitation answered otherwise is a 409 conflict, and so is
    one sampling replaced from the reserve list (``urn:sipas:problem:invitation-replaced``).
    """
    intake = service_of(request)
    now = datetime.now(UTC)
    again = await _sent_before(request, submission.invitation_id, submission.submission_id)
    if again is not None:
        response.status_code = status.HTTP_200_OK
        return again
    found = await intake.stores.tokens.grant_for_invitation(submission.invitation_id, now)
    if isinstance(found, TokenProblem):
        intake.metrics.responses.labels(submission.mode, f"token_{found.value}").inc()
        if found is TokenProblem.UNKNOWN:
            raise ProblemError(
                404,
                _(
                    "No invitation %(id)s is open for interviews: check the id on the list; a "
                    "reserve can be interviewed once a substitution brought it in."
                ),
                code="urn:sipas:problem:invitation-unknown",
                errors=[{"field": "invitation_id", "reason": _("no open invitation with this id")}],
                params={"id": str(submission.invitation_id)},
            )
        raise token_problem(found, "invitation_id")
    token_hash, grant = found
    if not caller.scope(intake.hierarchy).covers(grant.unit):
        raise out_of_scope(request)
    try:
        context = ResponseContext.invited(grant, submission.mode, caller.subject)
        event = _build(
            request,
            context,
            answers=dict(submission.answers),
            comment=submission.comment,
            sealed=None,
            now=now,
        )
    except ResponseRejectedError as exc:
        intake.metrics.responses.labels(submission.mode, "invalid").inc()
        raise rejected(exc) from exc
    recorded = await record_invited(
        request,
        token_hash,
        grant,
        event,
        submission=submission.submission_id,
        field="invitation_id",
    )
    if recorded.status == "already_recorded":
        response.status_code = status.HTTP_200_OK
    return recorded
