"""The signed-in person's own page: who they are, their roles and units, a second factor.

Setting up a second factor: ``POST /account/second-factor`` makes a secret (kept aside until
confirmed) and shows it as a QR code and as text for the authenticator app; the person
confirms with the app's current code; from then on sign-in asks for a code.
"""

from __future__ import annotations

from datetime import UTC, datetime

import segno
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup

from sipas_console.people.signin import new_totp_secret, totp_step, totp_uri
from sipas_console.web.forms import posted
from sipas_console.web.menu import MenuItem
from sipas_console.web.page import language, person_of, render, service_of
from sipas_runtime.i18n import _
from sipas_runtime.identity import allow
from sipas_runtime.identity.roles import ROLES

router = APIRouter(include_in_schema=False)
SIGNED_IN = allow(
    *{p for role in ROLES.values() if not role.machine for p in role.permissions}, people_only=True
)
PERMISSIONS = {
    ("GET", "/account"): SIGNED_IN,
    ("POST", "/account/second-factor"): SIGNED_IN,
    ("POST", "/account/second-factor/confirm"): SIGNED_IN,
}
MENU: list[MenuItem] = []
WRONG_CODE = _("The code does not match. Check the time on your phone and try again.")


def _page(
    request: Request,
    *,
    enrolling: dict[str, object] | None,
    error: str | None,
    status: int = 200,
) -> Response:
    person, lang = person_of(request), language(request)
    say = service_of(request).catalogue.gettext
    roles = [say(lang, ROLES[r].label) for r in person.roles if r in ROLES]
    hierarchy = service_of(request).hierarchy
    units = [hierarchy.units[u].name_vi if u in hierarchy.units else u for u in person.units]
    return render(
        request,
        "account/page.html",
        status=status,
        person=person,
        roles=roles,
        units=units,
        enrolling=enrolling,
        error=error,
    )


@router.get("/account")
async def account(request: Request) -> Response:
    """Who is signed in, with which roles and units."""
    return _page(request, enrolling=None, error=None)


@router.post("/account/second-factor")
async def start_second_factor(request: Request) -> Response:
    """A fresh secret to scan; it counts only once confirmed with a code."""
    await posted(request)
    person = person_of(request)
    secret = new_totp_secret()
    if await service_of(request).desk.accounts.change(person.id, totp_pending=secret) is None:
        raise HTTPException(404)  # a person known to the token's issuer, without an account here
    return _page(request, enrolling=_enrolment(secret, person.username), error=None)


@router.post("/account/second-factor/confirm")
async def confirm_second_factor(request: Request) -> Response:
    """Check the app's code against the pending secret; from now on sign-in asks for one."""
    fields = await posted(request)
    console, person = service_of(request), person_of(request)
    stored = await console.desk.accounts.get(person.id)
    secret = getattr(stored, "totp_pending", None) if stored else None
    if not secret:
        return RedirectResponse("/account", status_code=303)
    step = totp_step(secret, fields.get("code", ""), now=datetime.now(UTC), last_step=None)
    if step is None:
        enrolling = _enrolment(secret, person.username)
        return _page(request, status=422, enrolling=enrolling, error=WRONG_CODE)
    await console.desk.accounts.change(
        person.id, totp_secret=secret, totp_pending=None, totp_step=step
    )
    await console.desk.audit.record("second_factor_enabled", actor=person.id, target=person.id)
    return RedirectResponse("/account?done=second-factor", status_code=303)


def _enrolment(secret: str, username: str) -> dict[str, object]:
    uri = totp_uri(secret, account=username)
    svg = segno.make(uri, error="m").svg_inline(scale=4, dark="#0b0c0c", light="#fff")
    grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    return {"qr": Markup(svg), "secret": grouped}  # noqa: S704 - segno's own SVG markup
