"""ASGI middleware shared by every service: request metrics, a body limit, security headers.

Both are plain ASGI (no ``BaseHTTPMiddleware``) so they cost little on hot endpoints.
Metrics are labelled by *route template* (``/s/{token}``), never by the raw path, so a
survey token never becomes a label or a log value.
"""

from __future__ import annotations

import json
import time

from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sipas_runtime.metrics import RuntimeMetrics
from sipas_runtime.problems import PROBLEM_JSON


def _route_template(app: Starlette, scope: Scope) -> str:
    # The route the router picked: routes of included routers sit below a wrapper route
    # without a ``path`` (FastAPI 0.165), so matching the top-level routes again finds no
    # template for them; the identity gate knows every route's full template.
    gate = getattr(app.state, "gate", None)
    picked = scope.get("route")
    if gate is not None and picked is not None and id(picked) in gate.paths:
        return str(gate.paths[id(picked)])
    for route in app.router.routes:
        match, _ = route.matches(scope)
        if match == Match.FULL:
            return str(getattr(route, "path", "unmatched"))
    return "unmatched"


class MetricsMiddleware:
    """Counts requests and observes latency by method, route template and status."""

    def __init__(self, app: ASGIApp, *, metrics: RuntimeMetrics, router_app: Starlette) -> None:
        self.app = app
        self.metrics = metrics
        self.router_app = router_app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = _route_template(self.router_app, scope)
            method = scope.get("method", "GET")
            service = self.metrics.service
            self.metrics.http_requests.labels(service, method, route, str(status)).inc()
            self.metrics.http_duration.labels(service, method, route).observe(
                time.perf_counter() - started
            )


class BodyLimitMiddleware:
    """Answers 413 (problem+json) when a request body exceeds ``max_bytes``."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._reject(send)
            return
        received = 0
        rejected = False

        async def limited_receive() -> Message:
            nonlocal received, rejected
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    rejected = True
                    raise _TooLargeError
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _TooLargeError:
            if rejected:
                await self._reject(send)

    async def _reject(self, send: Send) -> None:
        body = json.dumps(
            {
                "type": "urn:sipas:problem:payload-too-large",
                "title": "Payload too large",
                "status": 413,
                "detail": f"request body exceeds {self.max_bytes} bytes",
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", PROBLEM_JSON.encode()),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _TooLargeError(Exception):
    """Internal: raised from ``receive`` to abort reading an oversized body."""


API_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Resource-Policy": "same-origin",
}
"""On every answer of every service (a page may set stricter ones of its own)."""
API_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
"""The content security policy of every answer that is not an HTML page: run nothing."""


class SecurityHeadersMiddleware:
    """Adds the API security headers to every response that does not set them itself.

    JSON, CSV, XLSX and PDF answers also get a policy that runs nothing, so a stored text
    (a comment, a unit name) can never be sniffed into a page; HTML pages bring their own.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in API_HEADERS.items():
                    headers.setdefault(name, value)
                if not headers.get("content-type", "").startswith("text/html"):
                    headers.setdefault("Content-Security-Policy", API_POLICY)
            await send(message)

        await self.app(scope, receive, send_wrapper)
