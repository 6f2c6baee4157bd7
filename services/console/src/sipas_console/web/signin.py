"""Signing in and out: password, then a TOTP code for people who set one up.

``GET /sign-in`` shows the form; a correct password opens a session (or, with a second
factor, a pending one that ``/sign-in/code`` completes). Wrong passwords count towards a
lock of the account (``people.signin``), and every client address is rate-limited, so
guessing is slow either way; the answer never says whether the username exists. Every
attempt goes to the audit log. ``POST /sign-out`` ends the session.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from sipas_console.people.sessions import COOKIE, Stage
from sipas_console.people.signin import password_matches, totp_step
from sipas_console.web.forms import posted
from sipas_console.web.page import render, service_of
from sipas_runtime.guards import client_address
from sipas_runtime.i18n import _
from sipas_runtime.identity import PUBLIC

router = APIRouter(include_in_schema=False)
PERMISSIONS = {
    ("GET", "/sign-in"): PUBLIC,
    ("POST", "/sign-in"): PUBLIC,
    ("GET", "/sign-in/code"): PUBLIC,
    ("POST", "/sign-in/code"): PUBLIC,
    ("POST", "/sign-out"): PUBLIC,
}
WRONG = _("The username or password is wrong.")
LOCKED = _("Too many failed attempts: this account is locked for a while. Try again later.")
SLOW = _("Too many attempts from this computer. Wait a minute, then try again.")
BAD_CODE = _("The code is wrong or was used already. Enter the current code of your app.")


def next_path(value: str | None) -> str:
    """Where to go after signing in: a path on this site only (never another site)."""
    if value and value.startswith("/") and not value.startswith(("//", "/\\")):
        return value
    return "/"


def _form(
    request: Request, *, status: int = 200, error: str | None = None, **fields: str
) -> Response:
    return render(
        request,
        "signin/form.html",
        status=status,
        error=error,
        next=next_path(fields.get("next") or request.query_params.get("next")),
        username=fields.get("username", ""),
        single_sign_on=service_of(request).sso is not None,
    )


@router.get("/sign-in")
async def sign_in_form(request: Request) -> Response:
    """The sign-in form (a signed-in person goes on to where they were going)."""
    if getattr(request.state, "person", None) is not None:
        return RedirectResponse(next_path(request.query_params.get("next")), status_code=303)
    return _form(request)


@router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    """Check the password; open a session (pending when a second factor is due)."""
    console = service_of(request)
    fields = await posted(request)
    username, password = fields.get("username", ""), fields.get("password", "")
    if not await console.limits.allow("sign-in", client_address(request)):
        return _form(request, status=429, error=SLOW, **fields)
    now = datetime.now(UTC)
    person = await console.desk.accounts.by_username(username) if username else None
    if person is not None and person.lockout.locked(now):
        await console.desk.audit.record("sign_in_refused", actor=person.id, reason="locked")
        return _form(request, status=429, error=LOCKED, **fields)
    if person is None or not person.active or not password_matches(person.password, password):
        await console.desk.failed_sign_in(person, username, now=now)
        return _form(request, status=401, error=WRONG, **fields)
    stage: Stage = "pending" if person.second_factor else "active"
    goto = next_path(fields.get("next"))
    return await console.desk.open_session(person, stage, goto=goto, secure=True)


@router.get("/sign-in/code")
async def code_form(request: Request) -> Response:
    """The second step: the six-digit code of the person's authenticator app."""
    if getattr(request.state, "pending", None) is None:
        return RedirectResponse("/sign-in", status_code=303)
    return render(
        request, "signin/code.html", error=None, next=next_path(request.query_params.get("next"))
    )


@router.post("/sign-in/code")
async def code(request: Request) -> Response:
    """Check the code; the pending session becomes a signed-in one."""
    console = service_of(request)
    pending = getattr(request.state, "pending", None)
    fields = await posted(request)
    if pending is None:
        return RedirectResponse("/sign-in", status_code=303)
    session, person = pending
    now = datetime.now(UTC)
    step = totp_step(
        person.totp_secret or "", fields.get("code", ""), now=now, last_step=person.totp_step
    )
    if step is None or not await console.desk.accounts.use_totp_step(person.id, step):
        await console.desk.failed_sign_in(person, person.username, now=now, stage="code")
        return render(
            request,
            "signin/code.html",
            status=401,
            error=BAD_CODE,
            next=next_path(fields.get("next")),
        )
    await console.desk.sessions.close(session.id)
    goto = next_path(fields.get("next"))
    return await console.desk.open_session(
        person, "active", goto=goto, secure=True, method="password+totp"
    )


@router.post("/sign-out")
async def sign_out(request: Request) -> Response:
    """End the session and forget its cookie."""
    console = service_of(request)
    await posted(request)
    session = getattr(request.state, "session", None)
    if session is not None:
        await console.desk.sessions.close(session.id)
        await console.desk.audit.record("signed_out", actor=session.person_id)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response
