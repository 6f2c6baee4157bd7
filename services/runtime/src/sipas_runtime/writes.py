"""A batch's writes to several collections, sent as one client-level ``bulkWrite``.

A consumer's transaction writes to several collections (applied sequences, counters,
invitations, audit log...), and one round trip per collection would dominate its cost.
MongoDB 8.0's ``bulkWrite`` command
(``AsyncMongoClient.bulk_write``) takes writes to any number of collections in one
command, inside the transaction: a handler adds its writes to the batch's :class:`Writes`
and the consumer sends them all, with its own, once the handler is done.

A write may carry a *guard*: it is a conditional update or replace that must match one
document (an optimistic check: "the stored version is still the one I read or wrote").
If a guarded write matches nothing, ``flush`` raises the guard's error, which aborts the
transaction; guards use errors labelled ``TransientTransactionError`` so that the driver
retries the whole transaction with fresh reads.

Documents the caller knows to be new (a state kept in memory that remembers what it stored)
go apart, with :meth:`Writes.insert_new`: one ``insert_many(ordered=False)`` per call, sent
after the bulkWrite. SecantusDB runs a bulkWrite operation by operation, each as its own
command, and an upsert costs it a lookup as well as the insert: in the whole-pipeline
benchmark (issue #22), sampling's two claims per dossier sent as ``$setOnInsert`` upserts
in its checkpoint's bulkWrite were a quarter of the store's CPU. MongoDB too inserts a batch
of documents cheaper than as many upserts.

Reads see only what was flushed: code that must read its own writes flushes first.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pymongo import AsyncMongoClient, InsertOne, ReplaceOne, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import BulkWriteError, ClientBulkWriteException, PyMongoError

from sipas_runtime.mongo import Document

Model = InsertOne[Document] | UpdateOne | ReplaceOne[Document]
Guard = Callable[[], BaseException]
"""Called when a guarded write matched nothing: returns the error to raise (and may, for
instance, forget a cache that the failed condition proved stale)."""
DUPLICATE_KEY = 11000


@dataclass
class Writes:
    """Writes of one transaction to the collections of one database, sent together."""

    database: str
    _models: list[Model] = field(default_factory=list)
    _guards: dict[int, Guard] = field(default_factory=dict)
    _collections: list[str] = field(default_factory=list)
    _new: list[tuple[str, list[Document], Guard]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self._models) + sum(len(documents) for _, documents, _ in self._new)

    def _namespace(self, collection: str) -> str:
        return f"{self.database}.{collection}"

    def insert(self, collection: str, document: Document) -> None:
        """Insert a document (a duplicate ``_id`` aborts the transaction)."""
        self._add(InsertOne(document, namespace=self._namespace(collection)), collection, None)

    def update(
        self,
        collection: str,
        selector: Mapping[str, Any],
        update: Mapping[str, Any],
        *,
        upsert: bool = False,
        guard: Guard | None = None,
    ) -> None:
        """Update the first matching document; ``guard``: it must match one."""
        self._add(
            UpdateOne(selector, update, upsert=upsert, namespace=self._namespace(collection)),
            collection,
            guard,
        )

    def replace(
        self,
        collection: str,
        selector: Mapping[str, Any],
        document: Document,
        *,
        upsert: bool = False,
        guard: Guard | None = None,
    ) -> None:
        """Replace the matching document; ``guard``: it must match one."""
        self._add(
            ReplaceOne(selector, document, upsert=upsert, namespace=self._namespace(collection)),
            collection,
            guard,
        )

    def insert_new(self, collection: str, documents: Sequence[Document], *, guard: Guard) -> None:
        """Insert documents known to be absent: one ``insert_many``, after the other writes.

        If one exists already, the insert fails, and with it the transaction (MongoDB aborts
        a transaction on any write error): ``guard`` is called and its error raised, after
        the other writes' guards were checked. A caller that can retry with writes that
        expect existing documents (``$setOnInsert`` upserts) labels it
        ``TransientTransactionError`` and remembers to do so.
        """
        if documents:
            self._new.append((collection, list(documents), guard))

    def _add(self, model: Model, collection: str, guard: Guard | None) -> None:
        if guard is not None:
            self._guards[len(self._models)] = guard
        self._models.append(model)
        self._collections.append(collection)

    async def flush(
        self, client: AsyncMongoClient[Document], session: AsyncClientSession | None
    ) -> None:
        """Send what was added since the last flush, in order; raise a missed guard's error.

        The documents of :meth:`insert_new` go last, once the other writes' guards held.
        """
        new, self._new = self._new, []
        await self._flush_models(client, session)
        for collection, documents, guard in new:
            try:
                await client[self.database][collection].insert_many(
                    documents, ordered=False, session=session
                )
            except BulkWriteError as exc:
                errors = exc.details.get("writeErrors") or [{}]
                if all(error.get("code") == DUPLICATE_KEY for error in errors):
                    raise guard() from exc
                raise

    async def _flush_models(
        self, client: AsyncMongoClient[Document], session: AsyncClientSession | None
    ) -> None:
        if not self._models:
            return
        models, guards, collections = self._models, self._guards, self._collections
        self._models, self._guards, self._collections = [], {}, []
        if session is not None and _nothing_sent(session):
            # SecantusDB refuses the transaction's read concern on a bulkWrite, and the
            # first command of a transaction carries it: open the transaction with a read.
            await client[self.database][collections[0]].find_one({"_id": None}, session=session)
        try:
            result = await client.bulk_write(
                models, session=session, ordered=True, verbose_results=bool(guards)
            )
        except ClientBulkWriteException as exc:
            # A command-level error (a write conflict, a failover) comes wrapped: raise it
            # as itself, with its labels, so that the transaction is retried like any other.
            if isinstance(exc.error, PyMongoError):
                raise exc.error from exc
            raise
        for index, guard in guards.items():
            outcome = result.update_results.get(index)
            if outcome is None or (not outcome.matched_count and outcome.upserted_id is None):
                raise guard()


def _nothing_sent(session: AsyncClientSession) -> bool:
    """Whether the session's transaction has not sent its first command yet."""
    transaction = getattr(session, "_transaction", None)  # pymongo keeps no public flag
    starting = getattr(transaction, "starting", None)
    return bool(session.in_transaction and callable(starting) and starting())
