"""Resume from the store's own position: replay what the broker acked but the store lost.

A consumer acks a message only after its effect has committed, so the broker never
delivers it again. If the store then loses that commit (a server without sync on
commit, a restore, a failover to a lagging member), only the store can tell: its
*applied position* (``sipas_runtime.positions``) has a gap the broker knows nothing about.
So at start, and whenever the store's server process changes, every consumer runs
:func:`resume`:

1. its position: the sequences its store says it applied, and the ones it dead-lettered;
2. :func:`gaps`: the sequences up to the durable's :func:`ack_floor` that are in neither.
   Every sequence at or below the floor was acked, and a consumer acks only after its
   effect committed (or after recording the dead letter), so a gap there is a lost
   commit. Above the floor, unacked messages come back from the broker by themselves;
   acked ones whose commit was lost are found by the next check, which the service runs
   every minute, once the floor has passed them. (Replaying above the floor would race
   the broker's own redeliveries and their delivery count.)
3. :func:`replay` reads each gap back from the stream by sequence and hands the messages
   that match the consumer's filter to ``consumer.apply`` — the same decode, dedup and
   handler path as a delivery, so what the store still holds is recognised as a replay;
4. sequences of a gap that hold no message for it (deleted, or another subject) are
   recorded as covered, so the next resume does not read them again.

Several instances may resume the same consumer at once, and live deliveries may overlap
a replay: both are the situation of two instances sharing a durable, which every dedup
mode already handles (sequence: conditional writes; event id: unique markers; handler:
its own state). A store that loses its last commits therefore costs a replay, never an
event.

The same two calls resume a consumer whose state lives in memory with checkpoints
(issue #22, ``sipas_runtime.memory``): it loads its checkpoint (state and its
``AppliedSequences``), then replays ``gaps(checkpoint.applied, await delivered(js,
spec))`` before consuming — up to what the durable *handed out*, not only what it
acked: such a consumer acks as soon as a message is folded in memory, so a message the
previous owner received and never acked must be folded too, now rather than after
``ack_wait``; it comes again later, and is skipped as applied.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import structlog
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from sipas_contracts.streams import ConsumerSpec
from sipas_runtime.messages import StreamMessage, subject_matches
from sipas_runtime.sequences import AppliedSequences

log = structlog.get_logger(__name__)
READ_AHEAD = 64  # sequences read back concurrently
Apply = Callable[[Sequence[StreamMessage]], Awaitable[Any]]
Span = tuple[int, int]


class Resumable(Protocol):
    """What :func:`resume` needs of a consumer (``IdempotentConsumer`` is one)."""

    spec: ConsumerSpec
    applied_fresh: int
    """How many deliveries it has applied (not recognised as replays) since it started."""

    async def position(self) -> AppliedSequences:
        """The sequences its store holds the effects of."""

    async def dead_sequences(self) -> set[int]:
        """The sequences it dead-lettered (not applied, not to be replayed)."""

    async def apply(self, messages: Sequence[StreamMessage], *, wait: bool = True) -> None:
        """Apply messages read back from the stream, de-duplicated as deliveries are."""

    async def cover(self, spans: list[Span]) -> None:
        """Record sequences that hold no message for it."""


@dataclass(frozen=True)
class Resumed:
    """What :func:`resume` did for one consumer."""

    durable: str
    upto: int
    gaps: list[Span]
    read_back: int
    """Messages read back from the stream and handed to the consumer."""
    reapplied: int
    """Of those, how many its store did not hold (lost commits, applied again now)."""


async def ack_floor(js: JetStreamContext, spec: ConsumerSpec) -> int:
    """The last stream sequence up to which ``spec``'s durable has acked everything."""
    try:
        info = await js.consumer_info(spec.stream, spec.durable)
    except NotFoundError:  # a durable not created yet has acked nothing
        return 0
    return int(info.ack_floor.stream_seq or 0) if info.ack_floor else 0


async def delivered(js: JetStreamContext, spec: ConsumerSpec) -> int:
    """The last stream sequence ``spec``'s durable has handed out, acked or not.

    A consumer that keeps its state in memory replays up to here when it takes the durable
    over: besides what was acked after its checkpoint, what was delivered to the previous
    owner and never acked would otherwise come back only after ``ack_wait``.
    """
    try:
        info = await js.consumer_info(spec.stream, spec.durable)
    except NotFoundError:
        return 0
    return int(info.delivered.stream_seq or 0) if info.delivered else 0


def gaps(applied: AppliedSequences, upto: int, skip: Collection[int] = ()) -> list[Span]:
    """Sequences up to ``upto`` neither in ``applied`` nor in ``skip``.

    Read the ack floor (``upto``) *before* the position: whatever the floor covers was
    committed before it was read, so a position read afterwards holds it unless it was
    lost (read the other way round, a batch committed in between looks missing: a
    harmless replay, but a false alarm).
    """
    return _without(applied.missing(upto), skip)


async def last_delivery(js: JetStreamContext, spec: ConsumerSpec) -> tuple[int, int]:
    """The delivery and stream sequences of what ``spec``'s durable handed out last.

    The stream sequence is :func:`delivered`'s; the delivery sequence lets a consumer tell
    that the next message it receives is the very next one handed out
    (``sipas_runtime.passed``).
    """
    try:
        info = await js.consumer_info(spec.stream, spec.durable)
    except NotFoundError:
        return 0, 0
    if not info.delivered:
        return 0, 0
    return int(info.delivered.consumer_seq or 0), int(info.delivered.stream_seq or 0)


async def replay(
    js: JetStreamContext,
    spec: ConsumerSpec,
    first: int,
    last: int,
    apply: Apply,
    *,
    seen: set[int] | None = None,
) -> int:
    """Hand stream sequences ``first``..``last`` matching ``spec``'s filter to ``apply``.

    In sequence order, at most ``READ_AHEAD`` at a time, read back by sequence (a message
    deleted since is skipped). Returns how many messages were handed over, and adds their
    sequences to ``seen`` if given.
    """
    handed = 0
    for start in range(first, last + 1, READ_AHEAD):
        chunk = range(start, min(start + READ_AHEAD, last + 1))
        found = await asyncio.gather(*(_read(js, spec.stream, seq) for seq in chunk))
        wanted = [m for m in found if m is not None and _matches(spec, m.subject)]
        if seen is not None:
            seen.update(m.seq for m in wanted)
        if wanted:
            await apply(wanted)
            handed += len(wanted)
    return handed


async def resume(js: JetStreamContext, consumer: Resumable) -> Resumed:
    """Replay what the durable acked and the consumer's store does not hold."""
    spec = consumer.spec
    upto = await ack_floor(js, spec)
    todo = gaps(await consumer.position(), upto, await consumer.dead_sequences())
    before = consumer.applied_fresh
    read_back = 0
    for first, last in todo:
        read_back += await replay(js, spec, first, last, consumer.apply)
    reapplied = consumer.applied_fresh - before
    if todo:
        after = await consumer.position()
        empty = _within(after.missing(upto), todo)
        await consumer.cover(_without(empty, await consumer.dead_sequences()))
    if reapplied:
        log.warning("lost_commits_replayed", consumer=spec.durable, messages=reapplied,
                    ranges=todo[:20])  # fmt: skip
    log.info("resumed", consumer=spec.durable, upto=upto, gaps=len(todo),
             read_back=read_back, reapplied=reapplied)  # fmt: skip
    return Resumed(spec.durable, upto, todo, read_back, reapplied)


async def _read(js: JetStreamContext, stream: str, seq: int) -> StreamMessage | None:
    try:
        raw = await js.get_msg(stream, seq)
    except NotFoundError:
        return None
    return StreamMessage(
        stream=stream,
        seq=seq,
        subject=raw.subject or "",
        data=raw.data or b"",
        headers=raw.headers,
        stored_at=raw.time,
    )


def _matches(spec: ConsumerSpec, subject: str) -> bool:
    return any(subject_matches(pattern, subject) for pattern in spec.filter_subjects)


def _without(spans: list[Span], skip: Collection[int]) -> list[Span]:
    """``spans`` with the sequences in ``skip`` cut out."""
    out: list[Span] = []
    cuts = sorted(skip)
    for first, last in spans:
        start = first
        for seq in cuts:
            if start <= seq <= last:
                if seq > start:
                    out.append((start, seq - 1))
                start = seq + 1
        if start <= last:
            out.append((start, last))
    return out


def _within(spans: list[Span], bounds: list[Span]) -> list[Span]:
    """The parts of ``spans`` that lie inside one of ``bounds``."""
    out: list[Span] = []
    for first, last in spans:
        for low, high in bounds:
            start, end = max(first, low), min(last, high)
            if start <= end:
                out.append((start, end))
    return out
