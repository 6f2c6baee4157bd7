"""HTTP errors as RFC 9457 problem details, naming the field and the reason.

Every service's API answers errors with ``application/problem+json``: ``type``, ``title``,
``status``, ``detail`` and, for validation errors, ``errors: [{field, reason}]``. Never a
stack trace: unexpected errors are logged with the request id and answered generically.

Problems are written in the caller's language: Vietnamese by default, English on
``Accept-Language: en`` (or ``?lang=en``). Titles, pydantic's reasons (``reasons``) and any
detail or reason raised as an English msgid marked with ``_()`` (with ``%(name)s``
placeholders filled from ``ProblemError(params=...)``) are translated by the service's
catalogue; ``Content-Language`` says which language the answer is in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from importlib.util import find_spec
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Route

from sipas_runtime.i18n import DEFAULT_LANG, Catalogue, Lang, _, choose_language
from sipas_runtime.reasons import WHOLE_BODY, field_name, reason

PROBLEM_JSON = "application/problem+json"
log = structlog.get_logger(__name__)

_TITLES = {
    400: _("Bad request"),
    401: _("Unauthorized"),
    403: _("Forbidden"),
    404: _("Not found"),
    405: _("Method not allowed"),
    409: _("Conflict"),
    410: _("Gone"),
    413: _("Payload too large"),
    415: _("Unsupported media type"),
    422: _("Invalid input"),
    429: _("Too many requests"),
    500: _("Internal error"),
    503: _("Service unavailable"),
}
# Starlette's own details (an unknown path or method), translated like any msgid.
_STARLETTE = (_("Not Found"), _("Method Not Allowed"))
UNEXPECTED = _("Unexpected error; it has been logged.")


class ProblemError(Exception):
    """Raise from a route to answer with a problem document."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        code: str = "about:blank",
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
        params: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.params = dict(params or {})
        self.code = code
        self.errors = errors or []
        self.headers = headers or {}


def problem(
    status: int,
    detail: str,
    *,
    code: str = "about:blank",
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
    instance: str | None = None,
    lang: Lang = DEFAULT_LANG,
    catalogue: Catalogue | None = None,
) -> JSONResponse:
    """A problem+json response; its title in ``lang`` (``detail`` is given as shown)."""
    title = (catalogue or Catalogue.of()).gettext(lang, _TITLES.get(status, "Error"))
    body: dict[str, Any] = {"type": code, "title": title, "status": status, "detail": detail}
    if instance:
        body["instance"] = instance
    if errors:
        body["errors"] = errors
    answer = JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)
    answer.headers["Content-Language"] = lang
    return answer


def field_errors(
    raw_errors: Sequence[Mapping[str, Any]],
    catalogue: Catalogue | None = None,
    lang: Lang = "en",
) -> list[dict[str, str]]:
    """``[{field, reason}]`` from pydantic/FastAPI error dicts (location prefix dropped)."""
    said = catalogue or Catalogue.of()
    return [
        {
            "field": field_name(error.get("loc", ())) or said.gettext(lang, WHOLE_BODY),
            "reason": reason(error, said, lang),
        }
        for error in raw_errors
    ]


def service_catalogue(service: str) -> Catalogue:
    """The runtime's messages plus those of ``sipas_<service>`` when that package exists."""
    package = f"sipas_{service}"
    return Catalogue.of(package) if find_spec(package) else Catalogue.of()


def request_language(request: Request) -> Lang:
    """The language a caller reads: ``?lang=``, else ``Accept-Language``, else Vietnamese."""
    return choose_language(
        request.query_params.get("lang"), None, request.headers.get("accept-language")
    )


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """The methods some route of ``app`` serves at ``path`` (a path may have several routes)."""
    methods: set[str] = set()
    for route in app.router.routes:
        if isinstance(route, Route) and route.methods and route.path_regex.fullmatch(path):
            methods |= route.methods
    return sorted(methods)


def install_problem_handlers(app: FastAPI, catalogue: Catalogue | None = None) -> None:
    """Make every error of ``app`` a problem document in the caller's language."""
    said = catalogue or Catalogue.of()

    def answer(request: Request, exc: ProblemError) -> JSONResponse:
        lang = request_language(request)
        errors = [
            {**e, "reason": said.gettext(lang, e["reason"])} if "reason" in e else e
            for e in exc.errors
        ]
        return problem(
            exc.status,
            said.gettext(lang, exc.detail, **exc.params),
            code=exc.code,
            errors=errors,
            headers=exc.headers,
            instance=request.url.path,
            lang=lang,
            catalogue=said,
        )

    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> JSONResponse:
        return answer(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        lang = request_language(request)
        errors = field_errors(exc.errors(), said, lang)
        detail = "; ".join(f"{e['field']}: {e['reason']}" for e in errors)
        return problem(
            422,
            detail,
            code="urn:sipas:problem:invalid-input",
            errors=errors,
            lang=lang,
            catalogue=said,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(exc.headers or {})
        if exc.status_code == 405:  # noqa: PLR2004 - every method of the path, not one route's
            headers["Allow"] = ", ".join(allowed_methods(app, request.url.path))
        return answer(request, ProblemError(exc.status_code, str(exc.detail), headers=headers))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled_error", path=request.url.path, exc_info=exc)
        return answer(request, ProblemError(500, UNEXPECTED))
