"""Operator authentication: ``Authorization: Bearer <key>`` mapped to an operator's name.

Keys come from ``SIPAS_SCORING_OPERATOR_KEYS`` (``name:key,name:key``). The name is what
the publication history records (and what the four-eyes rule compares). With no keys
configured outside production, operator routes are open and the actor is ``dev`` (or the
``X-Sipas-Actor`` header), so the demo and tests work without secrets.
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Header, Request

from sipas_runtime.problems import ProblemError
from sipas_scoring.settings import DEV_ACTOR

if TYPE_CHECKING:
    from sipas_scoring.app import ScoringService


def scoring_of(request: Request) -> ScoringService:
    """The scoring service behind a request."""
    scoring: ScoringService = request.app.state.scoring
    return scoring


def operator(
    request: Request,
    authorization: Annotated[str | None, Header()] = None,
    x_sipas_actor: Annotated[str | None, Header(max_length=64)] = None,
) -> str:
    """The authenticated operator's name (401 without a valid key)."""
    settings = scoring_of(request).settings
    if settings.open_operator_access:
        return x_sipas_actor or DEV_ACTOR
    scheme, _, presented = (authorization or "").partition(" ")
    if scheme.lower() == "bearer":
        for key, name in settings.operators.items():
            if hmac.compare_digest(key.encode(), presented.encode()):
                return name
    raise ProblemError(
        401,
        "A valid operator bearer key is required.",
        code="urn:sipas:problem:unauthorized",
        headers={"WWW-Authenticate": "Bearer"},
    )


Operator = Annotated[str, Depends(operator)]
