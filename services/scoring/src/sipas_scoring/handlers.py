"""Scoring's JetStream handlers: decode, fold, write; nothing else on the hot path.

- responses (hot path): decoded here, folded into the in-memory counts
  (:mod:`sipas_scoring.counts`) and published from them by the debounced
  :mod:`sipas_scoring.updates` loop;
- funnel: dossiers per unit and day (de-duplicated by dossier number, so a corrected
  dossier is not counted twice), one document per invitation (the invitations answered
  are marked with the counts' checkpoints).

Decoders accept exactly what the rebuild accepts (same functions), so a replay of the
log reproduces the live counts; a response naming an unknown instrument, item or answer
code is rejected to the DLQ with the field and the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta

from pymongo.asynchronous.client_session import AsyncClientSession

from sipas_contracts.events import (
    CampaignPlanned,
    DossierCompleted,
    Event,
    InvitationSent,
    ResponseRecorded,
)
from sipas_contracts.instrument import CatalogueError, load_catalogue
from sipas_runtime.batches import Batch, Delivery
from sipas_runtime.consumer import Handler
from sipas_runtime.decoding import RejectedError
from sipas_scoring.domain.funnel import Answered
from sipas_scoring.domain.periods import local_date
from sipas_scoring.store.funnel import DayKey, FunnelStore
from sipas_scoring.store.profiles import ProfileStore


def decode_response(data: bytes) -> ResponseRecorded:
    """A response-recorded event whose answers fit its instrument."""
    event = ResponseRecorded.model_validate_json(data)
    try:
        catalogue = load_catalogue(event.instrument_id)
    except CatalogueError as exc:
        raise RejectedError(f"instrument_id: {exc}") from exc
    errors = catalogue.answer_errors(event.answers)
    if errors:
        raise RejectedError("; ".join(errors))
    return event


def decode_answered(data: bytes) -> Answered:
    """The funnel's view of a response (the retired funnel durable's hand-over reads it)."""
    return Answered.model_validate_json(data)


def decode_dossier(data: bytes) -> DossierCompleted:
    """A dossier-completed event."""
    return DossierCompleted.model_validate_json(data)


def decode_invitation(data: bytes) -> InvitationSent:
    """An invitation-sent event."""
    return InvitationSent.model_validate_json(data)


def decode_plan(data: bytes) -> CampaignPlanned:
    """A campaign-planned event."""
    return CampaignPlanned.model_validate_json(data)


def dossier_key(delivery: Delivery[DossierCompleted]) -> str:
    """Dossiers are counted once per dossier number, whatever revision arrives."""
    return delivery.event.dossier_id


def on_dossiers(store: FunnelStore, *, offset: timedelta) -> Handler[DossierCompleted]:
    """Count completed dossiers per unit, delivery day, channel and applicant kind."""

    async def handle(
        batch: Batch[DossierCompleted], session: AsyncClientSession
    ) -> Sequence[Event]:
        increments: dict[DayKey, dict[str, int]] = {}
        for delivery in batch.fresh:
            event = delivery.event
            day = local_date(event.delivered_at, offset)
            counts = increments.setdefault((event.unit, day), {})
            key = f"{event.submission_channel}|{event.applicant_kind}"
            counts[key] = counts.get(key, 0) + 1
        await store.count_dossiers(increments, session)
        return ()

    return handle


def on_invitations(store: FunnelStore) -> Handler[InvitationSent]:
    """Record each invitation (and reminder) once."""

    async def handle(batch: Batch[InvitationSent], session: AsyncClientSession) -> Sequence[Event]:
        await store.record_invitations((d.event for d in batch.fresh), session)
        return ()

    return handle


def on_plans(store: ProfileStore, changed: Callable[[str], None]) -> Handler[CampaignPlanned]:
    """Keep each campaign's latest plan; its figures are recomputed with the new profile."""

    async def handle(batch: Batch[CampaignPlanned], session: AsyncClientSession) -> Sequence[Event]:
        events = [d.event for d in batch.fresh]
        await store.save_plans(events, session)
        campaigns = sorted({e.campaign_id for e in events})

        def recompute() -> None:
            for campaign in campaigns:
                changed(campaign)

        batch.on_commit(recompute)
        return ()

    return handle
