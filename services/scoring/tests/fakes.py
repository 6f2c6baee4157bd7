"""Hand-written in-memory stand-ins for scoring's stores (each passes its store's contract).

Imported as ``services.scoring.tests.fakes``; the contract suites in
``integration/test_store_contracts.py`` run the same behaviour against these and the real
Mongo-wire server.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession

from sipas_contracts.events import CampaignPlanned, InvitationSent
from sipas_runtime.mongo import Document, Session
from sipas_runtime.sequences import AppliedSequences
from sipas_scoring.domain.funnel import Answered, FunnelCounts
from sipas_scoring.domain.profile import CampaignProfile, ProfileSettings, effective_profile
from sipas_scoring.domain.tally import SliceKey, Tally
from sipas_scoring.store.aggregates import AGGREGATES, DAY_AGGREGATES
from sipas_scoring.store.funnel import DayKey
from sipas_scoring.store.publications import ConflictError, HistoryEntry, PublicationRecord


class InMemoryProfileStore:
    """Plans and operators' settings in dicts, layered over the defaults like the Mongo store."""

    def __init__(self, defaults: ProfileSettings | None = None) -> None:
        self.defaults = defaults or ProfileSettings()
        self.plans: dict[str, CampaignPlanned] = {}
        self.settings: dict[str, Document] = {}

    async def plan(self, campaign_id: str) -> CampaignPlanned | None:
        return self.plans.get(campaign_id)

    async def save_plans(
        self, events: Iterable[CampaignPlanned], session: AsyncClientSession | None
    ) -> None:
        for event in events:
            current = self.plans.get(event.campaign_id)
            if current is None or current.occurred_at <= event.occurred_at:
                self.plans[event.campaign_id] = event

    async def explicit(self, campaign_id: str) -> Document | None:
        return self.settings.get(campaign_id)

    async def get_or_default(self, campaign_id: str) -> CampaignProfile:
        doc = self.settings.get(campaign_id, {})
        return effective_profile(
            campaign_id,
            self.defaults,
            self.plans.get(campaign_id),
            doc.get("settings", {}),
            revision=doc.get("revision", 0),
            updated_by=doc.get("updated_by"),
        )

    async def put(self, campaign_id: str, explicit: dict[str, Any], actor: str) -> CampaignProfile:
        revision = self.settings.get(campaign_id, {}).get("revision", 0) + 1
        self.settings[campaign_id] = {
            "_id": campaign_id,
            "settings": explicit,
            "updated_by": actor,
            "updated_at": datetime.now(UTC),
            "revision": revision,
        }
        return await self.get_or_default(campaign_id)


class InMemoryPublicationStore:
    """Publications by id with their snapshots; a move checks the state it read, like Mongo."""

    def __init__(self) -> None:
        self.records: dict[str, PublicationRecord] = {}
        self.snapshots: dict[str, Document] = {}

    async def create_indexes(self) -> None:
        return None

    async def add(self, record: PublicationRecord, snapshot: Document) -> None:
        self.records[record.id] = record
        self.snapshots[record.id] = dict(snapshot)

    async def get(self, publication_id: str) -> PublicationRecord | None:
        return self.records.get(publication_id)

    async def snapshot(self, publication_id: str) -> Document | None:
        return self.snapshots.get(publication_id)

    async def listing(self, campaign_id: str | None = None) -> list[PublicationRecord]:
        chosen = [r for r in self.records.values() if campaign_id in (None, r.campaign_id)]
        return sorted(chosen, key=lambda r: r.drafted_at, reverse=True)

    async def latest_published(
        self, campaign_id: str, period: str = "campaign"
    ) -> PublicationRecord | None:
        mine = [
            r for r in await self.published() if (r.campaign_id, r.period) == (campaign_id, period)
        ]
        return mine[0] if mine else None

    async def published(self) -> list[PublicationRecord]:
        live = [r for r in self.records.values() if r.state == "published"]
        return sorted(live, key=lambda r: r.campaign_id)

    async def move(self, record: PublicationRecord, entry: HistoryEntry) -> PublicationRecord:
        current = self.records.get(record.id)
        if current is None or current.state != record.state:
            msg = f"publication {record.id} is no longer {record.state}"
            raise ConflictError(msg)
        if entry.state == "published":
            superseded = HistoryEntry(state="superseded", actor=entry.actor, at=entry.at)
            for old in await self.published():
                if (old.campaign_id, old.period) == (record.campaign_id, record.period):
                    self._step(old, superseded)
        return self._step(current, entry)

    def _step(self, record: PublicationRecord, entry: HistoryEntry) -> PublicationRecord:
        moved = record.model_copy(
            update={"state": entry.state, "history": [*record.history, entry]}
        )
        self.records[record.id] = moved
        return moved


class InMemoryFunnelStore:
    """Dossier counts per (unit, day) and one record per invitation, as the Mongo documents."""

    def __init__(self) -> None:
        self.days: dict[DayKey, dict[str, int]] = {}
        self.invitations: dict[str, Document] = {}

    async def create_indexes(self) -> None:
        return None

    async def count_dossiers(
        self, increments: Mapping[DayKey, Mapping[str, int]], session: Session
    ) -> None:
        for key, counts in increments.items():
            day = self.days.setdefault(key, {})
            for name, n in counts.items():
                day[name] = day.get(name, 0) + n

    async def record_invitations(
        self, invitations: Iterable[InvitationSent], session: Session
    ) -> None:
        for inv in invitations:
            doc = self.invitations.setdefault(str(inv.invitation_id), {})
            doc.update(campaign_id=inv.campaign_id, unit=inv.unit, stratum=inv.stratum)
            if inv.attempt == 1:
                doc["channel"] = inv.channel
            channels = doc.setdefault("channels", [])
            if inv.channel not in channels:
                channels.append(inv.channel)
            doc["attempts"] = max(doc.get("attempts", 0), inv.attempt)
            earliest = {"first_at": inv.occurred_at, "completed_at": inv.dossier_completed_at}
            for name, at in earliest.items():
                if at is not None and (doc.get(name) is None or at < doc[name]):
                    doc[name] = at

    async def mark_responded(self, responses: Iterable[Answered], session: Session) -> None:
        for r in responses:
            if r.invitation_id is not None:
                doc = self.invitations.setdefault(
                    str(r.invitation_id), {"campaign_id": r.campaign_id, "unit": r.unit}
                )
                doc.update(responded=True, response_mode=r.collection_mode)

    async def invitation_counts(self, campaign_id: str) -> dict[str, FunnelCounts]:
        seen = Counter[tuple[str, str, bool]]()
        for doc in self.invitations.values():
            first = doc.get("channel") or (doc.get("channels") or [None])[0]
            if doc["campaign_id"] == campaign_id and first is not None:
                seen[doc["unit"], first, bool(doc.get("responded"))] += 1
        out: dict[str, FunnelCounts] = {}
        for (unit, channel, responded), n in seen.items():
            counts = out.setdefault(unit, FunnelCounts())
            counts.invited[channel] = counts.invited.get(channel, 0) + n
            if responded:
                counts.responded[channel] = n
        return out

    async def window(self, campaign_id: str) -> tuple[datetime, datetime] | None:
        mine = [d for d in self.invitations.values() if d["campaign_id"] == campaign_id]
        for name in ("completed_at", "first_at"):
            times = [d[name] for d in mine if d.get(name) is not None]
            if times:
                return min(times), max(times)
        return None

    async def eligible(self, start: date, end: date) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for (unit, day), counts in self.days.items():
            if start <= day <= end:
                per_unit = out.setdefault(unit, {})
                for name, n in counts.items():
                    channel = name.split("|", 1)[0]
                    per_unit[channel] = per_unit.get(channel, 0) + n
        return out


class InMemoryAggregateStore:
    """Slices by key; ``positions`` holds what checkpoints write beside them (by durable)."""

    def __init__(
        self, name: str = AGGREGATES, positions: dict[str, AppliedSequences] | None = None
    ) -> None:
        self._name = name
        self.slices: dict[SliceKey, Tally] = {}
        self.positions: dict[str, AppliedSequences] = {} if positions is None else positions
        self._days: InMemoryAggregateStore | None = None

    @property
    def name(self) -> str:
        return self._name

    async def create_indexes(self) -> None:
        return None

    def of_days(self) -> InMemoryAggregateStore:
        if self._days is None:
            self._days = InMemoryAggregateStore(DAY_AGGREGATES, self.positions)
        return self._days

    async def tallies(
        self, campaign_id: str | None = None, session: Session = None, *, since: str | None = None
    ) -> dict[SliceKey, Tally]:
        return {
            key: copy.deepcopy(tally)
            for key, tally in self.slices.items()
            if (campaign_id is None or key.campaign_id == campaign_id)
            and (since is None or key.bucket >= since)
        }

    async def campaigns(self) -> list[Document]:
        rows: dict[str, Document] = {}
        for key, tally in self.slices.items():
            row = rows.setdefault(
                key.campaign_id,
                {"responses": 0, "units": set(), "months": set(), "instruments": set()},
            )
            row["responses"] += tally.responses
            row["units"].add(key.unit)
            row["months"].add(key.bucket)
            row["instruments"].add(key.instrument_id)
        return [
            {"campaign_id": campaign, "responses": row["responses"], "units": len(row["units"]),
             "months": sorted(row["months"]), "instruments": sorted(row["instruments"])}
            for campaign, row in sorted(rows.items())
        ]  # fmt: skip

    async def replace_all(self, tallies: Mapping[SliceKey, Tally]) -> None:
        self.slices = {key: copy.deepcopy(tally) for key, tally in tallies.items()}

    async def applied(
        self, durable: str, session: AsyncClientSession | None = None
    ) -> AppliedSequences:
        return copy.deepcopy(self.positions.get(durable, AppliedSequences()))

    async def legacy_documents(self) -> int:
        return 0  # the fake holds only the current form
