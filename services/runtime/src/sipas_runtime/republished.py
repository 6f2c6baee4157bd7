"""Events published again after the stream's de-duplication window, refused by event id.

JetStream drops a copy of an event (same ``Nats-Msg-Id``, the event id) only while the
first copy is younger than the stream's duplicate window ``W``. A producer that
publishes again later (an outbox re-sent after a long outage, a batch re-emitted after a
redelivery) stores a second copy under a new sequence; a consumer that recognises
replays by sequence (scoring's responses) would apply it twice. Markers per event id
would catch it, at the price of a write per event on the hot path. But every SIPAS event
id is a UUIDv7, whose first 48 bits are the millisecond it was made, and that bounds
where a first copy can be:

- a copy stored less than ``W - S`` after its id's time (``S``: the clock skew allowed
  between producer and server) is a first copy, since JetStream would have dropped a
  second one. Nothing to check: nearly every event of a live system;
- a *late* copy may repeat an earlier one. It does if the consumer recorded its id (a
  late copy it applied leaves a marker), or if a first copy is in the stream on the same
  subject, stored between the id's time minus ``S`` and plus ``W - S`` (one or a few
  ``MSG.GET`` reads by subject and time).

So the consumer refuses a repeated event id at the cost of a marker per *late* event and
nothing for the others. (Ids made from an old business time — a dossier's delivery — are
all late: those consumers pay the marker.)
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable, Collection, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from nats.aio.client import Client
from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession

from sipas_contracts.streams import ALL_STREAMS
from sipas_runtime.batches import Batch, Delivery
from sipas_runtime.mongo import Document
from sipas_runtime.positions import PROCESSED

SKEW = timedelta(seconds=30)
_MS = timedelta(milliseconds=1)


def made_at(event_id: object) -> datetime | None:
    """The time encoded in a UUIDv7 (None for another kind of id)."""
    if not isinstance(event_id, UUID) or event_id.version != 7:  # noqa: PLR2004
        return None
    return datetime(1970, 1, 1, tzinfo=UTC) + (event_id.int >> 80) * _MS


class RepublishedGuard:
    """Moves fresh deliveries that repeat an applied event id to the batch's replays."""

    def __init__(
        self,
        durable: str,
        stream: str,
        nc: Callable[[], Client],
        client: Callable[[], AsyncMongoClient[Document]],
        database: str,
    ) -> None:
        window = next(s.duplicate_window for s in ALL_STREAMS if s.name == stream)
        self._late_after = window - SKEW
        self._durable = durable
        self._stream = stream
        self._nc = nc
        self._client = client
        self._database = database

    async def check(self, batch: Batch[Any], session: AsyncClientSession) -> None:
        """Refuse repeats among ``batch.fresh``; mark the late events it keeps."""
        repeats, markers = await self.screen(batch.fresh, session)
        batch.replayed.extend(d for d in batch.fresh if id(d) in repeats)
        batch.fresh[:] = [d for d in batch.fresh if id(d) not in repeats]
        for marker in markers:
            batch.writes.insert(PROCESSED, marker)

    async def screen(
        self,
        deliveries: Sequence[Delivery[Any]],
        session: AsyncClientSession | None,
        pending: Collection[str] = (),
    ) -> tuple[set[int], list[Document]]:
        """The repeats among ``deliveries`` (by ``id()``) and the markers of the late kept.

        ``pending``: markers written by nobody yet but already applied (a consumer that
        keeps its state in memory writes them with its next checkpoint).
        """
        late = [d for d in deliveries if self._late(d)]
        if not late:
            return set(), []
        markers = {self.marker(d): d for d in late}
        collection = self._client()[self._database][PROCESSED]
        query = {"_id": {"$in": [m for m in markers if m not in pending]}}
        seen = {doc["_id"] async for doc in collection.find(query, {"_id": 1}, session=session)}
        seen |= set(pending) & set(markers)
        unknown = [d for m, d in markers.items() if m not in seen]
        found = await asyncio.gather(*(self._first_copy_exists(d) for d in unknown))
        kept = {id(d) for d, copied in zip(unknown, found, strict=True) if not copied}
        now = datetime.now(UTC)
        marks = [{"_id": self.marker(d), "at": now} for d in late if id(d) in kept]
        return {id(d) for d in late} - kept, marks

    def _late(self, delivery: Delivery[Any]) -> bool:
        made = made_at(getattr(delivery.event, "event_id", None))
        if made is None or delivery.stored_at is None:
            return True  # cannot tell: check
        return delivery.stored_at - made >= self._late_after

    def marker(self, delivery: Delivery[Any]) -> str:
        """The id of the marker recording that this consumer applied the delivery's event."""
        return f"{self._durable}:{getattr(delivery.event, 'event_id', f'seq:{delivery.seq}')}"

    async def _first_copy_exists(self, delivery: Delivery[Any]) -> bool:
        """Whether another copy of the event was stored on its subject while on time."""
        event_id = getattr(delivery.event, "event_id", None)
        made = made_at(event_id)
        if made is None:
            return False
        request: dict[str, Any] = {
            "start_time": (made - SKEW).isoformat().replace("+00:00", "Z"),
            "next_by_subj": delivery.subject,
        }
        while True:
            found = await self._get(request)
            if found is None or found[1] >= made + self._late_after:
                return False
            if found[0] != delivery.seq and found[2] == str(event_id):
                return True
            request = {"seq": found[0] + 1, "next_by_subj": delivery.subject}

    async def _get(self, request: dict[str, Any]) -> tuple[int, datetime, str] | None:
        """(seq, stored at, Nats-Msg-Id) of the message the request names, None if none."""
        reply = await self._nc().request(
            f"$JS.API.STREAM.MSG.GET.{self._stream}", json.dumps(request).encode(), timeout=5
        )
        message = json.loads(reply.data).get("message")
        if message is None:  # 404: no such message
            return None
        # "2026-12-07T03:43:57.493136123Z": microseconds are enough, and always UTC.
        stored = datetime.fromisoformat(message["time"][:26].rstrip("Z")).replace(tzinfo=UTC)
        return int(message["seq"]), stored, _msg_id(message.get("hdrs"))


def _msg_id(headers: str | None) -> str:
    """The ``Nats-Msg-Id`` in a stored message's encoded headers ("" if none)."""
    if not headers:
        return ""
    for line in base64.b64decode(headers).decode(errors="replace").split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "nats-msg-id":
            return value.strip()
    return ""
