"""The enumerators' lists: per unit and kind, the official list, then the reserves in order.

One row per person to visit or call, with the invitation id the answers are recorded under.
A reserve's id is known from the draw on (invitation ids are derived from campaign and
dossier, see :func:`sipas_sampling.inviting.invitation_id_for`), so the lists carry every
reserve from the start: ``standby`` until a substitution brings it in, then the state of
its invitation. Name, address, phone, e-mail and survey link appear only when the caller
may see contacts. Continuous campaigns have no reserve: their rows are their invitations.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import structlog

from sipas_contracts.units import UnitHierarchy
from sipas_runtime.mongo import Document
from sipas_sampling.domain.campaign import KINDS
from sipas_sampling.inviting import invitation_id_for
from sipas_sampling.store.campaigns import CampaignStore
from sipas_sampling.store.invitations import InvitationStore
from sipas_sampling.store.population import PopulationStore
from sipas_sampling.vault import VaultError, unlock

log = structlog.get_logger(__name__)
STANDBY = "standby"
"""State of a reserve no substitution has brought in yet."""


@dataclass(frozen=True)
class FieldListSource:
    """Where the lists are read from."""

    campaigns: CampaignStore
    invitations: InvitationStore
    population: PopulationStore
    hierarchy: UnitHierarchy
    survey_base_url: str


def _opened(key: str | None, sealed: object) -> dict[str, str]:
    if not key or not isinstance(sealed, str):
        return {}
    try:
        return unlock(key, sealed)
    except VaultError:
        return {}


class _Rows:
    """Builds rows for one campaign (one vault key, one set of invitations)."""

    def __init__(
        self, source: FieldListSource, campaign_id: str, key: str | None, invitations: list[Any]
    ) -> None:
        self.source = source
        self.campaign_id = campaign_id
        self.key = key
        self.invited = {doc["dossier_id"]: doc for doc in invitations}

    def _unit_name(self, code: str) -> str:
        unit = self.source.hierarchy.units.get(code)
        return unit.name_vi if unit else code

    def invited_row(self, doc: Document, rank: int | None) -> dict[str, Any]:
        contact = _opened(self.key, doc.get("contact"))
        token = _opened(self.key, doc.get("token")).get("token")
        base = self.source.survey_base_url.rstrip("/")
        return {
            "unit": doc["unit"],
            "unit_name": self._unit_name(doc["unit"]),
            "kind": doc["kind"],
            "list": doc["list"],
            "rank": rank,
            "invitation_id": str(doc["_id"]),
            "dossier_id": doc["dossier_id"],
            "channel": doc["channels"][doc["channel_index"]],
            "state": doc["state"],
            "contact": contact,
            "link": f"{base}/s/{token}" if token and contact else "",
        }

    def standby_row(self, member: Document, kind: str, rank: int) -> dict[str, Any]:
        dossier = member["dossier_id"]
        invitation = invitation_id_for(self.campaign_id, dossier, member["delivered_at"])
        return {
            "unit": member["unit"],
            "unit_name": self._unit_name(member["unit"]),
            "kind": kind,
            "list": "reserve",
            "rank": rank,
            "invitation_id": str(invitation),
            "dossier_id": dossier,
            "channel": "",
            "state": STANDBY,
            "contact": _opened(self.key, member.get("contact")),
            "link": "",
        }


async def field_rows(
    source: FieldListSource,
    campaign_id: str,
    *,
    unit: str | None = None,
    covers: Callable[[str], bool] = lambda _unit: True,
    with_contacts: bool,
) -> list[dict[str, Any]]:
    """Rows in unit / kind order: official list in draw order, then reserves in order."""
    filters = {"unit": unit} if unit else {}
    invitations = [
        doc
        for doc in await source.invitations.by_campaign(campaign_id, **filters)
        if covers(doc["unit"])
    ]
    key = await source.campaigns.key(campaign_id) if with_contacts else None
    rows = _Rows(source, campaign_id, key, invitations)
    drawn = await source.campaigns.draw(campaign_id)
    if drawn is None:
        ordered = sorted(invitations, key=lambda d: (d["unit"], d["kind"], d["dossier_id"]))
        return [rows.invited_row(doc, None) for doc in ordered]
    lists: Mapping[str, Any] = drawn["export"]["lists"]["lists"]
    units = [u for u in sorted(lists) if (unit is None or u == unit) and covers(u)]
    reserves = [d for u in units for s in lists[u].values() for d in s.get("reserve", [])]
    members = {
        m["dossier_id"]: m
        for m in await source.population.members(
            campaign_id, [d for d in reserves if d not in rows.invited]
        )
    }
    out: list[dict[str, Any]] = []
    for code in units:
        for kind in KINDS:
            strata = lists[code].get(kind, {})
            for rank, dossier in enumerate(strata.get("official", []), start=1):
                if dossier in rows.invited:
                    out.append(rows.invited_row(rows.invited[dossier], rank))
            for rank, dossier in enumerate(strata.get("reserve", []), start=1):
                if dossier in rows.invited:
                    out.append(rows.invited_row(rows.invited[dossier], rank))
                elif dossier in members:
                    out.append(rows.standby_row(members[dossier], kind, rank))
    return out


async def hand_over(
    invitations: InvitationStore, listed: Sequence[Document], at: datetime
) -> list[UUID]:
    """Mark printed counter slips' invitations ``sent``; the ids of those left as they were.

    Each is one conditional change from ``listed``: an invitation a substitution closed (or
    an answer settled) since the list was read stays as it is, not reopened as sent.
    """
    handed = {"state": "sent", "sent_at": at, "updated_at": at}
    return [
        doc["_id"]
        for doc in listed
        if not await invitations.update(doc["_id"], handed, expect="listed")
    ]


async def counter_slip_rows(
    source: FieldListSource,
    campaign_id: str,
    *,
    at: datetime,
    unit: str | None = None,
    covers: Callable[[str], bool] = lambda _unit: True,
) -> list[dict[str, Any]]:
    """Hand over the ``counter`` invitations still listed; the rows of those handed over.

    The hand-over comes first and only the invitations whose change applied are printed:
    a member a substitution closed (or who answered) since, or a slip handed over already,
    gets no slip, whatever the lists said when they were read.
    """
    filters = {"unit": unit} if unit else {}
    listed = [
        doc
        for doc in await source.invitations.by_campaign(campaign_id, state="listed", **filters)
        if doc["channels"][doc["channel_index"]] == "counter" and covers(doc["unit"])
    ]
    kept = set(await hand_over(source.invitations, listed, at))
    if kept:
        log.info("counter_slips_not_handed_over", campaign=campaign_id, invitations=len(kept))
    handed = {str(doc["_id"]) for doc in listed if doc["_id"] not in kept}
    rows = await field_rows(source, campaign_id, unit=unit, covers=covers, with_contacts=True)
    return [row for row in rows if row["invitation_id"] in handed and row["link"]]
