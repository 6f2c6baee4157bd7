"""``sipas scoring rebuild``: replay the RESPONSES log into fresh counts, prove they match.

1. Read the live consumer's watermark ``W`` (every response up to ``W`` is applied).
2. Replay the stream from sequence 1 to ``W`` through an ephemeral pull consumer (no
   acks, large batches, a callback inbox), decoding each message with the *same* decoder
   as the live consumer and folding it into in-memory tallies.
3. Read the live watermark and the live slices in one snapshot transaction; if the live
   consumer moved on meanwhile, replay the difference and read again, until both stand
   at the same sequence. Then compare every slice, and the SHA-256 of the whole set.
4. Write the rebuilt slices to ``aggregates_rebuild`` and a record to ``rebuilds``.

A message the live consumer dead-lettered for a *data* reason is rejected here too; one
it dead-lettered for an environmental reason would be counted here and show up as a
difference — which is what an audit should reveal. Event ids that appear more than once
in the log (a producer re-published after the stream's de-duplication window) are
counted by both, and reported.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import api
from pydantic import ValidationError
from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession

from sipas_contracts import subjects
from sipas_contracts.instrument import load_catalogue
from sipas_contracts.streams import RESPONSES, SCORING_RESPONSES
from sipas_runtime.consumer import RejectedError, describe_validation_error
from sipas_runtime.mongo import in_transaction
from sipas_scoring.domain.publication import canonical_json, digest
from sipas_scoring.domain.tally import SliceKey, Tally, coverage_groups, slice_key
from sipas_scoring.handlers import decode_response
from sipas_scoring.store import AggregateStore

REBUILT = "aggregates_rebuild"
REBUILDS = "rebuilds"
MAX_ROUNDS = 20
_MAX_LISTED = 20


@dataclass
class Replay:
    """Tallies folded from the log, and what was not counted."""

    tallies: dict[SliceKey, Tally] = field(default_factory=dict)
    through: int = 0
    read: int = 0
    counted: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)
    rejected_count: int = 0
    duplicates: int = 0
    _seen: set[bytes] = field(default_factory=set, repr=False)

    def add(self, seq: int, data: bytes, offset: timedelta) -> None:
        """Decode and count one message (or record why it is not counted)."""
        self.read += 1
        self.through = max(self.through, seq)
        try:
            event = decode_response(data)
        except (RejectedError, ValidationError, ValueError) as exc:
            reason = (
                describe_validation_error(exc) if isinstance(exc, ValidationError) else str(exc)
            )
            self.rejected_count += 1
            if len(self.rejected) < _MAX_LISTED:
                self.rejected.append((seq, reason))
            return
        if event.event_id.bytes in self._seen:
            self.duplicates += 1
        self._seen.add(event.event_id.bytes)
        key = slice_key(event, offset)
        tally = self.tallies.get(key)
        if tally is None:
            tally = self.tallies[key] = Tally()
        groups = coverage_groups(load_catalogue(event.instrument_id))
        tally.record(event.answers, groups, event.occurred_at, seq)
        self.counted += 1


async def replay(
    nc: Client, into: Replay, *, start: int, upto: int, offset: timedelta, batch: int = 2000
) -> Replay:
    """Fold RESPONSES messages with sequence ``start``..``upto`` into ``into``."""
    if upto < start:
        return into
    js = nc.jetstream()
    info = await js.add_consumer(
        RESPONSES.name,
        api.ConsumerConfig(
            ack_policy=api.AckPolicy.NONE,
            deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=start,
            filter_subject=subjects.RESPONSES_RECORDED,
            inactive_threshold=120.0,
            max_waiting=4,
        ),
    )
    done = asyncio.Event()
    inbox = nc.new_inbox()
    state = {"requested": 0, "received": 0}
    next_subject = f"$JS.API.CONSUMER.MSG.NEXT.{RESPONSES.name}.{info.name}"

    async def request() -> None:
        body = {"batch": batch, "expires": 10_000_000_000}
        state["requested"] += batch
        await nc.publish(next_subject, json.dumps(body).encode(), reply=inbox)

    async def on_message(msg: Msg) -> None:
        if not msg.data:  # status: 404 no messages / 408 timeout -> the log is exhausted
            if (msg.headers or {}).get("Status") in {"404", "408"}:
                done.set()
            return
        state["received"] += 1
        seq = msg.metadata.sequence.stream
        if seq <= upto:
            into.add(seq, msg.data, offset)
        if seq >= upto:
            done.set()
        elif state["requested"] - state["received"] <= batch // 2:
            await request()

    sub = await nc.subscribe(inbox, cb=on_message, pending_msgs_limit=-1, pending_bytes_limit=-1)
    try:
        await request()
        await request()
        await done.wait()
    finally:
        await sub.unsubscribe()
        with contextlib.suppress(Exception):
            await js.delete_consumer(RESPONSES.name, info.name)
    return into


def slices_digest(tallies: dict[SliceKey, Tally]) -> str:
    """SHA-256 of every slice's canonical counts, keyed by slice id."""
    return digest({key.doc_id: tally.canonical() for key, tally in tallies.items()})


def differences(live: dict[SliceKey, Tally], rebuilt: dict[SliceKey, Tally]) -> list[str]:
    """Human-readable differences between two sets of slices (empty when equal)."""
    a = {k.doc_id: t.canonical() for k, t in live.items()}
    b = {k.doc_id: t.canonical() for k, t in rebuilt.items()}
    out = [f"{doc_id}: only in the live counts" for doc_id in sorted(a.keys() - b.keys())]
    out += [f"{doc_id}: only in the replay" for doc_id in sorted(b.keys() - a.keys())]
    for doc_id in sorted(a.keys() & b.keys()):
        if a[doc_id] != b[doc_id]:
            fields = [f for f in a[doc_id] if a[doc_id][f] != b[doc_id][f]]
            out.append(f"{doc_id}: {', '.join(fields)} differ")
    return out


@dataclass
class RebuildResult:
    """What the rebuild found."""

    replay: Replay
    live_digest: str
    rebuilt_digest: str
    live_slices: int
    differences: list[str]
    seconds: float
    started_at: datetime

    @property
    def equal(self) -> bool:
        """Whether the replay reproduces the live counts exactly."""
        return not self.differences

    def summary(self) -> dict[str, Any]:
        """A JSON-ready summary (stored in ``rebuilds`` and printed with ``--json``)."""
        r = self.replay
        return {
            "started_at": self.started_at.isoformat(),
            "equal": self.equal,
            "through_seq": r.through,
            "messages_read": r.read,
            "responses_counted": r.counted,
            "rejected": r.rejected_count,
            "rejected_examples": [{"seq": s, "reason": why} for s, why in r.rejected],
            "duplicate_event_ids": r.duplicates,
            "slices_live": self.live_slices,
            "slices_rebuilt": len(r.tallies),
            "live_digest": self.live_digest,
            "rebuilt_digest": self.rebuilt_digest,
            "differences": self.differences[:_MAX_LISTED],
            "difference_count": len(self.differences),
            "seconds": round(self.seconds, 3),
            "responses_per_second": round(r.read / self.seconds) if self.seconds else None,
        }


async def rebuild(
    nc: Client,
    client: AsyncMongoClient[dict[str, Any]],
    database: str,
    *,
    offset: timedelta,
    write: bool = True,
) -> RebuildResult:
    """Replay the log into fresh tallies and compare them with the live ones."""
    started, clock = datetime.now(UTC), time.monotonic()
    db = client[database]
    live_store = AggregateStore(db)
    folded = Replay()
    target = await live_store.watermark(SCORING_RESPONSES.durable)

    async def read(session: AsyncClientSession) -> tuple[int, dict[SliceKey, Tally]]:
        mark = await live_store.watermark(SCORING_RESPONSES.durable, session)
        return mark, await live_store.tallies(session=session)

    live: dict[SliceKey, Tally] = {}
    for _ in range(MAX_ROUNDS):
        await replay(nc, folded, start=folded.through + 1, upto=target, offset=offset)
        target, live = await in_transaction(client, read)
        if target <= folded.through:
            break
    seconds = time.monotonic() - clock
    result = RebuildResult(
        replay=folded,
        live_digest=slices_digest(live),
        rebuilt_digest=slices_digest(folded.tallies),
        live_slices=len(live),
        differences=differences(live, folded.tallies),
        seconds=seconds,
        started_at=started,
    )
    if write:
        await AggregateStore(db, REBUILT).replace_all(folded.tallies)
        summary = result.summary()
        await db[REBUILDS].insert_one(
            {"_id": summary["started_at"], **json.loads(canonical_json(summary))}
        )
    return result
