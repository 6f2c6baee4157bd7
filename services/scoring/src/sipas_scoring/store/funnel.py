"""Mongo adapter for the funnel: dossiers per unit and day, one document per invitation.

- ``funnel_dossiers``: ``{_id: "<unit>|<YYYY-MM-DD>", unit, day, counts: {"<channel>|<kind>": n}}``
  counted by the local date the result was delivered (a handful of ``$inc`` fields).
- ``funnel_invitations``: ``{_id: <invitation id>, campaign_id, unit, stratum, channel,
  channels, attempts, first_at, completed_at, responded, response_mode}`` (``completed_at``:
  when the invited dossier was completed, the funnel's default window). The invitation consumer
  upserts its half, and the responses' half (:func:`responded`) is written with the
  in-memory counts' checkpoints (``sipas_scoring.counts``), so the join is exact whichever
  event scoring sees first; every update is idempotent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Protocol

from pymongo import ASCENDING, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from typing_extensions import override

from sipas_contracts.events import InvitationSent, ResponseRecorded
from sipas_runtime.mongo import Collection, Document, MongoStore
from sipas_scoring.domain.funnel import Answered, FunnelCounts

DOSSIERS = "funnel_dossiers"
INVITATIONS = "funnel_invitations"
DayKey = tuple[str, date]


def responded(answered: Answered | ResponseRecorded) -> tuple[Document, Document]:
    """The idempotent upsert (selector, update) marking the invitation ``answered`` answers."""
    return (
        {"_id": str(answered.invitation_id)},
        {
            "$set": {"responded": True, "response_mode": answered.collection_mode},
            "$setOnInsert": {"campaign_id": answered.campaign_id, "unit": answered.unit},
        },
    )


class FunnelStore(Protocol):
    """The counts behind the survey funnel."""

    async def create_indexes(self) -> None:
        """Indexes for window and campaign reads."""
        ...

    async def count_dossiers(
        self, increments: Mapping[DayKey, Mapping[str, int]], session: AsyncClientSession
    ) -> None:
        """Add completed dossiers per (unit, day) and ``channel|kind``."""
        ...

    async def record_invitations(
        self, invitations: Iterable[InvitationSent], session: AsyncClientSession
    ) -> None:
        """Upsert one document per invitation (first attempt's channel, attempts seen)."""
        ...

    async def mark_responded(
        self, responses: Iterable[Answered], session: AsyncClientSession
    ) -> None:
        """Mark the invitations that produced a response."""
        ...

    async def invitation_counts(self, campaign_id: str) -> dict[str, FunnelCounts]:
        """Invited and responded per unit and channel of the first attempt."""
        ...

    async def window(self, campaign_id: str) -> tuple[datetime, datetime] | None:
        """First and last completion of the campaign's invited dossiers.

        Invitations recorded from events before version 2 carry no completion time; when
        no invitation has one, the first and last invitation times stand in.
        """
        ...

    async def eligible(self, start: date, end: date) -> dict[str, dict[str, int]]:
        """Completed dossiers per unit and submission channel, days ``start``..``end``."""
        ...


class MongoFunnelStore(MongoStore, FunnelStore):
    """Counts behind the survey funnel."""

    _dossiers = Collection(DOSSIERS)
    _invitations = Collection(INVITATIONS)

    @override
    async def create_indexes(self) -> None:
        await self._dossiers.create_index([("day", ASCENDING)])
        await self._invitations.create_index([("campaign_id", ASCENDING)])

    @override
    async def count_dossiers(
        self, increments: Mapping[DayKey, Mapping[str, int]], session: AsyncClientSession
    ) -> None:
        operations = [
            UpdateOne(
                {"_id": f"{unit}|{day.isoformat()}"},
                {
                    "$inc": {f"counts.{key}": n for key, n in counts.items()},
                    "$set": {"unit": unit, "day": day.isoformat()},
                },
                upsert=True,
            )
            for (unit, day), counts in increments.items()
        ]
        if operations:
            await self._dossiers.bulk_write(operations, ordered=False, session=session)

    @override
    async def record_invitations(
        self, invitations: Iterable[InvitationSent], session: AsyncClientSession
    ) -> None:
        operations = []
        for inv in invitations:
            fields: Document = {"campaign_id": inv.campaign_id, "unit": inv.unit}
            fields["stratum"] = inv.stratum
            if inv.attempt == 1:
                fields["channel"] = inv.channel
            earliest = {"first_at": inv.occurred_at}
            if inv.dossier_completed_at is not None:  # version 2 of the event
                earliest["completed_at"] = inv.dossier_completed_at
            operations.append(
                UpdateOne(
                    {"_id": str(inv.invitation_id)},
                    {
                        "$set": fields,
                        "$addToSet": {"channels": inv.channel},
                        "$max": {"attempts": inv.attempt},
                        "$min": earliest,
                    },
                    upsert=True,
                )
            )
        if operations:
            await self._invitations.bulk_write(operations, ordered=False, session=session)

    @override
    async def mark_responded(
        self, responses: Iterable[Answered], session: AsyncClientSession
    ) -> None:
        operations = [
            UpdateOne(*responded(r), upsert=True) for r in responses if r.invitation_id is not None
        ]
        if operations:
            await self._invitations.bulk_write(operations, ordered=False, session=session)

    @override
    async def invitation_counts(self, campaign_id: str) -> dict[str, FunnelCounts]:
        out: dict[str, FunnelCounts] = {}
        projection = {"unit": 1, "channel": 1, "channels": 1, "responded": 1}
        async for doc in self._invitations.find({"campaign_id": campaign_id}, projection):
            channel = doc.get("channel") or next(iter(doc.get("channels") or []), None)
            if channel is None:  # a response whose invitation event scoring has not seen yet
                continue
            counts = out.setdefault(doc["unit"], FunnelCounts())
            counts.invited[channel] = counts.invited.get(channel, 0) + 1
            if doc.get("responded"):
                counts.responded[channel] = counts.responded.get(channel, 0) + 1
        return out

    @override
    async def window(self, campaign_id: str) -> tuple[datetime, datetime] | None:
        for field in ("completed_at", "first_at"):
            query = {"campaign_id": campaign_id, field: {"$ne": None}}
            first = await self._invitations.find_one(query, sort=[(field, 1)])
            last = await self._invitations.find_one(query, sort=[(field, -1)])
            if first is not None and last is not None:
                return first[field], last[field]
        return None

    @override
    async def eligible(self, start: date, end: date) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        query = {"day": {"$gte": start.isoformat(), "$lte": end.isoformat()}}
        async for doc in self._dossiers.find(query):
            per_unit = out.setdefault(doc["unit"], {})
            for key, n in doc.get("counts", {}).items():
                channel = key.split("|", 1)[0]
                per_unit[channel] = per_unit.get(channel, 0) + n
        return out
