"""What every consumer does with a message before applying it.

It counts a redelivery; it dead-letters, with the reason, what can never be applied —
bytes that do not decode or validate, and a message delivered ``max_deliveries`` times —
and hands back the decoded delivery otherwise. The idempotent consumer
(``sipas_runtime.consumer``) and the in-memory one (``sipas_runtime.memory``) share it,
so a poison message is treated the same way whichever holds the state.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from sipas_runtime.batches import Delivery
from sipas_runtime.decoding import MessageDecoder, Unreadable, read
from sipas_runtime.dlq.letters import DeadLetters
from sipas_runtime.messages import StreamMessage
from sipas_runtime.metrics import RuntimeMetrics

E = TypeVar("E")


class Admission(Generic[E]):
    """Decodes one consumer's messages; dead-letters those that can never be applied."""

    def __init__(
        self,
        durable: str,
        decode: MessageDecoder[E],
        dead_letters: Callable[[], DeadLetters],
        metrics: RuntimeMetrics,
        max_deliveries: int,
    ) -> None:
        self._durable = durable
        self._decode = decode
        self._dead_letters = dead_letters
        self._metrics = metrics
        self._max_deliveries = max_deliveries
        self._labels = (metrics.service, durable)

    def delivery(self, msg: StreamMessage, event: E) -> Delivery[E]:
        """The decoded delivery of ``msg``."""
        return Delivery(event, msg.seq, msg.subject, msg.deliveries, msg.stored_at)

    def decode(self, msg: StreamMessage) -> E:
        """Decode ``msg`` (raising what the decoder raises)."""
        return self._decode(msg)

    async def admit(self, msg: StreamMessage) -> Delivery[E] | None:
        """The decoded delivery, or None once the message is dead-lettered."""
        if msg.deliveries > 1:
            self._metrics.redeliveries.labels(*self._labels).inc()
        if msg.deliveries > self._max_deliveries:
            reason = f"delivered {msg.deliveries} times without success"
            await self.dead_letter(msg, "max_deliveries", reason)
            return None
        event = read(self._decode, msg)
        if isinstance(event, Unreadable):
            await self.dead_letter(msg, event.kind, event.reason)
            return None
        return self.delivery(msg, event)

    async def dead_letter(self, msg: StreamMessage, kind: str, reason: str) -> None:
        """Send ``msg`` to the dead-letter queue with its reason (and count it once stored)."""
        await self._dead_letters().send(msg, consumer=self._durable, kind=kind, reason=reason)
        self._metrics.consumed.labels(*self._labels, "dead_lettered").inc()
