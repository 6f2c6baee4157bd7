"""Wiring shared by the services: broker, Mongo, consumers, HTTP app, lifecycle.

A service's ``app.py`` builds a :class:`ServiceRuntime`, registers its consumers and
startup hooks, and asks for the ASGI app::

    runtime = ServiceRuntime(settings, title="SIPAS scoring")
    runtime.consume(SCORING_RESPONSES, decode=..., handler=..., dedup="sequence")
    runtime.on_startup(create_indexes)
    app = runtime.create_app(routers=[api.router], permissions=api.PERMISSIONS)

It is built in layers, a module each: the connections (:mod:`~sipas_runtime.connections`),
the consumers registered on them (:mod:`~sipas_runtime.subscriptions`), starting and
stopping (:mod:`~sipas_runtime.lifecycle`), and here the HTTP app, whose lifespan starts
and stops the service. ``/healthz``, ``/readyz``, ``/metrics`` and ``/v1/audit`` come for
free; every route passes the identity gate (``identity.gate``). Serving it with uvicorn:
:mod:`~sipas_runtime.serving`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline

from sipas_runtime.audit import verify
from sipas_runtime.http import BodyLimitMiddleware, MetricsMiddleware, SecurityHeadersMiddleware
from sipas_runtime.identity.bucket import IdentityWatch
from sipas_runtime.identity.gate import PUBLIC, Gate, RouteTable, Rule, allow, authorize
from sipas_runtime.identity.principal import Principal
from sipas_runtime.identity.roles import AUDIT_READ
from sipas_runtime.lifecycle import Lifecycle
from sipas_runtime.metrics import CONTENT_TYPE_LATEST, render
from sipas_runtime.openapi import document
from sipas_runtime.problems import install_problem_handlers, problem, service_catalogue
from sipas_runtime.settings import ServiceSettings

AUDIT_SUMMARY = "This service's audit log: entries, and whether its hash chain holds"
RUNTIME_RULES: dict[tuple[str, str], Rule] = {
    **{("GET", path): PUBLIC for path in ("/healthz", "/readyz", "/metrics")},
    ("GET", "/v1/audit"): allow(AUDIT_READ),
    **{("GET", path): PUBLIC for path in ("/docs", "/docs/oauth2-redirect", "/redoc")},
}
"""The routes every service's app has besides its own (merged into its table)."""


class ServiceRuntime(Lifecycle):
    """Everything a service process needs besides its domain."""

    def __init__(
        self, settings: ServiceSettings, *, title: str, max_body_bytes: int = 1_048_576
    ) -> None:
        super().__init__(settings)
        self.title = title
        self.max_body_bytes = max_body_bytes

    def create_app(
        self,
        *,
        routers: Sequence[APIRouter] = (),
        permissions: RouteTable,
        description: str = "",
        sessions: Callable[[Request], Awaitable[Principal | None]] | None = None,
    ) -> FastAPI:
        """The service's ASGI app: its routers plus health, readiness and metrics.

        Every route goes through the identity gate with ``permissions`` (a route missing
        from the table stops the app from being built); ``sessions`` finds a caller who
        presents no bearer credential (the console's signed-in people).
        """

        @asynccontextmanager
        async def lifespan(_: FastAPI) -> AsyncIterator[None]:
            await self.start()
            try:
                yield
            finally:
                await self.stop()

        app = FastAPIOffline(  # Swagger UI and ReDoc served from the package: no CDN
            title=self.title,
            description=description,
            version="0.1.0",
            lifespan=lifespan,
            dependencies=[Depends(authorize)],
        )
        install_problem_handlers(app, service_catalogue(self.name))
        for router in routers:
            app.include_router(router)
        self._add_runtime_routes(app)
        self._guard(app, permissions.merged(RUNTIME_RULES), sessions)
        app.state.runtime = self
        app.add_middleware(BodyLimitMiddleware, max_bytes=self.max_body_bytes)
        app.add_middleware(SecurityHeadersMiddleware)
        app.add_middleware(MetricsMiddleware, metrics=self.metrics, router_app=app)
        return app

    def _add_runtime_routes(self, app: FastAPI) -> None:
        app.add_api_route("/healthz", self._healthz, methods=["GET"], include_in_schema=False)
        app.add_api_route("/readyz", self._readyz, methods=["GET"], include_in_schema=False)
        app.add_api_route("/metrics", self._metrics, methods=["GET"], include_in_schema=False)
        app.add_api_route(
            "/v1/audit", self._audit, methods=["GET"], tags=["audit"], summary=AUDIT_SUMMARY
        )

    def _guard(
        self,
        app: FastAPI,
        table: RouteTable,
        sessions: Callable[[Request], Awaitable[Principal | None]] | None,
    ) -> None:
        """Put every route of ``app`` behind the identity gate, documented in its API."""
        document(app, table)
        self._identity = IdentityWatch(self.directory)
        gate = Gate(
            table,
            self.directory,
            self.settings.load_hierarchy(),
            fallback=sessions,
            audit=self.audit,
        )
        gate.learn_routes(app)
        app.state.gate = gate

    async def _healthz(self) -> dict[str, str]:
        return {"status": "ok", "service": self.name}

    async def _readyz(self) -> Response:
        if not self.ready:
            return problem(503, f"{self.name} is starting")
        try:
            await self.mongo.admin.command("ping")
            if not self.broker.connection.is_connected:
                return problem(503, "NATS connection is down")
        except Exception as exc:  # noqa: BLE001 - readiness reports any failure as not ready
            return problem(503, f"dependency unavailable: {type(exc).__name__}")
        store = self.recovery.store.details() if self.recovery.store is not None else None
        return JSONResponse({"status": "ready", "store": store})

    async def _metrics(self) -> Response:
        return Response(render(self.registry), media_type=CONTENT_TYPE_LATEST)

    async def _audit(self, after: int = 0, limit: int = 200, last: int = 0) -> dict[str, object]:
        return await self.audit_page(after=after, limit=limit, last=last)

    async def audit_page(
        self, *, after: int = 0, limit: int = 200, last: int = 0
    ) -> dict[str, object]:
        """The service's audit entries and whether its whole chain holds.

        Oldest first: those after number ``after`` (``limit`` at most), or the ``last`` ones.
        """
        entries = await self.audit.entries()
        breaches = verify(entries, await self.audit.head())
        limit = max(1, min(limit, 1000))
        page = (
            entries[-min(last, 1000) :]
            if last > 0
            else [e for e in entries if e.seq > after][:limit]
        )
        return {
            "service": self.name,
            "entries": [e.model_dump(mode="json") for e in page],
            "total": len(entries),
            "intact": not breaches,
            "breaches": [{"seq": b.seq, "reason": b.reason} for b in breaches],
        }
