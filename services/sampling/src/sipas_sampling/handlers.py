"""Sampling's JetStream handlers: decide on completed dossiers; link responses to invitations."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import structlog
from pymongo.asynchronous.client_session import AsyncClientSession

from sipas_contracts.events import DossierCompleted, Event, ResponseRecorded
from sipas_runtime.batches import Batch
from sipas_runtime.consumer import Handler
from sipas_sampling.answering import Answers
from sipas_sampling.selection import Selector
from sipas_sampling.store.invitations import InvitationStore

log = structlog.get_logger(__name__)


def decode_dossier(data: bytes) -> DossierCompleted:
    """Decode a dossier-completed event."""
    return DossierCompleted.model_validate_json(data)


def decode_response(data: bytes) -> ResponseRecorded:
    """Decode a response-recorded event."""
    return ResponseRecorded.model_validate_json(data)


def on_dossiers(selector: Selector, invitations: InvitationStore) -> Handler[DossierCompleted]:
    """Handler: every active campaign decides on the fresh dossiers in one transaction."""

    async def handle(
        batch: Batch[DossierCompleted], session: AsyncClientSession
    ) -> Sequence[Event]:
        now = datetime.now(UTC)
        outputs: list[Event] = list(
            await selector.handle([d.event for d in batch.fresh], session, now, batch.writes)
        )
        if batch.replayed:  # effects already committed: re-emit the events they produced
            pairs = [
                (c, d.event.dossier_id)
                for d in batch.replayed
                for c in selector.campaign_ids(d.event.unit)
            ]
            outputs.extend(await invitations.events_for(pairs, session))
        if outputs:
            log.info("invitations_created", count=len(outputs))
        return outputs

    return handle


def on_responses(answers: Answers) -> Handler[ResponseRecorded]:
    """Handler: an answered invitation counts towards its unit's quota (response rate)."""

    async def handle(
        batch: Batch[ResponseRecorded], session: AsyncClientSession
    ) -> Sequence[Event]:
        for delivery in batch.fresh:
            response = delivery.event
            if response.invitation_id is None:
                continue  # kiosk, paper: not part of a sample
            await answers.answer(response.invitation_id, response.occurred_at, session)
        return []

    return handle
