"""Each store's behaviour, run against its in-memory fake and the real Mongo-wire server.

One abstract suite per store (eventsourcing's ``tests/persistence.py`` pattern); the Mongo
subclass shares the session's server (``mongo_url``) with a fresh database per test.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from services.alerts.tests.fakes import InMemoryLeases

from sipas_alerts.store.leases import Leases, MongoLeases

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
