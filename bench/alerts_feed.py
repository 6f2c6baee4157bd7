"""What the alerts benchmark publishes: paced events, and index-updated events like scoring's.

Scoring publishes an index-updated event per touched unit and period each index round
(~170/s at 500 responses/s); :func:`index_event` makes them over ``units`` units and two
periods (``campaign`` and a month), each a newer version of its (unit, period) with a value
between 60 and 95 % (so the below-threshold and drop rules fire now and then).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from nats.js import JetStreamContext

from sipas_contracts import subjects
from sipas_contracts.events import Event, IndexFigure, IndexUpdated
from sipas_contracts.ids import uuid7
from sipas_contracts.streams import ALERTS_INDEXES, ALERTS_RESPONSES
from sipas_runtime.publishing import encode, event_headers
from sipas_runtime.testing import eventually

PERIODS = ("campaign", "2026-12")
CAMPAIGN = "c2026"
Message = tuple[str, Event]
"""A subject and the event to publish on it."""


async def publish_paced(
    js: JetStreamContext, rate: float, total: int, message: Callable[[int], Message]
) -> float:
    """Publish ``message(i)`` for i < ``total`` at ``rate`` per second; the seconds it took."""
    per_tick = max(1, int(rate * 0.01))
    started = time.monotonic()
    pending: list[asyncio.Future[Any]] = []
    for i in range(total):
        delay = started + i / rate - time.monotonic()
        if delay > 0 and i % per_tick == 0:
            await asyncio.sleep(delay)
        subject, event = message(i)
        pending.append(await js.publish_async(subject, encode(event), headers=event_headers(event)))
        if len(pending) >= 256:
            await asyncio.gather(*pending)
            pending.clear()
    await asyncio.gather(*pending)
    return time.monotonic() - started


def index_event(i: int, units: int, rng: random.Random) -> Message:
    """The ``i``-th index event: unit ``i % units``, a period in turn, version ``i + 1``."""
    unit = f"ht-bench-{i % units:03d}"
    period = PERIODS[(i // units) % len(PERIODS)]
    value = rng.uniform(60.0, 95.0)
    event = IndexUpdated(
        event_id=uuid7(),
        occurred_at=datetime.now(UTC),
        producer="scoring",
        campaign_id=CAMPAIGN,
        unit=unit,
        period=period,
        instrument_id="sipas-1001-2023",
        version=i + 1,
        responses=200,
        sipas=IndexFigure(value=value, ci_low=value - 3, ci_high=value + 3, n=200, sufficient=True),
    )
    month = None if period == "campaign" else period
    return subjects.index_updated(CAMPAIGN, unit, month), event


async def drained(js: JetStreamContext, seconds: float = 120.0) -> None:
    """Wait until alerts' response and index consumers have nothing pending or unacked."""

    async def idle() -> bool:
        for spec in (ALERTS_RESPONSES, ALERTS_INDEXES):
            info = await js.consumer_info(spec.stream, spec.durable)
            if info.num_pending or info.num_ack_pending:
                return False
        return True

    await eventually(idle, seconds=seconds, interval=0.1)
