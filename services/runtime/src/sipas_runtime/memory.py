"""A consumer whose state lives in memory: folded as messages arrive, checkpointed, resumed.

The log is the source of truth (issue #22): a hot consumer folds each message into state
it keeps in memory and acts from there, with no store round trip between a message and
what it causes. The store holds *checkpoints* (``sipas_runtime.checkpoints``): the changed
documents and the position they describe, in one transaction, group-committed.

- **One owner.** Its durable is pinned (``sipas_runtime.pinning``): one instance at a time
  receives its messages. Becoming the owner (:meth:`MemoryConsumer.take_over`) = claim the
  position (fencing the previous owner's checkpoints), load the checkpoint, then replay
  through the resume primitive (``sipas_runtime.resume``) every sequence the durable handed
  out that the checkpoint lacks; then ``on_take_over`` (if any) gets the checkpoint loaded,
  for work only the owner may do (scoring: finish a retired durable's marks). Losing the
  pin (423) or a fenced checkpoint drops the state.
  The server pins a client only to deliver it a message: when the owner died and nothing
  more comes, a standby *adopts* the unpinned durable whose checkpoint lags what it handed
  out (:meth:`MemoryConsumer.adopt_orphan`), or the last folded messages would wait in no
  checkpoint and in no index until the next event, however late.
- **Partitions.** ``active`` says whether this instance should own the durable now (the
  rendezvous rule of ``sipas_runtime.partitions``); while it does not, it pulls nothing and
  adopts nothing, and :meth:`MemoryConsumer.hand_over` gives up a durable it holds.
- **Exactly once.** A message is acked once folded; the in-memory position skips what is
  applied (and what this owner dead-lettered), so nothing is folded twice; an event id
  published again after the duplicate window is refused (``sipas_runtime.republished``).
  A crash loses only what was folded since the last checkpoint: the next owner replays it.
- **Poison messages** go to the dead-letter queue; ``MemoryState.fold`` applies a batch all
  or nothing, and a refused batch is folded one message at a time to find the culprit.
- **Store restarted** (``Recovery.watch_store``): the next checkpoint re-reads the position
  (still ours: adopt its version) and rewrites every document of the state.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, Literal, TypeVar

import structlog
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from sipas_contracts.streams import ConsumerSpec
from sipas_runtime import checkpoints
from sipas_runtime.admission import Admission
from sipas_runtime.batches import Delivery
from sipas_runtime.checkpoints import Checkpointer, CheckpointPolicy, MemoryState
from sipas_runtime.consumer import NotDeadError
from sipas_runtime.decoding import Decoder, MessageDecoder, message_decoder
from sipas_runtime.dlq import letters
from sipas_runtime.dlq.letters import DeadLetters, failure_reason
from sipas_runtime.messages import StreamMessage
from sipas_runtime.metrics import RuntimeMetrics
from sipas_runtime.mongo import Document, in_transaction
from sipas_runtime.passed import Delivery as Delivered
from sipas_runtime.passed import PassedOver
from sipas_runtime.pinning import GROUP, ensure_pinned, pin_of, pinned, unpin
from sipas_runtime.pull import PullLoop
from sipas_runtime.republished import RepublishedGuard
from sipas_runtime.resume import ack_floor, delivered, gaps, last_delivery, replay
from sipas_runtime.sequences import AppliedSequences
from sipas_runtime.stopping import cancel_all
from sipas_runtime.streams import consumer_config

E = TypeVar("E")
log = structlog.get_logger(__name__)
TakeOverHook = Callable[[JetStreamContext, AppliedSequences], Awaitable[object]]
"""Called by a new owner with the checkpoint it loaded (see :meth:`MemoryConsumer.take_over`)."""


class MemoryConsumer(Generic[E]):
    """Folds one pinned durable into a :class:`MemoryState`; checkpoints it; resumes it."""

    def __init__(
        self,
        *,
        spec: ConsumerSpec,
        decode: Decoder[E] | None = None,
        decode_message: MessageDecoder[E] | None = None,
        state: MemoryState[E],
        client: Callable[[], AsyncMongoClient[Document]],
        database: str,
        dead_letters: Callable[[], DeadLetters],
        metrics: RuntimeMetrics,
        instance: str,
        policy: CheckpointPolicy | None = None,
        max_deliveries: int = 10,
        republished: RepublishedGuard | None = None,
        on_applied: Callable[[], None] | None = None,
        active: Callable[[], bool] | None = None,
        on_take_over: TakeOverHook | None = None,
    ) -> None:
        self.spec = spec
        self._on_take_over = on_take_over
        self._active = active or (lambda: True)
        self._partitioned = active is not None
        self.state = state
        decoder = message_decoder(decode, decode_message)
        self._admission = Admission(spec.durable, decoder, dead_letters, metrics, max_deliveries)
        self._client = client
        self._database = database
        self._metrics = metrics
        self._policy = policy or CheckpointPolicy()
        self._checkpoints = Checkpointer(client, database, spec.durable, instance, self._policy)
        self._max_deliveries = max_deliveries
        self._republished = republished
        self._on_applied = on_applied
        self._labels = (metrics.service, spec.durable)
        self.applied = AppliedSequences()
        """The sequences the state in memory holds (the owner's; empty otherwise)."""
        self.applied_fresh = 0
        self._dead: set[int] = set()  # dead-lettered, not in ``applied``: never again
        self._passed = PassedOver()  # other subjects' sequences, recorded as applied
        self.owner = False
        self._pin: str | None = None
        self._generation = 0  # raised whenever the state changes hands
        self._lock = asyncio.Lock()
        self._taking = asyncio.Lock()  # one take-over at a time (a message's, an orphan's)
        self._task: asyncio.Task[None] | None = None
        self._nc: Client | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def pull_loop(
        self, nc: Client, js: JetStreamContext, *, batch: int, linger: float, pace: float = 0.0
    ) -> PullLoop:
        """The pull loop of this consumer's pinned durable (it creates the durable)."""
        self._nc = nc
        config = consumer_config(self.spec, max_deliver=self._max_deliveries)

        async def ensure() -> None:
            stored = await checkpoints.read(self._db, self.spec.durable)
            await ensure_pinned(
                nc, self.spec, config, unpinned_after=self._policy.owner_timeout,
                start_seq=stored.applied.floor + 1,
            )  # fmt: skip

        async def on_batch(messages: list[Msg]) -> None:
            try:
                await self.receive(js, messages)
            except Exception:
                log.exception("batch_failed", consumer=self.spec.durable, size=len(messages))
                for msg in messages:
                    with contextlib.suppress(Exception):
                        await msg.nak(delay=1.0)

        if self._task is None:
            loops = self._background(js)
            self._task = asyncio.create_task(loops, name=f"memory:{self.spec.durable}")
        # The server unpins a client that has not pulled for owner_timeout: ask well within it.
        max_wait = min(2.0, self._policy.owner_timeout / 4)
        return PullLoop(
            nc, js, stream=self.spec.stream, config=config, handler=on_batch, batch=batch,
            linger=linger, max_wait=max_wait, pace=pace, group=GROUP, ensure=ensure,
            on_pin_lost=lambda: self.lose("unpinned"), active=self._active,
        )  # fmt: skip

    async def settled(self) -> None:
        """Write a last checkpoint and let another instance take the durable at once."""
        if self._task is not None:
            await cancel_all([self._task])
            self._task = None
        await self.hand_over("stopped")

    async def hand_over(self, why: str = "handed_over") -> None:
        """Checkpoint and unpin now: another instance should own the durable (or we stop)."""
        if self.owner:
            with contextlib.suppress(Exception):
                await self.checkpoint()
            if self._nc is not None and self._nc.is_connected:
                with contextlib.suppress(Exception):
                    await unpin(self._nc, self.spec)
        self.lose(why)

    async def killed(self) -> None:
        """What kill -9 leaves of this instance (tests): nothing runs, checkpoints or hands over."""
        if self._task is not None:
            await cancel_all([self._task])
            self._task = None
        self.lose("killed")

    @property
    def _db(self) -> AsyncDatabase[Document]:
        return self._client()[self._database]

    # -- ownership -----------------------------------------------------------------------------
    async def receive(self, js: JetStreamContext, messages: Sequence[Msg]) -> None:
        """A delivered batch: take the durable over first if it was just pinned here."""
        pin = next((p for p in map(pin_of, messages) if p), None)
        if not self.owner or (pin is not None and pin != self._pin):
            await self.take_over(js, pin)
        received = [StreamMessage.received(m) for m in messages]
        if self.owner:
            for msg in received:
                passed = self._passed.see(_delivery(msg))
                if passed is not None:
                    self.applied.add_range(*passed)
        await self.apply(received)

    async def take_over(self, js: JetStreamContext, pin: str | None) -> None:
        """Claim the position, load the checkpoint, replay what it lacks (module docstring)."""
        async with self._taking:
            await self._take_over(js, pin)

    async def _take_over(self, js: JetStreamContext, pin: str | None) -> None:
        async with self._lock:
            started = time.monotonic()
            self._generation += 1
            await self._checkpoints.take()
            self.state.clear()
            stored = await checkpoints.load(
                self._client(), self._database, self.spec.durable,
                lambda session: self.state.load(self._db, session),
            )  # fmt: skip
            self.applied, checkpointed = stored.applied, stored.applied.floor
            self.state.restored(stored.applied, stored.extra)
            self.owner, self._pin = True, pin
            self._dead = await self.dead_sequences()
        self._passed.reset()
        cursor = await last_delivery(js, self.spec)
        upto = cursor[1]
        todo = gaps(self.applied, upto, self._dead)
        read_back, handed = 0, set[int]()
        for first, last in todo:
            read_back += await replay(js, self.spec, first, last, self.apply, seen=handed)
        self._cover(todo, handed)
        self._passed.start(*cursor)
        if self._on_take_over is not None:
            try:
                await self._on_take_over(js, stored.applied)
            except Exception:  # its work waits for the next take-over; the state is ours
                log.exception("take_over_hook_failed", consumer=self.spec.durable)
        seconds = round(time.monotonic() - started, 3)
        log.info("took_over", consumer=self.spec.durable, checkpoint=checkpointed,
                 upto=upto, replayed=read_back, seconds=seconds)  # fmt: skip

    def _cover(self, replayed: list[tuple[int, int]], handed: set[int]) -> None:
        """Record as applied the replayed sequences that held no message for this durable.

        Another subject's, or deleted: never delivered here, they would stay ranges of
        their own (``sipas_runtime.passed``) and be read back at every take-over.
        """
        if not self.owner:
            return
        for first, last in replayed:
            start = first
            for seq in sorted(s for s in handed | self._dead if first <= s <= last):
                if seq > start:
                    self.applied.add_range(start, seq - 1)
                start = seq + 1
            if start <= last:
                self.applied.add_range(start, last)

    async def adopt_orphan(self, js: JetStreamContext) -> bool:
        """Take the durable over without a pin if nobody holds it and its checkpoint lags.

        The instance a partition should go to (``active`` given) adopts it even when its
        checkpoint is complete: its next message is decided at once, not after a take-over
        (a partition handed over, or whose owner died, has no pin until a message comes).
        Two standbys may both adopt: the later claim fences the earlier (as after a switch
        of pins), and the next message pins one of them, which takes the durable over again.
        """
        if self.owner or not self._active() or self._nc is None:
            return False
        if await pinned(self._nc, self.spec):
            return False
        stored = await checkpoints.read(self._db, self.spec.durable)
        upto = await delivered(js, self.spec)
        lags = gaps(stored.applied, upto, await self.dead_sequences())
        if not lags and not self._partitioned:
            return False
        async with self._taking:
            if self.owner:  # a message pinned this instance meanwhile
                return False
            (log.warning if lags else log.info)(
                "durable_orphaned", consumer=self.spec.durable, upto=upto
            )
            await self._take_over(js, None)
        await self.checkpoint()
        return True

    async def _background(self, js: JetStreamContext) -> None:
        await asyncio.gather(self._checkpoints.run(self.checkpoint), self._watch(js))

    async def _watch(self, js: JetStreamContext) -> None:
        """Twice per owner timeout, a standby looks for an orphan (:meth:`adopt_orphan`)."""
        while True:
            await asyncio.sleep(self._policy.owner_timeout / 2)
            try:
                await self.adopt_orphan(js)
            except Exception:  # the server or the store is down: the next round looks again
                log.exception("orphan_check_failed", consumer=self.spec.durable)

    def lose(self, why: str) -> None:
        """Drop the state: another instance owns the durable (or this one stops)."""
        if self.owner:
            (log.info if why == "stopped" else log.warning)(
                "durable_lost", consumer=self.spec.durable, why=why
            )
        self.owner, self._pin = False, None
        self._generation += 1
        self.applied = AppliedSequences()
        self._passed.reset()
        self._dead = set()
        self.state.clear()

    # -- applying ------------------------------------------------------------------------------
    async def apply(self, messages: Sequence[StreamMessage], *, wait: bool = True) -> None:  # noqa: ARG002 - same call as IdempotentConsumer.apply
        """Fold what the state does not hold yet, then ack every message.

        An instance that does not own the state (it just lost the pin) folds and acks
        nothing: the messages come again, to the owner. So does one that loses it while the
        batch is admitted (``lose`` does not wait for the lock): the state it would fold
        into is a dropped one, never loaded, and a message it failed on is not poison.
        """
        started = time.monotonic()
        async with self._lock:
            if not self.owner:
                return
            todo: dict[int, StreamMessage] = {}  # one copy of each (a redelivery may join it)
            for m in messages:
                if m.seq not in self.applied and m.seq not in self._dead:
                    todo.setdefault(m.seq, m)
            if not await self._fold(list(todo.values()), self._generation):
                return
        for msg in messages:
            await msg.ack()
        self._metrics.batch_messages.labels(*self._labels).observe(len(messages))
        self._metrics.handler_duration.labels(*self._labels).observe(time.monotonic() - started)
        if self._on_applied is not None:
            self._on_applied()

    async def _fold(self, messages: list[StreamMessage], generation: int) -> bool:
        """Fold the messages; False if the state was dropped meanwhile (nothing folded)."""
        deliveries = [d for d in [await self._admission.admit(m) for m in messages] if d]
        self._dead.update({m.seq for m in messages} - {d.seq for d in deliveries})
        repeats: set[int] = set()
        if self._republished is not None and deliveries:
            marked = self._checkpoints.markers
            repeats, markers = await self._republished.screen(deliveries, None, marked)
            marked.update({m["_id"]: m for m in markers})
        if self._generation != generation:
            return False
        fresh = [d for d in deliveries if id(d) not in repeats]
        if fresh:
            try:
                fresh = await self._fold_all(fresh, {m.seq: m for m in messages}, generation)
            except checkpoints.NotReadyError as exc:
                log.info("state_not_ready", consumer=self.spec.durable, why=str(exc))
                for msg in messages:  # they come again once the state has what it needs
                    await msg.nak(checkpoints.NOT_READY_DELAY)
                return False
            if self._generation != generation:
                return False
        done = {d.seq for d in fresh} | {d.seq for d in deliveries if id(d) in repeats}
        self.applied.add(done)
        self.applied_fresh += len(fresh)
        self._checkpoints.folded(len(done))
        self._metrics.consumed.labels(*self._labels, "applied").inc(len(fresh))
        self._metrics.consumed.labels(*self._labels, "duplicate").inc(len(repeats))
        self._metrics.observe_ages(self.spec.durable, (d.event for d in fresh))
        return True

    async def _fold_all(
        self, deliveries: list[Delivery[E]], by_seq: dict[int, StreamMessage], generation: int
    ) -> list[Delivery[E]]:
        """Fold them; if one fails, find it one at a time (a state not ready raises)."""
        try:
            self.state.fold(deliveries)
        except checkpoints.NotReadyError:
            raise
        except Exception:  # noqa: BLE001 - the culprit is found (and logged) one at a time
            return await self._fold_one_by_one(deliveries, by_seq, generation)
        return deliveries

    async def _fold_one_by_one(
        self, deliveries: list[Delivery[E]], by_seq: dict[int, StreamMessage], generation: int
    ) -> list[Delivery[E]]:
        folded = []
        for delivery in deliveries:
            if self._generation != generation:
                break  # dropped while a dead letter was sent: the rest is not this state's
            try:
                self.state.fold([delivery])
            except checkpoints.NotReadyError:
                raise
            except Exception as exc:
                log.exception("handler_failed", consumer=self.spec.durable, seq=delivery.seq)
                why = failure_reason(exc)
                await self._admission.dead_letter(by_seq[delivery.seq], "handler_error", why)
                self._dead.add(delivery.seq)
                continue
            folded.append(delivery)
        return folded

    # -- checkpoints ---------------------------------------------------------------------------
    async def checkpoint(self) -> bool:
        """Write what changed and the position, if this instance owns the state."""
        if not self.owner:
            return False
        generation = self._generation
        try:
            return await self._checkpoints.write(
                self.state,
                lambda: self.applied,
                lambda: self.owner and generation == self._generation,
            )
        except checkpoints.FencedError:
            self.lose("fenced")
            return False

    # -- recovery (sipas_runtime.recovery) -----------------------------------------------------
    async def recover(self, js: JetStreamContext) -> None:
        """The owner replays what its durable acked and its memory lacks (normally nothing)."""
        if not self.owner:
            return
        upto = await ack_floor(js, self.spec)
        for first, last in gaps(self.applied, upto, await self.dead_sequences()):
            await replay(js, self.spec, first, last, self.apply)

    def forget(self) -> None:
        """The store's server changed: it may have lost checkpoints (see the docstring)."""
        self._checkpoints.store_changed()

    async def dead_sequences(self) -> set[int]:
        """The sequences this consumer dead-lettered and nobody replayed since."""
        return await letters.dead_sequences(self._db, self.spec.durable)

    async def replay_dead_letter(self, msg: StreamMessage) -> Literal["applied", "already_applied"]:
        """Take the dead letter's record; the owner folds the message (now, or at its check).

        On an instance that does not own the state, taking the record is enough: the
        owner's next position check (``Recovery``, every minute) finds the sequence acked
        and not applied, and replays it from the stream.
        """
        if msg.seq in self.applied:
            return "already_applied"

        async def work(session: AsyncClientSession) -> None:
            if not await letters.take(self._db, self.spec.durable, msg.seq, session):
                raise NotDeadError(f"{self.spec.durable} has no dead letter of seq {msg.seq}")

        await in_transaction(self._client(), work)
        self._dead.discard(msg.seq)
        await self.apply([msg])
        return "applied"


def _delivery(msg: StreamMessage) -> Delivered:
    meta = msg.delivered.metadata if msg.delivered is not None else None
    return Delivered(
        consumer_seq=meta.sequence.consumer if meta is not None else -1,
        stream_seq=msg.seq,
        first=msg.deliveries == 1,
        pin=pin_of(msg.delivered) if msg.delivered is not None else None,
    )
