"""The change counter the index loop scans by: the responses consumer's version."""

from __future__ import annotations

import pytest

from sipas_contracts.streams import SCORING_RESPONSES
from sipas_runtime.positions import WATERMARKS
from sipas_scoring.store import PUBLISHER_STATE, AggregateStore

pytestmark = [pytest.mark.mongo]


async def test_the_counter_is_the_consumers_version_and_a_legacy_counter_is_carried_over(
    mongo, db_name
):
    db = mongo[db_name]
    store = AggregateStore(db)
    assert await store.last_commit() == 0
    await db[WATERMARKS].insert_one({"_id": SCORING_RESPONSES.durable, "seq": 10, "v": 3})
    assert await store.last_commit() == 3

    # Slices stamped up to 41 by a version that kept its own counter: never count below it.
    await db[PUBLISHER_STATE].insert_one({"_id": "commits", "n": 41})
    await store.adopt_legacy_counter()
    assert await store.last_commit() == 41
    assert await db[PUBLISHER_STATE].find_one({"_id": "commits"}) is None
    mark = await db[WATERMARKS].find_one({"_id": SCORING_RESPONSES.durable})
    assert mark is not None
    assert mark["seq"] == 10  # the applied sequences are untouched

    await db[WATERMARKS].update_one({"_id": SCORING_RESPONSES.durable}, {"$set": {"v": 50}})
    await db[PUBLISHER_STATE].insert_one({"_id": "commits", "n": 45})  # an older leftover
    await store.adopt_legacy_counter()
    assert await store.last_commit() == 50  # the counter never moves back
