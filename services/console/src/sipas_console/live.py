"""Live updates: the services' events, from NATS, to the pages that show them.

The console subscribes (core NATS, no durable state: a page only wants what happens while
it is open) to ``index-updated``, ``case-updated`` and ``alert-raised``. Each message becomes
an :class:`Update` — kind, unit, campaign and a few fields that carry no personal data and
no free text — and is handed to every listener whose filter wants it. A listener is one
open page (``GET /live/events``, server-sent events); it sees only its viewer's units.

A slow page never holds the others up: its queue is bounded and, when full, the oldest
update is dropped (a page refreshes its region from the service on any update anyway).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from sipas_contracts import subjects

log = structlog.get_logger(__name__)
QUEUE_SIZE = 64
INDEX_UPDATED = "index-updated"
CASE_UPDATED = "case-updated"
ALERT_RAISED = "alert-raised"
KINDS = (INDEX_UPDATED, CASE_UPDATED, ALERT_RAISED)
SUBJECTS = {
    subjects.INDEXES_UPDATED: INDEX_UPDATED,
    subjects.CASES_UPDATED: CASE_UPDATED,
    subjects.ALERTS_RAISED: ALERT_RAISED,
}
# What a page may learn of each event: identifiers, states and figures, never text.
FIELDS = {
    INDEX_UPDATED: ("period", "responses", "version"),
    CASE_UPDATED: ("case_id", "rule", "state", "severity", "escalated"),
    ALERT_RAISED: ("alert_id", "case_id", "rule", "severity"),
}


@dataclass(frozen=True)
class Update:
    """One event as a page sees it."""

    kind: str
    unit: str
    campaign: str | None
    data: dict[str, Any] = field(default_factory=dict)

    def as_sse(self) -> str:
        """The update as one server-sent event (``event:`` the kind, ``data:`` JSON)."""
        body = {"unit": self.unit, "campaign": self.campaign, **self.data}
        return f"event: {self.kind}\ndata: {json.dumps(body, separators=(',', ':'))}\n\n"


def update_of(kind: str, payload: bytes) -> Update | None:
    """The update carried by an event's bytes (None when they are not such an event)."""
    try:
        event = json.loads(payload)
    except ValueError:
        return None
    if not isinstance(event, dict) or not isinstance(event.get("unit"), str):
        return None
    data: dict[str, Any] = {k: event.get(k) for k in FIELDS[kind]}
    if kind == INDEX_UPDATED:
        sipas = event.get("sipas")
        sipas = sipas if isinstance(sipas, dict) else {}
        data["sipas"] = sipas.get("value")
        data["n"] = sipas.get("n")
    return Update(kind, event["unit"], event.get("campaign_id"), data)


Wants = Callable[[Update], bool]


class LiveFeed:
    """Fans the console's NATS subscription out to the open pages."""

    def __init__(self, queue_size: int = QUEUE_SIZE) -> None:
        self._queue_size = queue_size
        self._listeners: dict[asyncio.Queue[Update], Wants] = {}
        self._subscriptions: list[Subscription] = []

    @property
    def listeners(self) -> int:
        """Pages listening now."""
        return len(self._listeners)

    async def start(self, nc: Client) -> None:
        """Subscribe to the three subjects on ``nc``."""
        for subject, kind in SUBJECTS.items():

            async def deliver(msg: Msg, kind: str = kind) -> None:
                update = update_of(kind, msg.data)
                if update is not None:
                    self.publish(update)

            self._subscriptions.append(await nc.subscribe(subject, cb=deliver))

    async def stop(self) -> None:
        """Unsubscribe (the pages' streams end when the app stops)."""
        for subscription in self._subscriptions:
            with contextlib.suppress(Exception):  # the connection may be closing already
                await subscription.unsubscribe()
        self._subscriptions.clear()

    def publish(self, update: Update) -> None:
        """Hand ``update`` to every listener that wants it."""
        for queue, wants in list(self._listeners.items()):
            if not wants(update):
                continue
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(update)

    @contextlib.asynccontextmanager
    async def listen(self, wants: Wants) -> AsyncIterator[asyncio.Queue[Update]]:
        """A queue of the updates ``wants`` accepts, for as long as the context lasts."""
        queue: asyncio.Queue[Update] = asyncio.Queue(self._queue_size)
        self._listeners[queue] = wants
        try:
            yield queue
        finally:
            del self._listeners[queue]
