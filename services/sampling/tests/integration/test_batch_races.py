"""A batch campaign's lists against substitutions, on the Mongo-wire server.

A substitution closes a listed member's invitation and invites the next reserve. What else
touches the same invitation (a counter slip printed from a list read earlier, a dispatcher
that could not deliver it) must neither reopen the closed invitation nor leave an
undeliverable member without its replacement. The stores are the real ones; each
interleaving is made on purpose, by calling the steps in the order under test.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from pymongo import AsyncMongoClient

from sipas_contracts.units import load_sample_hierarchy
from sipas_runtime.mongo import Document, in_transaction
from sipas_sampling.draws import Draws
from sipas_sampling.fieldlists import hand_over
from sipas_sampling.metrics import SamplingMetrics
from sipas_sampling.registry import Registry
from sipas_sampling.store import Stores, prepare
from sipas_sampling.store.collections import POPULATION
from sipas_sampling.vault import lock

pytestmark = [pytest.mark.mongo]
CAMPAIGN = "batch-races-2026"
UNIT = "ht-nx-xuan-hoi"
MEMBERS = 4  # two official, two reserves


@dataclass
class Batch:
    """One drawn batch campaign's stores on this test's database."""

    mongo: AsyncMongoClient[Any]
    stores: Stores
    registry: Registry
    draws: Draws

    async def transact(self, work: Callable[[Any], Awaitable[Any]]) -> Any:
        return await in_transaction(self.mongo, work)

    async def invitations(self, **filters: object) -> list[Document]:
        return await self.stores.invitations.by_campaign(CAMPAIGN, **filters)

    async def states(self) -> dict[str, str]:
        """Each invited member's state, by dossier."""
        return {doc["dossier_id"]: doc["state"] for doc in await self.invitations()}


async def _ignore(events: object) -> None:
    return


@pytest.fixture
def batch(mongo, db_name, make_campaign) -> Callable[[str], Awaitable[Batch]]:
    """A batch campaign reaching its members by ``channel``, drawn: its official invited."""

    async def drawn(channel: str) -> Batch:
        db = mongo[db_name]
        await prepare(db)
        stores = Stores(db)
        registry = Registry(load_sample_hierarchy(), stores.campaigns, stores.decisions, _ignore)
        plan = make_campaign(
            id=CAMPAIGN, mode="batch", channels=[channel], scope={"units": [UNIT]},
            sample_size=None, reserve={"ratio": 1},
            allocation={"fixed_per_unit": {"individual": 2, "organisation": 0}},
        )  # fmt: skip
        await registry.save(plan)
        key = await stores.campaigns.key(CAMPAIGN)
        assert key is not None
        await db[POPULATION].insert_many([_member(n, key) for n in range(MEMBERS)])
        draws = Draws(
            registry=registry, campaigns=stores.campaigns, invitations=stores.invitations,
            population=stores.population, contacts=stores.contacts,
            transact=lambda work: in_transaction(mongo, work), publish=_ignore,
            token_key=secrets.token_bytes(32), optout_key=secrets.token_bytes(32),
            metrics=SamplingMetrics(CollectorRegistry()),
        )  # fmt: skip
        await draws.draw(CAMPAIGN)
        return Batch(mongo, stores, registry, draws)

    return drawn


def _member(number: int, key: str) -> Document:
    dossier = f"000.00.00.H42-{number:06d}"
    return {
        "_id": f"{CAMPAIGN}|{dossier}", "campaign": CAMPAIGN, "unit": UNIT,
        "kind": "individual", "dossier_id": dossier, "eligible": True, "reason": None,
        "channels": ["sms"], "officer": None,
        "delivered_at": datetime(2026, 3, 1, 3, tzinfo=UTC) + timedelta(minutes=number),
        "contact": lock(key, {"phone": f"09120000{number:02d}", "name": f"Người dân {number}"}),
    }  # fmt: skip


async def test_a_counter_slip_printed_after_a_substitution_leaves_the_member_substituted(batch):
    b = await batch("counter")
    listed = await b.invitations(state="listed")  # the route's read: both official members
    replaced, kept = listed

    await b.draws.substitute(CAMPAIGN, replaced["dossier_id"], "refused")
    not_handed = await hand_over(b.stores.invitations, listed, datetime.now(UTC))

    states = await b.states()
    assert not_handed == [replaced["_id"]]
    assert (states[replaced["dossier_id"]], states[kept["dossier_id"]]) == ("substituted", "sent")
    assert sorted(states.values()) == ["listed", "sent", "substituted"]  # the reserve, invited
