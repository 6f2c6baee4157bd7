"""Periodic upkeep: publish late draws and substitutions, lapse, close campaigns, gauges.

Lapsing frees the invitation's quota slot; closing a campaign whose fieldwork ended
crypto-shreds its contacts. A batch draw or substitution whose events a crash (or a failed
publish) left unpublished after its commit is published from what the commit stored.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

import structlog
from pymongo.asynchronous.client_session import AsyncClientSession

from sipas_runtime.mongo import Document
from sipas_sampling.metrics import SamplingMetrics
from sipas_sampling.registry import Registry
from sipas_sampling.store.campaigns import CampaignStore
from sipas_sampling.store.decisions import DecisionStore
from sipas_sampling.store.invitations import InvitationStore

T = TypeVar("T")
Transact = Callable[[Callable[[AsyncClientSession], Awaitable[Any]]], Awaitable[Any]]
log = structlog.get_logger(__name__)
ANNOUNCE_AFTER = timedelta(seconds=30)
"""A draw or substitution this young is left to its own publish (a copy would be harmless)."""


class Announcer(Protocol):
    """Publishes draws and substitutions never announced (``sipas_sampling.draws.Draws``)."""

    async def announce_pending(self, before: datetime) -> int:
        """Publish those committed before ``before``; how many there were."""
        ...


class Maintenance:
    """Jobs the service runs every ``maintenance_interval`` seconds."""

    def __init__(
        self,
        *,
        registry: Registry,
        campaigns: CampaignStore,
        invitations: InvitationStore,
        decisions: DecisionStore,
        transact: Transact,
        metrics: SamplingMetrics,
        grace: timedelta,
        announcer: Announcer | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._registry = registry
        self._campaigns = campaigns
        self._invitations = invitations
        self._decisions = decisions
        self._transact = transact
        self._metrics = metrics
        self._grace = grace
        self._announcer = announcer
        self.clock = clock

    async def run(self) -> None:
        """All jobs, in order."""
        await self._registry.refresh()
        await self.announce()
        await self.lapse()
        await self.close_due()
        await self.gauges()

    async def announce(self) -> int:
        """Publish draws and substitutions whose events were committed, never published."""
        if self._announcer is None:
            return 0
        return await self._announcer.announce_pending(self.clock() - ANNOUNCE_AFTER)

    async def lapse(self) -> int:
        """Lapse invitations whose token expired (plus a grace), releasing their slots."""
        now = self.clock()
        count = 0
        for doc in await self._invitations.expired(now - self._grace):

            async def work(session: AsyncClientSession, doc: Document = doc) -> bool:
                if not await self._invitations.mark_lapsed(doc["_id"], now, session):
                    return False
                if doc["list"] == "continuous":
                    await self._decisions.settle(
                        doc["campaign"], doc["unit"], lapsed=1, release=1, session=session
                    )
                return True

            if await self._transact(work):
                count += 1
                self._metrics.settled.labels(doc["campaign"], "lapsed").inc()
        return count

    async def close_due(self) -> list[str]:
        """Close every campaign whose fieldwork ended before today (its local date)."""
        closed = []
        for active in self._registry.all():
            if (
                active.status == "active"
                and self.clock().astimezone(active.zone).date() > active.campaign.closes_on
            ):
                await self.close(active.id)
                closed.append(active.id)
        return closed

    async def close(self, campaign_id: str) -> int:
        """Close one campaign now: destroy its vault key and erase the ciphertexts."""
        await self._campaigns.close(campaign_id, self.clock())
        erased = await self._invitations.shred(campaign_id)
        await self._registry.refresh()
        log.info("campaign_closed", campaign=campaign_id, invitations_shredded=erased)
        return erased

    async def gauges(self) -> None:
        """Publish quota, reserved and answered slots per unit."""
        for active in self._registry.all():
            for doc in await self._decisions.quota_table(active.id):
                for state in ("reserved", "answered"):
                    self._metrics.slots.labels(active.id, doc["unit"], state).set(doc.get(state, 0))
                if doc.get("quota") is not None:
                    self._metrics.slots.labels(active.id, doc["unit"], "quota").set(doc["quota"])
