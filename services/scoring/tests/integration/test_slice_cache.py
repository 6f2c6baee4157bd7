"""The write cache saves reads, and can never make a count wrong.

Two "processes" (stores with their own caches) write the same slice documents; one of
them also keeps a copy from a transaction that was rolled back. Every count must still be
the sum of what was committed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from pymongo.errors import PyMongoError

from sipas_runtime.mongo import in_transaction
from sipas_runtime.writes import Writes
from sipas_scoring.domain.tally import SliceKey, Tally, fold
from sipas_scoring.store import AggregateStore, SliceCache
from sipas_scoring.testing import synthetic_responses

pytestmark = [pytest.mark.mongo]
UNITS = ["ht-nx-co-dam", "ht-nx-xuan-an"]


class RolledBackError(Exception):
    """Raised inside a transaction after the write, so the transaction aborts."""


def batches(count: int, size: int) -> list[dict[SliceKey, Tally]]:
    """Increments of ``count`` responses folded ``size`` at a time (stream order)."""
    events = list(synthetic_responses(count, units=UNITS, campaign_id="c-cache"))
    return [
        fold(zip(range(start + 1, start + size + 1), events[start : start + size], strict=True))
        for start in range(0, count, size)
    ]


async def apply(
    db: Any,
    store: AggregateStore,
    increments: dict[SliceKey, Tally],
    commit: int,
    session: Any = None,
) -> None:
    """What the consumer does: the store adds its writes, the batch sends them."""
    writes = Writes(db.name)
    await store.apply(increments, session, commit, writes)
    await writes.flush(db.client, session)


def canonical(tallies: dict[SliceKey, Tally]) -> dict[str, Any]:
    return {k.slice_id: t.canonical() for k, t in tallies.items()}


def summed(increments: Sequence[dict[SliceKey, Tally]]) -> dict[SliceKey, Tally]:
    out: dict[SliceKey, Tally] = {}
    for batch in increments:
        for key, tally in batch.items():
            out[key] = out.get(key, Tally()).add(tally)
    return out


async def test_two_caches_and_a_rolled_back_write_leave_the_counts_exact(mongo, db_name):
    db = mongo[db_name]
    await db.create_collection("aggregates")
    mine, theirs = SliceCache(), SliceCache()
    a, b = AggregateStore(db, cache=mine), AggregateStore(db, cache=theirs)
    attempts = {"a": 0}

    async def write(store: AggregateStore, increments: dict[SliceKey, Tally]) -> None:
        async def work(session: Any) -> None:
            if store is a:
                attempts["a"] += 1
            await apply(db, store, increments, 1, session)

        await in_transaction(mongo, work)

    async def rolled_back(store: AggregateStore, increments: dict[SliceKey, Tally]) -> None:
        async def work(session: Any) -> None:
            await apply(db, store, increments, 1, session)
            raise RolledBackError

        with pytest.raises(RolledBackError):
            await in_transaction(mongo, work)

    first, second, third, lost, fourth, fifth = batches(120, 20)
    await write(a, first)  # a caches what it wrote
    assert len(mine) > 0
    await write(b, second)  # b reads (its cache is empty) and writes over a's copies
    attempts["a"] = 0
    await write(a, third)  # a's copies are stale: the condition fails, a re-reads
    assert attempts["a"] == 2  # one failed condition, one clean retry
    await rolled_back(a, lost)  # a now caches a version that never existed
    attempts["a"] = 0
    await write(a, fourth)
    assert attempts["a"] == 2
    attempts["a"] = 0
    await write(a, fifth)  # in step again: no read, no retry
    assert attempts["a"] == 1

    stored = await AggregateStore(db).tallies()
    assert canonical(stored) == canonical(summed([first, second, third, fourth, fifth]))


async def test_changed_serves_own_writes_from_the_cache_and_reads_the_others(mongo, db_name):
    db = mongo[db_name]
    await db.create_collection("aggregates")
    cache = SliceCache()
    mine, other = AggregateStore(db, cache=cache), AggregateStore(db)
    first, second = batches(40, 20)
    await apply(db, mine, first, 1)
    await apply(db, other, second, 2)  # no cache: written behind mine's back

    changed = await mine.changed(0, 2)

    assert canonical(changed) == canonical(await AggregateStore(db).changed(0, 2))
    assert canonical(changed) == canonical(summed([first, second]))


async def test_a_stale_condition_is_a_transient_error_the_driver_retries(mongo, db_name):
    db = mongo[db_name]
    await db.create_collection("aggregates")
    cache = SliceCache()
    store = AggregateStore(db, cache=cache)
    (only,) = batches(10, 10)
    await apply(db, store, only, 1)
    await db["aggregates"].update_many({}, {"$set": {"rev": "someone-else"}})

    with pytest.raises(PyMongoError) as raised:
        await apply(db, store, only, 2)  # outside a transaction: nobody retries

    assert raised.value.has_error_label("TransientTransactionError")
    assert len(cache) == 0
