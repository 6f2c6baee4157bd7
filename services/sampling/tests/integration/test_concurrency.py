"""Quota slots are reserved atomically: four sampling instances sharing the durable
consumer never push a unit past its quota, and every dossier is decided exactly once."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime

import pytest

from sipas_contracts.units import load_sample_hierarchy

pytestmark = [pytest.mark.nats, pytest.mark.mongo, pytest.mark.slow]
UNITS = load_sample_hierarchy().leaves("ht-nx", date(2024, 6, 1))
EVENTS = 800  # 340 slots contested by 4 instances (47 dossiers per unit for 20); commits fsynced
QUOTA = 20
CLOSING_HOUR = datetime(2026, 1, 1, 16, tzinfo=UTC)  # 23:00 in Vietnam: the window is ending


async def test_four_concurrent_instances_never_overshoot_a_quota(tools, harness, tmp_path):
    campaign = tools.quota_campaign(tmp_path / "race.yaml", "race-2026", "race-seed-2026")
    instances = [  # the store path's atomic reservations (#22's memory path: owner_killed)
        await harness(campaign_files=campaign, batch_size=200, decisions="store") for _ in range(4)
    ]
    events = [
        tools.completed(
            i,
            UNITS[i % len(UNITS)],
            delivered_at=CLOSING_HOUR,
            kind="individual" if i % 3 else "organisation",
        )
        for i in range(EVENTS)
    ]
    await instances[0].publish(events)

    async def all_decided() -> bool:
        return await instances[0].decided("race-2026") == EVENTS

    await instances[0].eventually(all_decided, seconds=240)
    decisions = await instances[0].sampling.stores.decisions.decisions("race-2026")
    assert len({d[0] for d in decisions}) == EVENTS  # each dossier decided exactly once
    outcomes = Counter(d[4] for d in decisions)
    assert outcomes["invited"] == QUOTA * len(UNITS)
    # once a unit is full its rate drops to 0 ("not_drawn"); drawn-but-refused are "quota_full"
    assert outcomes["quota_full"] > 0
    assert outcomes["quota_full"] + outcomes["not_drawn"] == EVENTS - QUOTA * len(UNITS)
    table = await instances[0].sampling.stores.decisions.quota_table("race-2026")
    assert all(row["reserved"] == row["invited"] == QUOTA for row in table)
    invitations = await instances[0].sampling.stores.invitations.by_campaign("race-2026")
    assert Counter(d["unit"] for d in invitations) == dict.fromkeys(UNITS, QUOTA)
    await instances[0].eventually(
        lambda: len({e.invitation_id for e in instances[0].sent}) == QUOTA * len(UNITS)
    )
    shares = [_applied(i) for i in instances]
    assert sum(shares) == EVENTS
    assert sum(1 for s in shares if s > 0) >= 2, shares  # the work really was shared


def _applied(instance) -> float:
    return sum(
        sample.value
        for metric in instance.sampling.runtime.registry.collect()
        if metric.name == "sipas_events_consumed"
        for sample in metric.samples
        if sample.name.endswith("_total")
        and sample.labels.get("outcome") == "applied"
        and sample.labels.get("consumer") == "sampling-dossiers"
    )
