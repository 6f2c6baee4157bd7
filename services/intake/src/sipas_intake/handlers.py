"""Intake's JetStream handlers.

Raw dossier records come in and dossier-completed events go out; invitation-sent events
register the tokens the survey form will accept.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import structlog
from pymongo.asynchronous.client_session import AsyncClientSession

from sipas_contracts.events import DossierCompleted, Event, InvitationSent
from sipas_contracts.units import UnitHierarchy
from sipas_intake.domain import DossierRecord, DossierRejectedError, to_dossier_completed
from sipas_intake.store import DossierLedger, TokenStore
from sipas_runtime.consumer import Batch, Handler, RejectedError

log = structlog.get_logger(__name__)


def dossier_decoder(
    *,
    hierarchy: UnitHierarchy,
    seal: Callable[[dict[str, str]], str],
    pseudonymise: Callable[[str], str],
) -> Callable[[bytes], DossierCompleted]:
    """Decode + validate a raw record; rejects go to the DLQ with the field and reason."""

    def decode(data: bytes) -> DossierCompleted:
        record = DossierRecord.model_validate_json(data)  # ValidationError -> DLQ "schema"
        try:
            return to_dossier_completed(
                record,
                hierarchy=hierarchy,
                seal=seal,
                pseudonymise=pseudonymise,
                now=datetime.now(UTC),
            )
        except DossierRejectedError as exc:
            raise RejectedError(str(exc)) from exc

    return decode


def on_raw_dossiers(ledger: Callable[[], DossierLedger]) -> Handler[DossierCompleted]:
    """Handler: admit new dossiers, re-emit replayed ones (same event id: de-duplicated)."""

    async def handle(
        batch: Batch[DossierCompleted], session: AsyncClientSession
    ) -> Sequence[Event]:
        fresh = await ledger().admit([d.event for d in batch.fresh], session)
        dropped = len(batch.fresh) - len(fresh)
        if dropped:
            log.info("duplicate_dossiers_dropped", count=dropped)
        return [*fresh, *(d.event for d in batch.replayed)]

    return handle


def on_invitations(tokens: Callable[[], TokenStore]) -> Handler[InvitationSent]:
    """Handler: register token hashes so the respondent's answers can be accepted."""

    async def handle(batch: Batch[InvitationSent], session: AsyncClientSession) -> Sequence[Event]:
        await tokens().register([d.event for d in batch.fresh], session)
        return []

    return handle


def decode_invitation(data: bytes) -> InvitationSent:
    """Decode an invitation-sent event (ValidationError goes to the DLQ)."""
    return InvitationSent.model_validate_json(data)
