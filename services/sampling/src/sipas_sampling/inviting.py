"""Creating an invitation (its token, invitation-sent event and document); closing one.

The token is 128 random bits; only its keyed hash leaves (in the event, for intake). The
token itself and the contact are kept encrypted under the campaign's vault key, for the
reminders and printed slips, until the campaign closes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sipas_contracts.events import (
    ApplicantKind,
    DrawList,
    InvitationChannel,
    InvitationClosed,
    InvitationSent,
    SubstitutionReason,
)
from sipas_contracts.ids import uuid7_for
from sipas_runtime.mongo import Document
from sipas_runtime.privacy import keyed_hash, new_token
from sipas_sampling.domain.campaign import Campaign
from sipas_sampling.store.states import NO_LEASE
from sipas_sampling.vault import lock

PRODUCER = "sampling"
SENDING = frozenset({"sms", "zalo", "email"})


def invitation_id_for(campaign_id: str, dossier_id: str, at: datetime) -> UUID:
    """Deterministic invitation id: one invitation per dossier per campaign."""
    return uuid7_for(f"invitation:{campaign_id}:{dossier_id}", at)


def sent_event_id(campaign_id: str, dossier_id: str, attempt: int, at: datetime) -> UUID:
    """Deterministic id of the n-th invitation-sent event of a dossier (1 = first)."""
    return uuid7_for(f"invitation-sent:{campaign_id}:{dossier_id}:{attempt}", at)


def closed_event_id(campaign_id: str, dossier_id: str, at: datetime) -> UUID:
    """Deterministic id of the invitation-closed event of a replaced member (one at most)."""
    return uuid7_for(f"invitation-closed:{campaign_id}:{dossier_id}", at)


def closed(
    invitation: Document, reason: SubstitutionReason, replaced_by: UUID, at: datetime
) -> InvitationClosed:
    """The event closing a replaced member's survey token (published with the substitution)."""
    return InvitationClosed(
        event_id=closed_event_id(invitation["campaign"], invitation["dossier_id"], at),
        occurred_at=at,
        producer=PRODUCER,
        invitation_id=invitation["_id"],
        campaign_id=invitation["campaign"],
        unit=invitation["unit"],
        token_hash=invitation["event"]["token_hash"],
        reason=reason,
        replaced_by=replaced_by,
    )


@dataclass(frozen=True)
class Invitee:
    """Who is invited and how (no contact in clear beyond this call)."""

    dossier_id: str
    unit: str
    kind: ApplicantKind
    channels: list[InvitationChannel]
    contact: dict[str, str]
    officer: str | None
    delivered_at: datetime
    draw_list: DrawList


def derived_token(vault_key: str, invitation_id: UUID) -> str:
    """The invitation's token as the campaign's vault key derives it (128 bits).

    An owner that decides in memory publishes before its checkpoint: after a crash the
    next owner decides the same dossiers again, and must make the same token as the one
    whose hash was published. Only sampling holds vault keys, and a shredded key ends
    its campaign's tokens anyway.
    """
    digest = hmac.new(vault_key.encode(), f"token:{invitation_id}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()[:16]).rstrip(b"=").decode()


def build(
    campaign: Campaign,
    invitee: Invitee,
    *,
    vault_key: str,
    token_key: bytes,
    now: datetime,
    derive_token: bool = False,
) -> tuple[Document, InvitationSent]:
    """The invitation document and its first invitation-sent event.

    ``derive_token``: the token is :func:`derived_token` (a replay makes it again) rather
    than fresh random bits.
    """
    channel = invitee.channels[0]
    invitation_id = invitation_id_for(campaign.id, invitee.dossier_id, invitee.delivered_at)
    token = derived_token(vault_key, invitation_id) if derive_token else new_token()
    event = InvitationSent(
        event_id=sent_event_id(campaign.id, invitee.dossier_id, 1, now),
        occurred_at=now,
        producer=PRODUCER,
        invitation_id=invitation_id,
        campaign_id=campaign.id,
        unit=invitee.unit,
        stratum=invitee.kind,
        channel=channel,
        draw_list=invitee.draw_list,
        instrument_id=campaign.instrument_id,
        token_hash=keyed_hash(token_key, token),
        expires_at=now + timedelta(days=campaign.token_ttl_days),
        dossier_completed_at=invitee.delivered_at,
    )
    document: dict[str, Any] = {
        "_id": invitation_id,
        "campaign": campaign.id,
        "unit": invitee.unit,
        "kind": invitee.kind,
        "dossier_id": invitee.dossier_id,
        "list": invitee.draw_list,
        "event": event.model_dump(mode="json"),
        "contact": lock(vault_key, invitee.contact),
        "token": lock(vault_key, {"token": token}),
        "officer": invitee.officer,
        "channels": list(invitee.channels),
        "channel_index": 0,
        "state": "queued" if channel in SENDING else "listed",
        "next_attempt_at": now,
        "lease_until": NO_LEASE,
        "rounds": 0,
        "attempt": 1,
        "attempts": [],
        "reminders": [],
        "created_at": now,
        "expires_at": event.expires_at,
    }
    return document, event
