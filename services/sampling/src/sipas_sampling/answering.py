"""An answered invitation counts towards its unit's quota, once (``on_responses``).

An answer to an invitation not stored yet (decided from memory: its document comes with
the next checkpoint, ``sipas_sampling.store.answers``) waits, and
:func:`settle_waiting` counts it once the invitation is there.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from pymongo.asynchronous.client_session import AsyncClientSession

from sipas_runtime.mongo import Document
from sipas_sampling.metrics import SamplingMetrics
from sipas_sampling.store.answers import WaitingAnswers
from sipas_sampling.store.decisions import DecisionStore
from sipas_sampling.store.invitations import InvitationStore

T = TypeVar("T")
SLOT_FREED = ("lapsed", "undeliverable")
"""States whose continuous slot was released (``Maintenance.lapse``, the dispatcher)."""
Transact = Callable[[Callable[[AsyncClientSession], Awaitable[T]]], Awaitable[T]]


@dataclass
class Answers:
    """The stores an answer changes."""

    invitations: InvitationStore
    decisions: DecisionStore
    waiting: WaitingAnswers
    metrics: SamplingMetrics

    async def answer(
        self, invitation_id: UUID, at: datetime, session: AsyncClientSession
    ) -> Document | None:
        """Mark answered and count it; returns the invitation before, if this answered it.

        An invitation not stored (yet) keeps the answer waiting; one answered already
        changes nothing.
        """
        before = await self.invitations.answer(invitation_id, at, session)
        if before is None:
            if await self.invitations.get(invitation_id, session) is None:
                await self.waiting.keep(invitation_id, at, session)
            return None
        # A lapse or a failure to deliver released the slot: the answer takes it again (a
        # message that arrived after all, through a channel whose outcome was unknown).
        was_released = before["state"] in SLOT_FREED and before["list"] == "continuous"
        await self.decisions.settle(
            before["campaign"],
            before["unit"],
            answered=1,
            release=-1 if was_released else 0,
            session=session,
        )
        self.metrics.settled.labels(before["campaign"], "answered").inc()
        return before

    async def settle_waiting(self, transact: Transact[Any]) -> int:
        """Count the waiting answers whose invitation is stored now; returns how many."""
        counted = 0
        for doc in await self.waiting.oldest():

            async def work(session: AsyncClientSession, doc: Document = doc) -> bool:
                if await self.invitations.get(doc["_id"], session) is None:
                    return False  # still to come
                before = await self.answer(doc["_id"], doc["at"], session)
                await self.waiting.drop(doc["_id"], session)
                return before is not None

            if await transact(work):
                counted += 1
        return counted
