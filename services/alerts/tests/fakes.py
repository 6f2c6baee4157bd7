"""Hand-written in-memory stand-ins for the alerts service's stores (each passes its contract).

Imported as ``services.alerts.tests.fakes``; the contract suites in
``integration/test_store_contracts.py`` run the same behaviour against these and the real
Mongo-wire server.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from collections.abc import Set as AbstractSet
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

from pymongo.asynchronous.client_session import AsyncClientSession

from sipas_alerts.domain.activity import DayCount
from sipas_alerts.domain.alerts import Hit
from sipas_alerts.domain.cases import ACTIVE, Case
from sipas_alerts.domain.index_rules import Figure, UnitKey
from sipas_alerts.store.cases import Group, GroupRaceError, from_doc
from sipas_alerts.store.notifications import Attempt, Notification
from sipas_alerts.store.outbox import Emitted
from sipas_alerts.store.reads import CaseQuery
from sipas_alerts.store.signals import ActivityKey
from sipas_contracts.events import AlertRaised, Event
from sipas_runtime.mongo import Session
from sipas_runtime.writes import Writes


class InMemoryLeases:
    """Leases in a dict: owner and the instant the lease ends."""

    def __init__(self) -> None:
        self.held: dict[str, tuple[str, datetime]] = {}

    async def acquire(self, name: str, owner: str, *, now: datetime, ttl: timedelta) -> bool:
        holder, until = self.held.get(name, (owner, now))
        if holder != owner and until >= now:
            return False
        self.held[name] = (owner, now + ttl)
        return True

    async def release(self, name: str, owner: str, *, now: datetime) -> None:
        if name in self.held and self.held[name][0] == owner:
            self.held[name] = (owner, now)


class InMemoryActivityStore:
    """Invitations and responses per (campaign, unit, day) in a dict of counters."""

    def __init__(self) -> None:
        self.days: dict[ActivityKey, Counter[str]] = {}

    async def add(
        self, field: str, counts: Counter[ActivityKey], session: AsyncClientSession | None
    ) -> None:
        for key, n in counts.items():
            self.days.setdefault(key, Counter())[field] += n

    async def since(self, first: date) -> dict[tuple[str, str], dict[date, DayCount]]:
        found: dict[tuple[str, str], dict[date, DayCount]] = {}
        for (campaign, unit, day), fields in self.days.items():
            if day >= first:
                count = DayCount(fields["invitations"], fields["responses"])
                found.setdefault((campaign, unit), {})[day] = count
        return found


class InMemoryFigureStore:
    """The latest version of each (campaign, unit, period) figure in a dict."""

    def __init__(self) -> None:
        self.figures: dict[tuple[str, str, str], Figure] = {}

    async def periods(
        self, units: AbstractSet[UnitKey], session: AsyncClientSession | None
    ) -> dict[UnitKey, dict[str, Figure]]:
        found: dict[UnitKey, dict[str, Figure]] = {}
        for (campaign, unit, period), figure in self.figures.items():
            if (campaign, unit) in units:
                found.setdefault((campaign, unit), {})[period] = figure
        return found

    def keep(self, figures: Iterable[Figure], writes: Writes) -> None:
        for figure in figures:
            self.figures[figure.campaign_id, figure.unit, figure.period] = figure


class InMemoryOutbox:
    """Emitted events by id with their source, time and whether they await publishing."""

    def __init__(self) -> None:
        self.events: dict[str, tuple[Event, str, datetime, bool]] = {}

    async def record(
        self, events: Emitted, session: Session, *, now: datetime, pending: bool
    ) -> None:
        for event, source in events:
            self.events.setdefault(str(event.event_id), (event, source, now, pending))

    def _sorted(self, keep: Callable[[str, datetime, bool], bool]) -> list[Event]:
        return [e for key, (e, *rest) in sorted(self.events.items()) if keep(*rest)]

    async def of_sources(
        self, sources: Iterable[str], session: AsyncClientSession | None
    ) -> list[Event]:
        wanted = set(sources)
        return self._sorted(lambda source, _at, _pending: source in wanted)

    async def pending(self, older_than: datetime, limit: int = 500) -> list[Event]:
        return self._sorted(lambda _source, at, pending: pending and at < older_than)[:limit]

    async def mark_published(self, events: Sequence[Event]) -> None:
        for key in (str(e.event_id) for e in events):
            if key in self.events:
                event, source, at, _ = self.events[key]
                self.events[key] = (event, source, at, False)

    async def purge(self, before: datetime) -> int:
        gone = [k for k, (_, _, at, pending) in self.events.items() if not pending and at < before]
        for key in gone:
            del self.events[key]
        return len(gone)


class InMemoryNotificationQueue:
    """Notifications by key, as the Mongo documents are; a claim leases the earliest due."""

    SHOWN = ("kind", "channel", "recipient", "status", "attempts", "sent_at")

    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}

    async def enqueue(
        self, notes: Sequence[Notification], session: Session, *, now: datetime
    ) -> None:
        for n in notes:
            self.docs.setdefault(
                n.key,
                {**n.model_dump(), "created_at": now, "next_at": now, "lease_until": None},
            )

    async def claim(
        self, *, now: datetime, owner: str, lease: timedelta, limit: int
    ) -> list[Notification]:
        due = [
            d
            for d in self.docs.values()
            if d["status"] == "pending"
            and d["next_at"] <= now
            and (d["lease_until"] is None or d["lease_until"] < now)
        ]
        claimed = sorted(due, key=lambda d: d["next_at"])[:limit]
        for d in claimed:
            d.update(lease_until=now + lease, lease_owner=owner)
        return [Notification.model_validate(d) for d in claimed]

    async def settle(self, note: Notification, attempt: Attempt) -> None:
        doc = self.docs[note.key]
        doc.update(status=attempt.status, attempts=note.attempts + 1, lease_until=None)
        doc.update(updated_at=attempt.at, last_error=attempt.detail[:300] or None)
        if attempt.status == "sent":
            doc["sent_at"] = attempt.at
        if attempt.retry_at is not None:
            doc["next_at"] = attempt.retry_at

    async def of_case(self, case_id: str) -> list[dict[str, Any]]:
        mine = sorted(
            (d for d in self.docs.values() if d["case_id"] == case_id),
            key=lambda d: d["created_at"],
        )
        return [{"_id": d["key"], **{k: d[k] for k in self.SHOWN if k in d}} for d in mine]


class InMemoryCaseReader:
    """Case and alert documents (as the case store keeps them), filtered as the Mongo query is."""

    def __init__(self) -> None:
        self.cases: list[dict[str, Any]] = []
        self.alerts: list[dict[str, Any]] = []

    async def search(self, query: CaseQuery, *, limit: int, audit: bool = False) -> list[Case]:
        found = sorted((d for d in self.cases if _matches(query, d)), key=lambda d: d["_id"])
        newest = found[::-1][:limit]
        return [
            from_doc(d if audit else {k: v for k, v in d.items() if k != "audit"}) for d in newest
        ]

    def _alerts(self, keep: Callable[[dict[str, Any]], bool], limit: int) -> list[dict[str, Any]]:
        found = sorted((d for d in self.alerts if keep(d)), key=lambda d: d["_id"], reverse=True)
        return [{k: v for k, v in d.items() if k != "sealed_callback"} for d in found[:limit]]

    async def alerts_of(
        self, case_id: str, *, limit: int, before: str | None = None
    ) -> list[dict[str, Any]]:
        return self._alerts(
            lambda d: d["case_id"] == case_id and (not before or d["_id"] < before), limit
        )

    async def recent_alerts(
        self, units: frozenset[str] | None, rules: tuple[str, ...], *, limit: int
    ) -> list[dict[str, Any]]:
        return self._alerts(
            lambda d: (units is None or d["unit"] in units) and (not rules or d["rule"] in rules),
            limit,
        )

    async def callbacks_of(self, case_id: str) -> list[dict[str, Any]]:
        found = [d for d in self.alerts if d["case_id"] == case_id and "sealed_callback" in d]
        kept = ("_id", "sealed_callback", "occurred_at", "rule")
        return [{k: d[k] for k in kept} for d in sorted(found, key=lambda d: d["_id"])]


def _matches(query: CaseQuery, doc: dict[str, Any]) -> bool:
    """``query.filter()`` read in Python."""
    listed = ((query.states, "state"), (query.rules, "rule"), (query.severities, "severity"))
    opened = doc["opened_at"]
    return (
        (query.units is None or doc["unit"] in query.units)
        and all(not values or doc[field] in values for values, field in listed)
        and (not query.campaign_id or doc["campaign_id"] == query.campaign_id)
        and (query.escalated is None or bool(doc["escalated_to"]) == query.escalated)
        and (query.opened_from is None or opened >= query.opened_from)
        and (query.opened_to is None or opened < query.opened_to)
        and (not query.before or doc["_id"] < query.before)
        and (query.overdue_at is None or _overdue(doc, query.overdue_at))
    )


def _overdue(doc: dict[str, Any], at: datetime) -> bool:
    unacknowledged = doc["state"] == "open" and doc["acknowledge_due_at"] <= at
    return unacknowledged or (doc["state"] in ACTIVE and doc["resolve_due_at"] <= at)


class InMemoryCaseStore:
    """Cases, groups and alerts in dicts, with the Mongo store's guards (group race, version)."""

    _COUNTERS = frozenset({"alerts", "callbacks", "last_alert_at", "severity"})

    def __init__(self) -> None:
        self.cases: dict[str, Case] = {}
        self.groups: dict[str, Group] = {}
        self.alerts: dict[str, tuple[Hit, str]] = {}

    async def get(self, case_id: str, session: AsyncClientSession | None = None) -> Case | None:
        return self.cases.get(case_id)

    async def get_many(self, ids: Iterable[str], session: AsyncClientSession) -> dict[str, Case]:
        return {i: self.cases[i].model_copy(update={"audit": ()}) for i in ids if i in self.cases}

    async def groups_of(self, keys: Iterable[str], session: AsyncClientSession) -> dict[str, Group]:
        return {key: self.groups[key] for key in keys if key in self.groups}

    async def unseen(self, hits: Sequence[Hit], session: AsyncClientSession) -> list[Hit]:
        fresh: dict[str, Hit] = {}
        for hit in hits:
            if str(hit.alert_id) not in self.alerts:
                fresh.setdefault(str(hit.alert_id), hit)
        return list(fresh.values())

    async def open(self, cases: Sequence[Case], session: AsyncClientSession) -> None:
        for case in cases:
            group = self.groups.get(case.group_key)
            if (group is not None and group.seq >= case.seq) or str(case.case_id) in self.cases:
                raise GroupRaceError(case.group_key)
            self.groups[case.group_key] = Group(case.group_key, str(case.case_id), case.seq)
            self.cases[str(case.case_id)] = case

    async def attach(
        self, changes: Sequence[tuple[Case, Case]], session: AsyncClientSession
    ) -> None:
        for before, after in changes:
            stored = self.cases[str(after.case_id)]
            self.cases[str(after.case_id)] = stored.model_copy(update={
                "alerts": stored.alerts + after.alerts - before.alerts,
                "callbacks": stored.callbacks + after.callbacks - before.callbacks,
                "last_alert_at": max(stored.last_alert_at, after.last_alert_at),
                "severity": after.severity,
            })  # fmt: skip

    async def add_alerts(
        self, placed: Sequence[tuple[Hit, str]], session: AsyncClientSession
    ) -> None:
        for hit, case_id in placed:
            self.alerts[str(hit.alert_id)] = (hit, case_id)

    async def alerts_of_sources(
        self, sources: Sequence[str], session: AsyncClientSession
    ) -> list[AlertRaised]:
        wanted = set(sources)
        return [
            hit.event(UUID(case_id))
            for _, (hit, case_id) in sorted(self.alerts.items())
            if str(hit.source_event_id) in wanted
        ]

    async def save(
        self, case: Case, expected_version: int, session: AsyncClientSession | None = None
    ) -> bool:
        stored = self.cases.get(str(case.case_id))
        if stored is None or stored.version != expected_version:
            return False
        lifecycle = {k: v for k, v in dict(case).items() if k not in self._COUNTERS}
        self.cases[str(case.case_id)] = stored.model_copy(update=lifecycle)
        return True

    async def due(self, now: datetime, limit: int) -> list[Case]:
        due = [c for c in self.cases.values() if c.next_due_at is not None and c.next_due_at <= now]
        return sorted(due, key=lambda c: c.next_due_at or now)[:limit]

    async def census(self, now: datetime) -> tuple[dict[str, int], int]:
        active = [c for c in self.cases.values() if c.state in ACTIVE]
        by_state = Counter(c.state for c in active)
        overdue = sum(
            (c.state == "open" and c.acknowledge_due_at <= now) or c.resolve_due_at <= now
            for c in active
        )
        return {state: by_state[state] for state in sorted(ACTIVE)}, overdue

    async def shred_callbacks(self, *, ended_before: datetime) -> int:
        ended = {
            i for i, c in self.cases.items()
            if c.ended_at is not None and c.ended_at < ended_before and c.callbacks > 0
        }  # fmt: skip
        for alert_id, (hit, case_id) in list(self.alerts.items()):
            if case_id in ended:
                self.alerts[alert_id] = (hit.model_copy(update={"sealed_callback": None}), case_id)
        for case_id in ended:
            self.cases[case_id] = self.cases[case_id].model_copy(update={"callbacks": 0})
        return len(ended)

    def callbacks(self) -> dict[str, str | None]:
        """Each stored alert's sealed call-back (what shredding removes)."""
        return {alert_id: hit.sealed_callback for alert_id, (hit, _) in self.alerts.items()}
