"""Which instance decides for which partition of the dossiers (#22, ``SIPAS_PARTITIONS``).

Each instance writes a heartbeat (``sampling_instances``: ``{_id: instance, until}``)
every ``ttl / 3`` seconds; the live instances are those whose heartbeat has not expired
(``sipas_runtime.partitions.live_instances``), and each partition should be owned by its
rendezvous choice among them (``assignment``). An instance pulls only the partitions it
should own, and hands over (checkpoint, unpin) one it holds as soon as another live
instance should own it; one that dies stops beating, and its partitions go, ``ttl`` later,
to the instances they are spread to (the server pins them once the dead one stops pulling).
Exclusivity never rests on this: the pin and the checkpoint's claim fence a stale owner.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import structlog
from pymongo.asynchronous.database import AsyncDatabase

from sipas_contracts.events import DossierCompleted
from sipas_runtime.memory import MemoryConsumer
from sipas_runtime.mongo import Document
from sipas_runtime.partitions import assignment, live_instances

INSTANCES = "sampling_instances"
log = structlog.get_logger(__name__)


class Ownership:
    """The share of the partitions one instance should own, from the heartbeats it reads."""

    def __init__(
        self,
        instance: str,
        count: int,
        db: Callable[[], AsyncDatabase[Document]],
        ttl: float,
    ) -> None:
        self._instance = instance
        self._count = count
        self._db = db
        self.ttl = ttl
        self.mine: frozenset[int] = frozenset(range(count))
        """The partitions this instance should own (all of them until it has read others)."""
        self.consumers: Mapping[int, MemoryConsumer[DossierCompleted]] = {}

    def active(self, partition: int) -> bool:
        """Whether this instance should pull ``partition`` now."""
        return partition in self.mine

    async def beat(self) -> None:
        """Write this instance's heartbeat, read the others', hand over what is not ours."""
        now = time.time()
        db = self._db()
        await db[INSTANCES].update_one(
            {"_id": self._instance}, {"$set": {"until": now + self.ttl}}, upsert=True
        )
        beats = {doc["_id"]: float(doc["until"]) async for doc in db[INSTANCES].find({})}
        live = live_instances(beats, now) | {self._instance}
        preferred = assignment(self._count, live)
        mine = frozenset(p for p, owner in preferred.items() if owner == self._instance)
        if mine != self.mine:
            log.info("partitions_assigned", instance=self._instance, partitions=sorted(mine),
                     live=len(live))  # fmt: skip
        self.mine = mine
        for partition, consumer in self.consumers.items():
            if partition not in mine and consumer.owner:
                await consumer.hand_over()

    async def leave(self) -> None:
        """Stop beating at once (a clean stop): the others take the partitions over now."""
        await self._db()[INSTANCES].delete_one({"_id": self._instance})
