"""Wiring of the intake service: the only module that constructs things."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import structlog
from fastapi import FastAPI

from sipas_contracts import subjects
from sipas_contracts.events import ResponseRecorded
from sipas_contracts.instrument import Catalogue, load_catalogue
from sipas_contracts.streams import INTAKE_INVITATIONS, INTAKE_RAW_DOSSIERS
from sipas_intake import handlers
from sipas_intake.api import dossiers, fieldwork, forms, kiosks, paper, responses, service_of
from sipas_intake.api.permissions import PERMISSIONS
from sipas_intake.domain.dossiers import Crypto, PreparedDossier
from sipas_intake.domain.formats import PREPARED, Formats
from sipas_intake.domain.units import CachedUnits
from sipas_intake.fieldmaps import load_field_maps
from sipas_intake.metrics import IntakeMetrics
from sipas_intake.security import CsrfTokens, DraftCipher, derive_key
from sipas_intake.settings import Settings
from sipas_intake.store import Stores, prepare_database
from sipas_intake.web import kiosk, kiosk_app, survey
from sipas_intake.web.limits import PathBodyLimits
from sipas_intake.web.render import Renderer
from sipas_runtime.guards import RateLimits
from sipas_runtime.i18n import Catalogue as Messages
from sipas_runtime.pages import static_files
from sipas_runtime.privacy import KeyedHasher, Sealer, keyed_hash
from sipas_runtime.publishing import Outgoing, publish_batched
from sipas_runtime.service import ServiceRuntime
from sipas_runtime.settings import decode_key

log = structlog.get_logger(__name__)


class IntakeService:
    """Intake's collaborators, shared by the HTTP routes and the JetStream handlers."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.token_key = decode_key(settings.token_key, what="SIPAS_TOKEN_KEY")
        pseudonym_key = decode_key(settings.pseudonym_key, what="SIPAS_PSEUDONYM_KEY")
        decode_key(settings.sampling_public_key, what="SIPAS_SAMPLING_PUBLIC_KEY", length=32)
        decode_key(settings.alerts_public_key, what="SIPAS_ALERTS_PUBLIC_KEY", length=32)
        self.hierarchy = settings.load_hierarchy()
        self.formats = Formats(load_field_maps(settings.field_maps_dir), settings.source_format_map)
        _check_configuration(settings, self.formats)
        self.runtime = ServiceRuntime(
            settings, title="SIPAS Live — intake", max_body_bytes=settings.max_upload_bytes
        )
        self.metrics = IntakeMetrics(self.runtime.registry)
        fingerprint_key = derive_key(pseudonym_key, "fingerprint")
        self.crypto = Crypto(
            seal=Sealer(settings.sampling_public_key),
            pseudonymise=KeyedHasher(pseudonym_key),
            fingerprint=KeyedHasher(fingerprint_key),
        )
        self.reader = handlers.DossierReader(
            self.formats, CachedUnits(self.hierarchy), self.crypto, self.metrics
        )
        self.csrf = CsrfTokens(derive_key(self.token_key, "csrf"))
        self.kiosk_key = derive_key(self.token_key, "kiosk")
        self.draft_cipher = DraftCipher(derive_key(self.token_key, "draft"))
        self.limits = RateLimits(
            {
                "form": settings.form_rate,
                "submit": settings.submit_rate,
                "api": settings.submit_rate,
                "kiosk": "600/minute",
            }
        )
        self.renderer = Renderer(self.hierarchy, Messages.of("sipas_intake"))
        self._alerts_sealer = Sealer(settings.alerts_public_key)
        self.stores = Stores(self.runtime.database)

    # -- helpers used by routes -----------------------------------------------------------
    def token_hash(self, token: str) -> str:
        """The keyed hash under which a survey token is known."""
        return keyed_hash(self.token_key, token)

    def seal_callback(self, contact: dict[str, str]) -> str:
        """Seal an opt-in callback contact for the alerts service."""
        return self._alerts_sealer(contact)

    def seal_comment(self, text: str) -> str:
        """Seal a respondent's comment for the alerts service (it never travels in clear)."""
        return self._alerts_sealer({"comment": text})

    @staticmethod
    def catalogue(instrument_id: str) -> Catalogue:
        """A shipped instrument (raises CatalogueError naming the known ones)."""
        return load_catalogue(instrument_id)

    def profile(self, catalogue: Catalogue, campaign_id: str) -> str:
        """The form profile a campaign's respondents answer on this instrument.

        A profile the instrument lacks (a configuration mistake) falls back to the default
        one, with a warning, rather than failing every respondent of the campaign.
        """
        wanted = self.settings.form_profile(campaign_id)
        if wanted in catalogue.forms:
            return wanted
        log.warning("form_profile_unknown", campaign=campaign_id, profile=wanted)
        return self.settings.default_form_profile

    def form_items(self, catalogue: Catalogue, campaign_id: str) -> tuple[str, ...]:
        """The items a campaign's form asks (every item when no profile exists at all)."""
        profile = self.profile(catalogue, campaign_id)
        if profile in catalogue.forms:
            return catalogue.forms[profile].items
        return tuple(catalogue.items)

    async def publish_responses(self, events: Sequence[ResponseRecorded]) -> None:
        """Publish committed responses; a failure is retried later from the outbox."""
        outbox = self.stores.outbox

        async def mark(published: Sequence[ResponseRecorded]) -> None:
            await outbox.mark_published([e.event_id for e in published])

        await self.runtime.publisher.publish_from_outbox(events, mark)

    async def publish_raw(self, records: Sequence[PreparedDossier], source: str) -> None:
        """Queue validated records on the raw stream (contacts already sealed)."""
        messages = [
            Outgoing(
                subjects.raw_dossier(source),
                record.model_dump_json().encode(),
                {
                    "Nats-Msg-Id": f"raw:{record.candidate.dossier_id}:{record.fingerprint[:32]}",
                    handlers.FORMAT_HEADER: PREPARED,
                },
            )
            for record in records
        ]
        await publish_batched(self.runtime.js, self.runtime.broker.connection, messages)

    async def republish_pending(self) -> None:
        """Publish responses a crash left in the outbox (same ids: de-duplicated)."""
        outbox = self.stores.outbox
        cutoff = datetime.now(UTC) - timedelta(seconds=self.settings.republish_after_seconds)
        pending = await outbox.pending(cutoff)
        if pending:
            await self.runtime.publisher.publish_many(pending)
            await outbox.mark_published([e.event_id for e in pending])
            log.info("responses_republished", count=len(pending))
        self.metrics.outbox_pending.set(await outbox.count_pending())


def _check_configuration(settings: Settings, formats: Formats) -> None:
    """Fail at start-up, naming the setting, rather than on the first request."""
    unknown = {f for f in settings.source_format_map.values() if f not in formats.names()}
    if unknown:
        msg = f"SIPAS_INTAKE_SOURCE_FORMATS names unknown formats {sorted(unknown)}"
        raise ValueError(msg)
    settings.form_profile("")  # parses SIPAS_INTAKE_FORM_PROFILES (raises naming it)


ROUTERS = (
    dossiers.router,
    responses.router,
    forms.router,
    fieldwork.router,
    paper.router,
    kiosks.router,
    survey.router,
    kiosk_app.router,  # before kiosk.router: /k/{key} would take /k/sw.js
    kiosk.router,
)
DESCRIPTION = (
    "Dossier ingestion (NATS, webhook, CSV/XLSX import) and every way a response "
    "arrives (survey form, kiosk, enumerators, paper import). Errors are RFC 9457 "
    "problem details naming the field and the reason."
)


def create_app(settings: Settings) -> FastAPI:
    """The intake ASGI app with its consumers registered."""
    intake = IntakeService(settings)
    runtime = intake.runtime
    consume_dossiers_and_invitations(intake)

    async def setup(rt: ServiceRuntime) -> None:
        await prepare_database(rt.db)

    runtime.on_startup(setup)
    runtime.every(2.0, intake.republish_pending)
    app = runtime.create_app(routers=ROUTERS, permissions=PERMISSIONS, description=DESCRIPTION)
    app.add_middleware(
        PathBodyLimits,
        limits={"/s": settings.form_max_bytes, "/k": settings.form_max_bytes},
    )
    app.mount("/static", static_files("sipas_intake.web"), name="static")
    service_of.attach(app, intake)
    return app


def consume_dossiers_and_invitations(intake: IntakeService) -> None:
    """Register intake's two consumers: raw dossiers into the ledger, invitations into tokens."""
    intake.runtime.consume(
        INTAKE_RAW_DOSSIERS,
        decode_message=handlers.dossier_decoder(intake.reader),
        handler=handlers.on_raw_dossiers(intake.stores.ledger, intake.reader),
        # The ledger recognises replays per dossier and raw sequence (domain.revisions), so
        # no watermark document is needed, and instances sharing the consumer never contend.
        dedup="handler",
        atomic_publish=True,  # thousands of events/s: one fsync per batch, not per event
    )
    intake.runtime.consume(
        INTAKE_INVITATIONS,
        decode=handlers.decode_invitation,
        handler=handlers.on_invitations(intake.stores.tokens),
    )
