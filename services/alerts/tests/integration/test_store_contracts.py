"""Each store's behaviour, run against its in-memory fake and the real Mongo-wire server.

One abstract suite per store (eventsourcing's ``tests/persistence.py`` pattern); the Mongo
subclass shares the session's server (``mongo_url``) with a fresh database per test.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
from services.alerts.tests.fakes import (
    InMemoryActivityStore,
    InMemoryFigureStore,
    InMemoryLeases,
)

from sipas_alerts.domain.activity import DayCount
from sipas_alerts.domain.index_rules import Figure
from sipas_alerts.store.leases import Leases, MongoLeases
from sipas_alerts.store.signals import (
    ActivityStore,
    FigureStore,
    MongoActivityStore,
    MongoFigureStore,
)

NOW = datetime(2026, 12, 7, 9, tzinfo=UTC)
TTL = timedelta(minutes=1)


class LeasesContract:
    """What the sweeper asks of its leases: one holder at a time until the lease ends."""

    @pytest.fixture
    def leases(self) -> Leases:
        raise NotImplementedError

    async def test_a_free_lease_is_taken(self, leases):
        assert await leases.acquire("sla", "a", now=NOW, ttl=TTL)

    async def test_a_lease_someone_else_holds_is_refused_until_it_ends(self, leases):
        await leases.acquire("sla", "a", now=NOW, ttl=TTL)

        assert not await leases.acquire("sla", "b", now=NOW + TTL / 2, ttl=TTL)
        assert await leases.acquire("sla", "b", now=NOW + 2 * TTL, ttl=TTL)
        assert not await leases.acquire("sla", "a", now=NOW + 2 * TTL, ttl=TTL)

    async def test_the_holder_extends_its_lease(self, leases):
        await leases.acquire("sla", "a", now=NOW, ttl=TTL)

        assert await leases.acquire("sla", "a", now=NOW + TTL / 2, ttl=TTL)
        assert not await leases.acquire("sla", "b", now=NOW + TTL, ttl=TTL)

    async def test_a_released_lease_is_free_and_only_its_holder_releases_it(self, leases):
        await leases.acquire("sla", "a", now=NOW, ttl=TTL)
        await leases.acquire("relay", "a", now=NOW, ttl=TTL)

        await leases.release("sla", "a", now=NOW)
        await leases.release("relay", "b", now=NOW)

        later = NOW + timedelta(seconds=1)
        assert await leases.acquire("sla", "b", now=later, ttl=TTL)
        assert not await leases.acquire("relay", "b", now=later, ttl=TTL)


class TestInMemoryLeases(LeasesContract):
    @pytest.fixture
    def leases(self) -> Leases:
        return InMemoryLeases()


@pytest.mark.mongo
class TestMongoLeases(LeasesContract):
    @pytest.fixture
    def leases(self, mongo, db_name) -> Leases:
        return MongoLeases(mongo[db_name])


DAY = date(2026, 12, 7)


class ActivityStoreContract:
    """What the activity rules ask of the activity store: additive counts per unit and day."""

    @pytest.fixture
    def activity(self) -> ActivityStore:
        raise NotImplementedError

    async def test_the_counts_of_a_day_add_up_by_field(self, activity):
        await activity.add("invitations", Counter({("c1", "u1", DAY): 3}), None)
        await activity.add(
            "invitations", Counter({("c1", "u1", DAY): 2, ("c1", "u2", DAY): 1}), None
        )
        await activity.add("responses", Counter({("c1", "u1", DAY): 4}), None)

        assert await activity.since(DAY) == {
            ("c1", "u1"): {DAY: DayCount(invitations=5, responses=4)},
            ("c1", "u2"): {DAY: DayCount(invitations=1, responses=0)},
        }

    async def test_days_before_the_first_asked_are_left_out(self, activity):
        earlier, later = DAY - timedelta(days=2), DAY + timedelta(days=1)
        await activity.add("responses", Counter({("c1", "u1", earlier): 1}), None)
        await activity.add("responses", Counter({("c1", "u1", later): 2}), None)

        assert await activity.since(DAY) == {("c1", "u1"): {later: DayCount(responses=2)}}


class TestInMemoryActivityStore(ActivityStoreContract):
    @pytest.fixture
    def activity(self) -> ActivityStore:
        return InMemoryActivityStore()


@pytest.mark.mongo
class TestMongoActivityStore(ActivityStoreContract):
    @pytest.fixture
    def activity(self, mongo, db_name) -> ActivityStore:
        return MongoActivityStore(mongo[db_name])


def figure(period: str, version: int, value: float, unit: str = "u1") -> Figure:
    return Figure(
        campaign_id="c1",
        unit=unit,
        period=period,
        version=version,
        value=value,
        ci_low=value - 0.05,
        ci_high=value + 0.05,
        n=40,
        sufficient=True,
    )


class FigureStoreContract:
    """What the index rules ask of the figure store: the latest version of each period."""

    @pytest.fixture
    def figures(self) -> FigureStore:
        raise NotImplementedError

    async def test_a_newer_version_replaces_a_period_and_an_older_one_changes_nothing(
        self, figures
    ):
        await figures.keep(figure("2026-11", 2, 0.8), None)
        await figures.keep(figure("2026-11", 3, 0.7), None)
        await figures.keep(figure("2026-11", 1, 0.9), None)
        await figures.keep(figure("2026-10", 1, 0.6), None)
        await figures.keep(figure("2026-11", 1, 0.5, unit="u2"), None)

        assert await figures.periods("c1", "u1", None) == {
            "2026-11": figure("2026-11", 3, 0.7),
            "2026-10": figure("2026-10", 1, 0.6),
        }
        assert await figures.periods("c2", "u1", None) == {}


class TestInMemoryFigureStore(FigureStoreContract):
    @pytest.fixture
    def figures(self) -> FigureStore:
        return InMemoryFigureStore()


@pytest.mark.mongo
class TestMongoFigureStore(FigureStoreContract):
    @pytest.fixture
    def figures(self, mongo, db_name) -> FigureStore:
        return MongoFigureStore(mongo[db_name])
