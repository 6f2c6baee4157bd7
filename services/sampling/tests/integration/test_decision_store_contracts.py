"""The decision store's behaviour, against its fake and the real Mongo-wire server.

The pattern of ``test_store_contracts.py``. A consumer batch adds the store's writes to its
``Writes`` and sends them once; ``commit`` does that here (at once for the fake, one
``bulkWrite`` for Mongo), without the transaction's retries so a refused guard shows.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo.errors import OperationFailure
from services.sampling.tests.fakes import InMemoryDecisionStore

from sipas_runtime.mongo import ensure_collections
from sipas_runtime.writes import Writes
from sipas_sampling.store.collections import APPLICANTS, DECISIONS, QUOTA_COUNTS, QUOTAS
from sipas_sampling.store.decisions import DecisionStore, MongoDecisionStore

NOW = datetime(2026, 12, 7, 9, tzinfo=UTC)
Commit = Callable[[Callable[[Writes], Any]], Awaitable[Any]]


class DecisionStoreContract:
    """What the continuous decision asks: quotas never passed, rates counted, an applicant
    claimed once, every decision logged in order, the quota table summed."""

    @pytest.fixture
    def store(self) -> DecisionStore:
        raise NotImplementedError

    @pytest.fixture
    def commit(self) -> Commit:
        raise NotImplementedError

    async def test_quotas_set_what_progress_reads(self, store):
        await store.set_quotas("c1", {"u1": 3, "u2": None}, {"u1": 30.0})

        found = await store.progress("c1", ["u1", "u2", "u3"], None)

        assert (found["u1"].quota, found["u1"].reserved, found["u1"].expected_total) == (3, 0, 30.0)
        assert found["u2"].quota is None
        assert "u3" not in found  # no quota document: unlimited

    async def test_slots_are_granted_up_to_the_quota_and_never_on_a_stale_read(self, store, commit):
        await store.set_quotas("c1", {"u1": 3, "u2": None}, {})
        stale = await store.progress("c1", ["u1", "u2"], None)

        granted = await commit(
            lambda w: store.apply_batch("c1", stale, {"u1": (6, 5)}, {"u1": 5, "u2": 4}, w)
        )
        fresh = await store.progress("c1", ["u1"], None)
        none_left = await commit(lambda w: store.apply_batch("c1", fresh, {}, {"u1": 1}, w))

        assert (granted, none_left) == ({"u1": 3, "u2": 4}, {"u1": 0})
        assert (await store.progress("c1", ["u1"], None))["u1"].reserved == 3
        assert (await store.progress("c1", ["u1"], None))["u1"].reachable == 5
        await store.settle("c1", "u1", lapsed=1, release=1)
        with pytest.raises(OperationFailure) as refused:  # read before the reservation above
            await commit(lambda w: store.apply_batch("c1", stale, {}, {"u1": 1}, w))
        assert refused.value.has_error_label("TransientTransactionError")

    async def test_answers_and_lapses_are_settled_and_release_slots(self, store, commit):
        await store.set_quotas("c1", {"u1": 2}, {})
        current = await store.progress("c1", ["u1"], None)
        await commit(lambda w: store.apply_batch("c1", current, {}, {"u1": 2}, w))

        await store.settle("c1", "u1", answered=1)
        await store.settle("c1", "u1", lapsed=1, release=1)
        await store.settle("c1", "u9", answered=1)  # a unit without a quota document

        found = await store.progress("c1", ["u1", "u9"], None)
        assert (found["u1"].reserved, found["u1"].answered, found["u1"].lapsed) == (1, 1, 1)
        assert (found["u9"].quota, found["u9"].answered) == (None, 1)
        table = {row["unit"]: row for row in await store.quota_table("c1")}
        assert table["u1"]["reserved"] + table["u1"]["released"] == 2  # every slot granted

    async def test_an_applicant_is_claimed_by_one_dossier_and_a_repeat_is_known(self, store):
        first = await store.claim({"k1": "d1", "k2": "d2"}, None)
        second = await store.claim({"k1": "d1", "k2": "d3", "k3": "d3"}, None)

        assert first == (set(), set())
        assert second == ({"k2"}, {"k1"})  # k2 is d2's; d1 sent again holds k1 already
        assert await store.claim({}, None) == (set(), set())

    async def test_the_log_gives_every_decision_of_a_campaign_in_time_order(self, store, commit):
        later = [["d3", "u1", 0.2, 0.5, "invited"]]
        earlier = [["d1", "u1", 0.7, 0.5, "skipped"], ["d2", "u2", 0.1, 0.5, "invited"]]
        await commit(lambda w: store.log_decisions("c1", later, NOW + timedelta(hours=1), w))
        await commit(lambda w: store.log_decisions("c1", earlier, NOW, w))
        await commit(lambda w: store.log_decisions("c2", [["d9", "u1", 0.5, 0.5, "x"]], NOW, w))
        await commit(lambda w: store.log_decisions("c1", [], NOW, w))  # nothing to log

        assert await store.decisions("c1") == [*earlier, *later]
        assert await store.decisions("c1", since=NOW + timedelta(minutes=1)) == later
        assert await store.decisions("c3") == []

    async def test_the_quota_table_sums_the_counters_by_unit(self, store, commit):
        await store.set_quotas("c1", {"u2": 5, "u1": 4}, {})
        current = await store.progress("c1", ["u1", "u2"], None)
        await commit(lambda w: store.apply_batch("c1", current, {"u1": (3, 2)}, {"u1": 2}, w))
        await commit(lambda w: store.apply_batch("c1", {}, {"u3": (1, 1)}, {}, w))

        table = await store.quota_table("c1")

        assert [
            (r["unit"], r["quota"], r["reserved"], r["eligible"], r["reachable"], r["invited"])
            for r in table
        ] == [("u1", 4, 2, 3, 2, 2), ("u2", 5, 0, 0, 0, 0), ("u3", None, 0, 1, 1, 0)]


class TestInMemoryDecisionStore(DecisionStoreContract):
    @pytest.fixture
    def store(self) -> DecisionStore:
        return InMemoryDecisionStore()

    @pytest.fixture
    def commit(self) -> Commit:
        async def at_once(work: Callable[[Writes], Any]) -> Any:
            found = work(Writes("memory"))
            return await found if isinstance(found, Awaitable) else found

        return at_once


@pytest.mark.mongo
class TestMongoDecisionStore(DecisionStoreContract):
    @pytest.fixture
    async def store(self, mongo, db_name) -> DecisionStore:
        await ensure_collections(mongo[db_name], [QUOTAS, QUOTA_COUNTS, APPLICANTS, DECISIONS])
        return MongoDecisionStore(mongo[db_name])

    @pytest.fixture
    def commit(self, mongo, db_name) -> Commit:
        async def one_bulk_write(work: Callable[[Writes], Any]) -> Any:
            writes = Writes(db_name)
            found = work(writes)
            result = await found if isinstance(found, Awaitable) else found
            await writes.flush(mongo, None)
            return result

        return one_bulk_write
