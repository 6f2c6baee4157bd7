"""The case reader's behaviour, against its fake and the real Mongo-wire server.

The pattern of ``test_store_contracts.py``; apart because the reader queries what the case
store writes, which each test lays down as that store keeps it (``to_doc``, alert documents).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from services.alerts.tests.fakes import InMemoryCaseReader

from sipas_alerts.domain.alerts import Hit
from sipas_alerts.domain.calendar import WorkingCalendar
from sipas_alerts.domain.cases import Case, open_case
from sipas_alerts.domain.policy import SlaPolicy
from sipas_alerts.store.cases import ALERTS, CASES, to_doc
from sipas_alerts.store.reads import CaseQuery, CaseReader, MongoCaseReader
from sipas_contracts.ids import uuid7

MONDAY_9 = datetime(2026, 11, 16, 2, tzinfo=UTC)
HOUR, DAY = timedelta(hours=1), timedelta(days=1)
Doc = dict[str, Any]
Hold = Callable[[list[Case], list[Doc]], Awaitable[None]]
"""Lay down cases and alert documents as the case store keeps them."""


def case(
    unit: str = "u1",
    *,
    rule: str = "low_rating",
    at: datetime = MONDAY_9,
    window: str = "2026-W47",
    **fields: object,
) -> Case:
    """A case opened at ``at`` (its id is time-ordered, stable for the group)."""
    hit = Hit(
        rule=rule,
        severity="warning",
        unit=unit,
        campaign_id="c2026",
        window=window,
        occurred_at=at,
        source_event_id=uuid7(),
        summary_vi="Đánh giá thấp",
        summary_en="Low rating",
    )
    opened = open_case((hit,), seq=1, now=at, sla=SlaPolicy(), calendar=WorkingCalendar())
    return opened.model_copy(update=fields)


def alert(
    number: int, case_id: str, unit: str = "u1", rule: str = "low_rating", **fields: object
) -> Doc:
    """An alert document; its id (``a<number>``) orders it as a time-ordered id would."""
    return {"_id": f"a{number}", "case_id": case_id, "unit": unit, "rule": rule, **fields}


def ids(cases: list[Case]) -> list[str]:
    return [str(c.case_id) for c in cases]


class CaseReaderContract:
    """What the case API asks: filtered listings newest first, a case's alerts, call-backs."""

    @pytest.fixture
    def reader(self) -> tuple[CaseReader, Hold]:
        raise NotImplementedError

    async def test_a_listing_is_filtered_newest_first_and_pages_before_an_id(self, reader):
        store, hold = reader
        first = case()
        second = case(at=MONDAY_9 + HOUR, window="2026-W48", state="acknowledged")
        third = case("u2", rule="silence", at=MONDAY_9 + 2 * HOUR)
        await hold([first, second, third], [])

        everything = await store.search(CaseQuery(), limit=10)
        assert ids(everything) == ids([third, second, first])
        assert ids(await store.search(CaseQuery(units=frozenset({"u1"})), limit=10)) == ids(
            [second, first]
        )
        assert ids(await store.search(CaseQuery(states=("open",)), limit=10)) == ids([third, first])
        assert ids(await store.search(CaseQuery(rules=("silence",)), limit=10)) == ids([third])
        after = await store.search(CaseQuery(before=str(third.case_id)), limit=1)
        assert ids(after) == ids([second])

    async def test_a_case_comes_with_its_audit_trail_only_when_asked(self, reader):
        store, hold = reader
        await hold([case()], [])

        (plain,) = await store.search(CaseQuery(), limit=1)
        (audited,) = await store.search(CaseQuery(), limit=1, audit=True)

        assert (plain.audit, [entry.action for entry in audited.audit]) == ((), ["opened"])

    async def test_escalated_overdue_and_opening_filters(self, reader):
        store, hold = reader
        early = case(at=MONDAY_9 - 30 * DAY, window="2026-W43", escalated_to=("supervisor",))
        late = case()
        await hold([early, late], [])

        escalated = await store.search(CaseQuery(escalated=True), limit=10)
        assert ids(escalated) == ids([early])
        assert ids(await store.search(CaseQuery(escalated=False), limit=10)) == ids([late])
        overdue = CaseQuery(overdue_at=early.acknowledge_due_at)
        assert ids(await store.search(overdue, limit=10)) == ids([early])
        opened = CaseQuery(opened_from=MONDAY_9 - timedelta(days=1), opened_to=MONDAY_9 + DAY)
        assert ids(await store.search(opened, limit=10)) == ids([late])

    async def test_alerts_come_newest_first_without_their_call_backs(self, reader):
        store, hold = reader
        mine, other = str(uuid7()), str(uuid7())
        plain = alert(1, mine, occurred_at=MONDAY_9)
        called = alert(2, mine, sealed_callback="sealed", occurred_at=MONDAY_9)
        elsewhere = alert(3, other, unit="u2", rule="silence")
        await hold([], [plain, called, elsewhere])

        assert await store.alerts_of(mine, limit=10) == [
            {k: v for k, v in called.items() if k != "sealed_callback"},
            plain,
        ]
        assert await store.alerts_of(mine, limit=10, before=called["_id"]) == [plain]
        assert [a["_id"] for a in await store.recent_alerts(None, (), limit=2)] == [
            elsewhere["_id"],
            called["_id"],
        ]
        in_u1 = await store.recent_alerts(frozenset({"u1"}), ("low_rating",), limit=10)
        assert [a["_id"] for a in in_u1] == [called["_id"], plain["_id"]]
        assert all("sealed_callback" not in a for a in in_u1)

    async def test_the_call_backs_of_a_case_stay_sealed(self, reader):
        store, hold = reader
        mine = str(uuid7())
        called = alert(2, mine, sealed_callback="sealed", occurred_at=MONDAY_9)
        await hold([], [alert(1, mine, occurred_at=MONDAY_9), called])

        assert await store.callbacks_of(mine) == [
            {
                "_id": called["_id"],
                "sealed_callback": "sealed",
                "occurred_at": MONDAY_9,
                "rule": "low_rating",
            }
        ]
        assert await store.callbacks_of(str(uuid7())) == []


class TestInMemoryCaseReader(CaseReaderContract):
    @pytest.fixture
    def reader(self) -> tuple[CaseReader, Hold]:
        store = InMemoryCaseReader()

        async def held(cases: list[Case], alerts: list[Doc]) -> None:
            store.cases.extend(to_doc(c) for c in cases)
            store.alerts.extend(alerts)

        return store, held


@pytest.mark.mongo
class TestMongoCaseReader(CaseReaderContract):
    @pytest.fixture
    def reader(self, mongo, db_name) -> tuple[CaseReader, Hold]:
        db = mongo[db_name]

        async def held(cases: list[Case], alerts: list[Doc]) -> None:
            if cases:
                await db[CASES].insert_many([to_doc(c) for c in cases])
            if alerts:
                await db[ALERTS].insert_many([dict(a) for a in alerts])

        return MongoCaseReader(db), held
