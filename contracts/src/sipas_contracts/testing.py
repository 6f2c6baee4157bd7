"""Builders of valid contract events with unique ids, for the tests of every service."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sipas_contracts.events import (
    CampaignPlanned,
    DossierCompleted,
    InvitationClosed,
    InvitationSent,
    ResponseRecorded,
)
from sipas_contracts.ids import uuid7

NOW = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)


def dossier(**overrides: object) -> DossierCompleted:
    """A valid DossierCompleted; keyword arguments replace fields."""
    fields: dict[str, Any] = {
        "event_id": uuid7(),
        "occurred_at": NOW,
        "producer": "intake",
        "dossier_id": f"000.00.00.H42-261120-{uuid7().hex[-4:]}",
        "unit": "ht-nx-xuan-hoi",
        "procedure_code": "1.001193",
        "applicant_kind": "individual",
        "applicant_pseudonym": "a" * 64,
        "submission_channel": "direct",
        "result_delivery": "counter",
        "received_at": NOW - timedelta(days=3),
        "delivered_at": NOW,
    }
    return DossierCompleted(**{**fields, **overrides})


def response(**overrides: object) -> ResponseRecorded:
    """A valid ResponseRecorded; keyword arguments replace fields."""
    rid = uuid7()
    fields: dict[str, Any] = {
        "event_id": rid,
        "occurred_at": NOW,
        "producer": "intake",
        "response_id": rid,
        "campaign_id": "c2026",
        "unit": "ht-nx-xuan-hoi",
        "instrument_id": "sipas-1001-2023",
        "collection_mode": "online",
        "applicant_kind": "individual",
        "answers": {"HL.DV.E1.1": 4},
    }
    return ResponseRecorded(**{**fields, **overrides})


def plan(**overrides: object) -> CampaignPlanned:
    """A valid CampaignPlanned (5 per unit, batch); keyword arguments replace fields."""
    fields: dict[str, Any] = {
        "event_id": uuid7(),
        "occurred_at": NOW,
        "producer": "sampling",
        "campaign_id": "c2026",
        "name_vi": "Khảo sát 2026",
        "instrument_id": "sipas-2640-2017",
        "mode": "batch",
        "window_start": date(2026, 4, 8),
        "window_end": date(2026, 12, 6),
        "units": ["ht-nx-co-dam"],
        "planned_per_unit": 5,
        "design_digest": "0" * 64,
    }
    return CampaignPlanned(**{**fields, **overrides})


def closure(invitation: InvitationSent, **overrides: object) -> InvitationClosed:
    """What sampling publishes when it replaces ``invitation``'s member from the reserve list."""
    fields: dict[str, Any] = {
        "event_id": uuid7(),
        "occurred_at": NOW,
        "producer": "sampling",
        "invitation_id": invitation.invitation_id,
        "campaign_id": invitation.campaign_id,
        "unit": invitation.unit,
        "token_hash": invitation.token_hash,
        "reason": "refused",
    }
    return InvitationClosed(**{**fields, **overrides})
