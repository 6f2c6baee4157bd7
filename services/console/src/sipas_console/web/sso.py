"""Signing in with the province's account (OpenID Connect), when the province has one.

``GET /sign-in/sso`` sends the browser to the provider; ``GET /sign-in/sso/callback``
takes it back, checks everything (``people.sso``) and opens a session whose person has the
roles and units the provider's groups map to. Nobody with no role here is signed in.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import structlog
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response

from sipas_console.people.attempts import COOKIE
from sipas_console.people.sso import Provider, SignOnError, map_claims
from sipas_console.web.page import render, service_of
from sipas_console.web.signin import next_path
from sipas_runtime.i18n import _
from sipas_runtime.identity import PUBLIC

router = APIRouter(include_in_schema=False)
log = structlog.get_logger(__name__)
PERMISSIONS = {("GET", "/sign-in/sso"): PUBLIC, ("GET", "/sign-in/sso/callback"): PUBLIC}
FAILED = _(
    "Signing in with the province's account did not work. Try again, or sign in with your password."
)
NO_ROLE = _("Your account of the province has no role in SIPAS yet. Ask Sở Nội vụ to give you one.")
NOT_FOUND = 404


def _provider(request: Request) -> Provider:
    """The province's identity provider (404 when the console has none)."""
    provider = service_of(request).sso
    if provider is None:
        raise HTTPException(NOT_FOUND)
    return provider


@router.get("/sign-in/sso")
async def leave(request: Request, next: Annotated[str, Query(max_length=500)] = "/") -> Response:  # noqa: A002 - the parameter's public name
    """Off to the province's identity provider, with a state this browser keeps."""
    console, provider = service_of(request), _provider(request)
    url, attempt = await provider.start(next_path(next))
    await console.desk_attempts.keep(attempt, now=datetime.now(UTC))
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(
        COOKIE,
        attempt.state,
        max_age=600,
        httponly=True,
        secure=True,
        samesite="lax",
        path="/sign-in",
    )
    return response


@router.get("/sign-in/sso/callback")
async def back(
    request: Request,
    state: Annotated[str, Query(max_length=200)] = "",
    code: Annotated[str, Query(max_length=2000)] = "",
) -> Response:
    """The provider's answer: a signed-in person, or a page that says why not."""
    console, provider = service_of(request), _provider(request)
    now = datetime.now(UTC)
    ours = request.cookies.get(COOKIE)
    attempt = await console.desk_attempts.take(state, now=now) if state and ours == state else None
    if attempt is None or not code:
        reason = (
            "no code" if attempt else ("unknown state" if ours == state else "not this browser")
        )
        log.warning("sign_on_refused", reason=reason)
        await console.desk.audit.record(
            "sign_in_failed", actor="unknown", stage="sso", reason=reason
        )
        return _refused(request, FAILED, 400)
    try:
        claims = await provider.finish(attempt, code, now=now)
    except SignOnError as exc:
        log.warning("sign_on_refused", reason=str(exc))
        await console.desk.audit.record("sign_in_failed", actor="unknown", stage="sso", reason=exc)
        return _refused(request, FAILED, 401)
    settings = console.settings
    grant = map_claims(claims, groups_claim=settings.oidc_groups_claim, groups=settings.oidc_groups)
    if not grant.roles:
        await console.desk.audit.record("sign_in_refused", actor="sso", reason="no role")
        return _refused(request, NO_ROLE, 403)
    person = await console.desk.signed_on(provider.issuer, claims, grant)
    response = await console.desk.open_session(
        person, "active", goto=attempt.next, secure=True, method="sso"
    )
    response.delete_cookie(COOKIE, path="/sign-in")
    return response


def _refused(request: Request, message: str, status: int) -> Response:
    response = render(request, "signin/refused.html", status=status, message=message)
    response.delete_cookie(COOKIE, path="/sign-in")
    return response
