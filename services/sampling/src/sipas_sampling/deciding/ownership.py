"""Which instance decides for which partition of the dossiers (#22, ``SIPAS_PARTITIONS``).

The live instances are the deciding instances whose record (``sipas_runtime.sessions``:
every service instance beats its record every second, with its roles) was beaten within
``ttl``, and each partition should be owned by its rendezvous choice among them
(``sipas_runtime.partitions.assignment``). An instance pulls only the partitions it should
own, and hands over (checkpoint, unpin) one it holds as soon as another live instance
should own it; one that dies stops beating, and its partitions go to the instances they
are spread to (the server pins them once the dead one stops pulling); one that stops
cleanly removes its record. Exclusivity never rests on this: the pin and the checkpoint's
claim fence a stale owner.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

import structlog

from sipas_contracts.events import DossierCompleted
from sipas_runtime.memory import MemoryConsumer
from sipas_runtime.partitions import assignment

ROLE = "sampling-decisions"
"""The role of an instance that decides from memory (not a dispatch-only instance)."""
log = structlog.get_logger(__name__)


class Ownership:
    """The share of the partitions one instance should own, among the live deciding ones."""

    def __init__(
        self,
        instance: str,
        count: int,
        live: Callable[[str, float], Awaitable[set[str]]],
        ttl: float,
    ) -> None:
        self._instance = instance
        self._count = count
        self._live = live
        self.ttl = ttl
        self.mine: frozenset[int] = frozenset(range(count))
        """The partitions this instance should own (all of them until it has read others)."""
        self.consumers: Mapping[int, MemoryConsumer[DossierCompleted]] = {}

    def active(self, partition: int) -> bool:
        """Whether this instance should pull ``partition`` now."""
        return partition in self.mine

    async def beat(self) -> None:
        """Read which deciding instances are alive; hand over what is not ours any more."""
        live = await self._live(ROLE, self.ttl) | {self._instance}
        preferred = assignment(self._count, live)
        mine = frozenset(p for p, owner in preferred.items() if owner == self._instance)
        if mine != self.mine:
            log.info("partitions_assigned", instance=self._instance, partitions=sorted(mine),
                     live=len(live))  # fmt: skip
        self.mine = mine
        for partition, consumer in self.consumers.items():
            if partition not in mine and consumer.owner:
                await consumer.hand_over()
