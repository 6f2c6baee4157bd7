"""Decisions kept in memory (#22) decide as the store-backed path does, and write the same
documents: the same dossiers, in the same order, through two campaigns that share units
(quotas, an adaptive rate, a contact cap across campaigns, a repeated dossier, a second
dossier of an applicant, an opted-out phone, a lapse that frees a slot). The memory path
checkpoints halfway and a fresh owner loads the checkpoint and decides the rest."""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from pymongo import AsyncMongoClient, monitoring

from sipas_contracts.units import load_sample_hierarchy
from sipas_runtime import checkpoints
from sipas_runtime.batches import Delivery
from sipas_runtime.mongo import in_transaction
from sipas_runtime.sequences import AppliedSequences
from sipas_runtime.writes import Writes
from sipas_sampling.deciding.state import DecisionState
from sipas_sampling.domain.campaign import Campaign
from sipas_sampling.domain.eligibility import claim_key
from sipas_sampling.metrics import SamplingMetrics
from sipas_sampling.registry import Registry
from sipas_sampling.screening import Keys
from sipas_sampling.selection import Selector
from sipas_sampling.store import Stores, prepare
from sipas_sampling.store.collections import APPLICANTS, CONTACTS, INVITATIONS, QUOTAS
from sipas_sampling.vault import contact_hashes, optout_key

pytestmark = [pytest.mark.mongo]
HIERARCHY = load_sample_hierarchy()
UNITS = HIERARCHY.leaves("ht-nx", date(2024, 6, 1))[:3]
START = datetime(2026, 3, 2, 1, tzinfo=UTC)
DURABLE = "sampling-dossiers"
OPTED_OUT = {"phone": "0912000001"}


def campaigns() -> list[Campaign]:
    shared: dict[str, Any] = {
        "instrument_id": "sipas-1001-2023", "mode": "continuous",
        "window": {"start": "2026-03-01", "end": "2026-03-31"},
        "scope": {"units": UNITS}, "channels": ["sms", "zalo"],
        "population": {"contact_cap": {"max_invitations": 1, "days": 90}},
    }  # fmt: skip
    return [
        Campaign.model_validate({
            **shared, "id": "quota-2026", "name_vi": "Hạn ngạch", "seed": "seed-q",
            "allocation": {"fixed_per_unit": {"individual": 2, "organisation": 1}},
        }),
        Campaign.model_validate({
            **shared, "id": "rate-2026", "name_vi": "Tỷ lệ", "seed": "seed-r",
            "sample_size": {"rate": 0.5},
        }),
    ]  # fmt: skip


def dossiers(tools) -> list[Any]:
    events = []
    for i in range(48):
        unit = UNITS[i % 3]
        extra: dict[str, Any] = {}
        if i % 7 == 3:
            extra["applicant"] = "one-applicant"  # many dossiers of one applicant
        if i % 6 == 1:
            extra["contact"] = OPTED_OUT
        if i == 2:
            extra["contact"] = {"email": "nguoidan@example.vn"}  # no channel of the campaigns
        if i % 5 == 4:
            extra["kind"] = "organisation"
        events.append(tools.completed(i, unit, delivered_at=START + timedelta(hours=i), **extra))
    events.insert(20, events[5])  # sent again: a repeat, decided before
    return events


class World:
    """One database with the campaigns saved, its stores, registry and keys."""

    def __init__(self, mongo, name: str, tools) -> None:
        self.client, self.name = mongo, name
        self.db = mongo[name]
        self.stores = Stores(self.db)
        self.metrics = SamplingMetrics(CollectorRegistry())

        async def announce(_: object) -> None:
            return None

        self.registry = Registry(HIERARCHY, self.stores.campaigns, self.stores.decisions, announce)
        secret = tools.key_pair.secret_key
        self.keys = Keys(secret, base64.b64decode(tools.token_key), optout_key(secret))

    async def start(self) -> World:
        await prepare(self.db)
        for campaign in campaigns():
            await self.registry.save(campaign)
        hashes = contact_hashes(self.keys.optout_key, OPTED_OUT)
        await self.stores.contacts.add_optouts(hashes, ["all"], START)
        return self

    def state(self) -> DecisionState:
        return DecisionState(
            registry=self.registry, campaigns=self.stores.campaigns, keys=self.keys,
            metrics=self.metrics, durable=DURABLE,
        )  # fmt: skip

    async def lapse(self, unit: str) -> None:
        await self.stores.decisions.settle("quota-2026", unit, lapsed=1, release=1)

    async def outcome(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for campaign in ("quota-2026", "rate-2026"):
            found[f"log {campaign}"] = await self.stores.decisions.decisions(campaign)
            found[f"table {campaign}"] = await self.stores.decisions.quota_table(campaign)
            invitations = await self.stores.invitations.by_campaign(campaign)
            found[f"invited {campaign}"] = sorted(
                (d["dossier_id"], d["unit"], d["event"]["event_id"], d["channels"][0])
                for d in invitations
            )
        for name in (QUOTAS, APPLICANTS, CONTACTS):
            cursor = self.db[name].find({}, {"_id": 1, "reserved": 1, "released": 1,
                                             "dossier_id": 1, "invited_at": 1})  # fmt: skip
            found[name] = sorted([doc async for doc in cursor], key=lambda d: d["_id"])
        return found


async def test_decisions_in_memory_are_the_store_paths(mongo, db_name, tools):
    events = dossiers(tools)
    store, memory = await World(mongo, f"{db_name}s", tools).start(), None
    memory = await World(mongo, f"{db_name}m", tools).start()
    selector = Selector(
        registry=store.registry, campaigns=store.stores.campaigns,
        decisions=store.stores.decisions, invitations=store.stores.invitations,
        population=store.stores.population, contacts=store.stores.contacts,
        keys=store.keys, metrics=store.metrics,
    )  # fmt: skip
    for event in events[:30]:
        await _decide_in_store(store, selector, event)
    state = memory.state()
    await _load(memory, state)
    state.fold([_delivery(seq, e) for seq, e in enumerate(events[:30], 1)])
    await _checkpoint(memory, state, len(events[:30]))

    for world in (store, memory):
        await world.lapse(UNITS[0])
    successor = memory.state()  # a new owner: loads the checkpoint, reads the lapse
    await _load(memory, successor)
    for event in events[30:]:
        await _decide_in_store(store, selector, event)
    successor.fold([_delivery(seq, e) for seq, e in enumerate(events[30:], 31)])
    await _checkpoint(memory, successor, len(events))

    expected, found = await store.outcome(), await memory.outcome()
    assert found == expected
    outcomes = [row[4] for row in expected["log quota-2026"] + expected["log rate-2026"]]
    for outcome in (
        "invited",
        "not_drawn",
        "contact_cap",
        "opted_out",
        "duplicate_applicant",
        "no_usable_contact",
    ):
        assert outcome in outcomes, (outcome, Counter(outcomes))  # every rule is reached
    # the successor publishes what neither owner published: every invitation, same ids
    assert {str(e.event_id) for e in successor.book.outbox} == {
        row[2] for key in ("invited quota-2026", "invited rate-2026") for row in found[key]
    }


class Commands(monitoring.CommandListener):
    """The commands a client sent (what the store is asked to do)."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.sent.append(dict(event.command))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    def writes_to(self, name: str) -> tuple[list[int], int]:
        """The documents of each insert into ``name``; its operations in bulkWrites."""
        inserts = [len(c["documents"]) for c in self.sent if c.get("insert") == name]
        in_bulk = 0
        for command in self.sent:
            if "bulkWrite" in command:
                spaces = [info["ns"].split(".", 1)[1] for info in command["nsInfo"]]
                in_bulk += sum(
                    1 for op in command["ops"]
                    if spaces[op.get("insert", op.get("update", op.get("delete", -1)))] == name
                )  # fmt: skip
        return inserts, in_bulk


@pytest.fixture
async def listened(mongo_url, db_name, tools) -> AsyncIterator[tuple[World, Commands]]:
    """A world whose client records the commands it sends."""
    commands = Commands()
    client: AsyncMongoClient[Any] = AsyncMongoClient(
        mongo_url, tz_aware=True, uuidRepresentation="standard", event_listeners=[commands]
    )
    try:
        yield await World(client, db_name, tools).start(), commands
    finally:
        await client.close()


async def test_a_checkpoint_inserts_its_new_claims_and_invitations_in_one_command_each(
    listened, tools
):
    world, commands = listened
    events = dossiers(tools)
    state = world.state()
    await _load(world, state)
    state.fold([_delivery(seq, e) for seq, e in enumerate(events, 1)])
    commands.sent.clear()

    await _checkpoint(world, state, len(events))

    claims = await world.db[APPLICANTS].count_documents({})
    invitations = await world.db[INVITATIONS].count_documents({})
    assert claims > len(events)
    assert invitations > 0
    assert commands.writes_to(APPLICANTS) == ([claims], 0)
    assert commands.writes_to(INVITATIONS) == ([invitations], 0)


async def test_a_claim_stored_already_is_kept_and_the_checkpoint_commits(listened, tools):
    world, commands = listened
    events = dossiers(tools)
    state = world.state()
    await _load(world, state)
    # Claimed by the owner of another partition since (the dossier moved to its unit).
    moved = claim_key("rate-2026", "", "", events[0].dossier_id, per_applicant=False)
    await world.db[APPLICANTS].insert_one({"_id": moved, "dossier_id": "elsewhere"})
    state.fold([_delivery(seq, e) for seq, e in enumerate(events[:30], 1)])

    await _checkpoint(world, state, 30)

    stored = await world.db[APPLICANTS].find_one({"_id": moved})
    assert stored == {"_id": moved, "dossier_id": "elsewhere"}
    assert await world.db[APPLICANTS].count_documents({"dossier_id": events[1].dossier_id})
    state.fold([_delivery(seq, e) for seq, e in enumerate(events[30:], 31)])
    commands.sent.clear()
    await _checkpoint(world, state, len(events))  # back to plain inserts
    inserts, in_bulk = commands.writes_to(APPLICANTS)
    assert (len(inserts), in_bulk) == (1, 0)


async def _decide_in_store(world: World, selector: Selector, event) -> None:
    async def work(session) -> None:
        writes = Writes(world.name)
        await selector.handle([event], session, event.occurred_at, writes)
        await writes.flush(world.client, session)

    await in_transaction(world.client, work)


def _delivery(seq: int, event) -> Delivery[Any]:
    return Delivery(event, seq, "sipas.dossier.completed", 1, event.occurred_at)


async def _load(world: World, state: DecisionState) -> None:
    await world.registry.refresh()
    await checkpoints.load(world.client, world.name, DURABLE, lambda s: state.load(world.db, s))


async def _checkpoint(world: World, state: DecisionState, upto: int) -> None:
    version = await checkpoints.claim(world.client, world.name, DURABLE, "owner")
    applied = AppliedSequences()
    applied.add(set(range(1, upto + 1)))
    await checkpoints.save(
        world.client, world.name, DURABLE, owner="owner", version=version,
        applied=lambda: applied, contents=state.contents,
    )  # fmt: skip
    state.saved()
