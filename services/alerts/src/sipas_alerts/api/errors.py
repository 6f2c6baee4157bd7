"""Alerts' domain errors as problem details, in the caller's language."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse

from sipas_alerts.domain.errors import (
    ActionNotAllowedError,
    AlertsError,
    CaseNotFoundError,
    NoteRequiredError,
    OutOfScopeError,
)
from sipas_runtime.problems import problem

_STATUS: dict[type[AlertsError], int] = {
    OutOfScopeError: 403,
    ActionNotAllowedError: 403,
    CaseNotFoundError: 404,
    NoteRequiredError: 422,
}


def language(request: Request) -> str:
    """``en`` when the caller prefers English, else ``vi``."""
    accept = request.headers.get("accept-language", "").strip().lower()
    return "en" if accept.startswith("en") else "vi"


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
