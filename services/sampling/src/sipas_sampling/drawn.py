"""What the draws work on: a campaign's frozen population and a drawn campaign."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sipas_contracts.events import DrawList
from sipas_runtime.mongo import Document
from sipas_sampling.domain.batch import DrawResult, Population, digest, lists_bytes
from sipas_sampling.inviting import Invitee
from sipas_sampling.registry import ActiveCampaign


@dataclass(frozen=True)
class FrozenPopulation:
    """A batch campaign's members at its draw, and the population a channel reaches."""

    members: dict[str, Document]
    contacts: dict[str, dict[str, str]]
    channels: dict[str, list[Any]]
    population: Population

    def invitee(self, dossier: str, draw_list: DrawList) -> Invitee:
        """The member ``dossier`` as the invitee of ``draw_list``."""
        member, contact = self.members[dossier], self.contacts[dossier]
        return invitee(member, self.channels[dossier], contact, draw_list)


def draw_summary(
    frozen: FrozenPopulation, result: DrawResult, lists: Document, now: datetime
) -> Document:
    """What a draw answers and records: digests, list sizes, the shortfall, the opted out."""
    drawable = sum(map(len, (s for u in frozen.population.values() for s in u.values())))
    return {
        "at": now,
        "population_digest": digest(frozen.population),
        "lists_digest": hashlib.sha256(lists_bytes(lists)).hexdigest(),
        "official": result.official_count(),
        "shortfall": result.shortfall,
        "opted_out": len(frozen.members) - drawable,
    }


@dataclass(frozen=True)
class DrawnCampaign:
    """A drawn batch campaign, as a substitution needs it."""

    active: ActiveCampaign
    campaign_id: str
    key: str | None
    draw: Document

    @property
    def lists(self) -> Document:
        """The official and reserve lists per unit and stratum."""
        lists: Document = self.draw["export"]["lists"]["lists"]
        return lists

    def transfers(self) -> bool:
        """Whether a unit short of reserves may take them from another kind."""
        allocation = self.active.campaign.allocation
        return bool(allocation and allocation.fixed_per_unit and allocation.fixed_per_unit.transfer)


def invitee(
    doc: Document, channels: list[Any], contact: dict[str, str], draw_list: DrawList
) -> Invitee:
    """A population member (its ``invitations`` document) as the invitee of ``draw_list``."""
    return Invitee(
        doc["dossier_id"],
        doc["unit"],
        doc["kind"],
        channels,
        contact,
        doc.get("officer"),
        doc["delivered_at"],
        draw_list,
    )
