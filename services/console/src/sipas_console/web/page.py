"""Rendering a console page: the one way every screen answers HTML.

:func:`render` picks the language (``?lang=`` remembered in a cookie, else the browser's,
else Vietnamese), adds what the shared layout needs (the navigation the viewer may use,
the language switch, who is signed in, the CSRF token of forms) and answers with the kit's
security headers.
Templates extend ``console.html`` and import the kit's ``components.html`` macros.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse

from sipas_console.clients import Caller
from sipas_console.people.accounts import Person
from sipas_console.web.forms import csrf_token, keep_csrf_cookie
from sipas_runtime.app_service import ServiceOf
from sipas_runtime.i18n import LANGUAGES, Lang, choose_language
from sipas_runtime.identity import Principal

if TYPE_CHECKING:
    from sipas_console.app import ConsoleService

LANG_COOKIE = "sipas_lang"
ONE_YEAR = 365 * 24 * 3600


service_of: ServiceOf[ConsoleService] = ServiceOf()
"""The console behind a request (the same accessor as every service's)."""


def language(request: Request) -> Lang:
    """The language to answer ``request`` in."""
    return choose_language(
        request.query_params.get("lang"),
        request.cookies.get(LANG_COOKIE),
        request.headers.get("accept-language"),
    )


def switch_url(request: Request, lang: Lang) -> str:
    """The same page (same query) in the other language."""
    query = {k: v for k, v in request.query_params.items() if k != "lang"}
    query["lang"] = "en" if lang == "vi" else "vi"
    return f"{request.url.path}?{urlencode(query)}"


def viewer_permissions(request: Request) -> frozenset[str]:
    """What the person viewing the page may do (nothing when nobody is signed in)."""
    permissions: frozenset[str] = getattr(request.state, "permissions", frozenset())
    return permissions


def person_of(request: Request) -> Person:
    """The signed-in person (or the person a bearer token speaks for; 403 for machines)."""
    person: Person | None = getattr(request.state, "person", None)
    if person is not None:
        return person
    caller: Principal | None = getattr(request.state, "principal", None)
    if caller is None or caller.kind != "person":
        raise HTTPException(403)
    now = datetime.now(UTC)
    return Person(
        id=caller.subject, username=caller.subject, name=caller.name, roles=tuple(caller.roles),
        units=tuple(caller.units), created_at=now, updated_at=now,
    )  # fmt: skip


def caller_of(request: Request) -> Caller:
    """Who calls the services for this request, in their language.

    The signed-in person's token, or the bearer credential a script gave the console itself.
    """
    token: str | None = getattr(request.state, "token", None) or getattr(
        request.state, "credential", None
    )
    return Caller(token=token, lang=language(request))


def field_errors(request: Request, errors: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """(field, message) pairs with each message (a msgid) in the viewer's language."""
    lang, catalogue = language(request), service_of(request).catalogue
    return [(name, catalogue.gettext(lang, message)) for name, message in errors]


def render(
    request: Request,
    template: str,
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    **context: object,
) -> HTMLResponse:
    """``template`` rendered for ``request`` in the viewer's language."""
    console = service_of(request)
    lang = language(request)
    menu = console.menu.visible(viewer_permissions(request))
    response = console.pages.response(
        template,
        lang=lang,
        status=status,
        headers=headers,
        menu=menu,
        current_path=request.url.path,
        switch_url=switch_url(request, lang),
        csrf_token=csrf_token(request),
        **{"person": getattr(request.state, "person", None), **context},
    )
    keep_csrf_cookie(request, response, secure=console.settings.https)
    chosen = request.query_params.get("lang")
    if chosen in LANGUAGES:
        response.set_cookie(
            LANG_COOKIE,
            chosen,
            max_age=ONE_YEAR,
            httponly=True,
            samesite="lax",
            secure=console.settings.https,
        )
    return response
