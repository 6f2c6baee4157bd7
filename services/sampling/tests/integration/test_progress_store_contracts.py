"""The progress store's behaviour, against its fake and the real Mongo-wire server.

The pattern of ``test_store_contracts.py``; apart because the store reads what two others
write (invitations, the population), which each test lays down as those stores keep it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from services.sampling.tests.fakes import InMemoryPopulationStore, InMemoryProgressStore

from sipas_runtime.mongo import Document
from sipas_sampling.domain.progress import InvitationCount
from sipas_sampling.store.collections import INVITATIONS, POPULATION
from sipas_sampling.store.progress import MongoProgressStore, ProgressStore

Hold = Callable[[list[Document], list[Document]], Awaitable[None]]
"""Lay down invitation documents and population documents."""


def invitation(
    number: int, unit: str = "u1", state: str = "sent", channel_index: int = 0, **fields: object
) -> Document:
    return {
        "_id": f"i{number}",
        "campaign": "c1",
        "unit": unit,
        "list": "official",
        "state": state,
        "channels": ["sms", "zalo"],
        "channel_index": channel_index,
        **fields,
    }


def member(dossier: str, unit: str, *, eligible: bool = True, campaign: str = "c1") -> Document:
    return {
        "_id": f"{campaign}|{dossier}",
        "campaign": campaign,
        "unit": unit,
        "dossier_id": dossier,
        "eligible": eligible,
        "reason": None if eligible else "outside_window",
    }


def counted(unit: str, channel: str, state: str, n: int, draw_list: str = "official"):
    return InvitationCount(unit=unit, draw_list=draw_list, channel=channel, state=state, n=n)


class ProgressStoreContract:
    """What a campaign's page asks: invitations by unit, list, channel and state; eligible."""

    @pytest.fixture
    def progress(self) -> tuple[ProgressStore, Hold]:
        raise NotImplementedError

    async def test_invitations_are_counted_on_their_current_channel(self, progress):
        store, hold = progress
        await hold(
            [
                invitation(1),
                invitation(2),
                invitation(3, channel_index=1),
                invitation(4, state="answered"),
                invitation(5, unit="u2", list="reserve"),
                invitation(6, campaign="c2"),
            ],
            [],
        )

        counts = await store.invitations("c1")

        assert sorted(counts, key=lambda c: (c.unit, c.channel, c.state)) == [
            counted("u1", "sms", "answered", 1),
            counted("u1", "sms", "sent", 2),
            counted("u1", "zalo", "sent", 1),
            counted("u2", "sms", "sent", 1, draw_list="reserve"),
        ]

    async def test_the_eligible_population_is_counted_by_unit(self, progress):
        store, hold = progress
        await hold(
            [],
            [
                member("d1", "u1"),
                member("d2", "u1"),
                member("d3", "u2"),
                member("d4", "u2", eligible=False),
                member("d1", "u3", campaign="c2"),
            ],
        )

        assert await store.eligible("c1") == {"u1": 2, "u2": 1}

    async def test_a_campaign_without_documents_counts_nothing(self, progress):
        store, _ = progress

        assert (await store.invitations("c9"), await store.eligible("c9")) == ([], {})


class TestInMemoryProgressStore(ProgressStoreContract):
    @pytest.fixture
    def progress(self) -> tuple[ProgressStore, Hold]:
        population = InMemoryPopulationStore()
        store = InMemoryProgressStore(population)

        async def held(invitations: list[Document], members: list[Document]) -> None:
            store.sent.extend(invitations)
            population.seen.update((d["_id"], d) for d in members)

        return store, held


@pytest.mark.mongo
class TestMongoProgressStore(ProgressStoreContract):
    @pytest.fixture
    def progress(self, mongo, db_name) -> tuple[ProgressStore, Hold]:
        db = mongo[db_name]

        async def held(invitations: list[Document], members: list[Document]) -> None:
            for name, documents in ((INVITATIONS, invitations), (POPULATION, members)):
                if documents:
                    await db[name].insert_many(documents)

        return MongoProgressStore(db), held
