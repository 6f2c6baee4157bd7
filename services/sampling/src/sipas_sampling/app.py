"""Wiring of the sampling service: the only module that constructs things."""

from __future__ import annotations

from fastapi import FastAPI

from sipas_contracts.streams import SAMPLING_DOSSIERS
from sipas_runtime.service import ServiceRuntime, ensure_collections
from sipas_runtime.settings import decode_key
from sipas_sampling import api, handlers
from sipas_sampling.settings import Settings
from sipas_sampling.store import COLLECTIONS, InvitationStore


class SamplingService:
    """Sampling's collaborators, shared by routes and handlers."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.token_key = decode_key(settings.token_key, what="SIPAS_TOKEN_KEY")
        decode_key(settings.secret_key, what="SIPAS_SAMPLING_SECRET_KEY", length=32)
        self.hierarchy = settings.load_hierarchy()
        self.runtime = ServiceRuntime(settings, title="SIPAS Live — sampling")
        self._store: InvitationStore | None = None

    def store(self) -> InvitationStore:
        """The invitation store (available once started)."""
        if self._store is None:
            self._store = InvitationStore(self.runtime.db)
        return self._store


def create_app(settings: Settings) -> FastAPI:
    """The sampling ASGI app with its consumers registered."""
    sampling = SamplingService(settings)
    runtime = sampling.runtime
    runtime.consume(
        SAMPLING_DOSSIERS,
        decode=handlers.decode_dossier,
        handler=handlers.on_dossiers(
            settings,
            store=sampling.store,
            hierarchy=sampling.hierarchy,
            token_key=sampling.token_key,
        ),
    )

    async def setup(rt: ServiceRuntime) -> None:
        await ensure_collections(rt.db, COLLECTIONS)
        await rt.db["outbox"].create_index("created_at")

    runtime.on_startup(setup)
    app = runtime.create_app(routers=[api.router], description="Campaigns, draws and invitations.")
    app.state.sampling = sampling
    return app
