"""The case store's behaviour, against its fake and the real Mongo-wire server.

The pattern of ``test_store_contracts.py``; writes that the service makes inside a consumer's
transaction go through ``transact`` (at once for the fake, ``in_transaction`` for Mongo).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import pytest
from services.alerts.tests.fakes import InMemoryCaseStore
from services.alerts.tests.integration.test_case_reader_contracts import DAY, HOUR, MONDAY_9, case

from sipas_alerts.domain.alerts import Hit
from sipas_alerts.store.cases import (
    ALERTS,
    CASES,
    GROUPS,
    CaseStore,
    Group,
    GroupRaceError,
    MongoCaseStore,
)
from sipas_contracts.ids import uuid7
from sipas_runtime.mongo import ensure_collections, in_transaction

Transact = Callable[[Callable[[Any], Awaitable[Any]]], Awaitable[Any]]
Callbacks = Callable[[], Awaitable[dict[str, str | None]]]


def hit(unit: str = "u1", *, at: datetime = MONDAY_9, callback: str | None = None) -> Hit:
    return Hit(
        rule="low_rating", severity="warning", unit=unit, campaign_id="c2026", window="2026-W47",
        occurred_at=at, source_event_id=uuid7(), summary_vi="Đánh giá thấp",
        summary_en="Low rating", sealed_callback=callback,
    )  # fmt: skip


class CaseStoreContract:
    """What the alerts service asks of its cases: one current case per group, alerts once,
    counters and lifecycle written apart, the SLA sweep's reads, call-backs shredded."""

    @pytest.fixture
    def store(self) -> CaseStore:
        raise NotImplementedError

    @pytest.fixture
    def transact(self) -> Transact:
        raise NotImplementedError

    @pytest.fixture
    def callbacks(self, store) -> Callbacks:
        raise NotImplementedError

    async def test_a_group_points_at_its_latest_case_and_an_older_one_is_a_race(
        self, store, transact
    ):
        first = case()
        later = case(at=MONDAY_9 + DAY, seq=2)
        await transact(lambda s: store.open([first], s))
        await transact(lambda s: store.open([later], s))

        assert await store.get(str(first.case_id)) == first
        groups = await transact(lambda s: store.groups_of([first.group_key, "elsewhere"], s))
        assert groups == {first.group_key: Group(first.group_key, str(later.case_id), 2)}
        with pytest.raises(GroupRaceError):
            await transact(lambda s: store.open([case(at=MONDAY_9 + 2 * DAY, seq=2)], s))

    async def test_an_alert_is_stored_once_and_rebuilt_for_its_source(self, store, transact):
        opened = case()
        await transact(lambda s: store.open([opened], s))
        one, two = hit(), hit(at=MONDAY_9 + HOUR)

        assert await transact(lambda s: store.unseen([one, two, one], s)) == [one, two]
        await transact(lambda s: store.add_alerts([(one, str(opened.case_id))], s))
        assert await transact(lambda s: store.unseen([one, two], s)) == [two]

        events = await transact(lambda s: store.alerts_of_sources([str(one.source_event_id)], s))
        assert [(e.alert_id, e.case_id, e.rule) for e in events] == [
            (one.alert_id, opened.case_id, "low_rating")
        ]

    async def test_attaching_changes_the_counters_and_saving_the_lifecycle(self, store, transact):
        opened = case()
        await transact(lambda s: store.open([opened], s))
        later = MONDAY_9 + HOUR
        grown = opened.model_copy(
            update={"alerts": opened.alerts + 2, "callbacks": 1, "last_alert_at": later}
        )
        acknowledged = opened.model_copy(update={"state": "acknowledged", "version": 2})

        await transact(lambda s: store.attach([(opened, grown)], s))
        assert await store.save(acknowledged, expected_version=1)
        assert not await store.save(acknowledged.model_copy(update={"version": 3}), 1)

        stored = await store.get(str(opened.case_id))
        assert (stored.state, stored.version) == ("acknowledged", 2)
        assert (stored.alerts, stored.callbacks, stored.last_alert_at) == (
            opened.alerts + 2, 1, later,
        )  # fmt: skip
        (plain,) = (await transact(lambda s: store.get_many([str(opened.case_id)], s))).values()
        assert (plain.audit, plain.state) == ((), "acknowledged")

    async def test_the_sweep_reads_due_cases_earliest_first_and_counts_the_overdue(
        self, store, transact
    ):
        early, late = case("u1"), case("u2", at=MONDAY_9 + DAY)
        done = case("u3", state="closed", ended_at=MONDAY_9 + HOUR)
        await transact(lambda s: store.open([late, early, done], s))
        after_both = max(late.acknowledge_due_at, early.acknowledge_due_at)

        assert await store.due(MONDAY_9, limit=10) == []
        assert [c.case_id for c in await store.due(after_both, limit=10)] == [
            early.case_id, late.case_id,
        ]  # fmt: skip
        assert [c.case_id for c in await store.due(after_both, limit=1)] == [early.case_id]
        assert await store.census(early.acknowledge_due_at) == (
            {"acknowledged": 0, "in_progress": 0, "open": 2}, 1,
        )  # fmt: skip

    async def test_call_backs_of_ended_cases_are_shredded(self, store, transact, callbacks):
        ended = case("u1", state="closed", ended_at=MONDAY_9 + HOUR, callbacks=1)
        active = case("u2", callbacks=1)
        kept, shredded = hit("u2", callback="sealed-2"), hit("u1", callback="sealed-1")
        await transact(lambda s: store.open([ended, active], s))
        await transact(lambda s: store.add_alerts(
            [(shredded, str(ended.case_id)), (kept, str(active.case_id))], s
        ))  # fmt: skip

        assert await store.shred_callbacks(ended_before=MONDAY_9 + 2 * HOUR) == 1
        assert await store.shred_callbacks(ended_before=MONDAY_9 + 2 * HOUR) == 0

        assert await callbacks() == {str(shredded.alert_id): None, str(kept.alert_id): "sealed-2"}
        assert (await store.get(str(ended.case_id))).callbacks == 0
        assert (await store.get(str(active.case_id))).callbacks == 1


class TestInMemoryCaseStore(CaseStoreContract):
    @pytest.fixture
    def store(self) -> CaseStore:
        return InMemoryCaseStore()

    @pytest.fixture
    def transact(self) -> Transact:
        return lambda work: work(None)

    @pytest.fixture
    def callbacks(self, store) -> Callbacks:
        async def read() -> dict[str, str | None]:
            return store.callbacks()

        return read


@pytest.mark.mongo
class TestMongoCaseStore(CaseStoreContract):
    @pytest.fixture
    async def store(self, mongo, db_name) -> CaseStore:
        await ensure_collections(mongo[db_name], [CASES, GROUPS, ALERTS])
        return MongoCaseStore(mongo[db_name])

    @pytest.fixture
    def transact(self, mongo) -> Transact:
        async def run(work: Callable[[Any], Awaitable[Any]]) -> Any:
            found: list[Any] = []

            async def keep(session: Any) -> None:
                found.append(await work(session))

            await in_transaction(mongo, keep)
            return found[-1]

        return run

    @pytest.fixture
    def callbacks(self, mongo, db_name) -> Callbacks:
        async def read() -> dict[str, str | None]:
            return {
                doc["_id"]: doc.get("sealed_callback")
                async for doc in mongo[db_name][ALERTS].find({})
            }

        return read
