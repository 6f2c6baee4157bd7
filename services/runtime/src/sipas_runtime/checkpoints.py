"""Checkpoints of state kept in memory: the state's documents and its position, fenced.

A consumer that owns its state in memory (``sipas_runtime.memory``) writes, from time to
time, the documents that changed and the stream sequences the state holds (its
``AppliedSequences``) in ONE transaction, so the store always holds a state together
with exactly the position it describes. The position document is the one every
consumer keeps (``consumer_watermarks``, ``{_id: durable, seq, ranges, max}``) plus:

- ``owner``: the instance that holds the durable, and ``v``: a number it raises with
  every checkpoint. Taking over (:func:`claim`) sets both; each checkpoint is written on
  condition that they are still the ones it set, so an instance that lost the durable
  without noticing (paused past the pin timeout) can never overwrite its successor's
  state: its checkpoint fails with :class:`FencedError` and it steps down. A claim first
  ends the previous owner's sessions (``sipas_runtime.sessions``): an owner killed inside
  a checkpoint left its transaction open on this very document, and the claim would
  otherwise wait a minute for the store to reap it;
- whatever the state adds (e.g. scoring's ``published``: how far its index events went).

Group commit (:class:`Checkpointer`): a checkpoint is written every ``interval`` seconds,
or as soon as ``events`` messages were folded since the last one, whichever comes first;
it costs one transaction whatever it holds. Markers of late events the state refused to
apply twice (``sipas_runtime.republished``) are written with it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import structlog
from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from sipas_runtime import sessions
from sipas_runtime.batches import Delivery
from sipas_runtime.mongo import Document, in_transaction
from sipas_runtime.positions import PROCESSED, WATERMARKS
from sipas_runtime.sequences import AppliedSequences
from sipas_runtime.writes import Writes

E = TypeVar("E")
log = structlog.get_logger(__name__)


class NotReadyError(Exception):
    """Raised by :meth:`MemoryState.fold` when it cannot fold a message *yet*.

    Something it needs comes with its next refresh (sampling: a new campaign's vault key).
    The batch is neither folded nor acked, nor dead-lettered: it comes again after
    ``NOT_READY_DELAY``.
    """


NOT_READY_DELAY = 1.0


class MemoryState(Protocol[E]):
    """State folded from a stream in memory, with its checkpoint documents."""

    def fold(self, deliveries: Sequence[Delivery[E]], /) -> None:
        """Apply deliveries never applied before, all of them or none (raise).

        Raises :class:`NotReadyError` to have them delivered again a little later.
        """

    async def load(self, db: AsyncDatabase[Document], session: AsyncClientSession) -> None:
        """Replace what is in memory by the stored documents (read in ``session``)."""

    def restored(self, applied: AppliedSequences, extra: Document) -> None:
        """The checkpoint just loaded held ``applied`` and these extra position fields."""

    def clear(self) -> None:
        """Forget everything (this instance no longer owns the durable)."""

    def contents(self, writes: Writes) -> Document:
        """Add the documents changed since the last checkpoint; return extra position fields.

        Called without awaiting between it and reading the position: what it writes must be
        the state as it is at this call.
        """

    def saved(self) -> None:
        """The writes of the last :meth:`contents` have committed.

        Folds may have happened since that call (the transaction awaited the store): what
        they changed is still to be written at the next checkpoint.
        """

    def touch_all(self) -> None:
        """Rewrite every document at the next checkpoint (the store may have lost some)."""


@dataclass(frozen=True)
class CheckpointPolicy:
    """When checkpoints are written, and how soon another instance takes a dead one's place."""

    interval: float = 1.0
    events: int = 5000
    owner_timeout: float = 10.0


class FencedError(Exception):
    """Raised when another instance has taken the durable over (this one must step down)."""

    def __init__(self, durable: str, owner: str) -> None:
        super().__init__(f"{durable} is no longer owned by {owner}")


@dataclass
class Checkpoint:
    """A position as stored: what the state holds, who wrote it, and its version."""

    applied: AppliedSequences = field(default_factory=AppliedSequences)
    owner: str = ""
    version: int = 0
    extra: Document = field(default_factory=dict)

    @classmethod
    def from_document(cls, doc: Mapping[str, Any] | None) -> Checkpoint:
        """Read the stored form (absent = nothing applied yet)."""
        if not doc:
            return cls()
        known = {"_id", "seq", "ranges", "max", "owner", "v"}
        return cls(
            AppliedSequences.from_document(doc),
            str(doc.get("owner", "")),
            int(doc.get("v", 0)),
            {k: v for k, v in doc.items() if k not in known},
        )


async def read(
    db: AsyncDatabase[Document], durable: str, session: AsyncClientSession | None = None
) -> Checkpoint:
    """The stored checkpoint of ``durable``."""
    return Checkpoint.from_document(
        await db[WATERMARKS].find_one({"_id": durable}, session=session)
    )


async def claim(client: AsyncMongoClient[Document], database: str, durable: str, owner: str) -> int:
    """Make ``owner`` the durable's owner; returns the version its next checkpoint expects.

    Checkpoints of the previous owner written after this fail (their condition names the
    old owner and version). Its sessions are ended first (module docstring).
    """
    recorded = sessions.of(client)
    previous = (await read(client[database], durable)).owner
    if recorded is not None and previous:
        try:
            await recorded.end(previous)
        except Exception:  # the claim still wins, later: when the store reaps the session
            log.exception("previous_owner_sessions_not_ended", consumer=durable, owner=previous)

    async def work(session: AsyncClientSession) -> int:
        stored = await read(client[database], durable, session)
        version = stored.version + 1
        await client[database][WATERMARKS].update_one(
            {"_id": durable},
            {"$set": {"owner": owner, "v": version}},
            upsert=True,
            session=session,
        )
        return version

    return await in_transaction(client, work)


Contents = Callable[[Writes], Document]
"""Adds the state's changed documents to the writes; returns the position's extra fields."""


async def save(
    client: AsyncMongoClient[Document],
    database: str,
    durable: str,
    *,
    owner: str,
    version: int,
    applied: Callable[[], AppliedSequences],
    contents: Contents,
) -> int:
    """Write the changed documents and the position together; returns the next version.

    ``applied`` and ``contents`` are called together, without awaiting in between, at each
    attempt (a transaction retried after a transient error builds its writes again), so
    the position written is exactly the one of the documents written.
    """

    def fenced() -> BaseException:
        return FencedError(durable, owner)

    async def work(session: AsyncClientSession) -> int:
        writes = Writes(database)
        extra = contents(writes)
        position = applied().document()
        writes.update(
            WATERMARKS,
            {"_id": durable, "owner": owner, "v": version},
            {"$set": {**position, **extra, "v": version + 1}},
            guard=fenced,
        )
        await writes.flush(client, session)
        return version + 1

    return await in_transaction(client, work)


async def load(
    client: AsyncMongoClient[Document],
    database: str,
    durable: str,
    state: Callable[[AsyncClientSession], Awaitable[None]],
) -> Checkpoint:
    """Read the state (``state`` reads its documents) and its position in one snapshot."""

    async def work(session: AsyncClientSession) -> Checkpoint:
        await state(session)
        return await read(client[database], durable, session)

    return await in_transaction(client, work)


class _SupersededError(Exception):
    """The state changed hands while a checkpoint was being prepared: write nothing."""


class Checkpointer:
    """Group commit of one consumer's in-memory state (see the module docstring)."""

    def __init__(
        self,
        client: Callable[[], AsyncMongoClient[Document]],
        database: str,
        durable: str,
        instance: str,
        policy: CheckpointPolicy,
    ) -> None:
        self._client = client
        self._database = database
        self._durable = durable
        self._instance = instance
        self._policy = policy
        self._version = 0
        self._pending = 0
        self._store_changed = False
        self.markers: dict[str, Document] = {}
        """Markers of late events applied since the last checkpoint (written with the next)."""
        self._full = asyncio.Event()
        self._writing = asyncio.Lock()  # one checkpoint at a time (each expects the version)

    async def take(self) -> int:
        """Claim the durable for this instance (fences the previous owner); start afresh."""
        async with self._writing:  # after a checkpoint in flight, which the claim would fence
            self._version = await claim(
                self._client(), self._database, self._durable, self._instance
            )
        self._pending, self._store_changed, self.markers = 0, False, {}
        return self._version

    def folded(self, count: int) -> None:
        """``count`` more messages are in the state: write soon if they are many."""
        self._pending += count
        if self._pending >= self._policy.events:
            self._full.set()

    def store_changed(self) -> None:
        """The store's server changed: it may have lost checkpoints."""
        self._store_changed = True

    async def run(self, checkpoint: Callable[[], Awaitable[object]]) -> None:
        """Call ``checkpoint`` every ``interval``, or sooner when ``events`` are pending."""
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._policy.interval):
                    await self._full.wait()
            self._full.clear()
            try:
                await checkpoint()
            except Exception:  # the store is down: the next round tries again
                log.exception("checkpoint_failed", consumer=self._durable)

    async def write(
        self,
        state: MemoryState[Any],
        applied: Callable[[], AppliedSequences],
        current: Callable[[], bool],
    ) -> bool:
        """Write what changed and the position; False when there was nothing to write.

        ``current`` says whether the state is still the one this write started from (it
        was not dropped or taken over meanwhile). Raises :class:`FencedError` when another
        instance owns the durable now.
        """
        async with self._writing:
            return await self._write(state, applied, current)

    async def _write(
        self,
        state: MemoryState[Any],
        applied: Callable[[], AppliedSequences],
        current: Callable[[], bool],
    ) -> bool:
        if self._store_changed:
            await self._adopt_stored_version(state)
        elif not self._pending:
            return False  # nothing folded since the last one
        pending, markers = self._pending, dict(self.markers)

        def contents(writes: Writes) -> Document:
            if not current():
                raise _SupersededError
            for marker in markers.values():
                selector, insert = {"_id": marker["_id"]}, {"$setOnInsert": {"at": marker["at"]}}
                writes.update(PROCESSED, selector, insert, upsert=True)
            return state.contents(writes)

        try:
            self._version = await save(
                self._client(), self._database, self._durable, owner=self._instance,
                version=self._version, applied=applied, contents=contents,
            )  # fmt: skip
        except _SupersededError:
            return False
        state.saved()
        self._pending -= min(pending, self._pending)
        for marker_id in markers:
            self.markers.pop(marker_id, None)
        return True

    async def _adopt_stored_version(self, state: MemoryState[Any]) -> None:
        stored = await read(self._client()[self._database], self._durable)
        if stored.owner != self._instance:
            raise FencedError(self._durable, self._instance)
        self._store_changed = False
        self._version = stored.version
        self._pending = max(self._pending, 1)  # written even if nothing was folded since
        state.touch_all()
