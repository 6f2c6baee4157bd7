"""Sampling's JetStream handler: decide on each completed dossier, invite the drawn ones."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import cast
from uuid import UUID

import structlog
from pymongo.asynchronous.client_session import AsyncClientSession

from sipas_contracts.events import ContactChannel, DossierCompleted, Event, InvitationSent
from sipas_contracts.ids import uuid7_for
from sipas_contracts.units import UnitHierarchy
from sipas_runtime.consumer import Batch, Handler
from sipas_runtime.privacy import keyed_hash, new_token, unseal
from sipas_sampling.domain import decide, render_invitation
from sipas_sampling.settings import Settings
from sipas_sampling.store import InvitationStore

log = structlog.get_logger(__name__)
PRODUCER = "sampling"


def invitation_id_for(campaign_id: str, event: DossierCompleted) -> UUID:
    """Deterministic invitation id: one invitation per dossier per campaign."""
    return uuid7_for(f"invitation:{campaign_id}:{event.dossier_id}", event.delivered_at)


def decode_dossier(data: bytes) -> DossierCompleted:
    """Decode a dossier-completed event."""
    return DossierCompleted.model_validate_json(data)


def on_dossiers(
    settings: Settings,
    *,
    store: Callable[[], InvitationStore],
    hierarchy: UnitHierarchy,
    token_key: bytes,
) -> Handler[DossierCompleted]:
    """Handler: decide, and for each invitee store invitation + outbox message atomically."""
    order = cast(
        list[ContactChannel], [c.strip() for c in settings.channel_order.split(",") if c.strip()]
    )

    async def handle(
        batch: Batch[DossierCompleted], session: AsyncClientSession
    ) -> Sequence[Event]:
        now = datetime.now(UTC)
        outputs: list[Event] = []
        decisions = []
        for delivery in batch.fresh:
            dossier = delivery.event
            decision = decide(
                dossier, seed=settings.seed, rate=settings.sampling_rate, channel_order=order
            )
            decisions.append(
                {
                    "dossier_event_id": dossier.event_id,
                    "campaign_id": settings.campaign_id,
                    "unit": dossier.unit,
                    "draw": decision.draw,
                    "invite": decision.invite,
                    "reason": decision.reason,
                    "at": now,
                }
            )
            if not decision.invite or decision.channel is None or dossier.sealed_contact is None:
                continue
            token = new_token()
            event = InvitationSent(
                event_id=uuid7_for(
                    f"invitation-sent:{settings.campaign_id}:{dossier.dossier_id}:1", now
                ),
                occurred_at=now,
                producer=PRODUCER,
                invitation_id=invitation_id_for(settings.campaign_id, dossier),
                campaign_id=settings.campaign_id,
                unit=dossier.unit,
                stratum=dossier.applicant_kind,
                channel=decision.channel,
                draw_list="continuous",
                instrument_id=settings.instrument_id,
                token_hash=keyed_hash(token_key, token),
                expires_at=now + timedelta(days=settings.token_ttl_days),
            )
            contact = unseal(settings.secret_key, dossier.sealed_contact)
            link = f"{settings.survey_base_url.rstrip('/')}/s/{token}"
            await store().add(
                event,
                message={
                    "channel": decision.channel,
                    "recipient": contact.get("phone")
                    or contact.get("email")
                    or contact.get("zalo_id"),
                    "text": render_invitation(
                        unit_name=hierarchy.get(dossier.unit).name_vi,
                        link=link,
                        officer=dossier.handling_officer,
                    ),
                    "link": link,
                    "unit": dossier.unit,
                },
                session=session,
            )
            outputs.append(event)
        await store().record_decisions(decisions, session)
        replayed = [invitation_id_for(settings.campaign_id, d.event) for d in batch.replayed]
        if replayed:
            outputs.extend(await store().events(replayed, session))
        if outputs:
            log.info("invitations_created", count=len(outputs))
        return outputs

    return handle


__all__ = ["InvitationSent", "decode_dossier", "invitation_id_for", "on_dossiers"]
