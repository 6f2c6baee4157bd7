"""Wiring of the intake service: the only module that constructs things."""

from __future__ import annotations

from fastapi import FastAPI

from sipas_contracts.events import ResponseRecorded
from sipas_contracts.streams import INTAKE_INVITATIONS, INTAKE_RAW_DOSSIERS
from sipas_contracts.units import UnitHierarchy
from sipas_intake import api, handlers
from sipas_intake.settings import Settings
from sipas_intake.store import COLLECTIONS, DossierLedger, TokenStore
from sipas_runtime.privacy import keyed_hash, seal
from sipas_runtime.service import ServiceRuntime, ensure_collections
from sipas_runtime.settings import decode_key


class IntakeService:
    """Intake's collaborators, shared by the HTTP routes and the JetStream handlers."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.token_key = decode_key(settings.token_key, what="SIPAS_TOKEN_KEY")
        self.pseudonym_key = decode_key(settings.pseudonym_key, what="SIPAS_PSEUDONYM_KEY")
        decode_key(settings.sampling_public_key, what="SIPAS_SAMPLING_PUBLIC_KEY", length=32)
        self.hierarchy: UnitHierarchy = settings.load_hierarchy()
        self.runtime = ServiceRuntime(settings, title="SIPAS Live — intake")
        self._tokens: TokenStore | None = None
        self._ledger: DossierLedger | None = None

    def tokens(self) -> TokenStore:
        """The token store (available once started)."""
        if self._tokens is None:
            self._tokens = TokenStore(self.runtime.db)
        return self._tokens

    def ledger(self) -> DossierLedger:
        """The dossier ledger (available once started)."""
        if self._ledger is None:
            self._ledger = DossierLedger(self.runtime.db)
        return self._ledger

    def seal_contact(self, contact: dict[str, str]) -> str:
        """Seal a contact for the sampling service."""
        return seal(self.settings.sampling_public_key, contact)

    def pseudonymise(self, identity: str) -> str:
        """Keyed pseudonym of an applicant identity."""
        return keyed_hash(self.pseudonym_key, identity)

    async def publish_response(self, token_hash: str, event: ResponseRecorded) -> None:
        """Publish a recorded response, then drop the pending copy kept with the token."""
        await self.runtime.publisher.publish(event)
        await self.tokens().mark_published(token_hash)

    async def publish_json(self, token_hash: str, document: dict[str, object]) -> None:
        """Re-publish a pending response stored as JSON."""
        await self.publish_response(token_hash, ResponseRecorded.model_validate(document))


def create_app(settings: Settings) -> FastAPI:
    """The intake ASGI app with its consumers registered."""
    intake = IntakeService(settings)
    runtime = intake.runtime
    runtime.consume(
        INTAKE_RAW_DOSSIERS,
        decode=handlers.dossier_decoder(
            hierarchy=intake.hierarchy, seal=intake.seal_contact, pseudonymise=intake.pseudonymise
        ),
        handler=handlers.on_raw_dossiers(intake.ledger),
        key=lambda d: f"seq:{d.seq}",
    )
    runtime.consume(
        INTAKE_INVITATIONS,
        decode=handlers.decode_invitation,
        handler=handlers.on_invitations(intake.tokens),
    )

    async def setup(rt: ServiceRuntime) -> None:
        await ensure_collections(rt.db, COLLECTIONS)
        await rt.db["tokens"].create_index([("published", 1), ("used_at", 1)])

    async def republish() -> None:
        await api.republish_pending(intake)

    runtime.on_startup(setup)
    runtime.every(2.0, republish)
    app = runtime.create_app(
        routers=[api.router],
        description="Dossier ingestion and survey responses. Errors are RFC 9457 problem details.",
    )
    app.state.intake = intake
    return app
