"""Quota slots, applicant uniqueness, contact history, opt-outs and the decision log."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Protocol

from bson import ObjectId
from pymongo import UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import OperationFailure
from typing_extensions import override

from sipas_runtime.mongo import Database, Document, MongoStore
from sipas_runtime.writes import Writes
from sipas_sampling.domain.continuous import (
    RATE_COUNTERS,
    UnitProgress,
    granted_slots,
    rate_counts,
    reservations,
)
from sipas_sampling.store.collections import (
    APPLICANTS,
    DECISIONS,
    QUOTA_COUNTS,
    QUOTAS,
)

WRITE_CONFLICT = 112
_ZERO_SLOTS = {"reserved": 0, "answered": 0, "lapsed": 0}


def quota_id(campaign_id: str, unit: str) -> str:
    """Key of a campaign × unit quota document."""
    return f"{campaign_id}|{unit}"


class DecisionStore(Protocol):
    """What the continuous decision reads and writes in the consumer's transaction."""

    async def set_quotas(
        self,
        campaign_id: str,
        quotas: Mapping[str, int | None],
        expected: Mapping[str, float | None],
    ) -> None:
        """Create or update each unit's quota (never below what is already reserved)."""
        ...

    async def progress(
        self, campaign_id: str, units: Iterable[str], session: AsyncClientSession
    ) -> dict[str, UnitProgress]:
        """Progress of the given units (units without a quota document are unlimited)."""
        ...

    async def apply_batch(
        self,
        campaign_id: str,
        progress: Mapping[str, UnitProgress],
        seen: Mapping[str, tuple[int, int]],
        wanted: Mapping[str, int],
        writes: Writes,
    ) -> dict[str, int]:
        """Count what the batch saw and reserve slots; returns slots granted per unit."""
        ...

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
        """Record answers and lapses; ``release`` frees reserved slots."""
        ...

    async def claim(
        self, claims: Mapping[str, str], session: AsyncClientSession
    ) -> tuple[set[str], set[str]]:
        """Claim ``key → dossier``; returns (keys held by another dossier, repeats).

        A repeat is a key this very dossier already held: a re-sent dossier, decided before.
        """
        ...

    def log_decisions(
        self, campaign_id: str, items: list[list[Any]], at: datetime, writes: Writes
    ) -> None:
        """One audit document per batch: ``[dossier_id, unit, draw, rate, outcome]`` rows."""
        ...

    async def decisions(self, campaign_id: str, since: datetime | None = None) -> list[list[Any]]:
        """Every logged decision of a campaign, in log order."""
        ...

    async def quota_table(self, campaign_id: str) -> list[Document]:
        """Quota documents of a campaign with their counters summed, by unit."""
        ...


class MongoDecisionStore(MongoStore, DecisionStore):
    """Everything the continuous decision reads and writes, in the consumer's transaction.

    A unit's quota document holds what must be exact and shared: ``quota``, ``reserved``
    (open + answered slots), ``answered``, ``lapsed`` and ``released`` (slots freed by lapses and
    undeliverable invitations, net of those answered late: ``reserved + released`` is every
    slot ever granted, read back by a unit's owner in memory, ``sipas_sampling.deciding``).
    What only estimates rates (eligible, reachable, invited) is counted in one document
    per campaign *and instance* (a shard), with a counter per unit (unit codes are safe
    field names), so a batch updates one counts document however many units it saw, and
    concurrent instances write the same document only to reserve slots in one unit at once.
    """

    def __init__(self, db: Database, shard: str = "") -> None:
        super().__init__(db)
        self._shard = shard or uuid.uuid4().hex[:12]

    @override
    async def set_quotas(
        self,
        campaign_id: str,
        quotas: Mapping[str, int | None],
        expected: Mapping[str, float | None],
    ) -> None:
        ops = [
            UpdateOne(
                {"_id": quota_id(campaign_id, unit)},
                {
                    "$set": {"quota": quota, "expected_total": expected.get(unit)},
                    "$setOnInsert": {"campaign": campaign_id, "unit": unit, **_ZERO_SLOTS},
                },
                upsert=True,
            )
            for unit, quota in quotas.items()
        ]
        if ops:
            await self.db[QUOTAS].bulk_write(ops, ordered=False)

    async def _counts(
        self, campaign_id: str, units: Iterable[str] | None, session: AsyncClientSession | None
    ) -> dict[str, dict[str, int]]:
        """Counters per unit, summed over the instances' documents of a campaign."""
        wanted = None if units is None else set(units)
        totals: dict[str, dict[str, int]] = {}

        def add(unit: str, counters: Mapping[str, int]) -> None:
            if wanted is None or unit in wanted:
                total = totals.setdefault(unit, dict.fromkeys(RATE_COUNTERS, 0))
                for name in RATE_COUNTERS:
                    total[name] += counters.get(name, 0)

        async for doc in self.db[QUOTA_COUNTS].find({"campaign": campaign_id}, session=session):
            if "units" in doc:
                for unit, counters in doc["units"].items():
                    add(unit, counters)
            else:  # one document per unit and instance, as written before
                add(doc["unit"], doc)
        return totals

    @override
    async def progress(
        self, campaign_id: str, units: Iterable[str], session: AsyncClientSession
    ) -> dict[str, UnitProgress]:
        wanted = set(units)
        ids = [quota_id(campaign_id, u) for u in wanted]
        counts = await self._counts(campaign_id, wanted, session)
        found = {}
        async for doc in self.db[QUOTAS].find({"_id": {"$in": ids}}, session=session):
            found[doc["unit"]] = UnitProgress(
                quota=doc.get("quota"),
                reserved=doc["reserved"],
                answered=doc["answered"],
                lapsed=doc["lapsed"],
                reachable=counts.get(doc["unit"], {}).get("reachable", 0),
                expected_total=doc.get("expected_total"),
            )
        return found

    @override
    async def apply_batch(
        self,
        campaign_id: str,
        progress: Mapping[str, UnitProgress],
        seen: Mapping[str, tuple[int, int]],
        wanted: Mapping[str, int],
        writes: Writes,
    ) -> dict[str, int]:
        # ``progress`` was read in this same transaction and every reservation is guarded by
        # the ``reserved`` value it read: if another instance reserved in between, the guard
        # misses and the whole transaction is retried. No unit can pass its quota.
        granted = granted_slots(progress, wanted)
        for unit, (read, n) in reservations(progress, granted).items():
            writes.update(
                QUOTAS,
                {"_id": quota_id(campaign_id, unit), "reserved": read},
                {"$inc": {"reserved": n}},
                guard=_reserved_concurrently,
            )
        # Zero counters are left out: the server checks every pair of paths in an
        # update for conflicts, so each path costs more than the one before it.
        counters = {
            f"units.{unit}.{name}": value
            for unit, values in rate_counts(seen, granted).items()
            for name, value in values.items()
            if value
        }
        if counters:
            writes.update(
                QUOTA_COUNTS,
                {"_id": f"{campaign_id}|{self._shard}"},
                {"$inc": counters, "$setOnInsert": {"campaign": campaign_id}},
                upsert=True,
            )
        return granted

    @override
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
        await self.db[QUOTAS].update_one(
            {"_id": quota_id(campaign_id, unit)},
            {
                "$inc": {
                    "answered": answered,
                    "lapsed": lapsed,
                    "reserved": -release,
                    "released": release,
                },
                "$setOnInsert": {"campaign": campaign_id, "unit": unit, "quota": None},
            },
            upsert=True,
            session=session,
        )

    @override
    async def claim(
        self, claims: Mapping[str, str], session: AsyncClientSession
    ) -> tuple[set[str], set[str]]:
        if not claims:
            return set(), set()
        taken = {
            doc["_id"]: doc["dossier_id"]
            async for doc in self.db[APPLICANTS].find(
                {"_id": {"$in": list(claims)}}, session=session
            )
        }
        # One insert_many: cheaper for the server than as many inserts in a bulkWrite.
        fresh = [{"_id": k, "dossier_id": d} for k, d in claims.items() if k not in taken]
        if fresh:
            await self.db[APPLICANTS].insert_many(fresh, ordered=False, session=session)
        others = {k for k, d in claims.items() if k in taken and taken[k] != d}
        repeats = {k for k, d in claims.items() if taken.get(k) == d}
        return others, repeats

    @override
    @staticmethod
    def log_decisions(
        campaign_id: str, items: list[list[Any]], at: datetime, writes: Writes
    ) -> None:
        if items:
            writes.insert(
                DECISIONS, {"_id": ObjectId(), "campaign": campaign_id, "at": at, "items": items}
            )

    @override
    async def decisions(self, campaign_id: str, since: datetime | None = None) -> list[list[Any]]:
        query: Document = {"campaign": campaign_id}
        if since is not None:
            query["at"] = {"$gte": since}
        cursor = self.db[DECISIONS].find(query).sort("at", 1)
        return [item async for doc in cursor for item in doc["items"]]

    @override
    async def quota_table(self, campaign_id: str) -> list[Document]:
        counts = await self._counts(campaign_id, None, None)
        rows = {d["unit"]: d async for d in self.db[QUOTAS].find({"campaign": campaign_id})}
        for unit in counts.keys() - rows.keys():
            rows[unit] = {"unit": unit, "quota": None, **_ZERO_SLOTS}
        return [{**rows[u], **counts.get(u, dict.fromkeys(RATE_COUNTERS, 0))} for u in sorted(rows)]


def _reserved_concurrently() -> OperationFailure:
    return OperationFailure(
        "quota reserved concurrently",
        code=WRITE_CONFLICT,
        details={"errorLabels": ["TransientTransactionError"]},
    )
