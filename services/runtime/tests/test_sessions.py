"""A process killed inside a transaction does not hold its documents (sipas_runtime.sessions).

The store keeps a dead client's open transaction, and the locks of what it wrote, for a
minute; the instances that outlive it end its recorded sessions as soon as its record
stops being beaten.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from sipas_runtime import sessions
from sipas_runtime.mongo import in_transaction
from sipas_runtime.sessions import InstanceSessions, end_sessions
from sipas_runtime.testing import kill_when_inside

pytestmark = [pytest.mark.mongo]

KILLED_INSIDE_A_TRANSACTION = """
import asyncio, sys
from pymongo import AsyncMongoClient
from sipas_runtime.mongo import in_transaction
from sipas_runtime.sessions import InstanceSessions

async def main(url, database):
    client = AsyncMongoClient(url)
    await InstanceSessions(client, database, "killed", "probe").start()

    async def work(session):
        await client[database]["positions"].update_one(
            {"_id": "durable"}, {"$set": {"seq": 999}}, upsert=True, session=session)
        print("inside", flush=True)
        await asyncio.sleep(600)

    await in_transaction(client, work)

asyncio.run(main(*sys.argv[1:]))
"""


@pytest.fixture
async def survivor(mongo: AsyncMongoClient[Any], db_name: str) -> AsyncIterator[InstanceSessions]:
    recorded = InstanceSessions(mongo, db_name, "survivor", "probe")
    await recorded.start()
    yield recorded
    await recorded.stop()


async def test_a_dead_instances_transaction_is_ended_once_its_record_is_stale(
    survivor, mongo, mongo_url, db_name, monkeypatch
):
    monkeypatch.setattr(sessions, "DEAD_AFTER_SECONDS", 1.0)
    await kill_when_inside(KILLED_INSIDE_A_TRANSACTION, mongo_url, db_name)

    async def beating() -> None:
        while True:
            await asyncio.sleep(0.5)
            await survivor.beat()

    async def write(session: Any) -> None:
        await mongo[db_name]["positions"].update_one(
            {"_id": "durable"}, {"$set": {"seq": 1}}, upsert=True, session=session
        )

    began = time.monotonic()
    beats = asyncio.create_task(beating())
    try:
        await in_transaction(mongo, write)  # write conflicts, retried, until the end
    finally:
        beats.cancel()
    assert time.monotonic() - began < 10  # the store alone would take 60 s
    assert (await mongo[db_name]["positions"].find_one({"_id": "durable"}))["seq"] == 1
    # The write may commit between the beat's ending the sessions and its removing the
    # record, and the beat be cancelled there (CI, 01:31): one whole beat removes it.
    await survivor.beat()
    assert await mongo[db_name][sessions.INSTANCES].find_one({"_id": "killed"}) is None


async def test_an_instance_whose_sessions_were_ended_alive_commits_on_a_retry(
    survivor, mongo, db_name
):
    """Ending the sessions of an instance that was only slow costs it a retry, not a write."""
    runs: list[int] = []
    inside, go_on = asyncio.Event(), asyncio.Event()

    async def work(session: Any) -> None:
        runs.append(1)
        await mongo[db_name]["counts"].update_one(
            {"_id": "unit"}, {"$inc": {"n": 1}}, upsert=True, session=session
        )
        inside.set()
        await go_on.wait()

    writing = asyncio.create_task(in_transaction(mongo, work))
    await inside.wait()
    record = await mongo[db_name][sessions.INSTANCES].find_one({"_id": "survivor"})
    await end_sessions(mongo, record["lsids"])
    go_on.set()
    await writing

    assert len(runs) == 2
    assert (await mongo[db_name]["counts"].find_one({"_id": "unit"}))["n"] == 1


async def test_the_live_instances_of_a_role_are_those_that_beat_lately(mongo, db_name):
    deciding = InstanceSessions(mongo, db_name, "deciding", "probe", roles={"decides"})
    sending = InstanceSessions(mongo, db_name, "sending", "probe")
    silent = InstanceSessions(mongo, db_name, "silent", "probe", roles={"decides"})
    for recorded in (deciding, sending, silent):
        await recorded.start()
    long_ago = datetime.now(UTC) - timedelta(seconds=30)
    await mongo[db_name][sessions.INSTANCES].update_one(
        {"_id": "silent"}, {"$set": {"at": long_ago}}
    )

    assert await sending.live("decides", within=10) == {"deciding"}
    assert await sending.live("decides", within=60) == {"deciding", "silent"}
    assert await deciding.live("sends", within=60) == set()
