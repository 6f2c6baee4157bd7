"""The settle stage of a consumer: publish a committed batch's events, then ack it.

Batches are settled in the order they were committed, in the background, while the
consumer applies the next batch: a slow store acknowledgement (e.g. a disk flush on the
event server) does not hold up the batches behind it. At most ``MAX_SETTLING`` batches
wait here; the consumer waits for the oldest before it adds another.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence

import structlog

from sipas_contracts.events import Event
from sipas_runtime import frames
from sipas_runtime.messages import StreamMessage
from sipas_runtime.metrics import RuntimeMetrics
from sipas_runtime.publishing import EventPublisher

log = structlog.get_logger(__name__)
MAX_SETTLING = 4  # committed batches whose events may still be on their way to the stream


class Settling:
    """Committed batches of one consumer, being published and acked in batch order."""

    def __init__(
        self,
        durable: str,
        publisher: Callable[[], EventPublisher],
        metrics: RuntimeMetrics,
        *,
        atomic_publish: bool = False,
    ) -> None:
        self._durable = durable
        self._publisher = publisher
        self._metrics = metrics
        self._labels = (metrics.service, durable)
        self._atomic_publish = atomic_publish
        self._tasks: list[asyncio.Task[None]] = []

    async def add(
        self, outputs: list[Event], messages: Sequence[StreamMessage], started: float
    ) -> asyncio.Task[None]:
        """Settle one committed batch after the ones before it (the task doing it)."""
        if len(self._tasks) >= MAX_SETTLING:
            await asyncio.wait({self._tasks[0]})
        previous = self._tasks[-1] if self._tasks else None
        task = asyncio.create_task(self._settle(previous, outputs, messages, started))
        self._tasks.append(task)
        task.add_done_callback(self._settled_one)
        return task

    async def settled(self) -> None:
        """Wait until every committed batch is published and acked (or handed back)."""
        while self._tasks:
            await asyncio.wait({self._tasks[-1]})

    def _settled_one(self, task: asyncio.Task[None]) -> None:
        self._tasks.remove(task)
        if not task.cancelled():
            task.exception()  # retrieved: the failure was logged and the batch handed back

    async def _settle(
        self,
        previous: asyncio.Task[None] | None,
        outputs: list[Event],
        messages: Sequence[StreamMessage],
        started: float,
    ) -> None:
        """Publish a committed batch's events, then ack its messages (after ``previous``).

        Order holds while publishing works: a batch whose events cannot be stored is handed
        back and comes again as a replay, after the batches behind it.
        """
        if previous is not None:
            await asyncio.wait({previous})  # events in batch order
        try:
            if outputs:
                await self._publisher().publish_many(outputs, atomic=self._atomic_publish)
        except Exception:
            # Committed but not published: redelivered, the batch is a replay whose
            # events are rebuilt from the stored effects and published again.
            log.exception("publish_failed", consumer=self._durable, size=len(messages))
            for msg in messages:
                with contextlib.suppress(Exception):
                    await msg.nak(delay=1.0)
            raise
        await frames.ack([msg.delivered for msg in messages if msg.delivered is not None])
        self._metrics.handler_duration.labels(*self._labels).observe(time.monotonic() - started)
