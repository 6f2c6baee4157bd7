"""Every service's OpenAPI says what its routes really answer: errors and credentials.

FastAPI documents a route's success and, for routes with parameters, a 422 in its own
validation shape. Our answers differ in ways an integrator must know, and that are the same
for every route, so they are written here once, from the route table and the route itself:

- errors are ``application/problem+json`` (:data:`PROBLEM`), 422 included;
- a route that needs a credential answers 401 and 403, and declares the bearer scheme; a
  :data:`~sipas_runtime.identity.gate.PUBLIC` route declares none (``security: []``);
- a route with a body answers 400 (a body that is not JSON) and 413 (over the size limit);
- a route with parameters or a body answers 404 (nothing of the id or campaign it names)
  and 422 (invalid input, naming the field).

Codes that only some routes answer (409, 429, ...) are declared by the route itself with
:func:`problem_responses`; they come out in the same problem shape.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from sipas_runtime.identity.gate import RouteTable
from sipas_runtime.problems import PROBLEM_JSON

PROBLEM = "#/components/schemas/Problem"
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details, in the caller's language.",
    "type": "object",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "reason": {"type": "string"}},
            },
        },
    },
}
DESCRIPTIONS = {
    400: "The body is not what the route reads (not JSON, not UTF-8)",
    401: "No credential, or one that is refused (expired, revoked, forged)",
    403: "The credential lacks the permission, or the unit is outside its scope",
    404: "Nothing with that id",
    409: "Conflicts with the current state",
    413: "The body is larger than the service accepts",
    422: "Invalid input: the field and the reason",
    429: "Too many requests from this address: retry after the given seconds",
    503: "A dependency is unavailable; nothing was done: retry after the given seconds",
}
BODY_CODES = (400, 413)
HTTP_METHODS = {"get", "put", "post", "delete", "patch"}


def problem_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` of a route that may also answer ``codes`` (as problem details)."""
    return {code: {"description": DESCRIPTIONS[code]} for code in codes}


def document(app: FastAPI, table: RouteTable) -> None:
    """Make ``app.openapi()`` document errors and credentials of every route (built once)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = (
                PROBLEM_SCHEMA
            )
            for path, methods in schema.get("paths", {}).items():
                for method, operation in methods.items():
                    if method in HTTP_METHODS:
                        _document_operation(operation, table, method, path)
            _drop_unused(schema, ("HTTPValidationError", "ValidationError"))
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _document_operation(
    operation: dict[str, Any], table: RouteTable, method: str, path: str
) -> None:
    rule = table.rule(method, path)
    responses: dict[str, Any] = operation.setdefault("responses", {})
    codes: set[int] = set()
    if rule is None or rule.public:
        operation["security"] = []
    else:
        codes |= {401, 403}
    parameters = operation.get("parameters", [])
    if "requestBody" in operation:
        codes |= set(BODY_CODES)
    if parameters or "requestBody" in operation:
        codes |= {404, 422}
    for code in codes:
        responses.setdefault(str(code), {"description": DESCRIPTIONS[code]})
    for status, response in responses.items():
        if status.isdigit() and int(status) >= 400:  # noqa: PLR2004 - client and server errors
            response["content"] = {PROBLEM_JSON: {"schema": {"$ref": PROBLEM}}}


def _drop_unused(schema: dict[str, Any], names: Iterable[str]) -> None:
    """Remove component schemas no operation refers to any more."""
    text = repr(schema.get("paths", {}))
    components = schema.get("components", {}).get("schemas", {})
    for name in names:
        if f"#/components/schemas/{name}" not in text:
            components.pop(name, None)
