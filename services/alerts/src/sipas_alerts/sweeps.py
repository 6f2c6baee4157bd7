"""Timed jobs: SLA deadlines, activity rules, the outbox relay and housekeeping.

Every job runs under a lease, so with several alerts instances one of them runs it at a
time; each write is still guarded (case versions, alert ids, outbox ids), so an instance
that overruns its lease cannot apply a change twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import structlog
from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession

from sipas_alerts.casework import CaseDesk
from sipas_alerts.domain.activity import evaluate_activity, lookback_days
from sipas_alerts.domain.alerts import Hit
from sipas_alerts.domain.cases import ACTIVE
from sipas_alerts.domain.windows import local_date
from sipas_alerts.store import Stores
from sipas_alerts.store.outbox import RETENTION
from sipas_contracts.events import Event
from sipas_runtime.mongo import Document, in_transaction

log = structlog.get_logger(__name__)
RELAY_DELAY = timedelta(seconds=10)
SWEEP_LIMIT = 500


class Sweeper:
    """The periodic jobs of one alerts instance."""

    def __init__(
        self,
        *,
        desk: CaseDesk,
        stores: Stores,
        mongo: Callable[[], AsyncMongoClient[Document]],
        owner: str,
        lease: timedelta = timedelta(minutes=2),
        callback_retention: timedelta = timedelta(days=30),
    ) -> None:
        self._desk = desk
        self._stores = stores
        self._mongo = mongo
        self._owner = owner
        self._lease = lease
        self._callback_retention = callback_retention

    async def _leased(self, name: str, job: Callable[[datetime], Awaitable[int]]) -> int:
        leases, now = self._stores.leases, self._desk.clock()
        if not await leases.acquire(name, self._owner, now=now, ttl=self._lease):
            return 0
        try:
            return await job(now)
        finally:
            await leases.release(name, self._owner, now=self._desk.clock())

    async def deadlines(self) -> int:
        """Escalate missed deadlines and auto-close resolved cases; refresh the gauges."""
        return await self._leased("sla-deadlines", self._deadlines)

    async def _deadlines(self, now: datetime) -> int:
        changed = 0
        for case in await self._stores.cases.due(now, SWEEP_LIMIT):
            changed += bool(await self._desk.advance(case))
        await self._refresh_gauges(now)
        return changed

    async def _refresh_gauges(self, now: datetime) -> None:
        by_state, overdue = await self._stores.cases.census(now)
        metrics = self._desk.metrics
        for state in ACTIVE:
            metrics.active_cases.labels(state).set(by_state.get(state, 0))
        metrics.overdue_cases.set(overdue)

    async def activity_rules(self) -> int:
        """Evaluate the silent-unit and response-rate rules for every active unit."""
        return await self._leased("activity-rules", self._activity_rules)

    async def _activity_rules(self, now: datetime) -> int:
        policy = self._desk.policy
        today = local_date(now, policy.calendar.tz)
        first = today - timedelta(
            days=max(lookback_days(r) for r in (policy.rules, *policy.campaigns.values()))
        )
        hits: list[Hit] = []
        for (campaign, unit), counts in (await self._stores.activity.since(first)).items():
            hits += evaluate_activity(
                campaign, unit, counts, today=today, tz=policy.calendar.tz,
                rules=policy.rules_for(campaign),
            )  # fmt: skip
        if not hits:
            return 0

        async def work(session: AsyncClientSession) -> list[Event]:
            return await self._desk.receive(hits, session, pending=True)

        events = await in_transaction(self._mongo(), work)
        await self._desk.publish(events)
        return len(events)

    async def relay(self) -> int:
        """Publish outbox events a crash left unpublished."""
        return await self._leased("outbox-relay", self._relay)

    async def _relay(self, now: datetime) -> int:
        events = await self._stores.outbox.pending(now - RELAY_DELAY)
        if events:
            log.info("outbox_relay", events=len(events))
            await self._desk.publish(events)
        return len(events)

    async def housekeeping(self) -> int:
        """Forget old published events; shred call-back contacts of long-ended cases."""
        return await self._leased("housekeeping", self._housekeeping)

    async def _housekeeping(self, now: datetime) -> int:
        stores = self._stores
        purged = await stores.outbox.purge(now - RETENTION)
        shredded = await stores.cases.shred_callbacks(ended_before=now - self._callback_retention)
        if shredded:
            log.info("callbacks_shredded", cases=shredded)
        return purged + shredded
