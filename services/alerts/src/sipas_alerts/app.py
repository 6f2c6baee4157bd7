"""Wiring of the alerts service: the only module that constructs things."""

from __future__ import annotations

from fastapi import FastAPI

from sipas_alerts import api, handlers
from sipas_alerts.settings import Settings
from sipas_alerts.store import COLLECTIONS, AlertStore
from sipas_contracts.streams import ALERTS_RESPONSES
from sipas_runtime.service import ServiceRuntime, ensure_collections


class AlertsService:
    """Alerts' collaborators, shared by routes and handlers."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.runtime = ServiceRuntime(settings, title="SIPAS Live — alerts")
        self._store: AlertStore | None = None

    def store(self) -> AlertStore:
        """The alert store (available once started)."""
        if self._store is None:
            self._store = AlertStore(self.runtime.db)
        return self._store


def create_app(settings: Settings) -> FastAPI:
    """The alerts ASGI app with its consumers registered."""
    alerts = AlertsService(settings)
    runtime = alerts.runtime
    runtime.consume(
        ALERTS_RESPONSES,
        decode=handlers.decode_response,
        handler=handlers.on_responses(alerts.store, threshold=settings.low_rating_max),
    )

    async def setup(rt: ServiceRuntime) -> None:
        await ensure_collections(rt.db, COLLECTIONS)

    runtime.on_startup(setup)
    app = runtime.create_app(routers=[api.router], description="Alert rules, cases and SLAs.")
    app.state.alerts = alerts
    return app
