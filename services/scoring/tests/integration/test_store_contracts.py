"""Each store's behaviour, run against its in-memory fake and the real Mongo-wire server.

One abstract suite per store (eventsourcing's ``tests/persistence.py`` pattern); the Mongo
subclass shares the session's server (``mongo_url``) with a fresh database per test.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from services.scoring.tests.fakes import InMemoryProfileStore

from sipas_contracts.events import CampaignPlanned
from sipas_contracts.testing import plan
from sipas_runtime.mongo import ensure_collections, in_transaction
from sipas_scoring.domain.profile import ProfileSettings
from sipas_scoring.store.profiles import PLANS, PROFILES, MongoProfileStore, ProfileStore

DEFAULTS = ProfileSettings(n_min_unit=30, n_min_item=10)
AT = datetime(2026, 12, 7, 9, tzinfo=UTC)
Transact = Callable[[Callable[[Any], Awaitable[None]]], Awaitable[None]]


def planned(campaign: str, per_unit: int, at: datetime) -> CampaignPlanned:
    return plan(campaign_id=campaign, planned_per_unit=per_unit, occurred_at=at)


class ProfileStoreContract:
    """What scoring asks of its profile store: defaults, then the latest plan, then operators."""

    @pytest.fixture
    def store(self) -> ProfileStore:
        raise NotImplementedError

    @pytest.fixture
    def transact(self) -> Transact:
        raise NotImplementedError

    async def test_a_campaign_nobody_configured_gets_the_defaults(self, store):
        profile = await store.get_or_default("c1")

        assert (profile.n_min_unit, profile.n_min_item, profile.revision) == (30, 10, 0)
        assert await store.explicit("c1") is None
        assert await store.plan("c1") is None

    async def test_only_the_latest_plan_of_a_campaign_is_kept(self, store, transact):
        newer, older = planned("c1", 25, AT), planned("c1", 40, AT - timedelta(days=1))

        await transact(lambda session: store.save_plans([newer], session))
        await transact(lambda session: store.save_plans([older], session))

        assert await store.plan("c1") == newer
        assert (await store.get_or_default("c1")).n_min_unit == 25  # the plan samples fewer

    async def test_each_operator_change_raises_the_revision_and_wins_over_the_plan(
        self, store, transact
    ):
        await transact(lambda session: store.save_plans([planned("c1", 25, AT)], session))

        await store.put("c1", {"n_min_unit": 12}, "an.operator")
        profile = await store.put("c1", {"n_min_unit": 15}, "another.operator")

        assert (profile.n_min_unit, profile.revision, profile.updated_by) == (
            15,
            2,
            "another.operator",
        )
        explicit = await store.explicit("c1")
        assert explicit is not None
        assert explicit["settings"] == {"n_min_unit": 15}
        assert (await store.get_or_default("c2")).revision == 0


class TestInMemoryProfileStore(ProfileStoreContract):
    @pytest.fixture
    def store(self) -> ProfileStore:
        return InMemoryProfileStore(DEFAULTS)

    @pytest.fixture
    def transact(self) -> Transact:
        return lambda work: work(None)


@pytest.mark.mongo
class TestMongoProfileStore(ProfileStoreContract):
    @pytest.fixture
    async def store(self, mongo, db_name) -> ProfileStore:
        await ensure_collections(mongo[db_name], [PROFILES, PLANS])
        return MongoProfileStore(mongo[db_name], DEFAULTS)

    @pytest.fixture
    def transact(self, mongo) -> Transact:
        return lambda work: in_transaction(mongo, work)
