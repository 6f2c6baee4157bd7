"""Read side of the case store, for the API: listings, alerts of a case, KPI inputs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from typing_extensions import override

from sipas_alerts.domain.cases import ACTIVE, Case
from sipas_alerts.store.cases import ALERTS, CASES, from_doc
from sipas_runtime.mongo import Collection, MongoStore

Doc = dict[str, Any]


@dataclass(frozen=True)
class CaseQuery:
    """Filters of a case listing (None or empty: no restriction)."""

    units: frozenset[str] | None = None
    states: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    severities: tuple[str, ...] = ()
    campaign_id: str | None = None
    escalated: bool | None = None
    overdue_at: datetime | None = None
    opened_from: datetime | None = None
    opened_to: datetime | None = None
    before: str | None = None

    def filter(self) -> Doc:
        """The Mongo filter."""
        query: Doc = {}
        if self.units is not None:
            query["unit"] = {"$in": sorted(self.units)}
        for field, values in (
            ("state", self.states),
            ("rule", self.rules),
            ("severity", self.severities),
        ):
            if values:
                query[field] = {"$in": list(values)}
        if self.campaign_id:
            query["campaign_id"] = self.campaign_id
        if self.escalated is not None:
            query["escalated_to.0"] = {"$exists": self.escalated}
        opened = {
            op: value
            for op, value in (("$gte", self.opened_from), ("$lt", self.opened_to))
            if value is not None
        }
        if opened:
            query["opened_at"] = opened
        if self.before:
            query["_id"] = {"$lt": self.before}
        if self.overdue_at is not None:
            query["$or"] = [
                {"state": "open", "acknowledge_due_at": {"$lte": self.overdue_at}},
                {"state": {"$in": sorted(ACTIVE)}, "resolve_due_at": {"$lte": self.overdue_at}},
            ]
        return query


class CaseReader(Protocol):
    """The queries the case API needs."""

    async def search(self, query: CaseQuery, *, limit: int, audit: bool = False) -> list[Case]:
        """Cases matching ``query``, newest first (case ids are time-ordered UUIDv7)."""
        ...

    async def alerts_of(self, case_id: str, *, limit: int, before: str | None = None) -> list[Doc]:
        """A case's alerts, newest first, without the sealed call-back contact."""
        ...

    async def recent_alerts(
        self, units: frozenset[str] | None, rules: tuple[str, ...], *, limit: int
    ) -> list[Doc]:
        """Most recent alerts in ``units``, without call-back contacts."""
        ...

    async def callbacks_of(self, case_id: str) -> list[Doc]:
        """The sealed call-back contacts attached to a case (still sealed)."""
        ...


class MongoCaseReader(MongoStore, CaseReader):
    """Queries the case API needs."""

    _cases = Collection(CASES)
    _alerts = Collection(ALERTS)

    @override
    async def search(self, query: CaseQuery, *, limit: int, audit: bool = False) -> list[Case]:
        projection = None if audit else {"audit": 0}
        cursor = self._cases.find(query.filter(), projection).sort("_id", -1).limit(limit)
        return [from_doc(doc) async for doc in cursor]

    @override
    async def alerts_of(self, case_id: str, *, limit: int, before: str | None = None) -> list[Doc]:
        query: Doc = {"case_id": case_id}
        if before:
            query["_id"] = {"$lt": before}
        cursor = self._alerts.find(query, {"sealed_callback": 0}).sort("_id", -1).limit(limit)
        return [doc async for doc in cursor]

    @override
    async def recent_alerts(
        self, units: frozenset[str] | None, rules: tuple[str, ...], *, limit: int
    ) -> list[Doc]:
        query: Doc = {}
        if units is not None:
            query["unit"] = {"$in": sorted(units)}
        if rules:
            query["rule"] = {"$in": list(rules)}
        cursor = self._alerts.find(query, {"sealed_callback": 0}).sort("_id", -1).limit(limit)
        return [doc async for doc in cursor]

    @override
    async def callbacks_of(self, case_id: str) -> list[Doc]:
        cursor = self._alerts.find(
            {"case_id": case_id, "sealed_callback": {"$exists": True}},
            {"sealed_callback": 1, "occurred_at": 1, "rule": 1},
        ).sort("_id", 1)
        return [doc async for doc in cursor]
