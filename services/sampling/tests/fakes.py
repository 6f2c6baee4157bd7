"""Hand-written in-memory stand-ins for sampling's stores (each passes its store's contract).

Imported as ``services.sampling.tests.fakes``; the contract suites in
``integration/test_store_contracts.py`` run the same behaviour against these and the real
Mongo-wire server.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import BulkWriteError, DuplicateKeyError

from sipas_contracts.events import InvitationSent
from sipas_runtime.channels import TokenPair
from sipas_runtime.mongo import Document
from sipas_runtime.writes import Writes
from sipas_sampling.domain.campaign import Campaign, changed_design_fields
from sipas_sampling.domain.continuous import (
    RATE_COUNTERS,
    UnitProgress,
    granted_slots,
    rate_counts,
    reservations,
)
from sipas_sampling.domain.progress import InvitationCount
from sipas_sampling.store.campaigns import DesignFrozenError
from sipas_sampling.store.decisions import _reserved_concurrently
from sipas_sampling.store.states import NO_LEASE, OPEN, SENDABLE, SETTLED, StateChange
from sipas_sampling.vault import new_key


class InMemoryZaloTokenStore:
    """The Zalo OA's token pair in memory, swapped only by the holder of its refresh token."""

    def __init__(self) -> None:
        self.pair: TokenPair | None = None

    async def load(self) -> TokenPair | None:
        return self.pair

    async def swap(self, old_refresh_token: str, new: TokenPair) -> bool:
        if self.pair is None or self.pair.refresh_token != old_refresh_token:
            return False
        self.pair = new
        return True

    async def bootstrap(self, pair: TokenPair) -> None:
        if self.pair is None:
            self.pair = pair


class InMemoryContactStore:
    """Invitation times and opt-out scopes in dicts (recorded at once: no transaction)."""

    def __init__(self) -> None:
        self.invited: dict[str, list[datetime]] = {}
        self.optouts: dict[str, list[str]] = {}

    async def contact_history(
        self, pseudonyms: Iterable[str], session: AsyncClientSession | None
    ) -> dict[str, list[datetime]]:
        return {p: list(self.invited[p]) for p in set(pseudonyms) if p in self.invited}

    def record_contacts(self, invited: Mapping[str, datetime], writes: Writes) -> None:
        for pseudonym, at in invited.items():
            self.invited[pseudonym] = [*self.invited.get(pseudonym, []), at][-20:]

    async def opted_out(
        self, hashes: Iterable[str], session: AsyncClientSession | None = None
    ) -> dict[str, list[str]]:
        return {h: list(self.optouts[h]) for h in set(hashes) if h in self.optouts}

    async def add_optouts(self, hashes: Iterable[str], channels: list[str], at: datetime) -> None:
        for h in hashes:
            known = self.optouts.setdefault(h, [])
            known += [c for c in channels if c not in known]


class InMemoryDevOutbox:
    """What the development outbox "sent", in a list; each message once, in increasing time."""

    def __init__(self) -> None:
        self.sent: dict[object, Document] = {}
        self._last: datetime | None = None

    async def add(self, documents: Sequence[Document], now: datetime) -> None:
        for document in documents:
            if self._last is not None and now <= self._last:
                now = self._last + timedelta(milliseconds=1)
            self._last = now
            self.sent.setdefault(document["_id"], {**document, "created_at": now})

    async def messages(self, after: datetime | None, limit: int) -> list[Document]:
        later = [d for d in self.sent.values() if after is None or d["created_at"] > after]
        return sorted(later, key=lambda d: d["created_at"])[:limit]


class InMemoryPopulationStore:
    """The dossiers batch campaigns saw, by ``campaign|dossier`` (recorded at once)."""

    def __init__(self) -> None:
        self.seen: dict[str, Document] = {}

    def add(self, documents: list[Document], writes: Writes) -> None:
        for document in documents:
            self.seen[document["_id"]] = document

    def _of(self, campaign_id: str) -> list[Document]:
        return [d for d in self.seen.values() if d["campaign"] == campaign_id]

    async def eligible(self, campaign_id: str) -> list[Document]:
        return [d for d in self._of(campaign_id) if d["eligible"]]

    async def member(
        self, campaign_id: str, dossier_id: str, session: AsyncClientSession | None = None
    ) -> Document | None:
        return self.seen.get(f"{campaign_id}|{dossier_id}")

    async def members(self, campaign_id: str, dossier_ids: Sequence[str]) -> list[Document]:
        ids = {f"{campaign_id}|{d}" for d in dossier_ids}
        return [d for key, d in self.seen.items() if key in ids]

    async def counts(self, campaign_id: str) -> dict[str, int]:
        counts: dict[str, int] = {}
        for d in self._of(campaign_id):
            reason = str(d.get("reason") or "eligible")
            counts[reason] = counts.get(reason, 0) + 1
        return counts


class InMemoryCampaignStore:
    """Campaigns, keys, draws and substitutions in dicts, with the Mongo store's refusals."""

    def __init__(self) -> None:
        self.campaigns: dict[str, Document] = {}
        self.keys: dict[str, str | None] = {}
        self.draws: dict[str, Document] = {}
        self.log: dict[str, Document] = {}

    async def save(self, campaign: Campaign, now: datetime, *, frozen: bool = True) -> bool:
        stored = self.campaigns.get(campaign.id)
        if stored is None:
            self.campaigns[campaign.id] = {
                "campaign": campaign,
                "status": "active",
                "started": False,
                "updated_at": now,
            }
            return True
        changed = changed_design_fields(stored["campaign"], campaign)
        if changed and stored["started"] and frozen:
            msg = f"campaign {campaign.id!r} has taken decisions; its design is frozen"
            raise DesignFrozenError(msg)
        stored.update(campaign=campaign, updated_at=now)
        return False

    async def all(self) -> list[tuple[Campaign, str]]:
        return [(c["campaign"], c["status"]) for c in self.campaigns.values()]

    async def stored_at(self) -> dict[str, datetime]:
        return {cid: c["updated_at"] for cid, c in self.campaigns.items()}

    async def get(self, campaign_id: str) -> tuple[Campaign, str] | None:
        c = self.campaigns.get(campaign_id)
        return None if c is None else (c["campaign"], c["status"])

    async def mark_started(self, campaign_ids: list[str]) -> None:
        for campaign_id in campaign_ids:
            if campaign_id in self.campaigns:
                self.campaigns[campaign_id]["started"] = True

    async def key(self, campaign_id: str) -> str | None:
        return self.keys.setdefault(campaign_id, new_key())

    async def close(self, campaign_id: str, now: datetime) -> None:
        self.keys[campaign_id] = None
        if campaign_id in self.campaigns:
            self.campaigns[campaign_id]["status"] = "closed"

    def forget_key(self, campaign_id: str) -> None:
        return None  # nothing cached: the dict is the store

    async def draw(self, campaign_id: str) -> Document | None:
        return self.draws.get(campaign_id)

    async def add_draw(
        self, campaign_id: str, document: Document, session: AsyncClientSession | None
    ) -> None:
        if campaign_id in self.draws:
            raise DuplicateKeyError(f"a draw of {campaign_id!r} exists")
        self.draws[campaign_id] = {"_id": campaign_id, **document}

    async def substitutions(
        self, campaign_id: str, session: AsyncClientSession | None = None
    ) -> list[Document]:
        return [e for key, e in sorted(self.log.items()) if e["campaign"] == campaign_id]

    async def add_substitution(
        self, campaign_id: str, entry: dict[str, Any], session: AsyncClientSession | None
    ) -> None:
        key = f"{campaign_id}|{entry['seq']:06d}"
        if key in self.log:
            raise DuplicateKeyError(f"substitution {key} exists")
        self.log[key] = {"_id": key, "campaign": campaign_id, **entry}

    async def unannounced(self, limit: int = 500) -> list[Document]:
        pending = [e for _, e in sorted(self.log.items()) if e.get("announced") is False]
        return pending[:limit]

    async def unannounced_draws(self) -> list[Document]:
        return [
            {"_id": d["_id"], "at": d["at"]}
            for _, d in sorted(self.draws.items())
            if d.get("announced") is False
        ]

    async def mark_draw_announced(self, campaign_id: str) -> None:
        if campaign_id in self.draws:
            self.draws[campaign_id]["announced"] = True

    async def mark_announced(self, campaign_id: str, seq: int) -> None:
        entry = self.log.get(f"{campaign_id}|{seq:06d}")
        if entry is not None:
            entry["announced"] = True


class InMemoryProgressStore:
    """Counts over invitation documents (as the Mongo store keeps them) and a population fake."""

    def __init__(self, population: InMemoryPopulationStore) -> None:
        self.population = population
        self.sent: list[Document] = []

    async def invitations(self, campaign_id: str) -> list[InvitationCount]:
        counts: dict[tuple[str, str, str, str], int] = {}
        for d in self.sent:
            if d["campaign"] == campaign_id:
                group = (d["unit"], d["list"], d["channels"][d["channel_index"]], d["state"])
                counts[group] = counts.get(group, 0) + 1
        return [
            InvitationCount(unit=unit, draw_list=listed, channel=channel, state=state, n=n)
            for (unit, listed, channel, state), n in counts.items()
        ]

    async def eligible(self, campaign_id: str) -> dict[str, int]:
        units: dict[str, int] = {}
        for d in await self.population.eligible(campaign_id):
            units[d["unit"]] = units.get(d["unit"], 0) + 1
        return units


class InMemoryDecisionStore:
    """Quotas, rate counters, applicant claims and the decision log; a reservation is guarded
    by the ``reserved`` value it read, as the Mongo store's is."""

    def __init__(self) -> None:
        self.quotas: dict[tuple[str, str], Document] = {}
        self.counts: dict[tuple[str, str], dict[str, int]] = {}
        self.applicants: dict[str, str] = {}
        self.log: list[tuple[str, datetime, list[list[Any]]]] = []

    def _quota(self, campaign_id: str, unit: str, quota: int | None = None) -> Document:
        return self.quotas.setdefault((campaign_id, unit), {
            "campaign": campaign_id, "unit": unit, "quota": quota,
            "reserved": 0, "answered": 0, "lapsed": 0,
        })  # fmt: skip

    async def set_quotas(
        self,
        campaign_id: str,
        quotas: Mapping[str, int | None],
        expected: Mapping[str, float | None],
    ) -> None:
        for unit, quota in quotas.items():
            doc = self._quota(campaign_id, unit)
            doc.update(quota=quota, expected_total=expected.get(unit))

    async def progress(
        self, campaign_id: str, units: Iterable[str], session: AsyncClientSession | None
    ) -> dict[str, UnitProgress]:
        return {
            unit: UnitProgress(
                quota=doc["quota"], reserved=doc["reserved"], answered=doc["answered"],
                lapsed=doc["lapsed"], expected_total=doc.get("expected_total"),
                reachable=self.counts.get((campaign_id, unit), {}).get("reachable", 0),
            )
            for unit in set(units)
            if (doc := self.quotas.get((campaign_id, unit))) is not None
        }  # fmt: skip

    async def apply_batch(
        self,
        campaign_id: str,
        progress: Mapping[str, UnitProgress],
        seen: Mapping[str, tuple[int, int]],
        wanted: Mapping[str, int],
        writes: Writes,
    ) -> dict[str, int]:
        granted = granted_slots(progress, wanted)
        for unit, (read, n) in reservations(progress, granted).items():
            doc = self.quotas[(campaign_id, unit)]
            if doc["reserved"] != read:
                raise _reserved_concurrently()
            doc["reserved"] += n
        for unit, values in rate_counts(seen, granted).items():
            counts = self.counts.setdefault((campaign_id, unit), dict.fromkeys(values, 0))
            for name, value in values.items():
                counts[name] += value
        return granted

    async def settle(
        self,
        campaign_id: str,
        unit: str,
        *,
        answered: int = 0,
        lapsed: int = 0,
        release: int = 0,
        session: AsyncClientSession | None = None,
    ) -> None:
        doc = self._quota(campaign_id, unit)
        doc["answered"] += answered
        doc["lapsed"] += lapsed
        doc["reserved"] -= release
        doc["released"] = doc.get("released", 0) + release

    async def claim(
        self, claims: Mapping[str, str], session: AsyncClientSession | None
    ) -> tuple[set[str], set[str]]:
        taken = {key: self.applicants[key] for key in claims if key in self.applicants}
        for key, dossier in claims.items():
            self.applicants.setdefault(key, dossier)
        others = {k for k, d in claims.items() if k in taken and taken[k] != d}
        repeats = {k for k, d in claims.items() if taken.get(k) == d}
        return others, repeats

    def log_decisions(
        self, campaign_id: str, items: list[list[Any]], at: datetime, writes: Writes
    ) -> None:
        if items:
            self.log.append((campaign_id, at, items))

    async def decisions(self, campaign_id: str, since: datetime | None = None) -> list[list[Any]]:
        batches = [(at, items) for c, at, items in self.log if c == campaign_id]
        return [
            item
            for at, items in sorted(batches, key=lambda batch: batch[0])
            if since is None or at >= since
            for item in items
        ]

    async def quota_table(self, campaign_id: str) -> list[Document]:
        units = {u for c, u in self.quotas if c == campaign_id}
        units |= {u for c, u in self.counts if c == campaign_id}
        zero = dict.fromkeys(RATE_COUNTERS, 0)
        return [
            {**self.quotas.get((campaign_id, unit), {"unit": unit, "quota": None,
                                                     "reserved": 0, "answered": 0, "lapsed": 0}),
             **self.counts.get((campaign_id, unit), zero)}
            for unit in sorted(units)
        ]  # fmt: skip


class InMemoryInvitationStore:
    """Invitation documents by id, with the Mongo store's due, lease and state rules."""

    def __init__(self) -> None:
        self.docs: dict[UUID, Document] = {}

    async def add(
        self,
        documents: list[Document],
        session: AsyncClientSession | None = None,
        *,
        writes: Writes | None = None,
    ) -> None:
        for document in documents:
            if document["_id"] in self.docs:  # as an unordered insert_many reports it
                raise BulkWriteError({"writeErrors": [{"index": 0, "code": 11000}]})
            self.docs[document["_id"]] = copy.deepcopy(document)

    async def events_for(
        self, campaign_dossiers: Iterable[tuple[str, str]], session: AsyncClientSession | None
    ) -> list[InvitationSent]:
        pairs = set(campaign_dossiers)
        return [
            InvitationSent.model_validate(d["event"])
            for d in self.docs.values()
            if (d["campaign"], d["dossier_id"]) in pairs
        ]

    @staticmethod
    def _is_due(doc: Document, now: datetime) -> bool:
        sendable = doc["state"] in SENDABLE or (doc["state"] == "sent" and doc["reminders"])
        return bool(sendable) and doc["next_attempt_at"] <= now and doc["lease_until"] < now

    async def claim_due(
        self, now: datetime, *, owner: str, limit: int, lease: timedelta
    ) -> list[Document]:
        return await self.claim(await self.due(now, limit), now, owner=owner, lease=lease)

    async def due(self, now: datetime, limit: int) -> list[UUID]:
        due = [d for d in self.docs.values() if self._is_due(d, now)]
        return [d["_id"] for d in sorted(due, key=lambda d: d["next_attempt_at"])][:limit]

    async def claim(
        self, ids: Sequence[UUID], now: datetime, *, owner: str, lease: timedelta
    ) -> list[Document]:
        lease_id = f"{owner}:{uuid.uuid4().hex}"
        leased = [self.docs[i] for i in ids if i in self.docs and self._is_due(self.docs[i], now)]
        for doc in leased:
            doc.update(lease_until=now + lease, lease_owner=lease_id)
        return copy.deepcopy(leased)

    async def renew(self, lease_id: str, until: datetime) -> None:
        for doc in self.docs.values():
            if doc.get("lease_owner") == lease_id and doc["lease_until"] > NO_LEASE:
                doc["lease_until"] = until

    async def update(
        self,
        invitation_id: UUID,
        changes: Document,
        *,
        attempt: Document | None = None,
        expect: str | None = None,
        session: AsyncClientSession | None = None,
    ) -> bool:
        doc = self.docs.get(invitation_id)
        if doc is None:
            return False
        doc["lease_until"] = NO_LEASE
        if attempt is not None:
            doc.setdefault("attempts", []).append(attempt)
        if expect not in (None, doc["state"]):
            return False
        if ("state" in changes or expect is not None) and doc["state"] in SETTLED:
            return False
        doc.update(changes)
        return True

    async def update_all(self, updates: Sequence[StateChange]) -> None:
        for invitation_id, changes, attempt, expect in updates:
            await self.update(invitation_id, changes, attempt=attempt, expect=expect)

    async def get(
        self, invitation_id: UUID, session: AsyncClientSession | None = None
    ) -> Document | None:
        return copy.deepcopy(self.docs.get(invitation_id))

    async def answer(
        self, invitation_id: UUID, at: datetime, session: AsyncClientSession | None
    ) -> Document | None:
        doc = self.docs.get(invitation_id)
        if doc is None or doc["state"] == "answered":
            return None
        before = copy.deepcopy(doc)
        doc.update(state="answered", answered_at=at, reminders=[])
        return before

    async def expired(self, before: datetime, limit: int = 500) -> list[Document]:
        found = [d for d in self.docs.values() if d["state"] in OPEN and d["expires_at"] < before]
        return copy.deepcopy(found[:limit])

    async def mark_lapsed(
        self, invitation_id: UUID, at: datetime, session: AsyncClientSession | None
    ) -> bool:
        doc = self.docs.get(invitation_id)
        if doc is None or doc["state"] not in OPEN:
            return False
        doc.update(state="lapsed", lapsed_at=at, reminders=[])
        return True

    async def by_campaign(self, campaign_id: str, **filters: object) -> list[Document]:
        found = [
            d for d in self.docs.values()
            if d["campaign"] == campaign_id and all(d.get(k) == v for k, v in filters.items())
        ]  # fmt: skip
        return copy.deepcopy(sorted(found, key=lambda d: d["created_at"]))

    async def shred(self, campaign_id: str) -> int:
        shredded = 0
        for doc in self.docs.values():
            vault = {"contact", "token", "name"} & doc.keys()
            if doc["campaign"] == campaign_id and vault:
                for field in vault:
                    del doc[field]
                shredded += 1
        return shredded


class InMemoryWaitingAnswers:
    """Answers waiting for their invitation, by invitation id."""

    def __init__(self) -> None:
        self.docs: dict[UUID, Document] = {}

    async def keep(
        self, invitation_id: UUID, at: datetime, session: AsyncClientSession | None
    ) -> None:
        self.docs.setdefault(invitation_id, {"_id": invitation_id, "at": at})

    async def oldest(self, limit: int = 500) -> list[Document]:
        return copy.deepcopy(sorted(self.docs.values(), key=lambda d: d["at"])[:limit])

    async def drop(self, invitation_id: UUID, session: AsyncClientSession | None) -> None:
        self.docs.pop(invitation_id, None)
