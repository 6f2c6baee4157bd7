"""Each store's behaviour, run against its in-memory fake and the real Mongo-wire server.

One abstract suite per store (eventsourcing's ``tests/persistence.py`` pattern); the Mongo
subclass shares the session's server (``mongo_url``) with a fresh database per test.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta

import pytest
from services.sampling.tests.fakes import InMemoryContactStore, InMemoryZaloTokenStore

from sipas_runtime.channels import TokenPair
from sipas_runtime.mongo import ensure_collections, in_transaction
from sipas_runtime.writes import Writes
from sipas_sampling.domain.claims import ClaimBook
from sipas_sampling.store.collections import APPLICANTS, CONTACTS, OPTOUTS
from sipas_sampling.store.contacts import ContactStore, MongoContactStore
from sipas_sampling.store.decisions import MongoDecisionStore
from sipas_sampling.store.zalo_tokens import MongoZaloTokenStore, ZaloTokenStore

NOW = datetime(2026, 12, 7, 9, tzinfo=UTC)
Record = Callable[[ContactStore, Mapping[str, datetime]], Awaitable[None]]
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


class ContactStoreContract:
    """What each decision asks of the contact store: recent invitations and opt-out scopes."""

    @pytest.fixture
    def contacts(self) -> ContactStore:
        raise NotImplementedError

    @pytest.fixture
    def record(self) -> Record:
        """Record invitation times as a consumer batch does (its writes, then commit)."""
        raise NotImplementedError

    async def test_opt_out_scopes_accumulate_and_a_repeat_changes_nothing(self, contacts):
        await contacts.add_optouts(["h1"], ["sms"], NOW)
        await contacts.add_optouts(["h1"], ["zalo", "sms"], NOW)
        await contacts.add_optouts(["h2"], ["all"], NOW)

        found = await contacts.opted_out(["h1", "h2", "h3", "h1"])

        assert {h: sorted(scopes) for h, scopes in found.items()} == {
            "h1": ["sms", "zalo"],
            "h2": ["all"],
        }

    async def test_the_last_20_invitation_times_of_an_applicant_are_kept(self, contacts, record):
        times = [NOW + timedelta(days=day) for day in range(22)]
        for at in times:
            await record(contacts, {"p1": at, "p2": NOW})

        history = await contacts.contact_history(["p1", "p2", "p3"], None)

        assert history == {"p1": times[2:], "p2": [NOW] * 20}


class TestInMemoryContactStore(ContactStoreContract):
    @pytest.fixture
    def contacts(self) -> ContactStore:
        return InMemoryContactStore()

    @pytest.fixture
    def record(self) -> Record:
        async def at_once(contacts: ContactStore, invited: Mapping[str, datetime]) -> None:
            contacts.record_contacts(invited, Writes("memory"))

        return at_once


@pytest.mark.mongo
class TestMongoContactStore(ContactStoreContract):
    @pytest.fixture
    async def contacts(self, mongo, db_name) -> ContactStore:
        await ensure_collections(mongo[db_name], [CONTACTS, OPTOUTS])
        return MongoContactStore(mongo[db_name])

    @pytest.fixture
    def record(self, mongo, db_name) -> Record:
        async def in_a_transaction(contacts: ContactStore, invited: Mapping[str, datetime]) -> None:
            writes = Writes(db_name)
            contacts.record_contacts(invited, writes)
            await in_transaction(mongo, lambda session: writes.flush(mongo, session))

        return in_a_transaction


@pytest.mark.mongo
async def test_claims_in_memory_answer_as_the_store_does(mongo, db_name):
    """The partition owner's ClaimBook and MongoDecisionStore.claim, batch after batch (#22)."""
    await ensure_collections(mongo[db_name], [APPLICANTS])
    store, book = MongoDecisionStore(mongo[db_name]), ClaimBook()
    rng = random.Random(22)
    for _ in range(25):
        claims = {f"c|u|p{rng.randrange(12)}": f"d{rng.randrange(8)}" for _ in range(5)}
        answer = await in_transaction(mongo, lambda s, c=claims: store.claim(c, s))
        assert book.claim(claims) == answer
    documents = book.changed()
    book.saved(documents[:3])
    assert book.changed() == documents[3:]
    stored = [doc async for doc in mongo[db_name][APPLICANTS].find()]
    assert sorted(map(str, stored)) == sorted(map(str, documents))
    reloaded = ClaimBook()
    reloaded.load(stored)
    assert reloaded.claim({"c|u|p0": "d-new"}) == book.claim({"c|u|p0": "d-new"})
