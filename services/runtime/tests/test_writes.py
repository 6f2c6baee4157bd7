"""One bulkWrite for a transaction's writes to several collections (real Mongo-wire server)."""

from __future__ import annotations

from typing import Any

import pytest
from pymongo.errors import ClientBulkWriteException, PyMongoError

from sipas_runtime.mongo import in_transaction
from sipas_runtime.writes import Writes

pytestmark = [pytest.mark.mongo]


class GuardMissedError(PyMongoError):
    """What the test's guard raises."""


async def test_writes_to_several_collections_commit_together(mongo, db_name):
    db = mongo[db_name]
    for name in ("marks", "counts", "log"):
        await db.create_collection(name)
    await db["marks"].insert_one({"_id": "m", "v": 1})

    async def work(session: Any) -> None:
        await db["marks"].find_one({"_id": "m"}, session=session)
        writes = Writes(db_name)
        writes.update("marks", {"_id": "m", "v": 1}, {"$set": {"v": 2}}, guard=GuardMissedError)
        writes.update("counts", {"_id": "c"}, {"$inc": {"n": 3}}, upsert=True)
        writes.insert("log", {"_id": "entry-1"})
        writes.replace("log", {"_id": "entry-2"}, {"note": "replaced"}, upsert=True)
        assert len(writes) == 4
        await writes.flush(mongo, session)
        assert len(writes) == 0

    await in_transaction(mongo, work)

    assert await db["marks"].find_one({"_id": "m"}) == {"_id": "m", "v": 2}
    assert await db["counts"].find_one({"_id": "c"}) == {"_id": "c", "n": 3}
    assert await db["log"].count_documents({}) == 2


async def test_a_missed_guard_raises_and_nothing_of_the_transaction_stays(mongo, db_name):
    db = mongo[db_name]
    for name in ("marks", "counts"):
        await db.create_collection(name)
    await db["marks"].insert_one({"_id": "m", "v": 5})  # someone else moved it on

    async def work(session: Any) -> None:
        await db["counts"].insert_one({"_id": "direct"}, session=session)
        writes = Writes(db_name)
        writes.update("counts", {"_id": "c"}, {"$inc": {"n": 1}}, upsert=True)
        writes.update("marks", {"_id": "m", "v": 4}, {"$set": {"v": 5}}, guard=GuardMissedError)
        await writes.flush(mongo, session)

    with pytest.raises(GuardMissedError):
        await in_transaction(mongo, work)

    assert await db["counts"].count_documents({}) == 0  # the direct write rolled back too
    assert await db["marks"].find_one({"_id": "m"}) == {"_id": "m", "v": 5}


async def test_an_upserting_guarded_write_that_inserts_counts_as_matched(mongo, db_name):
    db = mongo[db_name]
    await db.create_collection("marks")

    async def work(session: Any) -> None:
        await db["marks"].find_one({}, session=session)
        writes = Writes(db_name)
        writes.update(
            "marks", {"_id": "new"}, {"$set": {"v": 1}}, upsert=True, guard=AssertionError
        )
        await writes.flush(mongo, session)

    await in_transaction(mongo, work)
    assert await db["marks"].count_documents({}) == 1


async def test_a_flush_may_be_the_first_command_of_a_transaction(mongo, db_name):
    db = mongo[db_name]
    await db.create_collection("log")

    async def work(session: Any) -> None:
        writes = Writes(db_name)
        writes.insert("log", {"_id": 1})
        await writes.flush(mongo, session)

    await in_transaction(mongo, work)
    assert await db["log"].count_documents({}) == 1


async def test_a_write_conflict_comes_out_as_a_transient_error_not_a_wrapped_one(mongo, db_name):
    db = mongo[db_name]
    await db.create_collection("counts")
    await db["counts"].insert_one({"_id": "c", "n": 0})
    async with mongo.start_session() as holder:
        await holder.start_transaction()
        await db["counts"].update_one({"_id": "c"}, {"$inc": {"n": 1}}, session=holder)
        async with mongo.start_session() as session:
            await session.start_transaction()
            await db["counts"].find_one({"_id": "c"}, session=session)
            writes = Writes(db_name)
            writes.update("counts", {"_id": "c"}, {"$inc": {"n": 10}})

            with pytest.raises(PyMongoError) as raised:
                await writes.flush(mongo, session)

            assert not isinstance(raised.value, ClientBulkWriteException)
            assert raised.value.has_error_label("TransientTransactionError")
            await session.abort_transaction()
        await holder.commit_transaction()
    assert await db["counts"].find_one({"_id": "c"}) == {"_id": "c", "n": 1}


class ExistedError(PyMongoError):
    """What the test's insert_new guard raises."""


async def test_new_documents_are_inserted_in_one_command_after_the_other_writes(mongo, db_name):
    db = mongo[db_name]
    for name in ("marks", "claims"):
        await db.create_collection(name)
    await db["marks"].insert_one({"_id": "m", "v": 1})
    seen: list[str] = []

    async def work(session: Any) -> None:
        writes = Writes(db_name)
        writes.insert_new("claims", [{"_id": f"c{i}"} for i in range(5)], guard=ExistedError)
        writes.update("marks", {"_id": "m", "v": 1}, {"$set": {"v": 2}}, guard=GuardMissedError)
        assert len(writes) == 6
        await writes.flush(mongo, session)
        seen.append(str(await db["claims"].count_documents({}, session=session)))

    await in_transaction(mongo, work)

    assert seen == ["5"]
    assert await db["claims"].count_documents({}) == 5
    assert await db["marks"].find_one({"_id": "m"}) == {"_id": "m", "v": 2}


async def test_a_new_document_that_exists_raises_the_guards_error_and_nothing_stays(mongo, db_name):
    db = mongo[db_name]
    for name in ("marks", "claims"):
        await db.create_collection(name)
    await db["claims"].insert_one({"_id": "c2", "first": True})

    async def work(session: Any) -> None:
        writes = Writes(db_name)
        writes.update("marks", {"_id": "m"}, {"$inc": {"n": 1}}, upsert=True)
        writes.insert_new("claims", [{"_id": f"c{i}"} for i in range(4)], guard=ExistedError)
        await writes.flush(mongo, session)

    with pytest.raises(ExistedError):
        await in_transaction(mongo, work)

    assert await db["marks"].count_documents({}) == 0
    assert [d async for d in db["claims"].find({})] == [{"_id": "c2", "first": True}]


async def test_new_documents_wait_for_the_other_writes_guards(mongo, db_name):
    db = mongo[db_name]
    for name in ("marks", "claims"):
        await db.create_collection(name)
    await db["marks"].insert_one({"_id": "m", "v": 5})
    await db["claims"].insert_one({"_id": "c0"})  # written by the checkpoint that moved v on

    async def work(session: Any) -> None:
        writes = Writes(db_name)
        writes.insert_new("claims", [{"_id": "c0"}], guard=ExistedError)
        writes.update("marks", {"_id": "m", "v": 4}, {"$set": {"v": 5}}, guard=GuardMissedError)
        await writes.flush(mongo, session)

    with pytest.raises(GuardMissedError):  # the stale writer learns it is fenced
        await in_transaction(mongo, work)
