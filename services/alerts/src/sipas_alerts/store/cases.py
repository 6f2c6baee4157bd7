"""Cases, their groups and the alerts attached to them (PyMongo async).

- ``cases``: one document per case (the :class:`Case` fields; ``_id`` = case id, plus
  ``next_due_at`` for the SLA sweep);
- ``case_groups``: one document per (unit, rule, window) key pointing at its current case;
- ``alerts``: one document per alert (rule hit), with the case it joined and, when the
  respondent opted in, the *sealed* call-back contact (opened only in the API, for the
  unit's handler).

Attaching alerts only ``$inc``/``$max`` the counters, while lifecycle changes ``$set`` the
lifecycle fields under an optimistic ``version`` check, so a flood of alerts and a person
acknowledging the case never overwrite each other.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from pymongo import UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError, OperationFailure
from typing_extensions import override

from sipas_alerts.domain.alerts import Hit
from sipas_alerts.domain.cases import ACTIVE, Case
from sipas_contracts.events import AlertRaised
from sipas_runtime.mongo import Collection, MongoStore, update_many

CASES = "cases"
GROUPS = "case_groups"
ALERTS = "alerts"
Doc = dict[str, Any]
_COUNTERS = frozenset({"alerts", "callbacks", "last_alert_at", "severity"})
_WRITE_CONFLICT = 112


class GroupRaceError(OperationFailure):
    """Raised when another instance opened a case for the same group first (retry the batch).

    It carries MongoDB's WriteConflict code, so the consumer treats it as transient and
    re-runs the batch, which then finds the other instance's case and attaches to it.
    """

    def __init__(self, key: str) -> None:
        super().__init__(f"case group {key!r} changed concurrently", code=_WRITE_CONFLICT)


@dataclass(frozen=True)
class Group:
    """A (unit, rule, window) key, its current case and how many cases it has had."""

    key: str
    current: str
    seq: int


def to_doc(case: Case) -> Doc:
    """The stored form of a case."""
    doc = case.model_dump(mode="python", exclude={"case_id", "follows"})
    doc["_id"] = str(case.case_id)
    doc["follows"] = str(case.follows) if case.follows else None
    doc["next_due_at"] = case.next_due_at
    return doc


def from_doc(doc: Doc) -> Case:
    """A case from its stored form."""
    fields = {k: v for k, v in doc.items() if k not in {"_id", "next_due_at"}}
    return Case.model_validate({**fields, "case_id": doc["_id"]})


def _alert_event(doc: Doc) -> AlertRaised:
    fields = {k: v for k, v in doc.items() if k not in {"_id", "case_id", "sealed_callback"}}
    event = Hit.model_validate(fields).event(UUID(doc["case_id"]))
    # The stored id is authoritative: times come back from Mongo at millisecond precision.
    alert_id = UUID(doc["_id"])
    return event.model_copy(update={"event_id": alert_id, "alert_id": alert_id})


class CaseStore(Protocol):
    """Cases, their groups and their alerts."""

    async def get(self, case_id: str, session: AsyncClientSession | None = None) -> Case | None:
        """One case by id."""
        ...

    async def get_many(self, ids: Iterable[str], session: AsyncClientSession) -> dict[str, Case]:
        """Cases by id, without their audit trails (for attaching alerts)."""
        ...

    async def groups_of(self, keys: Iterable[str], session: AsyncClientSession) -> dict[str, Group]:
        """The groups of ``keys`` that exist."""
        ...

    async def unseen(self, hits: Sequence[Hit], session: AsyncClientSession) -> list[Hit]:
        """The hits whose alert is not stored yet (a rule on an event fires once)."""
        ...

    async def open(self, cases: Sequence[Case], session: AsyncClientSession) -> None:
        """Store new cases and make each its group's current case."""
        ...

    async def attach(
        self, changes: Sequence[tuple[Case, Case]], session: AsyncClientSession
    ) -> None:
        """Apply counter changes (before, after) of attaching alerts to existing cases."""
        ...

    async def add_alerts(
        self, placed: Sequence[tuple[Hit, str]], session: AsyncClientSession
    ) -> None:
        """Store alerts with the case each joined."""
        ...

    async def alerts_of_sources(
        self, sources: Sequence[str], session: AsyncClientSession
    ) -> list[AlertRaised]:
        """The alert-raised events of ``sources``, rebuilt from the stored alerts."""
        ...

    async def save(
        self, case: Case, expected_version: int, session: AsyncClientSession | None = None
    ) -> bool:
        """Write a lifecycle change if nobody else changed the case meanwhile."""
        ...

    async def due(self, now: datetime, limit: int) -> list[Case]:
        """Cases whose next deadline has passed, earliest first."""
        ...

    async def census(self, now: datetime) -> tuple[dict[str, int], int]:
        """Active cases by state, and how many of them are past a deadline."""
        ...

    async def shred_callbacks(self, *, ended_before: datetime) -> int:
        """Delete the sealed call-back contacts of cases that ended before ``ended_before``."""
        ...


class MongoCaseStore(MongoStore, CaseStore):
    """Cases, groups and alerts in the alerts service's database."""

    _cases = Collection(CASES)
    _groups = Collection(GROUPS)
    _alerts = Collection(ALERTS)

    @override
    async def get(self, case_id: str, session: AsyncClientSession | None = None) -> Case | None:
        doc = await self._cases.find_one({"_id": case_id}, session=session)
        return from_doc(doc) if doc else None

    @override
    async def get_many(self, ids: Iterable[str], session: AsyncClientSession) -> dict[str, Case]:
        docs = self._cases.find({"_id": {"$in": list(ids)}}, {"audit": 0}, session=session)
        return {doc["_id"]: from_doc(doc) async for doc in docs}

    @override
    async def groups_of(self, keys: Iterable[str], session: AsyncClientSession) -> dict[str, Group]:
        docs = self._groups.find({"_id": {"$in": list(keys)}}, session=session)
        return {d["_id"]: Group(d["_id"], d["current"], d["seq"]) async for d in docs}

    @override
    async def unseen(self, hits: Sequence[Hit], session: AsyncClientSession) -> list[Hit]:
        ids = [str(h.alert_id) for h in hits]
        seen = {
            d["_id"]
            async for d in self._alerts.find({"_id": {"$in": ids}}, {"_id": 1}, session=session)
        }
        fresh: dict[str, Hit] = {}
        for hit, alert_id in zip(hits, ids, strict=True):
            if alert_id not in seen:
                fresh.setdefault(alert_id, hit)
        return list(fresh.values())

    @override
    async def open(self, cases: Sequence[Case], session: AsyncClientSession) -> None:
        if not cases:
            return
        try:
            for case in cases:
                await self._groups.update_one(
                    {"_id": case.group_key, "seq": {"$lt": case.seq}},
                    {"$set": {"current": str(case.case_id), "seq": case.seq}},
                    upsert=True,
                    session=session,
                )
            await self._cases.insert_many([to_doc(c) for c in cases], session=session)
        except DuplicateKeyError as exc:
            raise GroupRaceError(cases[0].group_key) from exc

    @override
    async def attach(
        self, changes: Sequence[tuple[Case, Case]], session: AsyncClientSession
    ) -> None:
        ops = [
            UpdateOne(
                {"_id": str(after.case_id)},
                {
                    "$inc": {
                        "alerts": after.alerts - before.alerts,
                        "callbacks": after.callbacks - before.callbacks,
                    },
                    "$max": {"last_alert_at": after.last_alert_at},
                    "$set": {"severity": after.severity},
                },
            )
            for before, after in changes
        ]
        if ops:
            await self._cases.bulk_write(ops, ordered=False, session=session)

    @override
    async def add_alerts(
        self, placed: Sequence[tuple[Hit, str]], session: AsyncClientSession
    ) -> None:
        docs = [
            {
                "_id": str(hit.alert_id),
                "case_id": case_id,
                **hit.model_dump(mode="python", exclude={"sealed_callback", "sealed_comment"}),
                "source_event_id": str(hit.source_event_id),
                **({"sealed_callback": hit.sealed_callback} if hit.sealed_callback else {}),
                **({"sealed_comment": hit.sealed_comment} if hit.sealed_comment else {}),
            }
            for hit, case_id in placed
        ]
        if docs:
            await self._alerts.insert_many(docs, ordered=False, session=session)

    @override
    async def alerts_of_sources(
        self, sources: Sequence[str], session: AsyncClientSession
    ) -> list[AlertRaised]:
        cursor = self._alerts.find({"source_event_id": {"$in": list(sources)}}, session=session)
        return [_alert_event(doc) async for doc in cursor.sort("_id", 1)]

    @override
    async def save(
        self, case: Case, expected_version: int, session: AsyncClientSession | None = None
    ) -> bool:
        doc = {k: v for k, v in to_doc(case).items() if k not in _COUNTERS and k != "_id"}
        result = await self._cases.update_one(
            {"_id": str(case.case_id), "version": expected_version}, {"$set": doc}, session=session
        )
        return result.modified_count == 1

    @override
    async def due(self, now: datetime, limit: int) -> list[Case]:
        cursor = (
            self._cases.find({"next_due_at": {"$lte": now}}).sort("next_due_at", 1).limit(limit)
        )
        return [from_doc(doc) async for doc in cursor]

    @override
    async def census(self, now: datetime) -> tuple[dict[str, int], int]:
        by_state: dict[str, int] = {
            state: await self._cases.count_documents({"state": state}) for state in sorted(ACTIVE)
        }
        overdue = await self._cases.count_documents(
            {
                "state": {"$in": sorted(ACTIVE)},
                "$or": [
                    {"state": "open", "acknowledge_due_at": {"$lte": now}},
                    {"resolve_due_at": {"$lte": now}},
                ],
            }
        )
        return by_state, overdue

    @override
    async def shred_callbacks(self, *, ended_before: datetime) -> int:
        ended = [
            doc["_id"]
            async for doc in self._cases.find(
                {"ended_at": {"$lt": ended_before}, "callbacks": {"$gt": 0}}, {"_id": 1}
            )
        ]
        if ended:
            await update_many(
                self._alerts, {"case_id": {"$in": ended}}, {"$unset": {"sealed_callback": ""}}
            )
            await update_many(self._cases, {"_id": {"$in": ended}}, {"$set": {"callbacks": 0}})
        return len(ended)
