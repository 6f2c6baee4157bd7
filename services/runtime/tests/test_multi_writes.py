"""A multi-document write outside a transaction never stops the store (sipas_runtime.mongo).

On SecantusDB a bare ``update_many`` that meets a write conflict with an open transaction
retries while holding the collection's lock; the transaction's next statement on that
collection then waits forever, and so, soon, does every transaction of the server. The
runtime's ``update_many`` / ``delete_many`` run in a transaction of their own instead.
Each test runs its own server: a regression stops that server, not the session's.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.errors import PyMongoError

from sipas_runtime import mongo as sipas_mongo
from sipas_runtime.embedded import EmbeddedMongo
from sipas_runtime.mongo import Document, delete_many, update_many

pytestmark = [pytest.mark.mongo]
MultiWrite = Callable[[Any], Awaitable[object]]


@pytest.fixture
async def own_server(tmp_path: Path) -> AsyncIterator[AsyncMongoClient[Any]]:
    """A server of this test's own, killed -9 if it is still stuck after 8 s.

    A stuck server answers nothing, not even the end of a session: killing it makes every
    waiting call fail at once, so a regression fails this test instead of hanging it.
    """
    server = EmbeddedMongo(tmp_path / "mongo")
    url = await asyncio.to_thread(server.start)
    client: AsyncMongoClient[Any] = AsyncMongoClient(url)
    watchdog = asyncio.get_running_loop().call_later(8, server.kill)
    try:
        yield client
    finally:
        watchdog.cancel()
        await client.close()
        await asyncio.to_thread(server.stop)


@pytest.mark.parametrize(
    "multi_write",
    [
        lambda c: update_many(c, {"_id": {"$in": [0, 1]}}, {"$set": {"lease": 1}}),
        lambda c: delete_many(c, {"_id": {"$in": [0, 1]}}),
    ],
    ids=["update_many", "delete_many"],
)
async def test_a_multi_write_meeting_an_open_transaction_lets_it_finish(
    own_server: AsyncMongoClient[Any], multi_write: MultiWrite
) -> None:
    invitations = own_server["t"]["invitations"]
    await invitations.insert_many([{"_id": i, "state": "queued"} for i in range(3)])
    try:
        async with own_server.start_session() as session:
            await session.start_transaction()
            await invitations.update_one(
                {"_id": 0}, {"$set": {"state": "answered"}}, session=session
            )
            leasing = asyncio.create_task(multi_write(invitations))  # conflicts on _id 0
            await asyncio.sleep(0.3)
            await invitations.update_one(
                {"_id": 2}, {"$set": {"state": "answered"}}, session=session
            )
            await session.commit_transaction()
            await leasing  # retried once the transaction committed
    except PyMongoError as error:  # the watchdog killed a stuck server
        pytest.fail(f"the transaction waited behind the multi-document write: {error!r}")

    assert (await invitations.find_one({"_id": 2}))["state"] == "answered"


async def test_a_multi_write_goes_chunk_by_chunk_and_counts_what_it_changed(
    mongo: AsyncMongoClient[Any], db_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sipas_mongo, "MULTI_WRITE_CHUNK", 3)  # 10 documents: 4 transactions
    outbox = mongo[db_name]["outbox"]
    await outbox.insert_many([{"_id": i, "published": i == 9} for i in range(10)])

    marked = await update_many(outbox, {"published": False}, {"$set": {"published": True}})
    purged = await delete_many(outbox, {"_id": {"$lt": 5}})

    assert (marked, purged) == (9, 5)
    assert [d["_id"] async for d in outbox.find({"published": True})] == [5, 6, 7, 8, 9]


async def test_a_multi_write_on_named_ids_reads_nothing_first(
    mongo: AsyncMongoClient[Any], db_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sipas_mongo, "MULTI_WRITE_CHUNK", 2)
    outbox = mongo[db_name]["outbox"]
    await outbox.insert_many([{"_id": i, "published": False} for i in range(5)])
    reads: list[Document] = []
    find = outbox.find
    monkeypatch.setattr(outbox, "find", lambda *a, **k: reads.append(a[0]) or find(*a, **k))

    marked = await update_many(
        outbox, {"_id": {"$in": [0, 2, 4, 7]}}, {"$set": {"published": True}}
    )

    assert (marked, reads) == (3, [])
    assert [d["_id"] async for d in mongo[db_name]["outbox"].find({"published": True})] == [0, 2, 4]
