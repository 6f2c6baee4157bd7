"""Wiring of the scoring service: the only module that constructs things."""

from __future__ import annotations

from fastapi import FastAPI

from sipas_contracts.streams import SCORING_RESPONSES
from sipas_runtime.service import ServiceRuntime, ensure_collections
from sipas_scoring import api, handlers
from sipas_scoring.settings import Settings
from sipas_scoring.store import COLLECTIONS, AggregateStore


class ScoringService:
    """Scoring's collaborators, shared by routes and handlers."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.runtime = ServiceRuntime(settings, title="SIPAS Live — scoring")
        self._store: AggregateStore | None = None

    def store(self) -> AggregateStore:
        """The aggregate store (available once started)."""
        if self._store is None:
            self._store = AggregateStore(self.runtime.db)
        return self._store


def create_app(settings: Settings) -> FastAPI:
    """The scoring ASGI app with its consumers registered."""
    scoring = ScoringService(settings)
    runtime = scoring.runtime
    runtime.consume(
        SCORING_RESPONSES,
        decode=handlers.decode_response,
        handler=handlers.on_responses(scoring.store, n_min=settings.n_min),
        dedup="sequence",
    )

    async def setup(rt: ServiceRuntime) -> None:
        await ensure_collections(rt.db, COLLECTIONS)

    runtime.on_startup(setup)
    app = runtime.create_app(
        routers=[api.router], description="Aggregates, indices and publication."
    )
    app.state.scoring = scoring
    return app
