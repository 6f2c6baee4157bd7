"""What every route needs: the service object and the bearer-key roles.

Roles: TTHC systems (``SIPAS_INTAKE_API_KEYS``) feed dossiers; operators
(``SIPAS_INTAKE_OPERATOR_KEYS``) import lists and paper forms and manage kiosks (they may
feed dossiers too); enumerators (``SIPAS_INTAKE_INTERVIEWERS``, ``id=key``) enter answers,
and their id comes from their key, never from the request body.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Header, Request

from sipas_runtime.problems import ProblemError

if TYPE_CHECKING:
    from sipas_intake.app import IntakeService


def intake_of(request: Request) -> IntakeService:
    """The service object behind the app."""
    intake: IntakeService = request.app.state.intake
    return intake


def _bearer(authorization: str | None) -> str:
    scheme, _, key = (authorization or "").partition(" ")
    return key.strip() if scheme.lower() == "bearer" else ""


def _known(key: str, keys: Iterable[str]) -> bool:
    found = False
    for candidate in keys:  # compare with every key: no early exit on a match
        found |= hmac.compare_digest(key.encode(), candidate.encode())
    return bool(key) and found


def _unauthorised(what: str) -> ProblemError:
    return ProblemError(
        401,
        f"A valid bearer key of {what} is required.",
        code="urn:sipas:problem:unauthorised",
        headers={"WWW-Authenticate": "Bearer"},
    )


def require_feed(request: Request, authorization: Annotated[str | None, Header()] = None) -> None:
    """A TTHC system's or an operator's key (dossier feeds and imports)."""
    settings = intake_of(request).settings
    if not _known(_bearer(authorization), settings.api_key_set | settings.operator_key_set):
        raise _unauthorised("a TTHC system or an operator")


def require_operator(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> None:
    """An operator's key."""
    if not _known(_bearer(authorization), intake_of(request).settings.operator_key_set):
        raise _unauthorised("an operator")


def interviewer_id(request: Request, authorization: Annotated[str | None, Header()] = None) -> str:
    """The enumerator the key belongs to."""
    key = _bearer(authorization)
    interviewers = intake_of(request).settings.interviewer_keys
    if not _known(key, interviewers):
        raise _unauthorised("an enumerator")
    return interviewers[key]


Interviewer = Annotated[str, Depends(interviewer_id)]
