"""The decision store's counters on a real Mongo-wire server."""

from __future__ import annotations

from typing import Any

import pytest

from sipas_runtime.mongo import in_transaction
from sipas_runtime.writes import Writes
from sipas_sampling.domain.continuous import UnitProgress
from sipas_sampling.store.collections import QUOTA_COUNTS, prepare
from sipas_sampling.store.decisions import MongoDecisionStore

pytestmark = [pytest.mark.mongo]


async def test_one_counts_document_per_instance_sums_with_the_others_and_the_older_layout(
    mongo, db_name
):
    db = mongo[db_name]
    await prepare(db)
    first, second = MongoDecisionStore(db, shard="a"), MongoDecisionStore(db, shard="b")
    await first.set_quotas("c1", {"U1": 5, "U2": None}, {})
    # counted by an earlier version: one document per unit and instance
    old = {"campaign": "c1", "unit": "U1", "eligible": 7, "reachable": 6, "invited": 1}
    await db[QUOTA_COUNTS].insert_one({"_id": "c1|U1|old", **old})

    async def batch(
        store: MongoDecisionStore, seen: dict[str, tuple[int, int]], wanted: Any
    ) -> Any:
        async def work(session: Any) -> dict[str, int]:
            writes = Writes(db_name)
            progress = await store.progress("c1", seen, session)
            granted = await store.apply_batch("c1", progress, seen, wanted, writes)
            await writes.flush(mongo, session)
            return granted

        return await in_transaction(mongo, work)

    assert await batch(first, {"U1": (10, 8), "U2": (3, 3), "U3": (1, 0)}, {"U1": 3, "U2": 2}) == {
        "U1": 3,
        "U2": 2,
    }
    assert await batch(first, {"U1": (2, 2)}, {"U1": 1}) == {"U1": 1}
    assert await batch(second, {"U1": (4, 4)}, {"U1": 4}) == {"U1": 1}  # quota 5: 4 reserved

    assert await db[QUOTA_COUNTS].count_documents({"campaign": "c1"}) == 3  # old + one each
    table = {row["unit"]: row for row in await first.quota_table("c1")}
    assert {u: (r["eligible"], r["reachable"], r["invited"]) for u, r in table.items()} == {
        "U1": (7 + 10 + 2 + 4, 6 + 8 + 2 + 4, 1 + 3 + 1 + 1),
        "U2": (3, 3, 2),
        "U3": (1, 0, 0),
    }
    assert table["U1"]["reserved"] == 5
    assert table["U3"]["quota"] is None  # counted, but no quota document
    progress = await in_transaction(mongo, lambda s: second.progress("c1", ["U1"], s))
    assert progress == {"U1": UnitProgress(quota=5, reserved=5, answered=0, lapsed=0, reachable=20)}
