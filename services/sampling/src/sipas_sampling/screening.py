"""The rules a continuous or batch campaign applies to one dossier, apart from any store.

Both ways of deciding use them: the store-backed one (``selection.Selector``, which reads
claims, progress, opt-outs and contact history in its transaction) and the owner of the
dossiers' durable that holds all of these in memory (``sipas_sampling.deciding``), so the
two decide alike: screen (exclusions, one dossier per applicant per unit, a usable
channel), draw against the unit's rate, refuse the drawn who cannot be invited.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sipas_contracts.events import DossierCompleted, InvitationChannel
from sipas_runtime.mongo import Document
from sipas_runtime.privacy import PrivacyError, unseal
from sipas_sampling.domain.campaign import Campaign, ContactCap
from sipas_sampling.domain.continuous import Decision, UnitProgress, adaptive_rate, decide
from sipas_sampling.domain.eligibility import claim_key, within_contact_cap
from sipas_sampling.inviting import Invitee
from sipas_sampling.registry import ActiveCampaign
from sipas_sampling.vault import lock

UNLIMITED = UnitProgress(quota=None)


@dataclass
class Row:
    """One dossier as screened for one campaign."""

    event: DossierCompleted
    reason: str | None = None


@dataclass(frozen=True)
class Keys:
    """Secrets the selection needs."""

    secret_key: str
    token_key: bytes
    optout_key: bytes


def contact_of(secret_key: str, event: DossierCompleted) -> dict[str, str] | None:
    """The dossier's contact in clear (empty if it has none; None when unreadable)."""
    if event.sealed_contact is None:
        return {}
    try:
        return unseal(secret_key, event.sealed_contact)
    except PrivacyError:
        return None


def claims_of(
    campaign: Campaign, rows: list[Row]
) -> tuple[dict[str, str], dict[int, tuple[str, str]]]:
    """The claims the eligible rows make (on the applicant and on the dossier), by row.

    A second dossier of an applicant already claimed in this batch is marked
    ``duplicate_applicant`` and claims nothing.
    """
    per_applicant = campaign.population.one_per_applicant
    claims: dict[str, str] = {}
    keys: dict[int, tuple[str, str]] = {}
    for index, row in enumerate(rows):
        if row.reason is not None:
            continue
        e = row.event
        key = claim_key(
            campaign.id, e.unit, e.applicant_pseudonym, e.dossier_id, per_applicant=per_applicant
        )
        if claims.get(key, e.dossier_id) != e.dossier_id:
            row.reason = "duplicate_applicant"
            continue
        # The dossier itself is claimed too: a correction that changes the applicant
        # (a new phone is a new pseudonym) is still the dossier decided before.
        itself = claim_key(campaign.id, e.unit, "", e.dossier_id, per_applicant=False)
        claims[key] = claims[itself] = e.dossier_id
        keys[index] = (key, itself)
    return claims, keys


def draw_rows(
    active: ActiveCampaign, rows: list[Row], progress: Mapping[str, UnitProgress]
) -> tuple[list[list[Any]], list[tuple[DossierCompleted, Decision]]]:
    """Log the screened-out rows; draw the others against their unit's rate."""
    campaign = active.campaign
    log: list[list[Any]] = []
    drawn: list[tuple[DossierCompleted, Decision]] = []
    for row in rows:
        e = row.event
        if row.reason is not None:
            log.append([e.dossier_id, e.unit, None, None, row.reason])
            continue
        rate = campaign.fixed_rate
        if rate is None:
            rate = adaptive_rate(
                progress.get(e.unit, UNLIMITED),
                at=e.delivered_at,
                start=active.starts,
                end=active.ends,
                prior_response_rate=campaign.expected_response_rate,
            )
        decision = decide(campaign.seed, e.dossier_id, rate)
        if decision.drawn:
            drawn.append((e, decision))
        else:
            log.append([e.dossier_id, e.unit, decision.draw, rate, "not_drawn"])
    return log, drawn


def refusal(
    contact: dict[str, str] | None,
    channels: list[InvitationChannel],
    history: list[datetime],
    cap: ContactCap | None,
    now: datetime,
) -> str | None:
    """Why a drawn dossier is not invited (None when it is)."""
    if contact is None:
        return "contact_unreadable"
    if not channels:
        return "opted_out"
    if not within_contact_cap(history, cap, now):
        return "contact_cap"
    return None


def invitee_of(
    event: DossierCompleted, channels: list[InvitationChannel], contact: dict[str, str]
) -> Invitee:
    """The invitee of a continuous campaign's draw."""
    return Invitee(
        event.dossier_id,
        event.unit,
        event.applicant_kind,
        channels,
        contact,
        event.handling_officer,
        event.delivered_at,
        "continuous",
    )


def population_document(
    campaign_id: str,
    event: DossierCompleted,
    reason: str | None,
    contact: dict[str, str] | None,
    vault_key: str | None,
) -> Document:
    """A batch campaign's population entry for one dossier (its contact locked)."""
    reason = "contact_unreadable" if contact is None else reason
    eligible = reason is None
    return {
        "_id": f"{campaign_id}|{event.dossier_id}",
        "campaign": campaign_id,
        "unit": event.unit,
        "kind": event.applicant_kind,
        "dossier_id": event.dossier_id,
        "eligible": eligible,
        "reason": reason,
        "channels": list(event.contact_channels),
        "officer": event.handling_officer,
        "delivered_at": event.delivered_at,
        "contact": lock(vault_key, contact) if eligible and vault_key and contact else None,
    }


def population_log(documents: list[Document]) -> list[list[Any]]:
    """The decision-metric rows of population entries (``population`` when eligible)."""
    return [
        [d["dossier_id"], d["unit"], None, None, d["reason"] or "population"] for d in documents
    ]
