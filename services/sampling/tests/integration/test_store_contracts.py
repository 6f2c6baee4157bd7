"""Each store's behaviour, run against its in-memory fake and the real Mongo-wire server.

One abstract suite per store (eventsourcing's ``tests/persistence.py`` pattern); the Mongo
subclass shares the session's server (``mongo_url``) with a fresh database per test.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta

import pytest
from pymongo.errors import DuplicateKeyError
from services.sampling.tests.fakes import (
    InMemoryCampaignStore,
    InMemoryContactStore,
    InMemoryDevOutbox,
    InMemoryPopulationStore,
    InMemoryZaloTokenStore,
)

from sipas_runtime.channels import TokenPair
from sipas_runtime.mongo import Document, ensure_collections, in_transaction
from sipas_runtime.testing import written
from sipas_runtime.writes import Writes
from sipas_sampling.domain.claims import ClaimBook
from sipas_sampling.store.campaigns import CampaignStore, DesignFrozenError, MongoCampaignStore
from sipas_sampling.store.collections import APPLICANTS, CONTACTS, OPTOUTS, POPULATION
from sipas_sampling.store.contacts import ContactStore, MongoContactStore
from sipas_sampling.store.decisions import MongoDecisionStore
from sipas_sampling.store.dev_outbox import DevOutbox, MongoDevOutbox
from sipas_sampling.store.population import MongoPopulationStore, PopulationStore
from sipas_sampling.store.zalo_tokens import MongoZaloTokenStore, ZaloTokenStore

NOW = datetime(2026, 12, 7, 9, tzinfo=UTC)
DAY = timedelta(days=1)
Record = Callable[[ContactStore, Mapping[str, datetime]], Awaitable[None]]
See = Callable[[PopulationStore, list[Document]], Awaitable[None]]
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
            await written(mongo, db_name, lambda writes: contacts.record_contacts(invited, writes))

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


class DevOutboxContract:
    """What the development channel asks of its outbox: each message once, in sending order."""

    @pytest.fixture
    def outbox(self) -> DevOutbox:
        raise NotImplementedError

    async def test_messages_come_back_in_sending_order_each_once(self, outbox):
        await outbox.add([{"_id": "m1", "to": "a"}, {"_id": "m2", "to": "b"}], NOW)
        await outbox.add([{"_id": "m1", "to": "again"}], NOW)

        sent = await outbox.messages(None, 10)

        assert [(m["_id"], m["to"]) for m in sent] == [("m1", "a"), ("m2", "b")]
        assert sent[0]["created_at"] < sent[1]["created_at"]

    async def test_messages_after_a_time_and_at_most_the_limit(self, outbox):
        await outbox.add([{"_id": f"m{i}"} for i in range(4)], NOW)
        first = (await outbox.messages(None, 1))[0]

        later = await outbox.messages(first["created_at"], 2)

        assert [m["_id"] for m in later] == ["m1", "m2"]


class TestInMemoryDevOutbox(DevOutboxContract):
    @pytest.fixture
    def outbox(self) -> DevOutbox:
        return InMemoryDevOutbox()


@pytest.mark.mongo
class TestMongoDevOutbox(DevOutboxContract):
    @pytest.fixture
    def outbox(self, mongo, db_name) -> DevOutbox:
        return MongoDevOutbox(mongo[db_name])


def seen(campaign: str, dossier: str, unit: str = "u1", reason: str | None = None) -> Document:
    return {
        "_id": f"{campaign}|{dossier}",
        "campaign": campaign,
        "unit": unit,
        "dossier_id": dossier,
        "eligible": reason is None,
        "reason": reason,
    }


class PopulationStoreContract:
    """What a batch campaign asks of its population: the dossiers it saw, and why not eligible."""

    @pytest.fixture
    def population(self) -> PopulationStore:
        raise NotImplementedError

    @pytest.fixture
    def see(self) -> See:
        """Record dossiers as a consumer batch does (its writes, then commit)."""
        raise NotImplementedError

    async def test_members_are_found_by_campaign_and_dossier(self, population, see):
        await see(population, [seen("c1", "d1"), seen("c1", "d2"), seen("c2", "d1", unit="u2")])

        assert (await population.member("c2", "d1"))["unit"] == "u2"
        assert await population.member("c1", "d9") is None
        found = await population.members("c1", ["d2", "d1", "d9"])
        assert sorted(d["dossier_id"] for d in found) == ["d1", "d2"]
        assert await population.members("c1", []) == []

    async def test_only_eligible_dossiers_make_the_population(self, population, see):
        await see(population, [seen("c1", "d1"), seen("c1", "d2", reason="no_contact")])
        await see(population, [seen("c1", "d3", reason="no_contact"), seen("c2", "d4")])

        assert [d["dossier_id"] for d in await population.eligible("c1")] == ["d1"]
        assert await population.counts("c1") == {"eligible": 1, "no_contact": 2}


class TestInMemoryPopulationStore(PopulationStoreContract):
    @pytest.fixture
    def population(self) -> PopulationStore:
        return InMemoryPopulationStore()

    @pytest.fixture
    def see(self) -> See:
        async def at_once(population: PopulationStore, documents: list[Document]) -> None:
            population.add(documents, Writes("memory"))

        return at_once


@pytest.mark.mongo
class TestMongoPopulationStore(PopulationStoreContract):
    @pytest.fixture
    async def population(self, mongo, db_name) -> PopulationStore:
        await ensure_collections(mongo[db_name], [POPULATION])
        return MongoPopulationStore(mongo[db_name])

    @pytest.fixture
    def see(self, mongo, db_name) -> See:
        async def in_a_transaction(population: PopulationStore, documents: list[Document]) -> None:
            await written(mongo, db_name, lambda writes: population.add(documents, writes))

        return in_a_transaction


class CampaignStoreContract:
    """What sampling asks of its campaign store: definitions, a frozen design, keys, draw, log."""

    @pytest.fixture
    def campaigns(self) -> CampaignStore:
        raise NotImplementedError

    async def test_a_campaign_is_new_once_and_reads_back_active(self, campaigns, make_campaign):
        first = make_campaign(id="c1")

        assert await campaigns.save(first, NOW)
        assert not await campaigns.save(make_campaign(id="c1", name_vi="Tên mới"), NOW + DAY)
        assert await campaigns.save(make_campaign(id="c2"), NOW)

        stored, status = await campaigns.get("c1")
        assert (stored.name_vi, status) == ("Tên mới", "active")
        assert await campaigns.get("c9") is None
        assert sorted(c.id for c, _ in await campaigns.all()) == ["c1", "c2"]
        assert await campaigns.stored_at() == {"c1": NOW + DAY, "c2": NOW}

    async def test_a_started_campaign_keeps_its_design(self, campaigns, make_campaign):
        await campaigns.save(make_campaign(id="c1"), NOW)
        await campaigns.mark_started(["c1"])

        with pytest.raises(DesignFrozenError):
            await campaigns.save(make_campaign(id="c1", seed="another"), NOW)
        assert not await campaigns.save(make_campaign(id="c1", name_vi="Đổi tên"), NOW)
        assert not await campaigns.save(
            make_campaign(id="c1", seed="for-development"), NOW, frozen=False
        )
        assert (await campaigns.get("c1"))[0].seed == "for-development"

    async def test_the_key_is_made_once_and_closing_shreds_it(self, campaigns, make_campaign):
        await campaigns.save(make_campaign(id="c1"), NOW)
        key = await campaigns.key("c1")

        assert key
        assert await campaigns.key("c1") == key
        await campaigns.close("c1", NOW)
        campaigns.forget_key("c1")
        assert await campaigns.key("c1") is None
        assert (await campaigns.get("c1"))[1] == "closed"

    async def test_a_draw_is_stored_once(self, campaigns):
        await campaigns.add_draw("c1", {"official": ["d1"]}, None)

        with pytest.raises(DuplicateKeyError):
            await campaigns.add_draw("c1", {"official": ["d2"]}, None)
        assert (await campaigns.draw("c1"))["official"] == ["d1"]
        assert await campaigns.draw("c2") is None

    async def test_substitutions_come_back_in_order_and_a_seq_is_taken_once(self, campaigns):
        await campaigns.add_substitution("c1", {"seq": 2, "out": "d2"}, None)
        await campaigns.add_substitution("c1", {"seq": 1, "out": "d1"}, None)
        await campaigns.add_substitution("c2", {"seq": 1, "out": "d9"}, None)

        with pytest.raises(DuplicateKeyError):
            await campaigns.add_substitution("c1", {"seq": 1, "out": "d3"}, None)
        assert [e["out"] for e in await campaigns.substitutions("c1")] == ["d1", "d2"]

    async def test_draws_written_unannounced_wait_until_marked(self, campaigns):
        at = datetime(2026, 3, 1, tzinfo=UTC)
        await campaigns.add_draw("c2", {"at": at, "announced": False}, None)
        await campaigns.add_draw("c1", {"at": at, "announced": False}, None)
        await campaigns.add_draw("c3", {"at": at}, None)  # drawn before the flag
        waiting = [d["_id"] for d in await campaigns.unannounced_draws()]

        await campaigns.mark_draw_announced("c1")

        assert waiting == ["c1", "c2"]
        assert [d["_id"] for d in await campaigns.unannounced_draws()] == ["c2"]
        assert (await campaigns.draw("c1") or {}).get("announced") is True

    async def test_entries_written_unannounced_wait_until_marked(self, campaigns):
        await campaigns.add_substitution("c2", {"seq": 1, "out": "d9", "announced": False}, None)
        await campaigns.add_substitution("c1", {"seq": 2, "out": "d2", "announced": False}, None)
        await campaigns.add_substitution("c1", {"seq": 1, "out": "d1", "announced": False}, None)
        await campaigns.add_substitution("c3", {"seq": 1, "out": "d0"}, None)  # before the flag
        waiting = [e["out"] for e in await campaigns.unannounced()]

        await campaigns.mark_announced("c1", 1)
        await campaigns.mark_announced("c9", 1)  # none such: nothing happens

        assert waiting == ["d1", "d2", "d9"]
        assert [e["out"] for e in await campaigns.unannounced()] == ["d2", "d9"]
        assert [e["announced"] for e in await campaigns.substitutions("c1")] == [True, False]


class TestInMemoryCampaignStore(CampaignStoreContract):
    @pytest.fixture
    def campaigns(self) -> CampaignStore:
        return InMemoryCampaignStore()


@pytest.mark.mongo
class TestMongoCampaignStore(CampaignStoreContract):
    @pytest.fixture
    def campaigns(self, mongo, db_name) -> CampaignStore:
        return MongoCampaignStore(mongo[db_name])  # no transaction: no collection to make first
