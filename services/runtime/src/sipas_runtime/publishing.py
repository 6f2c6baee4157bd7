"""Publish contract events to JetStream with de-duplication ids and CloudEvents headers.

``Nats-Msg-Id`` is the event id, so a retried publish (or a re-derived event with a
deterministic id) is stored once. ``publish`` waits for the PubAck: when it returns the
event is on disk (``sync_interval: always``). ``publish_many`` keeps a bounded window of
acks in flight instead of one round trip per event.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from nats.js import JetStreamContext, api

from sipas_contracts import subjects
from sipas_contracts.events import Event
from sipas_runtime.metrics import RuntimeMetrics

_CE_SPEC = "1.0"


def event_headers(event: Event) -> dict[str, str]:
    """JetStream dedup id plus CloudEvents (binary mode) attributes."""
    return {
        "Nats-Msg-Id": str(event.event_id),
        "ce-specversion": _CE_SPEC,
        "ce-id": str(event.event_id),
        "ce-type": f"vn.sipas.{event.event_type}.v{event.schema_version}",
        "ce-source": f"sipas/{event.producer}",
        "ce-time": event.occurred_at.isoformat(),
        "content-type": "application/json",
    }


def encode(event: Event) -> bytes:
    """The wire form of an event (UTF-8 JSON)."""
    return event.model_dump_json().encode()


class EventPublisher:
    """Publishes events and counts them; one per service process."""

    def __init__(
        self,
        js: JetStreamContext,
        metrics: RuntimeMetrics,
        *,
        timeout: float = 5.0,
        window: int = 512,
    ) -> None:
        self._js = js
        self._metrics = metrics
        self._timeout = timeout
        self._window = window

    async def publish(self, event: Event, *, subject: str | None = None) -> api.PubAck:
        """Publish one event and wait until JetStream has stored it (or found a duplicate)."""
        ack = await self._js.publish(
            subject or subjects.for_event(event),
            encode(event),
            timeout=self._timeout,
            headers=event_headers(event),
        )
        self._count(event)
        return ack

    async def publish_many(self, events: Sequence[Event]) -> list[api.PubAck]:
        """Publish events with up to ``window`` acks in flight; raise if any publish failed."""
        acks: list[api.PubAck] = []
        for start in range(0, len(events), self._window):
            chunk = events[start : start + self._window]
            futures = [
                await self._js.publish_async(
                    subjects.for_event(event), encode(event), headers=event_headers(event)
                )
                for event in chunk
            ]
            acks.extend(await asyncio.wait_for(asyncio.gather(*futures), timeout=self._timeout * 4))
            for event in chunk:
                self._count(event)
        return acks

    def _count(self, event: Event) -> None:
        self._metrics.published.labels(self._metrics.service, event.event_type).inc()
