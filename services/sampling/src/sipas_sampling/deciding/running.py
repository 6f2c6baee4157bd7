"""What runs beside the decisions folded in memory: publishing them, refreshing the book.

- **Publishing**: woken after every folded batch (``on_applied``), publishes the book's
  outbox (invitation events with deterministic ids: publishing one again is harmless).
- **Refreshing**: every ``interval``, the owner reads what the other stages changed
  (``DecisionState.refresh``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import structlog
from pymongo.asynchronous.database import AsyncDatabase

from sipas_contracts.events import DossierCompleted, InvitationSent
from sipas_runtime.memory import MemoryConsumer
from sipas_runtime.mongo import Document
from sipas_sampling.deciding.state import DecisionState

log = structlog.get_logger(__name__)
RETRY_SECONDS = 0.5


class DecisionLoops:
    """The publisher and the refresher of one :class:`DecisionState`."""

    def __init__(
        self,
        state: DecisionState,
        *,
        publish: Callable[[Sequence[InvitationSent]], Awaitable[object]],
        db: Callable[[], AsyncDatabase[Document]],
        owner: Callable[[], bool],
    ) -> None:
        self._state = state
        self._publish = publish
        self._db = db
        self._owner = owner
        self._wake = asyncio.Event()

    def nudge(self) -> None:
        """Something was folded: publish what it decided."""
        self._wake.set()

    async def publish_forever(self) -> None:
        """Publish the outbox whenever woken (and every second, to retry a failure)."""
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self.publish_once()
            except Exception:  # NATS is away: the outbox keeps them for the next round
                log.exception("invitations_not_published")
                await asyncio.sleep(RETRY_SECONDS)

    async def publish_once(self) -> int:
        """Publish the outbox if this instance owns the durable; returns how many.

        A batch folded just as the durable changed hands lands in a state that is no
        longer the owner's: what it decided is published by nobody (the next owner
        decides those dossiers again from the stream).
        """
        if not self._owner():
            return 0
        return await self._state.publish(self._publish)

    async def refresh(self) -> None:
        """One refresh of the book, if this instance owns it."""
        if self._owner():
            await self._state.refresh(self._db())


@dataclass
class Decider:
    """One durable of dossiers decided in memory: its state, its loops, its consumer."""

    state: DecisionState
    loops: DecisionLoops
    consumer: MemoryConsumer[DossierCompleted] | None = None

    @property
    def owner(self) -> bool:
        """Whether this instance owns the durable now."""
        return self.consumer is not None and self.consumer.owner
