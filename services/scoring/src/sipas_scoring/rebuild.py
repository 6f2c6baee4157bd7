"""``sipas scoring rebuild``: replay the RESPONSES log into fresh counts, prove they match.

1. Read, in one snapshot transaction, the live slices and the exact set of stream
   sequences the live consumer has applied (``sipas_runtime.sequences``).
2. Replay the stream from sequence 1 up to the highest applied one through an ephemeral
   pull consumer (no acks, large batches, a callback inbox). Each message the live
   consumer applied (and so validated in full) is read for the fields counting needs and
   folded into fresh tallies by the same functions; each one it did not apply
   (dead-lettered, or still awaiting redelivery) is decoded in full only to say why.
3. Read the live state again; if the live consumer moved on meanwhile, replay what it
   added, until both stand at the same point. Then compare every slice, and the SHA-256
   of the whole set. A *valid* response the live consumer did not count is reported as
   a difference too: that is what an audit should reveal.
4. Write the rebuilt slices to ``aggregates_rebuild`` and a record to ``rebuilds``.

Event ids that appear more than once in the log (a producer re-published after the
stream's de-duplication window) are counted once, as the live consumer does
(``sipas_runtime.republished``), and reported.
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
from sipas_runtime.decoding import RejectedError, describe_validation_error
from sipas_runtime.mongo import in_transaction
from sipas_runtime.sequences import AppliedSequences
from sipas_scoring.domain.counting import Accumulator, Counted, group_sets, slice_key
from sipas_scoring.domain.publication import canonical_json, digest
from sipas_scoring.domain.tally import SliceKey, Tally
from sipas_scoring.handlers import decode_response
from sipas_scoring.store.aggregates import MongoAggregateStore

REBUILT = "aggregates_rebuild"
REBUILDS = "rebuilds"
MAX_ROUNDS = 20
_MAX_LISTED = 20
VALID_NOT_COUNTED = "a valid response the live consumer has not counted"


def _reason(data: bytes) -> str:
    try:
        decode_response(data)
    except ValidationError as exc:
        return describe_validation_error(exc)
    except (RejectedError, ValueError) as exc:
        return str(exc)
    return VALID_NOT_COUNTED


@dataclass
class Replay:
    """Tallies folded from the log, and the messages the live consumer did not apply."""

    offset: timedelta
    accumulators: dict[SliceKey, Accumulator] = field(default_factory=dict)
    through: int = 0
    read: int = 0
    counted: int = 0
    duplicates: int = 0
    skipped: dict[int, bytes] = field(default_factory=dict, repr=False)
    _seen: set[bytes] = field(default_factory=set, repr=False)

    def add(self, seq: int, data: bytes, applied: AppliedSequences) -> None:
        """Fold one message if the live consumer applied it, else keep it aside."""
        self.read += 1
        self.through = max(self.through, seq)
        if seq in applied:
            self._fold(seq, data)
        else:
            self.skipped[seq] = data

    def catch_up(self, applied: AppliedSequences) -> None:
        """Fold messages set aside earlier that the live consumer has applied since."""
        for seq in sorted(s for s in self.skipped if s in applied):
            self._fold(seq, self.skipped.pop(seq))

    def _fold(self, seq: int, data: bytes) -> None:
        event = Counted.model_validate_json(data)  # the live consumer validated it in full
        if event.event_id.bytes in self._seen:
            self.duplicates += 1  # a late copy: the live consumer refused it too
            return
        self._seen.add(event.event_id.bytes)
        key = slice_key(event, self.offset)
        accumulator = self.accumulators.get(key)
        if accumulator is None:
            accumulator = self.accumulators[key] = Accumulator()
        groups = group_sets(load_catalogue(event.instrument_id))
        accumulator.record(event.answers, groups, event.occurred_at, seq)
        self.counted += 1

    @property
    def tallies(self) -> dict[SliceKey, Tally]:
        """The folded counts, one tally per slice."""
        return {key: acc.tally() for key, acc in self.accumulators.items()}

    def not_counted(self) -> list[tuple[int, str]]:
        """Messages the live consumer did not apply, with the reason each is not counted."""
        return [(seq, _reason(self.skipped[seq])) for seq in sorted(self.skipped)]


def stream_sequence(reply: str) -> int:
    """The stream sequence in a JetStream ack subject (cheaper than full metadata).

    ``$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>...`` (9 tokens) or, with a domain
    and account hash, ``$JS.ACK.<domain>.<hash>.<stream>.<consumer>.<delivered>.<sseq>...``.
    """
    tokens = reply.split(".")
    return int(tokens[5] if len(tokens) == 9 else tokens[7])  # noqa: PLR2004 - JetStream format


def _reader(start: int) -> api.ConsumerConfig:
    """An ephemeral consumer from ``start``: no acks, so the server streams at full speed."""
    return api.ConsumerConfig(
        ack_policy=api.AckPolicy.NONE,
        deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE,
        opt_start_seq=start,
        filter_subject=subjects.RESPONSES_RECORDED,
        inactive_threshold=120.0,
        max_waiting=4,
    )


async def replay(
    nc: Client,
    into: Replay,
    applied: AppliedSequences,
    *,
    start: int,
    upto: int,
    batch: int = 2000,
) -> Replay:
    """Read RESPONSES messages with sequence ``start``..``upto`` into ``into``."""
    if upto < start:
        return into
    js = nc.jetstream()
    info = await js.add_consumer(RESPONSES.name, _reader(start))
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
        seq = stream_sequence(msg.reply)
        if seq <= upto:
            into.add(seq, msg.data, applied)
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
    return digest({key.slice_id: tally.canonical() for key, tally in tallies.items()})


def differences(
    live: dict[SliceKey, Tally], rebuilt: dict[SliceKey, Tally], not_counted: list[tuple[int, str]]
) -> list[str]:
    """Human-readable differences (empty when the replay reproduces the live counts)."""
    a = {k.slice_id: t.canonical() for k, t in live.items()}
    b = {k.slice_id: t.canonical() for k, t in rebuilt.items()}
    out = [f"{doc_id}: only in the live counts" for doc_id in sorted(a.keys() - b.keys())]
    out += [f"{doc_id}: only in the replay" for doc_id in sorted(b.keys() - a.keys())]
    for doc_id in sorted(a.keys() & b.keys()):
        if a[doc_id] != b[doc_id]:
            fields = [f for f in a[doc_id] if a[doc_id][f] != b[doc_id][f]]
            out.append(f"{doc_id}: {', '.join(fields)} differ")
    out += [f"seq {seq}: {why}" for seq, why in not_counted if why == VALID_NOT_COUNTED]
    return out


@dataclass
class RebuildResult:
    """What the rebuild found."""

    replay: Replay
    live_digest: str
    rebuilt_digest: str
    live_slices: int
    differences: list[str]
    not_counted: list[tuple[int, str]]
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
            "not_counted": len(self.not_counted),
            "not_counted_examples": [
                {"seq": seq, "reason": why} for seq, why in self.not_counted[:_MAX_LISTED]
            ],
            "duplicate_event_ids": r.duplicates,
            "slices_live": self.live_slices,
            "slices_rebuilt": len(r.accumulators),
            "live_digest": self.live_digest,
            "rebuilt_digest": self.rebuilt_digest,
            "differences": self.differences[:_MAX_LISTED],
            "difference_count": len(self.differences),
            "seconds": round(self.seconds, 3),
            "messages_per_second": round(r.read / self.seconds) if self.seconds else None,
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
    live_store = MongoAggregateStore(db)

    async def read(session: AsyncClientSession) -> tuple[AppliedSequences, dict[SliceKey, Tally]]:
        applied = await live_store.applied(SCORING_RESPONSES.durable, session)
        return applied, await live_store.tallies(session=session)

    folded = Replay(offset)
    applied, live = await in_transaction(client, read)
    for _ in range(MAX_ROUNDS):
        folded.catch_up(applied)
        await replay(nc, folded, applied, start=folded.through + 1, upto=applied.highest)
        again, live = await in_transaction(client, read)
        if again.document() == applied.document():
            break
        applied = again
    seconds = time.monotonic() - clock
    not_counted = folded.not_counted()
    rebuilt = folded.tallies
    result = RebuildResult(
        replay=folded,
        live_digest=slices_digest(live),
        rebuilt_digest=slices_digest(rebuilt),
        live_slices=len(live),
        differences=differences(live, rebuilt, not_counted),
        not_counted=not_counted,
        seconds=seconds,
        started_at=started,
    )
    if write:
        await MongoAggregateStore(db, REBUILT).replace_all(rebuilt)
        summary = result.summary()
        await db[REBUILDS].insert_one(
            {"_id": summary["started_at"], **json.loads(canonical_json(summary))}
        )
    return result
