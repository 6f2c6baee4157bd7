"""Each store's behaviour, run against its in-memory fake and the real Mongo-wire server.

One abstract suite per store (eventsourcing's ``tests/persistence.py`` pattern); the Mongo
subclass shares the session's server (``mongo_url``) with a fresh database per test.
"""

from __future__ import annotations

import pytest
from services.sampling.tests.fakes import InMemoryZaloTokenStore

from sipas_runtime.channels import TokenPair
from sipas_sampling.store.zalo_tokens import MongoZaloTokenStore, ZaloTokenStore

FIRST = TokenPair("AT1", "RT1", 1_800_000_000.0)
SECOND = TokenPair("AT2", "RT2", 1_800_003_600.0)


class ZaloTokenStoreContract:
    """What the Zalo channel asks of its token store: one pair, each refresh token used once."""

    @pytest.fixture
    def tokens(self) -> ZaloTokenStore:
        raise NotImplementedError

    async def test_nothing_is_loaded_before_the_first_pair(self, tokens):
        assert await tokens.load() is None
        assert not await tokens.swap("RT1", SECOND)
        assert await tokens.load() is None

    async def test_the_first_pair_is_kept_when_bootstrapped_again(self, tokens):
        await tokens.bootstrap(FIRST)
        await tokens.bootstrap(SECOND)

        assert await tokens.load() == FIRST

    async def test_the_holder_of_the_refresh_token_swaps_the_pair_once(self, tokens):
        await tokens.bootstrap(FIRST)

        assert await tokens.swap("RT1", SECOND)
        assert not await tokens.swap("RT1", TokenPair("AT3", "RT3", 1_800_007_200.0))
        assert await tokens.load() == SECOND


class TestInMemoryZaloTokenStore(ZaloTokenStoreContract):
    @pytest.fixture
    def tokens(self) -> ZaloTokenStore:
        return InMemoryZaloTokenStore()


@pytest.mark.mongo
class TestMongoZaloTokenStore(ZaloTokenStoreContract):
    @pytest.fixture
    def tokens(self, mongo, db_name) -> ZaloTokenStore:
        return MongoZaloTokenStore(mongo[db_name])
