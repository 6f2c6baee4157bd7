"""Posted forms of the console: read once, CSRF-checked, every field a string.

Every form carries ``{{ ui.csrf(csrf_token) }}``: the signed-in session's token, or, before
sign-in, the token of the ``sipas_csrf`` cookie (double submit). :func:`check_csrf` runs on
every cookie-authenticated request (the console's identity fallback calls it), so a post
whose token does not match is refused with the 403 page before any route sees it.
"""

from __future__ import annotations

import hmac
import secrets

from fastapi import HTTPException, Request, Response

CSRF_FIELD = "csrf"
CSRF_COOKIE = "sipas_csrf"
MAX_FIELDS = 200


def csrf_token(request: Request) -> str:
    """The token forms of this request must carry (made for visitors who have none)."""
    session = getattr(request.state, "session", None)
    if session is not None:
        return str(session.csrf)
    token = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "new_csrf", None)
    if not token:
        token = secrets.token_urlsafe(32)
        request.state.new_csrf = token
    return str(token)


def keep_csrf_cookie(request: Request, response: Response, *, secure: bool) -> None:
    """Set the visitor's CSRF cookie when this request made one."""
    token = getattr(request.state, "new_csrf", None)
    if token:
        response.set_cookie(
            CSRF_COOKIE, token, httponly=True, samesite="lax", secure=secure, path="/"
        )


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def check_csrf(request: Request) -> None:
    """Refuse (403) a state-changing request whose form lacks this session's token.

    Run for every request the console authenticates by cookie (not for bearer callers), so
    no screen can forget it; Starlette keeps the parsed form for the route's own fields.
    """
    if request.method in SAFE_METHODS or getattr(request.state, "credential", None):
        return  # a bearer credential is not sent by a browser on its own: no forgery
    form = await request.form(max_fields=MAX_FIELDS, max_files=0)
    presented = form.get(CSRF_FIELD)
    expected = csrf_token(request)
    if not isinstance(presented, str) or not hmac.compare_digest(
        presented.encode(), expected.encode()
    ):
        raise HTTPException(403)


async def posted(request: Request) -> dict[str, str]:
    """The posted fields (first value of each); the CSRF token was checked already."""
    await check_csrf(request)
    form = await request.form(max_fields=MAX_FIELDS, max_files=0)
    fields: dict[str, str] = {}
    for name, value in form.multi_items():
        if isinstance(value, str):
            fields.setdefault(name, value)
    return fields
