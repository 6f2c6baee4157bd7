"""Decisions kept in memory (``decisions=memory``, #22): the owner of the dossiers' durable
killed -9 under load; with partitions, the instance that owns some of them. Another takes
each durable over and replays what its last checkpoint lacks, and every dossier is decided
once: no unit passes its quota, and every invitation's event is in the stream once, with
the id and token its document holds. Partitions are owned as the rendezvous rule assigns
them among the live instances, before and after the death."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, date, datetime

import pytest

from sipas_contracts import subjects
from sipas_contracts.units import load_sample_hierarchy
from sipas_runtime.partitions import assignment
from sipas_runtime.privacy import keyed_hash
from sipas_runtime.settings import decode_key
from sipas_runtime.testing import stop_as_if_killed
from sipas_sampling.vault import unlock

pytestmark = [pytest.mark.nats, pytest.mark.mongo]
UNITS = load_sample_hierarchy().leaves("ht-nx", date(2024, 6, 1))
EVENTS = 600
QUOTA = 20
CLOSING_HOUR = datetime(2026, 1, 1, 16, tzinfo=UTC)  # 23:00 in Vietnam: the window is ending
CAMPAIGN = "memory-2026"
PARTITIONS = 4


def dossiers(tools) -> list:
    kinds = ("organisation", "individual", "individual")
    return [
        tools.completed(i, UNITS[i % len(UNITS)], delivered_at=CLOSING_HOUR, kind=kinds[i % 3])
        for i in range(EVENTS)
    ]


async def test_a_killed_owner_loses_nothing_and_decides_nothing_twice(tools, harness, tmp_path):
    settings = {
        "campaign_files": tools.quota_campaign(tmp_path / "memory.yaml", CAMPAIGN, "memory-seed"),
        "decisions": "memory", "owner_timeout": 1.5, "batch_size": 50, "role": "decide",
    }  # fmt: skip
    first, second = await harness(**settings), await harness(**settings)
    events = dossiers(tools)
    publishing = asyncio.create_task(first.publish(events, window=20))

    def owner_of(seen: int):
        for instance in (first, second):
            consumer = instance.sampling.deciders[0].consumer
            if consumer.owner and consumer.applied_fresh >= seen:
                return instance
        return None

    await first.eventually(lambda: owner_of(150) is not None, seconds=30)
    owner = owner_of(150)
    survivor = second if owner is first else first
    await stop_as_if_killed(owner.sampling.runtime)
    await publishing

    await every_dossier_decided_once(survivor, tools)


async def every_dossier_decided_once(survivor, tools) -> None:
    async def all_decided() -> bool:
        return await survivor.decided(CAMPAIGN) == EVENTS

    await survivor.eventually(all_decided, seconds=30)
    decisions = await survivor.sampling.stores.decisions.decisions(CAMPAIGN)
    assert sorted(Counter(d[0] for d in decisions).values()) == [1] * EVENTS
    assert Counter(d[4] for d in decisions)["invited"] == QUOTA * len(UNITS)
    table = await survivor.sampling.stores.decisions.quota_table(CAMPAIGN)
    assert [(row["reserved"], row["invited"]) for row in table] == [(QUOTA, QUOTA)] * len(UNITS)
    invitations = await survivor.sampling.stores.invitations.by_campaign(CAMPAIGN)
    assert Counter(d["unit"] for d in invitations) == dict.fromkeys(UNITS, QUOTA)

    async def all_published() -> bool:
        stored = await survivor.stream_events(subjects.INVITATIONS_SENT)
        return len(stored) == len(invitations)

    await survivor.eventually(all_published, seconds=20)
    stored = {e.invitation_id: e for e in await survivor.stream_events(subjects.INVITATIONS_SENT)}
    vault = await survivor.sampling.stores.campaigns.key(CAMPAIGN)
    token_key = decode_key(tools.token_key, what="token key")
    for doc in invitations:  # the event stored is the one the document holds, token and all
        event = stored[doc["_id"]]
        assert str(event.event_id) == doc["event"]["event_id"]
        token = unlock(vault, doc["token"])["token"]
        assert event.token_hash == keyed_hash(token_key, token)


async def test_partitions_are_shared_and_move_when_an_instance_dies(tools, harness, tmp_path):
    settings = {
        "campaign_files": tools.quota_campaign(tmp_path / "memory.yaml", CAMPAIGN, "memory-seed"),
        "decisions": "memory", "partitions": PARTITIONS, "owner_timeout": 1.5,
        "batch_size": 50, "role": "decide",
    }  # fmt: skip
    instances = [await harness(**settings) for _ in range(3)]
    events = dossiers(tools)
    await instances[0].publish(events[:300], window=50)

    def owners() -> dict[int, list]:
        found: dict[int, list] = {}
        for instance in instances:
            for p, decider in enumerate(instance.sampling.deciders):
                if decider.owner:
                    found.setdefault(p, []).append(instance)
        return found

    def as_assigned(among) -> bool:  # each partition owned by its rendezvous choice only
        chosen = assignment(PARTITIONS, [i.sampling.runtime.instance for i in among])
        found = {p: [o.sampling.runtime.instance for o in os] for p, os in owners().items()}
        return found == {p: [instance] for p, instance in chosen.items()}

    await instances[0].eventually(lambda: as_assigned(instances), seconds=30)
    victim = owners()[0][0]
    await stop_as_if_killed(victim.sampling.runtime)
    survivors = [i for i in instances if i is not victim]
    await survivors[0].publish(events[300:], window=50)

    await survivors[0].eventually(lambda: as_assigned(survivors), seconds=30)
    await every_dossier_decided_once(survivors[0], tools)
