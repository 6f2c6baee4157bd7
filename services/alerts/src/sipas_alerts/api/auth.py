"""Who is calling: API keys (``Authorization: Bearer sak_...``) mapped to a role and unit.

Keys live only as SHA-256 hashes in the users file (``sipas alerts add-user`` makes one).
Errors are problem+json in the caller's language: Vietnamese unless ``Accept-Language``
asks for English.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request
from fastapi.responses import JSONResponse

from sipas_alerts.domain.access import Principal, Scope, authenticate
from sipas_alerts.domain.errors import (
    ActionNotAllowedError,
    AlertsError,
    CaseNotFoundError,
    NoteRequiredError,
    OutOfScopeError,
)
from sipas_runtime.problems import ProblemError, problem

if TYPE_CHECKING:
    from sipas_alerts.app import AlertsService

_STATUS: dict[type[AlertsError], int] = {
    OutOfScopeError: 403,
    ActionNotAllowedError: 403,
    CaseNotFoundError: 404,
    NoteRequiredError: 422,
}


def service(request: Request) -> AlertsService:
    """The alerts service behind this app."""
    return request.app.state.alerts  # type: ignore[no-any-return]


def language(request: Request) -> str:
    """``en`` when the caller prefers English, else ``vi``."""
    accept = request.headers.get("accept-language", "").strip().lower()
    return "en" if accept.startswith("en") else "vi"


def current_principal(request: Request) -> Principal:
    """The caller, from its bearer key (401 when missing or unknown)."""
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    english = language(request) == "en"
    if scheme.lower() != "bearer" or not key.strip():
        raise ProblemError(
            401,
            "Missing API key (Authorization: Bearer ...)."
            if english
            else "Thiếu khóa API (Authorization: Bearer ...).",
            code="urn:sipas:problem:unauthenticated",
            headers={"WWW-Authenticate": 'Bearer realm="sipas-alerts"'},
        )
    principal = authenticate(key.strip(), service(request).users)
    if principal is None:
        raise ProblemError(
            401,
            "Unknown API key." if english else "Khóa API không hợp lệ.",
            code="urn:sipas:problem:unauthenticated",
            headers={"WWW-Authenticate": 'Bearer realm="sipas-alerts", error="invalid_token"'},
        )
    return principal


def current_scope(
    principal: Annotated[Principal, Depends(current_principal)], request: Request
) -> Scope:
    """The units the caller may see today."""
    alerts = service(request)
    today: date = alerts.desk.clock().astimezone(alerts.policy.calendar.tz).date()
    return alerts.scope(principal, today)


CurrentScope = Annotated[Scope, Depends(current_scope)]
Lang = Annotated[str, Depends(language)]


async def domain_error(request: Request, exc: Exception) -> JSONResponse:
    """An alerts domain error as problem+json (409 for lifecycle conflicts)."""
    assert isinstance(exc, AlertsError)
    status = next((s for cls, s in _STATUS.items() if isinstance(exc, cls)), 409)
    errors = None
    if isinstance(exc, NoteRequiredError):
        errors = [{"field": "note", "reason": exc.message(language(request))}]
    return problem(
        status,
        exc.message(language(request)),
        code=exc.code,
        errors=errors,
        instance=request.url.path,
    )
