"""The PyMongo async client factory (``AsyncMongoClient``, the official successor of motor).

Writes use ``w: "majority", j: true`` and reads ``readConcern: "majority"`` so that an
acknowledged effect is in the on-disk journal of a majority (it survives a primary
failover and a crash) and dashboards never show data that is later rolled back. Create
one client per event loop (it must not cross loops).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeVar

from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import (
    AutoReconnect,
    ConnectionFailure,
    NetworkTimeout,
    NotPrimaryError,
    OperationFailure,
    PyMongoError,
    ServerSelectionTimeoutError,
    WriteConcernError,
)
from pymongo.read_concern import ReadConcern
from pymongo.results import DeleteResult, UpdateResult
from pymongo.write_concern import WriteConcern

T = TypeVar("T")
Document = dict[str, Any]
Session = AsyncClientSession | None
"""The caller's transaction, or ``None`` where the store writes on its own."""


class Database(Protocol):
    """Where a store finds its collections and its client (an ``AsyncDatabase`` is one)."""

    @property
    def client(self) -> AsyncMongoClient[Document]:
        """The client, for transactions."""
        ...

    def __getitem__(self, name: str) -> AsyncCollection[Document]:
        """The collection called ``name``."""
        ...


class MongoStore:
    """A store on a service's database: what every ``Mongo…`` store shares.

    A store subclasses this and the ``Protocol`` it implements (the docstrings live on the
    protocol), and names its collections with :class:`Collection` attributes.
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        """The service's database (its client runs transactions)."""


class Collection:
    """A store's collection, by name, looked up on the store's database at each use."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, store: MongoStore, owner: object = None) -> AsyncCollection[Document]:
        return store.db[self.name]


class ConnectedDatabase:
    """A service's database as its stores see it: built once, resolved on each use.

    The client exists only while the service runs (it is bound to the event loop that
    started it), so the stores a service's wiring builds once look their collections up
    here; a collection is made again only when the service has connected anew.
    """

    def __init__(self, client: Callable[[], AsyncMongoClient[Document]], name: str) -> None:
        self._client = client
        self.name = name
        self._connected: AsyncMongoClient[Document] | None = None
        self._collections: dict[str, AsyncCollection[Document]] = {}

    @property
    def client(self) -> AsyncMongoClient[Document]:
        """The running service's client (``NotStartedError`` before it connects)."""
        return self._client()

    def __getitem__(self, name: str) -> AsyncCollection[Document]:
        client = self._client()
        if client is not self._connected:
            self._connected, self._collections = client, {}
        if name not in self._collections:
            self._collections[name] = client[self.name][name]
        return self._collections[name]


_TRANSIENT = (
    AutoReconnect,
    ConnectionFailure,
    NetworkTimeout,
    NotPrimaryError,
    ServerSelectionTimeoutError,
    WriteConcernError,
)


def create_mongo_client(url: str, *, app_name: str = "sipas") -> AsyncMongoClient[Document]:
    """A client with majority journaled writes, majority reads, tz-aware datetimes, UUIDs."""
    return AsyncMongoClient(
        url,
        appname=app_name,
        tz_aware=True,
        uuidRepresentation="standard",
        w="majority",
        journal=True,
        readConcernLevel="majority",
        serverSelectionTimeoutMS=5000,
        retryWrites=True,
    )


def is_transient(error: BaseException) -> bool:
    """Whether retrying the same operation may succeed (network, failover, write conflict)."""
    if isinstance(error, _TRANSIENT):
        return True
    if isinstance(error, PyMongoError) and error.has_error_label("TransientTransactionError"):
        return True
    return isinstance(error, OperationFailure) and error.code in {112, 189, 91, 11600, 11602}


async def in_transaction(
    client: AsyncMongoClient[Document],
    work: Callable[[AsyncClientSession], Awaitable[T]],
) -> T:
    """Run ``work(session)`` in a majority, journaled transaction (transient labels retried).

    In a service, the session is recorded first (``sipas_runtime.sessions``), so that if
    this process dies inside the transaction, the instances that outlive it can end it.
    """
    from sipas_runtime import sessions  # noqa: PLC0415 - sessions builds on this module

    async with client.start_session() as session:
        recorded = sessions.of(client)
        if recorded is not None:
            await recorded.note(session)
        return await session.with_transaction(
            work,
            read_concern=ReadConcern("majority"),
            write_concern=WriteConcern("majority", j=True),
        )


MULTI_WRITE_CHUNK = 1000
"""Documents a multi-document write changes per transaction (:func:`update_many`)."""


async def update_many(
    collection: AsyncCollection[Document], selector: Document, update: Document
) -> int:
    """``update_many`` outside a caller's transaction, in transactions; how many it modified.

    SecantusDB (0.7.0b3) runs a multi-document update outside a transaction while holding
    the collection's lock, and retries a write conflict with an open transaction without
    letting go of it; when that transaction's next statement needs the same collection,
    neither moves, and the store's transaction reaper then waits on it too, with the lock
    every transaction and retryable write needs: the whole server stops (reproduced in
    ``services/runtime/tests/test_multi_writes.py``). In a transaction, the conflict fails
    the statement at once and the driver runs it again. MongoDB yields its locks between
    retries, so there both forms are the same.

    The matching documents are written :data:`MULTI_WRITE_CHUNK` at a time, each chunk in a
    transaction of its own: a transaction must stay short (the store aborts one older than
    its lifetime, 60 s by default), and an update of many documents was never atomic as a
    whole, only each document's (a document that stops matching is left alone).
    """
    modified = 0
    for ids in await _chunks(collection, selector):
        chunk = {"$and": [selector, {"_id": {"$in": ids}}]}
        result = await in_transaction(
            collection.database.client,
            functools.partial(_update_chunk, collection, chunk, update),
        )
        modified += result.modified_count
    return modified


async def delete_many(collection: AsyncCollection[Document], selector: Document) -> int:
    """``delete_many`` outside a caller's transaction, as :func:`update_many`; how many."""
    deleted = 0
    for ids in await _chunks(collection, selector):
        chunk = {"$and": [selector, {"_id": {"$in": ids}}]}
        result = await in_transaction(
            collection.database.client, functools.partial(_delete_chunk, collection, chunk)
        )
        deleted += result.deleted_count
    return deleted


async def _chunks(collection: AsyncCollection[Document], selector: Document) -> list[list[Any]]:
    """The ids the write may touch, in chunks (those it names, or else those a read finds).

    An outbox's or a lease's write names its ids: it costs no read before it.
    """
    named = selector.get("_id")
    if isinstance(named, dict) and set(named) == {"$in"}:
        ids = list(named["$in"])
    else:
        ids = [doc["_id"] async for doc in collection.find(selector, {"_id": 1})]
    return [ids[i : i + MULTI_WRITE_CHUNK] for i in range(0, len(ids), MULTI_WRITE_CHUNK)]


async def _update_chunk(
    collection: AsyncCollection[Document],
    selector: Document,
    update: Document,
    session: AsyncClientSession,
) -> UpdateResult:
    return await collection.update_many(selector, update, session=session)


async def _delete_chunk(
    collection: AsyncCollection[Document], selector: Document, session: AsyncClientSession
) -> DeleteResult:
    return await collection.delete_many(selector, session=session)


async def ensure_collections(db: AsyncDatabase[Document], names: Sequence[str]) -> None:
    """Create missing collections (transactions cannot create them on every server)."""
    existing = set(await db.list_collection_names())
    for name in names:
        if name not in existing:
            with contextlib.suppress(Exception):  # created concurrently by another instance
                await db.create_collection(name)
