"""Error pages: what a person sees instead of a problem+json document.

A route that raises ``HTTPException`` or lets a :class:`ServiceCallError` through gets a page
in the viewer's language that says what happened and what to do; nothing of the service's
internals (its problem document is logged, not shown). Screens that can do better (a form
re-rendered with the service's field errors) catch ``ServiceCallError`` themselves.
"""

from __future__ import annotations

from urllib.parse import quote

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from sipas_console.clients import ServiceCallError, ServiceUnavailableError
from sipas_console.web.page import render
from sipas_runtime.i18n import _
from sipas_runtime.problems import ProblemError, problem

log = structlog.get_logger(__name__)
API_PREFIXES = ("/v1/", "/.well-known/")

PAGES: dict[int, tuple[str, str]] = {
    400: (_("The request was not understood"), _("Go back and try again.")),
    401: (_("Please sign in"), _("This page is for signed-in staff.")),
    403: (
        _("You cannot open this page"),
        _("Your role or your units do not include it. Ask the supervisor if you need it."),
    ),
    404: (_("Page not found"), _("Check the address, or start again from the home page.")),
    405: (_("The request was not understood"), _("Go back and try again.")),
    409: (_("This has changed meanwhile"), _("Reload the page to see the current state.")),
    429: (_("Too many attempts"), _("Wait a moment, then try again.")),
    500: (
        _("Something went wrong"),
        _("The error has been recorded. Try again in a moment."),
    ),
    503: (
        _("A service is not available"),
        _("Part of the system is not answering. Try again in a moment."),
    ),
}


def error_page(request: Request, status: int) -> HTMLResponse:
    """The page for ``status`` (500's page for statuses without their own)."""
    heading, advice = PAGES.get(status, PAGES[500])
    return render(request, "errors/page.html", status=status, heading=heading, advice=advice)


def sign_in_first(request: Request) -> Response:
    """Send someone who is not signed in to the sign-in page, then back here."""
    if request.method != "GET":
        return error_page(request, 401)
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/sign-in?next={quote(here, safe='/')}", status_code=303)


def install_error_pages(app: FastAPI) -> None:
    """Answer errors of ``app`` with pages (replacing the API's problem documents)."""

    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> Response:
        if request.url.path.startswith(API_PREFIXES):  # the console's own API: JSON
            return problem(
                exc.status, exc.detail, code=exc.code, errors=exc.errors, headers=exc.headers
            )
        if exc.status == 401:  # noqa: PLR2004 - HTTP status
            return sign_in_first(request)
        return error_page(request, exc.status if exc.status in PAGES else 500)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> HTMLResponse:
        page = error_page(request, exc.status_code)
        page.headers.update(exc.headers or {})
        return page

    @app.exception_handler(ServiceCallError)
    async def _service(request: Request, exc: ServiceCallError) -> Response:
        status = 503 if isinstance(exc, ServiceUnavailableError) else exc.status
        log.warning("service_call_failed", service=exc.service, status=exc.status)
        if status == 401:  # noqa: PLR2004 - the person's token was refused: sign in again
            return sign_in_first(request)
        return error_page(request, status if status in PAGES else 500)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> HTMLResponse:
        log.error("unhandled_error", path=request.url.path, exc_info=exc)
        return error_page(request, 500)
