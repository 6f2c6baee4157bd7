"""Nothing acknowledged is lost when the store, nats-server or a service is killed -9 under load.

Each scenario runs the four services under a bounded load, kills -9 at seeded random
moments, waits until every durable consumer has nothing pending, then recomputes what
the system must hold from what was published (the streams) and compares exactly:
scoring's counts (and its rebuild), each dossier decided once, no quota overshoot, one
alert per low rating, every answered invitation counted once (and marked answered in
scoring's funnel).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

import pytest
from pymongo import AsyncMongoClient

from sipas_contracts.events import AlertRaised, DossierCompleted, InvitationSent, ResponseRecorded
from sipas_runtime.testing import eventually
from sipas_scoring.rebuild import rebuild

pytestmark = [pytest.mark.chaos, pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(600)]
VIETNAM = timedelta(hours=7)
BURST = 300  # dossiers and as many responses published at full speed around a store kill


async def outage(chaos, server, name: str, longest: float, started: float) -> None:
    """kill -9 ``server``, keep it down a random while, start it again on its data."""
    down = chaos.rng.uniform(1.0, longest)
    chaos.note(f"kill -9 {name}, down {down:.1f} s", started)
    server.kill()
    await asyncio.sleep(down)  # the outage itself
    await asyncio.to_thread(server.start)
    chaos.note(f"{name} back", started)


async def test_killing_the_store_three_times_under_load_loses_nothing(chaos):
    async def faults(started: float) -> None:
        for moment in chaos.moments(3):
            await chaos.at(moment, started)
            burst = asyncio.create_task(chaos.burst(BURST))  # commits in flight at the kill
            await asyncio.sleep(chaos.rng.uniform(0.3, 1.5))  # a random point in the burst
            await outage(chaos, chaos.mongo, "the store", 6.0, started)
            await burst

    await chaos.run_load(faults)

    await assert_nothing_lost(chaos)


async def test_killing_nats_twice_under_load_loses_nothing(chaos):
    async def faults(started: float) -> None:
        for moment in chaos.moments(2):
            await chaos.at(moment, started)
            await outage(chaos, chaos.nats, "nats-server", 4.0, started)

    await chaos.run_load(faults)

    await assert_nothing_lost(chaos)


async def test_killing_each_service_under_load_loses_nothing(chaos):
    async def faults(started: float) -> None:
        services = list(chaos.stack.services)
        chaos.rng.shuffle(services)
        for name, moment in zip(services, chaos.moments(len(services)), strict=True):
            await chaos.at(moment, started)
            chaos.note(f"kill -9 {name}", started)
            chaos.stack.kill(name)
            await asyncio.to_thread(chaos.stack.restart, name, 240.0)
            chaos.note(f"{name} back", started)

    await chaos.run_load(faults)

    await assert_nothing_lost(chaos)


async def assert_nothing_lost(chaos) -> None:
    """Recompute from the streams and compare with what each service holds."""
    await eventually(chaos.settled, seconds=180, interval=1.0)
    nc = await chaos.connect()
    mongo: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(chaos.mongo.url, tz_aware=True)
    try:
        dossiers = [DossierCompleted.model_validate_json(m[2])
                    for m in await chaos.read(nc, "SIPAS_DOSSIERS")]  # fmt: skip
        invitations = [InvitationSent.model_validate_json(m[2])
                       for m in await chaos.read(nc, "SIPAS_INVITATIONS")]  # fmt: skip
        responses = [ResponseRecorded.model_validate_json(m[2])
                     for m in await chaos.read(nc, "SIPAS_RESPONSES")]  # fmt: skip
        alerts = [AlertRaised.model_validate_json(m[2])
                  for m in await chaos.read(nc, "SIPAS_ALERTS")
                  if m[1].startswith("sipas.alert.raised.")]  # fmt: skip
        assert_intake(chaos, dossiers)
        await assert_sampling(chaos, mongo, dossiers, invitations, responses)
        await assert_scoring(nc, mongo, responses)
        await assert_alerts(mongo, responses, alerts)
    finally:
        await nc.close()
        await mongo.close()


def assert_intake(chaos, dossiers: list[DossierCompleted]) -> None:
    """Every raw record became exactly one dossier-completed event."""
    per_dossier = Counter(d.dossier_id for d in {d.event_id: d for d in dossiers}.values())
    assert set(per_dossier) == set(chaos.sent.dossier_ids)
    assert [d for d, n in per_dossier.items() if n > 1] == []


async def assert_sampling(
    chaos,
    mongo: AsyncMongoClient[dict[str, object]],
    dossiers: list[DossierCompleted],
    invitations: list[InvitationSent],
    responses: list[ResponseRecorded],
) -> None:
    """Each dossier decided once, no quota overshoot, each answer counted once."""
    db = mongo["sipas_sampling"]
    logged = [doc async for doc in db["decisions"].find({"campaign": chaos.campaign})]
    decided = Counter(row[0] for doc in logged for row in doc["items"])
    assert set(decided) == {d.dossier_id for d in dossiers}
    assert [d for d, n in decided.items() if n != 1] == []
    first = {i.invitation_id: i for i in invitations if i.attempt == 1}
    per_unit = Counter(i.unit for i in first.values())  # the quota is a unit's
    quota = sum(chaos.quota.values())
    assert quota in per_unit.values()  # the quotas did fill
    assert {unit: n for unit, n in per_unit.items() if n > quota} == {}  # no overshoot
    answered = Counter(r.unit for r in {r.event_id: r for r in responses}.values()
                       if r.invitation_id in first)  # fmt: skip
    stored = {q["unit"]: q.get("answered", 0)
              async for q in db["quotas"].find({"campaign": chaos.campaign})}  # fmt: skip
    assert {u: n for u, n in stored.items() if n} == dict(answered)


async def assert_scoring(
    nc: object, mongo: AsyncMongoClient[dict[str, object]], responses: list[ResponseRecorded]
) -> None:
    """Scoring counted every response once, its rebuild from the log agrees, and the funnel
    marks exactly the invitations that were answered."""
    result = await rebuild(nc, mongo, "sipas_scoring", offset=VIETNAM, write=False)  # type: ignore[arg-type]
    summary = result.summary()
    assert summary["differences"] == [], summary
    assert result.equal, summary
    assert summary["responses_counted"] == len({r.event_id for r in responses}), summary
    answered = {str(r.invitation_id) for r in responses if r.invitation_id is not None}
    funnel = mongo["sipas_scoring"]["funnel_invitations"]
    marked = {str(doc["_id"]) async for doc in funnel.find({"responded": True})}
    assert answered, "the load answered no invitation"
    assert marked == answered


async def assert_alerts(
    mongo: AsyncMongoClient[dict[str, object]],
    responses: list[ResponseRecorded],
    alerts: list[AlertRaised],
) -> None:
    """One low-rating alert per response with a rating of 1 or 2, on the stream and stored."""
    low = {r.event_id for r in responses
           if any(isinstance(v, int) and v <= 2 for v in r.answers.values())}  # fmt: skip
    raised = Counter(a.source_event_id for a in {a.event_id: a for a in alerts}.values()
                     if a.rule == "low_rating")  # fmt: skip
    assert set(raised) == low
    assert [s for s, n in raised.items() if n > 1] == []
    stored = Counter(
        [
            doc["source_event_id"]
            async for doc in mongo["sipas_alerts"]["alerts"].find({"rule": "low_rating"})
        ]
    )
    assert set(stored) == {str(s) for s in low}
    assert [s for s, n in stored.items() if n > 1] == []
