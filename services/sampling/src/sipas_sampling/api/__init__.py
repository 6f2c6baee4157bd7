"""Sampling's HTTP API: campaigns, draws and lists, opt-outs, delivery reports, dev outbox.

Every ``/v1`` route except gateway callbacks needs ``Authorization: Bearer <key>``; keys
map to roles (``SIPAS_SAMPLING_API_KEYS``): *operator* (Sở Nội vụ: everything),
*enumerator* (lists with contacts, substitutions), *observer* (MTTQ, Veterans' Association:
read-only, never a contact). Errors are problem+json documents naming the field.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Header, Request

from sipas_runtime.problems import ProblemError

if TYPE_CHECKING:
    from collections.abc import Callable

    from sipas_sampling.app import SamplingService

CONTACT_ROLES = frozenset({"operator", "enumerator"})


def service(request: Request) -> SamplingService:
    """The sampling service behind the app."""
    return request.app.state.sampling  # type: ignore[no-any-return]


def role(*allowed: str) -> Callable[..., str]:
    """A dependency that authenticates the caller and checks its role."""

    def check(request: Request, authorization: Annotated[str | None, Header()] = None) -> str:
        keys = service(request).settings.role_keys()
        if not keys:
            raise ProblemError(401, "No API keys are configured (SIPAS_SAMPLING_API_KEYS).")
        scheme, _, key = (authorization or "").partition(" ")
        found = keys.get(key) if scheme.lower() == "bearer" else None
        if found is None:
            raise ProblemError(
                401,
                "Missing or unknown API key.",
                errors=[{"field": "Authorization", "reason": "bearer key required"}],
            )
        if found not in allowed:
            raise ProblemError(
                403, f"Role {found!r} may not do this (allowed: {', '.join(allowed)})."
            )
        return found

    return check


Operator = Annotated[str, Depends(role("operator"))]
Anyone = Annotated[str, Depends(role("operator", "enumerator", "observer"))]
Reader = Annotated[str, Depends(role("operator", "observer"))]
Fieldwork = Annotated[str, Depends(role("operator", "enumerator"))]
